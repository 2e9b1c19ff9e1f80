//! What a connection sends next: a RESET, the SYN, a packet to resend, new data within the
//! congestion and the peer's window, our FIN, or a bare ack. Every packet carries the
//! cumulative ack and a selective ACK of what arrived out of order, so data is its own ack.

use std::time::Instant;

use super::conn::{Connection, Sent, State, MAX_UNACKED};
use super::header::{Header, PacketType, MAX_SACK_BYTES};

impl Connection {
    /// Writes the next datagram to send into `out` (cleared first); `false`: nothing now.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        out.clear();
        if self.reset_to_send {
            self.reset_to_send = false;
            self.put_header(now, PacketType::Reset, self.seq_nr, out);
            return true;
        }
        if self.state == State::Closed {
            // The ack of the peer's FIN may still be owed after an orderly close.
            if self.ack_needed && self.error.is_none() && self.got_eof {
                self.put_header(now, PacketType::State, self.seq_nr, out);
                return true;
            }
            return false;
        }
        if self.resend(now, out) {
            return true;
        }
        if self.state == State::Connected && self.send_new(now, out) {
            return true;
        }
        if self.ack_needed && self.state == State::Connected {
            self.put_header(now, PacketType::State, self.seq_nr, out);
            return true;
        }
        false
    }

    /// The congestion window and the peer's receive window, whichever is smaller; an empty
    /// pipe always takes one packet, which probes a closed peer window.
    fn room_for(&self, len: usize) -> bool {
        let window = self.ledbat.window().min(self.peer_wnd);
        self.flight == 0 || self.flight + len <= window
    }

    fn resend(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        let Some(i) = self.sent.iter().position(|s| s.need_resend) else {
            return false;
        };
        if !self.room_for(self.sent[i].payload.len()) {
            return false;
        }
        self.transmit(now, i, out);
        true
    }

    fn send_new(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        if self.sent.len() >= MAX_UNACKED {
            return false;
        }
        let ty = if !self.unsent.is_empty() {
            let len = self.unsent.len().min(self.config.payload);
            if !self.room_for(len) {
                return false;
            }
            PacketType::Data
        } else if self.close_requested && self.fin_seq.is_none() {
            self.fin_seq = Some(self.seq_nr);
            PacketType::Fin
        } else {
            return false;
        };
        let len = self.unsent.len().min(self.config.payload);
        let payload: Vec<u8> = self.unsent.drain(..len).collect();
        self.sent.push_back(Sent {
            seq: self.seq_nr,
            ty,
            payload,
            sent_at: None,
            transmissions: 0,
            in_flight: false,
            sacked: false,
            need_resend: true,
            fast_resent: false,
        });
        self.seq_nr = self.seq_nr.wrapping_add(1);
        self.transmit(now, self.sent.len() - 1, out);
        true
    }

    /// Sends `sent[i]` (first time or again) and starts the timer if it is not running.
    fn transmit(&mut self, now: Instant, i: usize, out: &mut Vec<u8>) {
        let (ty, seq) = (self.sent[i].ty, self.sent[i].seq);
        self.put_header(now, ty, seq, out);
        let s = &mut self.sent[i];
        out.extend_from_slice(&s.payload);
        if s.transmissions > 0 {
            self.resent += 1;
        }
        s.sent_at = Some(now);
        s.transmissions += 1;
        s.need_resend = false;
        if !s.in_flight {
            s.in_flight = true;
            self.flight += s.payload.len();
        }
        if self.rto_deadline.is_none() {
            self.rto_deadline = Some(now + self.rto);
        }
    }

    fn put_header(&mut self, now: Instant, ty: PacketType, seq: u16, out: &mut Vec<u8>) {
        let window = self.recv_window();
        let header = Header {
            ty,
            // The SYN names the id the answer comes back on; everything else the peer's.
            conn_id: if ty == PacketType::Syn {
                self.recv_id
            } else {
                self.send_id
            },
            timestamp_us: self.now_us(now),
            timestamp_diff_us: self.reply_micro,
            wnd_size: u32::try_from(window).unwrap_or(u32::MAX),
            seq_nr: seq,
            ack_nr: self.ack_nr,
            sack: self.sack_bits(),
        };
        header.encode(out);
        self.advertised = window;
        self.ack_needed = false;
        self.last_sent = now;
    }

    /// The selective ACK of what we hold past the next expected packet, if anything.
    fn sack_bits(&self) -> Option<Vec<u8>> {
        let first = self.ack_nr.wrapping_add(2);
        let mut bits = [0u8; MAX_SACK_BYTES];
        let mut highest = None;
        for &seq in self.reorder.keys() {
            let i = usize::from(seq.wrapping_sub(first));
            if i < MAX_SACK_BYTES * 8 {
                bits[i / 8] |= 1 << (i % 8);
                highest = Some(highest.map_or(i, |h: usize| h.max(i)));
            }
        }
        let len = (highest? / 32 + 1) * 4;
        Some(bits[..len].to_vec())
    }
}
