//! What a connection does with a packet: acks free what they cover and feed the round-trip
//! estimate and LEDBAT; duplicate acks and selective ACKs mark losses for a fast resend; data
//! goes to the reader in order, through a bounded reorder buffer.

use std::time::{Duration, Instant};

use super::conn::{Connection, State, DUP_ACKS, MAX_REORDER};
use super::header::{seq_before, Header, HeaderError, PacketType};

impl Connection {
    /// Takes one datagram from the peer. A datagram that is not uTP is an error and changes
    /// nothing; one for another connection id is ignored.
    pub fn handle_datagram(&mut self, now: Instant, bytes: &[u8]) -> Result<(), HeaderError> {
        let (h, at) = Header::decode(bytes)?;
        let payload = &bytes[at..];
        if self.state == State::Closed {
            // After an orderly close the peer's FIN again means our last ack was lost.
            if h.ty == PacketType::Fin && h.conn_id == self.recv_id && self.error.is_none() {
                self.ack_needed = true;
            }
            return Ok(());
        }
        if h.ty == PacketType::Syn {
            // The peer's SYN again: our ack was lost.
            if h.conn_id == self.send_id && self.state == State::Connected {
                self.ack_needed = true;
            }
            return Ok(());
        }
        if h.conn_id != self.recv_id {
            return Ok(());
        }
        if h.ty == PacketType::Reset {
            self.error = Some(super::conn::UtpError::Reset);
            self.state = State::Closed;
            return Ok(());
        }
        self.reply_micro = self.now_us(now).wrapping_sub(h.timestamp_us);
        self.peer_wnd = h.wnd_size as usize;
        if self.state == State::SynSent {
            if h.ty != PacketType::State {
                return Ok(());
            }
            self.state = State::Connected;
            self.ack_nr = h.seq_nr.wrapping_sub(1);
        }
        self.handle_ack(now, &h);
        match h.ty {
            PacketType::Data => self.receive(h.seq_nr, payload),
            PacketType::Fin => {
                if self.eof_seq.is_none() {
                    self.eof_seq = Some(h.seq_nr);
                }
                self.receive(h.seq_nr, &[]);
            }
            _ => {}
        }
        if self.close_requested && self.fin_acked && self.got_eof {
            self.state = State::Closed;
        }
        Ok(())
    }

    fn handle_ack(&mut self, now: Instant, h: &Header) {
        // An ack of something never sent is a confused or lying peer: ignore it.
        let highest_sent = self.seq_nr.wrapping_sub(1);
        if seq_before(highest_sent, h.ack_nr) {
            return;
        }
        let flight_before = self.flight;
        let mut acked = 0;
        let mut rtt = None;
        while let Some(front) = self.sent.front() {
            if seq_before(h.ack_nr, front.seq) {
                break;
            }
            let s = self.sent.pop_front().expect("front exists");
            if s.in_flight {
                self.flight -= s.payload.len();
            }
            if !s.sacked {
                acked += s.payload.len().max(1);
            }
            if s.transmissions == 1 {
                rtt = s.sent_at.map(|t| now.saturating_duration_since(t));
            }
            if Some(s.seq) == self.fin_seq {
                self.fin_acked = true;
                self.close_deadline = Some(now + super::conn::CLOSE_TIMEOUT);
            }
        }
        if h.sack.is_some() {
            for s in self.sent.iter_mut().filter(|s| !s.sacked) {
                if h.sacked(s.seq) {
                    s.sacked = true;
                    s.need_resend = false;
                    if s.in_flight {
                        s.in_flight = false;
                        self.flight -= s.payload.len();
                    }
                    acked += s.payload.len().max(1);
                }
            }
        }
        if let Some(rtt) = rtt {
            self.rtt_sample(rtt);
        }
        if acked > 0 {
            if h.timestamp_diff_us != 0 {
                self.ledbat.delay_sample(now, h.timestamp_diff_us);
            }
            self.ledbat.on_ack(acked, flight_before);
            self.timeouts = 0;
            self.rto_deadline = (!self.sent.is_empty()).then(|| now + self.rto);
        }
        if h.ack_nr == self.last_ack && h.ty == PacketType::State && !self.sent.is_empty() {
            self.dup_acks += 1;
        } else if h.ack_nr != self.last_ack {
            self.dup_acks = 0;
        }
        self.last_ack = h.ack_nr;
        self.mark_losses(now);
    }

    /// A packet is lost when three acks came without it (duplicate acks) or three packets
    /// sent after it were selectively acked (libutp's rule); each is resent once this way.
    fn mark_losses(&mut self, now: Instant) {
        let mut later_sacked = 0;
        let mut lost = false;
        let dup = self.dup_acks >= DUP_ACKS;
        let n = self.sent.len();
        for (i, s) in self.sent.iter_mut().enumerate().rev() {
            if s.sacked {
                later_sacked += 1;
                continue;
            }
            let is_front = i == 0 || n == 0;
            if !s.fast_resent
                && s.transmissions > 0
                && (later_sacked >= DUP_ACKS || (is_front && dup))
            {
                s.fast_resent = true;
                s.need_resend = true;
                if s.in_flight {
                    s.in_flight = false;
                    self.flight -= s.payload.len();
                }
                lost = true;
            }
        }
        if lost {
            self.dup_acks = 0;
            let rtt = self.srtt.unwrap_or(Duration::from_millis(100));
            self.ledbat.on_loss(now, rtt);
        }
    }

    /// Data (or, with an empty payload, the FIN) numbered `seq`.
    fn receive(&mut self, seq: u16, payload: &[u8]) {
        self.ack_needed = true;
        let dist = seq.wrapping_sub(self.ack_nr);
        if dist == 0 || dist >= 0x8000 || dist > MAX_REORDER {
            return; // Old (a resend we had) or too far ahead to keep.
        }
        if self.eof_seq.is_some_and(|eof| seq_before(eof, seq)) {
            return; // Past the peer's own end.
        }
        // Data out of order may not take the last packet's room: the one that fills the
        // hole always fits, or a full reorder buffer would wait for it forever.
        let reserve = if dist > 1 { self.config.payload } else { 0 };
        if self.readable.len() + self.reorder_bytes + payload.len() + reserve
            > self.config.recv_buffer
        {
            return; // No room: the peer resends once we have read.
        }
        if dist > 1 {
            if !self.reorder.contains_key(&seq) {
                self.reorder_bytes += payload.len();
                self.reorder.insert(seq, payload.to_vec());
            }
            return;
        }
        self.readable.extend(payload);
        self.ack_nr = seq;
        while let Some(next) = self.reorder.remove(&self.ack_nr.wrapping_add(1)) {
            self.reorder_bytes -= next.len();
            self.readable.extend(&next);
            self.ack_nr = self.ack_nr.wrapping_add(1);
        }
        if self.eof_seq == Some(self.ack_nr) {
            self.got_eof = true;
            self.reorder.clear();
            self.reorder_bytes = 0;
        }
    }
}
