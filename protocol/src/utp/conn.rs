//! One uTP connection's state: what it has sent and not had acknowledged, what it has
//! received out of order, its timers; and the calls a driver makes on it (`connect`, `accept`,
//! `read`, `write`, `close`, timers). Sending is in `send.rs`, receiving in `recv.rs`.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use thiserror::Error;

use super::header::PacketType;
use super::ledbat::Ledbat;

/// Sizes and bounds of one connection.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Bytes received and not yet read by the application, in order or not: the window we
    /// advertise is what is left of it.
    pub recv_buffer: usize,
    /// Bytes the application may write ahead of what has been sent.
    pub send_buffer: usize,
    /// Payload bytes a packet carries at most: 1400 keeps a packet with its IP, UDP and uTP
    /// headers under a 1500-byte Ethernet MTU, with room for a tunnel's overhead.
    pub payload: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            recv_buffer: 1 << 20,
            send_buffer: 1 << 20,
            payload: 1400,
        }
    }
}

/// Why a connection ended other than by both sides' FIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum UtpError {
    #[error("the peer reset the uTP connection")]
    Reset,
    #[error("the uTP peer did not answer the SYN")]
    ConnectTimedOut,
    #[error("the uTP peer stopped acknowledging")]
    TimedOut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    SynSent,
    Connected,
    Closed,
}

/// A packet sent and not yet acknowledged.
#[derive(Debug)]
pub(super) struct Sent {
    pub(super) seq: u16,
    pub(super) ty: PacketType,
    pub(super) payload: Vec<u8>,
    pub(super) sent_at: Option<Instant>,
    pub(super) transmissions: u32,
    /// Counted in `flight` (sent, not selectively acked, not waiting to be resent).
    pub(super) in_flight: bool,
    pub(super) sacked: bool,
    pub(super) need_resend: bool,
    /// Resent once already on duplicate acks or SACK: the timer handles it from now on.
    pub(super) fast_resent: bool,
}

/// The packets after the next expected one we keep, at most.
pub(super) const MAX_REORDER: u16 = 1024;
/// Packets sent and unacknowledged, at most (well inside the 16-bit sequence space).
pub(super) const MAX_UNACKED: usize = 8192;
/// The retransmission timer's floor (libtorrent's default) and ceiling.
pub(super) const MIN_RTO: Duration = Duration::from_millis(500);
pub(super) const MAX_RTO: Duration = Duration::from_secs(30);
/// The SYN's first timeout, before any round trip is known (libutp: 3 s; shorter, since a
/// TCP connection is tried beside it).
pub(super) const SYN_RTO: Duration = Duration::from_secs(1);
/// Timeouts in a row that end a connection: the SYN's, and once connected.
pub(super) const SYN_RETRIES: u32 = 2;
pub(super) const DATA_RETRIES: u32 = 6;
/// An idle connection sends an ack this often so that NAT mappings stay open (libutp: 29 s).
pub(super) const KEEPALIVE: Duration = Duration::from_secs(29);
/// Once our FIN is acknowledged, the longest we wait for the peer's. (Until then the
/// retransmission timer bounds the wait.)
pub(super) const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);
/// Duplicate acks that count as a loss (as TCP's fast retransmit).
pub(super) const DUP_ACKS: u32 = 3;

/// One uTP connection, sans IO: datagrams in through `handle_datagram`, out through
/// `poll_transmit`; time through `now` arguments.
#[derive(Debug)]
pub struct Connection {
    pub(super) config: Config,
    pub(super) epoch: Instant,
    pub(super) state: State,
    pub(super) error: Option<UtpError>,
    pub(super) recv_id: u16,
    pub(super) send_id: u16,
    /// The next sequence number we send.
    pub(super) seq_nr: u16,
    /// The last sequence number received in order.
    pub(super) ack_nr: u16,

    pub(super) unsent: VecDeque<u8>,
    pub(super) sent: VecDeque<Sent>,
    pub(super) flight: usize,
    pub(super) peer_wnd: usize,
    pub(super) ledbat: Ledbat,
    pub(super) srtt: Option<Duration>,
    pub(super) rttvar: Duration,
    pub(super) rto: Duration,
    pub(super) rto_deadline: Option<Instant>,
    pub(super) timeouts: u32,
    pub(super) dup_acks: u32,
    pub(super) last_ack: u16,

    pub(super) readable: VecDeque<u8>,
    pub(super) reorder: BTreeMap<u16, Vec<u8>>,
    pub(super) reorder_bytes: usize,
    /// The peer's FIN's sequence number, once seen.
    pub(super) eof_seq: Option<u16>,
    /// The FIN was reached in order: after `readable`, the stream ends.
    pub(super) got_eof: bool,
    pub(super) reply_micro: u32,
    pub(super) ack_needed: bool,
    /// The window we told the peer last.
    pub(super) advertised: usize,

    pub(super) close_requested: bool,
    pub(super) fin_seq: Option<u16>,
    pub(super) fin_acked: bool,
    pub(super) close_deadline: Option<Instant>,
    pub(super) reset_to_send: bool,
    pub(super) last_sent: Instant,
    /// Packets resent, by the timer or fast (for the log and the benchmarks).
    pub(super) resent: u64,
    pub(super) timer_fired: u64,
}

impl Connection {
    fn new(config: Config, now: Instant, recv_id: u16, send_id: u16, state: State) -> Connection {
        Connection {
            config,
            epoch: now,
            state,
            error: None,
            recv_id,
            send_id,
            seq_nr: 1,
            ack_nr: 0,
            unsent: VecDeque::new(),
            sent: VecDeque::new(),
            flight: 0,
            peer_wnd: config.payload,
            ledbat: Ledbat::new(),
            srtt: None,
            rttvar: Duration::ZERO,
            rto: SYN_RTO,
            rto_deadline: None,
            timeouts: 0,
            dup_acks: 0,
            last_ack: 0,
            readable: VecDeque::new(),
            reorder: BTreeMap::new(),
            reorder_bytes: 0,
            eof_seq: None,
            got_eof: false,
            reply_micro: 0,
            ack_needed: false,
            advertised: config.recv_buffer,
            close_requested: false,
            fin_seq: None,
            fin_acked: false,
            close_deadline: None,
            reset_to_send: false,
            last_sent: now,
            resent: 0,
            timer_fired: 0,
        }
    }

    /// Opens a connection: `recv_id` is ours (random, and free at the demultiplexer for this
    /// address, as is `recv_id + 1`); the SYN waits in `poll_transmit`.
    pub fn connect(config: Config, now: Instant, recv_id: u16) -> Connection {
        let mut c = Connection::new(
            config,
            now,
            recv_id,
            recv_id.wrapping_add(1),
            State::SynSent,
        );
        c.sent.push_back(Sent {
            seq: c.seq_nr,
            ty: PacketType::Syn,
            payload: Vec::new(),
            sent_at: None,
            transmissions: 0,
            in_flight: false,
            sacked: false,
            need_resend: true,
            fast_resent: true,
        });
        c.seq_nr = c.seq_nr.wrapping_add(1);
        c
    }

    /// Answers a SYN (`syn_conn_id` and `syn_seq` from its header; `our_seq` random): the
    /// connection is open at once and its ack waits in `poll_transmit`.
    pub fn accept(
        config: Config,
        now: Instant,
        syn_conn_id: u16,
        syn_seq: u16,
        our_seq: u16,
    ) -> Connection {
        let mut c = Connection::new(
            config,
            now,
            syn_conn_id.wrapping_add(1),
            syn_conn_id,
            State::Connected,
        );
        c.seq_nr = our_seq;
        c.ack_nr = syn_seq;
        c.last_ack = our_seq.wrapping_sub(1);
        c.ack_needed = true;
        c.rto = MIN_RTO.max(Duration::from_secs(1));
        c
    }

    /// The connection id packets to us carry.
    pub fn recv_id(&self) -> u16 {
        self.recv_id
    }

    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// Ended: both FINs exchanged, reset, or timed out. Nothing more to send but a pending
    /// RESET (`poll_transmit` still returns it).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    pub fn error(&self) -> Option<UtpError> {
        self.error
    }

    /// Takes up to `data.len()` bytes to send; returns how many fit in the send buffer (0:
    /// full, or the write side is closed).
    pub fn write(&mut self, data: &[u8]) -> usize {
        if self.close_requested || self.state == State::Closed {
            return 0;
        }
        let room = self.config.send_buffer.saturating_sub(self.unsent.len());
        let n = room.min(data.len());
        self.unsent.extend(&data[..n]);
        n
    }

    /// Bytes written and not yet acknowledged by the peer.
    pub fn unacked_bytes(&self) -> usize {
        self.unsent.len() + self.sent.iter().map(|s| s.payload.len()).sum::<usize>()
    }

    /// Copies received bytes into `buf`; 0 when there are none (see [`Self::read_closed`]).
    pub fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.readable.len());
        for (dst, src) in buf.iter_mut().zip(self.readable.drain(..n)) {
            *dst = src;
        }
        // Tell a peer we had throttled that there is room again, a quarter buffer at a time.
        if n > 0 && self.recv_window() >= self.advertised + self.config.recv_buffer / 4 {
            self.ack_needed = true;
        }
        n
    }

    /// Bytes ready for `read`.
    pub fn readable(&self) -> usize {
        self.readable.len()
    }

    /// Nothing more will arrive: the peer's FIN was reached, or the connection ended.
    pub fn read_closed(&self) -> bool {
        self.readable.is_empty() && (self.got_eof || self.state == State::Closed)
    }

    /// The write side may take more (or never will: closed).
    pub fn writable(&self) -> bool {
        self.state == State::Closed
            || self.close_requested
            || self.unsent.len() < self.config.send_buffer
    }

    /// Ends our side: a FIN follows the data written so far.
    pub fn close(&mut self, now: Instant) {
        let _ = now;
        self.close_requested = true;
    }

    /// Aborts: a RESET goes out and the connection is closed.
    pub fn reset(&mut self) {
        if self.state != State::Closed {
            self.reset_to_send = self.state == State::Connected;
            self.state = State::Closed;
        }
    }

    /// A line for the log: resends, timer expiries, the window and the round trip.
    pub fn stats(&self) -> String {
        format!(
            "resent {} timeouts {} cwnd {} peer_wnd {} srtt {:?} queueing {:?} µs",
            self.resent,
            self.timer_fired,
            self.ledbat.window(),
            self.peer_wnd,
            self.srtt,
            self.ledbat.queueing_delay_us()
        )
    }

    /// The receive window we advertise: what is left of the receive buffer.
    pub(super) fn recv_window(&self) -> usize {
        self.config
            .recv_buffer
            .saturating_sub(self.readable.len() + self.reorder_bytes)
    }

    pub(super) fn now_us(&self, now: Instant) -> u32 {
        // Wraps every 71 minutes, as the BEP's 32-bit timestamps do.
        now.saturating_duration_since(self.epoch).as_micros() as u32
    }

    /// The next time `handle_timeout` has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Closed {
            return None;
        }
        let keepalive = (self.state == State::Connected).then(|| self.last_sent + KEEPALIVE);
        [self.rto_deadline, keepalive, self.close_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        if self.close_deadline.is_some_and(|d| now >= d) {
            self.state = State::Closed;
            return;
        }
        if self.rto_deadline.is_some_and(|d| now >= d) {
            self.timeouts += 1;
            self.timer_fired += 1;
            let limit = if self.state == State::SynSent {
                SYN_RETRIES
            } else {
                DATA_RETRIES
            };
            if self.timeouts > limit {
                self.error = Some(if self.state == State::SynSent {
                    UtpError::ConnectTimedOut
                } else {
                    UtpError::TimedOut
                });
                self.state = State::Closed;
                return;
            }
            self.ledbat.on_timeout();
            self.rto = (self.rto * 2).min(MAX_RTO);
            for s in self.sent.iter_mut().filter(|s| !s.sacked) {
                s.need_resend = true;
                s.in_flight = false;
            }
            self.flight = 0;
            self.rto_deadline = if self.sent.is_empty() {
                None
            } else {
                Some(now + self.rto)
            };
        }
        if self.state == State::Connected && now >= self.last_sent + KEEPALIVE {
            self.ack_needed = true;
        }
    }

    /// A round-trip sample (RFC 6298's estimator, floored as libtorrent's is).
    pub(super) fn rtt_sample(&mut self, rtt: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                let err = srtt.abs_diff(rtt);
                self.rttvar = (self.rttvar * 3 + err) / 4;
                self.srtt = Some((srtt * 7 + rtt) / 8);
            }
        }
        let srtt = self.srtt.unwrap_or(rtt);
        self.rto = (srtt + self.rttvar * 4).clamp(MIN_RTO, MAX_RTO);
    }
}
