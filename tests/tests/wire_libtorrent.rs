//! The peer wire codec against a real client: frames written by python3-libtorrent (a seeder on
//! loopback) are decoded, split at every byte, and used to fetch the torrent's metadata over BEP 9.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use protocol::wire::{
    self, BlockRef, ExtendedHandshake, Extension, Handshake, Message, MetadataDownload,
    MetadataMessage, Reserved, METADATA_PIECE_LEN, UT_METADATA,
};
use protocol::{InfoHash, PeerId};
use swarmlink_tests::{KillOnDrop, SYSTEM_PYTHON};

const SEEDER: &str = r#"
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
ses = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                  "enable_upnp": False, "enable_natpmp": False, "enable_outgoing_utp": False,
                  "enable_incoming_utp": False, "allow_multiple_connections_per_ip": True,
                  "alert_mask": lt.alert.category_t.status_notification})
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

/// Our extended id for ut_metadata: what libtorrent must put on the messages it sends us.
const OUR_UT_METADATA: u8 = 3;

struct Seeder {
    _child: KillOnDrop,
    _dir: tempfile::TempDir,
    info_hash: InfoHash,
    port: u16,
    pieces: usize,
    metadata_size: u64,
}

fn start_seeder() -> Seeder {
    let dir = tempfile::tempdir().unwrap();
    let mut child = KillOnDrop(
        Command::new(SYSTEM_PYTHON)
            .args(["-c", SEEDER])
            .arg(dir.path())
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
        info_hash: InfoHash::from_hex(fields[0]).unwrap(),
        port: fields[1].parse().unwrap(),
        pieces: fields[2].parse().unwrap(),
        metadata_size: fields[3].parse().unwrap(),
        _child: child,
        _dir: dir,
    }
}

/// A connection that keeps every raw frame it decoded, for the split-at-every-byte check.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    frames: Vec<Vec<u8>>,
    deadline: Instant,
    /// Whether the last choke/unchoke seen (by any `until`) was an unchoke.
    unchoked: bool,
}

impl Conn {
    fn open(seeder: &Seeder, reserved: Reserved) -> (Conn, Handshake) {
        let stream = TcpStream::connect(("127.0.0.1", seeder.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut conn = Conn {
            stream,
            buf: Vec::new(),
            frames: Vec::new(),
            unchoked: false,
            deadline: Instant::now() + Duration::from_secs(20),
        };
        let mut out = Vec::new();
        Handshake {
            reserved,
            info_hash: seeder.info_hash,
            peer_id: PeerId::generate(&mut rand::rng()),
        }
        .encode(&mut out);
        conn.stream.write_all(&out).unwrap();
        let theirs = loop {
            if let Some(h) = Handshake::decode(&conn.buf).unwrap() {
                break h;
            }
            conn.fill();
        };
        let mut raw = conn.buf.drain(..Handshake::LEN).collect::<Vec<u8>>();
        for cut in 0..raw.len() {
            assert_eq!(Handshake::decode(&raw[..cut]), Ok(None));
        }
        raw.clear();
        (conn, theirs)
    }

    fn fill(&mut self) {
        assert!(Instant::now() < self.deadline, "libtorrent went quiet");
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk) {
            Ok(0) => panic!("libtorrent closed the connection"),
            Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
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
        self.stream.write_all(&out).unwrap();
    }

    /// Every frame libtorrent sent us decodes as partial at every proper prefix, whole at its end.
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

#[test]
fn libtorrent_frames_decode_and_serve_metadata_over_bep9() {
    let seeder = start_seeder();
    let (mut conn, theirs) = Conn::open(&seeder, Reserved::SWARMLINK);
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
        their_ext.v.as_deref().unwrap_or("").contains("libtorrent"),
        "{their_ext:?}"
    );
    let their_ut_metadata = their_ext
        .id_of(UT_METADATA)
        .expect("libtorrent speaks ut_metadata");

    let mut download = MetadataDownload::new(seeder.info_hash, seeder.metadata_size).unwrap();
    assert!(
        download.piece_count() >= 2,
        "the test torrent should need several metadata pieces"
    );
    // Ask for every piece at once, as a magnet download would, and take the answers in any order.
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
        .expect("libtorrent's metadata hashes to its info-hash");
    assert_eq!(info.len() as u64, seeder.metadata_size);
    // And our reply to the same request is what libtorrent sent: piece 0, byte for byte.
    let MetadataMessage::Data { data, .. } = wire::metadata_reply(&info, 0) else {
        panic!("piece 0 exists")
    };
    assert_eq!(data, &info[..METADATA_PIECE_LEN]);

    // A block over the same connection: interested -> unchoke -> request -> piece, checked
    // against the payload the seeder wrote (byte at offset o is o % 256).
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
        Message::RejectRequest(r) => panic!("libtorrent rejected {r:?}"),
        _ => None,
    });
    let offset = want.piece as usize * 16384 + want.begin as usize;
    let expected: Vec<u8> = (offset..offset + want.length as usize)
        .map(|o| (o % 256) as u8)
        .collect();
    assert_eq!(block, expected);
    conn.check_splits();

    // Without the fast bit the same seed must send a full bitfield.
    let (mut plain, _) = Conn::open(
        &seeder,
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
    plain.check_splits();
    assert!(conn.frames.len() + plain.frames.len() >= 4);
}
