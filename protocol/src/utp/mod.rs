//! uTP (BEP 29) sans IO, in the manner of quinn-proto: a [`Connection`] takes datagrams
//! (`handle_datagram(now, bytes)`) and the passing of time (`handle_timeout(now)`), and gives
//! datagrams to send (`poll_transmit`) and when it next needs the clock (`poll_timeout`); the
//! application reads and writes bytes through bounded buffers. The engine's driver owns the
//! UDP socket and demultiplexes by connection id ([`peek_conn_id`]).
//!
//! What is here: the version-1 header with its extension chain and selective ACK; connect,
//! accept, in-order delivery through a bounded reorder buffer; retransmission on a timer
//! (RFC 6298's estimate, doubled per timeout, a 500 ms floor) and fast resend on three
//! duplicate acks or three later packets selectively acked; FIN both ways, RESET, a closing
//! timeout; LEDBAT congestion control ([`Ledbat`]). Not here: path-MTU discovery (packets
//! carry at most [`Config::payload`] bytes) and clock-drift correction of the delay samples.

mod conn;
mod header;
mod ledbat;
mod recv;
mod send;

pub use conn::{Config, Connection, UtpError};
pub use header::{peek_conn_id, seq_before, Header, HeaderError, PacketType, HEADER_LEN};
pub use ledbat::{Ledbat, MAX_CWND, MIN_CWND, TARGET_DELAY_US};

#[cfg(test)]
mod tests;
