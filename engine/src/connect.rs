//! Connection setup under the encryption policy: dialing (plaintext or MSE, with one retry the
//! other way when the peer refuses) and telling incoming plaintext from MSE by the first bytes.
//! The decisions are `protocol::wire::mse::EncryptionPolicy`'s; this file only moves bytes.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Mutex;

use bytes::BytesMut;
use protocol::wire::mse::{
    classify, Attempt, EncryptionPolicy, IncomingKind, Initiator, Rc4, Responder, Step,
};
use protocol::wire::Handshake;
use protocol::InfoHash;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::mse_stream::PeerStream;
use crate::transport::Transport;
use crate::utp::UtpSocket;
use protocol::session::PeerError;
use std::time::Duration;

/// How long a TCP connect may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a uTP SYN may wait for its answer (a peer TCP did not reach, see [`dial`]).
pub const UTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the handshakes (MSE and BitTorrent) may take once connected.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Addresses remembered as needing MSE, at most; past it the memory starts over (it is only a
/// shortcut that saves one refused plaintext connection).
const MAX_REMEMBERED: usize = 4096;

/// The session's policy and what it learned about peers.
#[derive(Debug)]
pub struct Connector {
    policy: EncryptionPolicy,
    /// Peers whose plaintext knock was refused and whose MSE connection worked.
    needs_mse: Mutex<HashSet<SocketAddr>>,
    /// The uTP endpoint, when uTP is on.
    utp: Option<UtpSocket>,
    /// Peers only uTP reached: dialled over uTP first from now on.
    utp_only: Mutex<HashSet<SocketAddr>>,
}

/// Why one attempt failed: refused (the peer closed on us, so the other way may work) or
/// anything else (unreachable, timed out, bad handshake: retrying would not help).
enum Failure {
    Refused(PeerError),
    Other(PeerError),
}

impl Connector {
    pub fn new(policy: EncryptionPolicy) -> Connector {
        Connector {
            policy,
            needs_mse: Mutex::new(HashSet::new()),
            utp: None,
            utp_only: Mutex::new(HashSet::new()),
        }
    }

    /// Dials uTP through `utp` where TCP fails (see [`dial`]).
    pub fn with_utp(mut self, utp: Option<UtpSocket>) -> Connector {
        self.utp = utp;
        self
    }

    fn utp_only(&self, addr: SocketAddr) -> bool {
        self.utp_only.lock().is_ok_and(|s| s.contains(&addr))
    }

    fn learn_utp_only(&self, addr: SocketAddr) {
        if let Ok(mut set) = self.utp_only.lock() {
            if set.len() >= MAX_REMEMBERED {
                set.clear();
            }
            set.insert(addr);
        }
    }

    pub fn policy(&self) -> EncryptionPolicy {
        self.policy
    }

    fn remembered(&self, addr: SocketAddr) -> bool {
        self.needs_mse.lock().is_ok_and(|s| s.contains(&addr))
    }

    fn learn(&self, addr: SocketAddr, took_mse: bool) {
        let Ok(mut set) = self.needs_mse.lock() else {
            return;
        };
        if took_mse {
            if set.len() >= MAX_REMEMBERED {
                set.clear();
            }
            set.insert(addr);
        } else {
            set.remove(&addr);
        }
    }
}

/// Dials `addr` under the session's policy and exchanges BitTorrent handshakes. Returns the
/// stream, the peer's handshake, and what was read past it.
///
/// TCP first, then uTP when TCP fails (refused, timed out, or closed in the handshake), and uTP
/// first from then on for a peer where only uTP worked. Not libtorrent's uTP-first: on loopback
/// our uTP moves about 150 MiB/s where TCP moves 390 (`bench/download.sh` from a libtorrent
/// seeder, which takes either), so uTP first would slow every download from the swarm's
/// uTP-speaking majority; uTP-only peers are reached all the same.
pub async fn dial(
    connector: &Connector,
    ours: Handshake,
    addr: SocketAddr,
) -> Result<(PeerStream, Handshake, BytesMut), PeerError> {
    let Some(utp) = connector.utp.as_ref() else {
        return dial_via(connector, &ours, addr, None).await;
    };
    if connector.utp_only(addr) {
        return dial_via(connector, &ours, addr, Some(utp)).await;
    }
    let why = match dial_via(connector, &ours, addr, None).await {
        Ok(done) => return Ok(done),
        Err(why) => why,
    };
    tracing::debug!("{addr}: TCP: {why}; trying uTP");
    let done = (dial_via(connector, &ours, addr, Some(utp)).await).map_err(|_| why)?;
    connector.learn_utp_only(addr);
    Ok(done)
}

/// Dials over uTP (`Some`) or TCP, with one retry the other way round for encryption.
async fn dial_via(
    connector: &Connector,
    ours: &Handshake,
    addr: SocketAddr,
    utp: Option<&UtpSocket>,
) -> Result<(PeerStream, Handshake, BytesMut), PeerError> {
    let policy = connector.policy();
    let mut attempt = policy.first_attempt(connector.remembered(addr));
    let mut retried = false;
    loop {
        match dial_once(ours, addr, attempt, utp).await {
            Ok(done) => {
                if policy == EncryptionPolicy::Prefer {
                    connector.learn(addr, matches!(attempt, Attempt::Mse { .. }));
                }
                return Ok(done);
            }
            Err(Failure::Refused(why)) => match policy.after_refusal(attempt) {
                Some(next) if !retried => {
                    tracing::debug!("{addr}: {why}; retrying as {next:?}");
                    attempt = next;
                    retried = true;
                }
                _ => return Err(why),
            },
            Err(Failure::Other(why)) => return Err(why),
        }
    }
}

async fn dial_once(
    ours: &Handshake,
    addr: SocketAddr,
    attempt: Attempt,
    utp: Option<&UtpSocket>,
) -> Result<(PeerStream, Handshake, BytesMut), Failure> {
    let mut tcp: Transport = match utp {
        Some(utp) => tokio::time::timeout(UTP_CONNECT_TIMEOUT, utp.connect(addr))
            .await
            .map_err(|_| Failure::Other(PeerError::Timeout("uTP connect")))?
            .map_err(|e| Failure::Other(PeerError::Io(format!("uTP connect: {e}"))))?
            .into(),
        None => {
            let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
                .await
                .map_err(|_| Failure::Other(PeerError::Timeout("connect")))?
                .map_err(|e| Failure::Other(PeerError::Io(format!("connect: {e}"))))?;
            let _ = tcp.set_nodelay(true);
            tcp.into()
        }
    };
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    let (mut stream, mut buf) = match attempt {
        Attempt::Plaintext => (PeerStream::plain(tcp), BytesMut::new()),
        Attempt::Mse { provide } => {
            let (cipher, rest) = initiate(&mut tcp, ours.info_hash, provide, deadline).await?;
            (PeerStream::new(tcp, cipher), rest)
        }
    };
    let mut frame = Vec::with_capacity(Handshake::LEN);
    ours.encode(&mut frame);
    stream
        .write_all(&frame)
        .await
        .map_err(|e| io_failure(e, "send handshake"))?;
    let theirs = loop {
        match Handshake::decode(&buf) {
            Ok(Some(hs)) => {
                let _ = buf.split_to(Handshake::LEN);
                break hs;
            }
            Ok(None) => {}
            Err(e) => {
                return Err(Failure::Other(PeerError::Malformed(format!(
                    "handshake: {e}"
                ))))
            }
        }
        read_more(&mut stream, &mut buf, deadline, "handshake").await?;
    };
    if theirs.info_hash != ours.info_hash {
        return Err(Failure::Other(PeerError::Protocol(
            "answered for another torrent",
        )));
    }
    Ok((stream, theirs, buf))
}

/// Runs the MSE handshake as the initiator; returns the stream's ciphers and the bytes
/// received past the handshake, already decrypted.
async fn initiate(
    tcp: &mut Transport,
    info_hash: InfoHash,
    provide: u32,
    deadline: Instant,
) -> Result<(Option<(Rc4, Rc4)>, BytesMut), Failure> {
    // No initial payload: the BitTorrent handshake follows inside the stream, so the peer task
    // sends it the same way whatever the transport.
    let (mut machine, first) = Initiator::new(info_hash, provide, &[], &mut rand::rng());
    tcp.write_all(&first)
        .await
        .map_err(|e| io_failure(e, "send MSE key"))?;
    let mut buf = BytesMut::new();
    loop {
        match machine
            .handle(&buf)
            .map_err(|e| Failure::Other(PeerError::Malformed(format!("MSE: {e}"))))?
        {
            Step::NeedMore => read_more(tcp, &mut buf, deadline, "MSE handshake").await?,
            Step::Send(bytes) => tcp
                .write_all(&bytes)
                .await
                .map_err(|e| io_failure(e, "send MSE"))?,
            Step::Done(est) => {
                let mut rest = buf.split_off(est.consumed);
                let mut cipher = est.cipher;
                if let Some((_, decrypt)) = &mut cipher {
                    decrypt.apply(&mut rest);
                }
                return Ok((cipher, rest));
            }
        }
    }
}

async fn read_more<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    deadline: Instant,
    during: &'static str,
) -> Result<(), Failure> {
    buf.reserve(4096);
    match tokio::time::timeout_at(deadline, stream.read_buf(buf)).await {
        Err(_) => Err(Failure::Other(PeerError::Timeout(during))),
        Ok(Ok(0)) => Err(Failure::Refused(PeerError::Io(format!(
            "closed during the {during}"
        )))),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(io_failure(e, during)),
    }
}

/// A reset or broken pipe means the peer hung up on what we sent: a refusal.
fn io_failure(e: std::io::Error, during: &str) -> Failure {
    use std::io::ErrorKind::*;
    let why = PeerError::Io(format!("{during}: {e}"));
    match e.kind() {
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => Failure::Refused(why),
        _ => Failure::Other(why),
    }
}

/// Sorts out an accepted connection: plaintext or MSE (as the policy allows), through to the
/// info-hash of the peer's BitTorrent handshake. `torrents` lists the info-hashes we serve
/// (asked only if the peer speaks MSE, whose SKEY must be one of them). Returns the stream,
/// everything read of the peer's handshake (decrypted) and its info-hash.
pub async fn accept(
    tcp: Transport,
    policy: EncryptionPolicy,
    torrents: impl FnOnce() -> Vec<InfoHash>,
) -> Result<(PeerStream, BytesMut, InfoHash), PeerError> {
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    accept_inner(tcp, policy, torrents, deadline)
        .await
        .map_err(|f| match f {
            Failure::Refused(why) | Failure::Other(why) => why,
        })
}

async fn accept_inner(
    mut tcp: Transport,
    policy: EncryptionPolicy,
    torrents: impl FnOnce() -> Vec<InfoHash>,
    deadline: Instant,
) -> Result<(PeerStream, BytesMut, InfoHash), Failure> {
    let mut buf = BytesMut::new();
    let kind = loop {
        if let Some(kind) = classify(&buf) {
            break kind;
        }
        read_more(&mut tcp, &mut buf, deadline, "handshake").await?;
    };
    match kind {
        IncomingKind::Plaintext if policy.accepts_plaintext() => {
            let mut stream = PeerStream::plain(tcp);
            let ih = read_prefix(&mut stream, &mut buf, deadline).await?;
            Ok((stream, buf, ih))
        }
        IncomingKind::Plaintext => Err(Failure::Other(PeerError::Done(
            "plaintext handshake refused: encryption is required",
        ))),
        IncomingKind::Mse if policy.incoming_mse() == 0 => Err(Failure::Other(
            PeerError::Malformed("not a BitTorrent handshake (encryption is off)".into()),
        )),
        IncomingKind::Mse => {
            let torrents = torrents();
            let mut machine = Responder::new(policy.incoming_mse(), &mut rand::rng());
            let est = loop {
                // Its own statement: the thread-local rng must not live across an await.
                let step = machine
                    .handle(&buf, &torrents, &mut rand::rng())
                    .map_err(|e| Failure::Other(PeerError::Malformed(format!("MSE: {e}"))))?;
                match step {
                    Step::NeedMore => {
                        read_more(&mut tcp, &mut buf, deadline, "MSE handshake").await?
                    }
                    Step::Send(bytes) => tcp
                        .write_all(&bytes)
                        .await
                        .map_err(|e| io_failure(e, "send MSE"))?,
                    Step::Done(est) => break est,
                }
            };
            tcp.write_all(&est.send)
                .await
                .map_err(|e| io_failure(e, "send MSE"))?;
            let mut rest = buf.split_off(est.consumed);
            let mut cipher = est.cipher;
            if let Some((_, decrypt)) = &mut cipher {
                decrypt.apply(&mut rest);
            }
            let mut plain = BytesMut::from(&est.initial_payload[..]);
            plain.extend_from_slice(&rest);
            let mut stream = PeerStream::new(tcp, cipher);
            let ih = read_prefix(&mut stream, &mut plain, deadline).await?;
            if ih != est.info_hash {
                return Err(Failure::Other(PeerError::Protocol(
                    "the handshake names another torrent than MSE did",
                )));
            }
            Ok((stream, plain, ih))
        }
    }
}

/// Reads until the handshake's first 48 bytes name an info-hash.
async fn read_prefix(
    stream: &mut PeerStream,
    buf: &mut BytesMut,
    deadline: Instant,
) -> Result<InfoHash, Failure> {
    loop {
        match Handshake::decode_prefix(buf) {
            Ok(Some((_, ih))) => return Ok(ih),
            Ok(None) => {}
            Err(e) => {
                return Err(Failure::Other(PeerError::Malformed(format!(
                    "handshake: {e}"
                ))))
            }
        }
        read_more(stream, buf, deadline, "handshake").await?;
    }
}
