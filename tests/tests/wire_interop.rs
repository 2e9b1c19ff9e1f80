//! The peer wire codec against real clients: frames written by python3-libtorrent and aria2
//! (seeders on loopback) are decoded, split at every byte, and used to fetch the torrent's
//! metadata over BEP 9 and a block over BEP 3.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use protocol::wire::mse::{self, Initiator, Rc4, Step};
use protocol::wire::{
    self, BlockRef, ExtendedHandshake, Extension, Handshake, Message, MetadataDownload,
    MetadataMessage, Reserved, METADATA_PIECE_LEN, UT_METADATA,
};
use protocol::{InfoHash, Metainfo, PeerId};
use swarmlink_tests::{KillOnDrop, SYSTEM_PYTHON};

/// Both seeders serve one file whose byte at offset `o` is `o % 256`.
fn payload_byte(offset: u64) -> u8 {
    (offset % 256) as u8
}

const LIBTORRENT_SEEDER: &str = r#"
import libtorrent as lt, os, sys, time
d = sys.argv[1]
path = os.path.join(d, "payload.bin")
with open(path, "wb") as f:
    f.write(bytes(range(256)) * (16 * 4096))
fs = lt.file_storage()
lt.add_files(fs, path)
ct = lt.create_torrent(fs, 16384)
lt.set_piece_hashes(ct, d)
ti = lt.torrent_info(ct.generate())
settings = {"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
            "enable_upnp": False, "enable_natpmp": False, "enable_outgoing_utp": False,
            "enable_incoming_utp": False, "allow_multiple_connections_per_ip": True,
            "alert_mask": lt.alert.category_t.status_notification}
if len(sys.argv) > 2 and sys.argv[2] == "require-rc4":
    # Refuse plaintext peers; MSE with RC4 only.
    settings.update({"in_enc_policy": int(lt.enc_policy.pe_forced),
                     "out_enc_policy": int(lt.enc_policy.pe_forced),
                     "allowed_enc_level": int(lt.enc_level.pe_rc4)})
ses = lt.session(settings)
atp = lt.add_torrent_params()
atp.ti = ti
atp.save_path = d
atp.flags |= lt.torrent_flags.seed_mode
# An auto-managed torrent starts paused and refuses peers until the queue resumes it.
atp.flags &= ~(lt.torrent_flags.paused | lt.torrent_flags.auto_managed)
h = ses.add_torrent(atp)
# Incoming connections are reset until the listen socket is up and the torrent seeds.
deadline = time.time() + 20
listening = False
while not (listening and h.status().state == lt.torrent_status.seeding) and time.time() < deadline:
    for a in ses.pop_alerts():
        if isinstance(a, lt.listen_succeeded_alert):
            listening = True
    time.sleep(0.02)
print(str(ti.info_hashes().v1), ses.listen_port(), ti.num_pieces(), len(ti.info_section()), flush=True)
sys.stdin.read()
"#;

/// Our extended id for ut_metadata: what the seeder must put on the messages it sends us.
const OUR_UT_METADATA: u8 = 3;

struct Seeder {
    client: &'static str,
    _child: KillOnDrop,
    _dir: tempfile::TempDir,
    info_hash: InfoHash,
    port: u16,
    pieces: usize,
    piece_length: u64,
    metadata_size: u64,
}

fn start_libtorrent() -> Seeder {
    start_libtorrent_with("plain")
}

fn start_libtorrent_with(mode: &str) -> Seeder {
    let dir = tempfile::tempdir().unwrap();
    let mut child = KillOnDrop(
        Command::new(SYSTEM_PYTHON)
            .args(["-c", LIBTORRENT_SEEDER])
            .arg(dir.path())
            .arg(mode)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("/usr/bin/python3 with python3-libtorrent"),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields.len(), 4, "seeder said {line:?}");
    Seeder {
        client: "libtorrent",
        info_hash: InfoHash::from_hex(fields[0]).unwrap(),
        port: fields[1].parse().unwrap(),
        pieces: fields[2].parse().unwrap(),
        piece_length: 16384,
        metadata_size: fields[3].parse().unwrap(),
        _child: child,
        _dir: dir,
    }
}

/// aria2 seeding a 4 MiB file in 32 KiB pieces from a torrent made by mktorrent.
fn start_aria2() -> Seeder {
    let dir = tempfile::tempdir().unwrap();
    let payload: Vec<u8> = (0..4u64 << 20).map(payload_byte).collect();
    std::fs::write(dir.path().join("payload.bin"), payload).unwrap();
    let torrent = dir.path().join("payload.torrent");
    let made = Command::new("mktorrent")
        .args(["-l", "15", "-a", "http://127.0.0.1:1/announce", "-o"])
        .arg(&torrent)
        .arg("payload.bin")
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .status()
        .expect("mktorrent is installed");
    assert!(made.success());
    let metainfo = Metainfo::from_bytes(&std::fs::read(&torrent).unwrap()).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = KillOnDrop(
        Command::new("aria2c")
            .args([
                "--enable-dht=false",
                "--enable-dht6=false",
                "--bt-enable-lpd=false",
                "--seed-ratio=0.0",
                "--bt-seed-unverified=true",
                "--summary-interval=0",
                &format!("--listen-port={port}"),
                "-d",
            ])
            .arg(dir.path())
            .arg(&torrent)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aria2c is installed"),
    );
    Seeder {
        client: "aria2",
        info_hash: metainfo.info_hash,
        port,
        pieces: metainfo.info.pieces.len(),
        piece_length: metainfo.info.piece_length,
        metadata_size: metainfo.info_bytes().len() as u64,
        _child: child,
        _dir: dir,
    }
}

/// A connection that keeps every raw frame it decoded, for the split-at-every-byte check.
struct Conn {
    client: &'static str,
    stream: TcpStream,
    buf: Vec<u8>,
    frames: Vec<Vec<u8>>,
    deadline: Instant,
    /// Whether the last choke/unchoke seen (by any `until`) was an unchoke.
    unchoked: bool,
    /// MSE RC4 (encrypt outgoing, decrypt incoming), once negotiated.
    cipher: Option<(Rc4, Rc4)>,
}

impl Conn {
    /// Connects and exchanges handshakes, retrying while the seeder is still starting up (it
    /// may refuse or drop connections until its torrent is ready).
    fn open(seeder: &Seeder, reserved: Reserved) -> (Conn, Handshake) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match Self::try_open(seeder, reserved) {
                Ok(opened) => return opened,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("{} not ready yet ({e}), retrying", seeder.client);
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("{} never accepted us: {e}", seeder.client),
            }
        }
    }

    fn try_open(seeder: &Seeder, reserved: Reserved) -> std::io::Result<(Conn, Handshake)> {
        let mut stream = TcpStream::connect(("127.0.0.1", seeder.port))?;
        stream.set_read_timeout(Some(Duration::from_millis(500)))?;
        let mut out = Vec::new();
        Handshake {
            reserved,
            info_hash: seeder.info_hash,
            peer_id: PeerId::generate(&mut rand::rng()),
        }
        .encode(&mut out);
        stream.write_all(&out)?;
        let mut buf = Vec::new();
        let give_up = Instant::now() + Duration::from_secs(5);
        let theirs = loop {
            if let Some(h) = Handshake::decode(&buf).unwrap() {
                break h;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk) {
                Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if Instant::now() < give_up && is_timeout(&e) => {}
                Err(e) => return Err(e),
            }
        };
        for cut in 0..Handshake::LEN {
            assert_eq!(Handshake::decode(&buf[..cut]), Ok(None));
        }
        buf.drain(..Handshake::LEN);
        let conn = Conn {
            client: seeder.client,
            stream,
            buf,
            frames: Vec::new(),
            unchoked: false,
            deadline: Instant::now() + Duration::from_secs(20),
            cipher: None,
        };
        Ok((conn, theirs))
    }

    fn fill(&mut self) {
        assert!(Instant::now() < self.deadline, "{} went quiet", self.client);
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk) {
            Ok(0) => panic!("{} closed the connection", self.client),
            Ok(n) => {
                let got = &mut chunk[..n];
                if let Some((_, decrypt)) = &mut self.cipher {
                    decrypt.apply(got);
                }
                self.buf.extend_from_slice(got);
            }
            Err(e) if is_timeout(&e) => {}
            Err(e) => panic!("read: {e}"),
        }
    }

    /// Reads until `want` returns a value for a decoded message.
    fn until<T>(&mut self, mut want: impl FnMut(Message<'_>) -> Option<T>) -> T {
        loop {
            while let Some((message, used)) =
                wire::decode(&self.buf, wire::DEFAULT_MAX_FRAME).unwrap()
            {
                match message {
                    Message::Unchoke => self.unchoked = true,
                    Message::Choke => self.unchoked = false,
                    _ => {}
                }
                let found = want(message);
                let frame: Vec<u8> = self.buf.drain(..used).collect();
                self.frames.push(frame);
                if let Some(found) = found {
                    return found;
                }
            }
            self.fill();
        }
    }

    fn send(&mut self, message: Message<'_>) {
        let mut out = Vec::new();
        message.encode(&mut out);
        self.send_raw(out);
    }

    fn send_raw(&mut self, mut out: Vec<u8>) {
        if let Some((encrypt, _)) = &mut self.cipher {
            encrypt.apply(&mut out);
        }
        self.stream.write_all(&out).unwrap();
    }

    /// Every frame the client sent us is partial at every proper prefix and whole at its end.
    fn check_splits(&self) {
        for frame in &self.frames {
            for cut in 0..frame.len() {
                assert_eq!(
                    wire::decode(&frame[..cut], wire::DEFAULT_MAX_FRAME),
                    Ok(None)
                );
            }
            let (_, used) = wire::decode(frame, wire::DEFAULT_MAX_FRAME)
                .unwrap()
                .unwrap();
            assert_eq!(used, frame.len());
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// The whole conversation with one seeder; returns how many frames it sent us.
fn talk_to(seeder: &Seeder) -> usize {
    let (mut conn, theirs) = Conn::open(seeder, Reserved::SWARMLINK);
    assert_eq!(theirs.info_hash, seeder.info_hash);
    assert!(
        theirs.reserved.has(Extension::ExtensionProtocol),
        "{theirs:?}"
    );
    assert!(theirs.reserved.has(Extension::Fast), "{theirs:?}");

    let mut ours = ExtendedHandshake {
        v: Some("Swarmlink test".into()),
        ..Default::default()
    };
    ours.m.insert(UT_METADATA.into(), OUR_UT_METADATA);
    let mut payload = Vec::new();
    ours.encode(&mut payload);
    conn.send(Message::Extended {
        id: 0,
        payload: &payload,
    });
    conn.send(Message::HaveNone);

    // A seed that speaks the fast extension announces itself with HaveAll, not a bitfield.
    let (mut saw_have_all, mut their_ext) = (false, None);
    while !(saw_have_all && their_ext.is_some()) {
        let ext = conn.until(|m| match m {
            Message::HaveAll => {
                saw_have_all = true;
                Some(None)
            }
            Message::Extended { id: 0, payload } => {
                Some(Some(ExtendedHandshake::decode(payload).unwrap()))
            }
            Message::Bitfield(_) => panic!("fast-extension seed sent a bitfield"),
            _ => None,
        });
        if ext.is_some() {
            their_ext = ext;
        }
    }
    let their_ext = their_ext.unwrap();
    assert_eq!(their_ext.metadata_size, Some(seeder.metadata_size));
    assert!(
        their_ext.v.as_deref().unwrap_or("").contains(seeder.client),
        "{their_ext:?}"
    );
    let their_ut_metadata = their_ext
        .id_of(UT_METADATA)
        .expect("the seeder speaks ut_metadata");

    // Ask for every metadata piece at once, as a magnet download would, in any answer order.
    let mut download = MetadataDownload::new(seeder.info_hash, seeder.metadata_size).unwrap();
    for piece in download.missing().collect::<Vec<_>>() {
        let mut req = Vec::new();
        MetadataMessage::Request { piece }.encode(&mut req);
        conn.send(Message::Extended {
            id: their_ut_metadata,
            payload: &req,
        });
    }
    while !download.is_complete() {
        conn.until(|m| match m {
            Message::Extended {
                id: OUR_UT_METADATA,
                payload,
            } => match MetadataMessage::decode(payload).unwrap() {
                MetadataMessage::Data {
                    piece,
                    total_size,
                    data,
                } => {
                    download.on_data(piece, total_size, data).unwrap();
                    Some(())
                }
                other => panic!("unexpected {other:?}"),
            },
            _ => None,
        });
    }
    let info = download
        .finish()
        .expect("the seeder's metadata hashes to its info-hash");
    assert_eq!(info.len() as u64, seeder.metadata_size);
    let MetadataMessage::Data { data, .. } = wire::metadata_reply(&info, 0) else {
        panic!("piece 0 exists")
    };
    assert_eq!(data.len(), info.len().min(METADATA_PIECE_LEN));

    // A block: interested -> unchoke -> request -> piece, checked against the payload.
    conn.send(Message::Interested);
    if !conn.unchoked {
        conn.until(|m| matches!(m, Message::Unchoke).then_some(()));
    }
    let want = BlockRef {
        piece: 5,
        begin: 8192 + 3,
        length: 4000,
    };
    conn.send(Message::Request(want));
    let block = conn.until(|m| match m {
        Message::Piece { index, begin, data } => {
            assert_eq!((index, begin), (want.piece, want.begin));
            Some(data.to_vec())
        }
        Message::RejectRequest(r) => panic!("{} rejected {r:?}", seeder.client),
        _ => None,
    });
    let offset = u64::from(want.piece) * seeder.piece_length + u64::from(want.begin);
    let expected: Vec<u8> = (offset..offset + u64::from(want.length))
        .map(payload_byte)
        .collect();
    assert_eq!(block, expected);
    conn.check_splits();

    // Without the fast bit the same seed must send a full bitfield.
    let (mut plain, _) = Conn::open(
        seeder,
        Reserved::default().with(Extension::ExtensionProtocol),
    );
    let bits = plain.until(|m| match m {
        Message::Bitfield(bits) => Some(bits.to_vec()),
        Message::HaveAll => panic!("HaveAll sent to a peer without the fast extension"),
        _ => None,
    });
    assert_eq!(bits.len(), seeder.pieces.div_ceil(8));
    let full = (0..seeder.pieces).all(|i| bits[i / 8] & (0x80 >> (i % 8)) != 0);
    assert!(full, "a seed's bitfield has every piece");
    let spare = (seeder.pieces..bits.len() * 8).all(|i| bits[i / 8] & (0x80 >> (i % 8)) == 0);
    assert!(spare, "spare bits are zero");
    plain.check_splits();
    conn.frames.len() + plain.frames.len()
}

#[test]
fn libtorrent_frames_decode_and_serve_metadata_and_blocks() {
    let seeder = start_libtorrent();
    assert!(
        wire::metadata_piece_count(seeder.metadata_size).unwrap() >= 2,
        "the libtorrent torrent should need several metadata pieces"
    );
    assert!(talk_to(&seeder) >= 6);
}

#[test]
fn aria2_frames_decode_and_serve_metadata_and_blocks() {
    let seeder = start_aria2();
    assert!(talk_to(&seeder) >= 6);
}

#[test]
fn libtorrent_requiring_encryption_speaks_mse_with_us() {
    let seeder = start_libtorrent_with("require-rc4");
    let mut rng = rand::rng();
    let ours = Handshake {
        reserved: Reserved::SWARMLINK,
        info_hash: seeder.info_hash,
        peer_id: PeerId::generate(&mut rng),
    };
    let mut ours_bytes = Vec::new();
    ours.encode(&mut ours_bytes);

    // MSE first, our BitTorrent handshake riding in the initial payload.
    let mut stream = TcpStream::connect(("127.0.0.1", seeder.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let (mut initiator, first) =
        Initiator::new(seeder.info_hash, mse::CRYPTO_RC4, &ours_bytes, &mut rng);
    stream.write_all(&first).unwrap();
    let mut buf = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let established = loop {
        match initiator.handle(&buf).unwrap() {
            Step::Send(bytes) => stream.write_all(&bytes).unwrap(),
            Step::Done(est) => break est,
            Step::NeedMore => {
                assert!(
                    Instant::now() < deadline,
                    "libtorrent went quiet during MSE"
                );
                let mut chunk = [0u8; 4096];
                match stream.read(&mut chunk) {
                    Ok(0) => panic!("libtorrent closed the connection during MSE"),
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(e) if is_timeout(&e) => {}
                    Err(e) => panic!("read: {e}"),
                }
            }
        }
    };
    let (encrypt, mut decrypt) = established.cipher.expect("RC4 was the only offer");
    let mut rest = buf[established.consumed..].to_vec();
    decrypt.apply(&mut rest);
    let mut conn = Conn {
        client: "libtorrent (MSE)",
        stream,
        buf: rest,
        frames: Vec::new(),
        deadline,
        unchoked: false,
        cipher: Some((encrypt, decrypt)),
    };
    let theirs = loop {
        if let Some(h) = Handshake::decode(&conn.buf).unwrap() {
            break h;
        }
        conn.fill();
    };
    conn.buf.drain(..Handshake::LEN);
    assert_eq!(theirs.info_hash, seeder.info_hash);

    // Inside the encrypted stream: have-all, then a block checked against the payload.
    conn.send(Message::HaveNone);
    conn.until(|m| matches!(m, Message::HaveAll).then_some(()));
    conn.send(Message::Interested);
    if !conn.unchoked {
        conn.until(|m| matches!(m, Message::Unchoke).then_some(()));
    }
    let want = BlockRef {
        piece: 9,
        begin: 0,
        length: 16384,
    };
    conn.send(Message::Request(want));
    let block = conn.until(|m| match m {
        Message::Piece { data, .. } => Some(data.to_vec()),
        _ => None,
    });
    let offset = u64::from(want.piece) * seeder.piece_length;
    let expected: Vec<u8> = (offset..offset + 16384).map(payload_byte).collect();
    assert_eq!(block, expected);
    conn.check_splits();

    // And the same seeder refuses a plaintext handshake, so the test above could not pass
    // without MSE.
    assert!(
        Conn::try_open(&seeder, Reserved::SWARMLINK).is_err(),
        "libtorrent accepted plaintext although encryption is forced"
    );
}
