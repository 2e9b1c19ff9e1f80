//! The registry of published torrents: what `/publish/` accepted (see `registration`), served
//! byte for byte at `/<name>`, and persisted in `--file` (rewritten whole, see `atomic_file`).

use std::collections::HashMap;
use std::fs;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use protocol::bencode::{self, Limits, Value};
use protocol::{InfoHash, Metainfo, MetainfoError};

/// One published torrent.
#[derive(Debug, Clone)]
pub struct PublishedTorrent {
    pub name: String,
    pub info_hash: InfoHash,
    pub total_length: u64,
    /// Exactly the bytes the publisher sent.
    pub torrent: Bytes,
    /// The publisher, a permanent peer of the swarm (listed first while it announces).
    pub publisher: SocketAddr,
    pub published_at: u64,
    /// The files of a multi-file torrent (path inside it, length), pad files left out; empty
    /// for a single file. For the listing page.
    pub files: Vec<(String, u64)>,
    /// `name` lowercased once here, so a search of 10,000 names allocates nothing per name.
    pub name_lower: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("not a valid torrent: {0}")]
    Metainfo(#[from] MetainfoError),
    #[error("the name {0:?} is already published with a different info-hash")]
    NameTaken(String),
    #[error("the name {0:?} cannot be served (reserved)")]
    ReservedName(String),
}

#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    #[error("reading {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{path} is not a bttrack state file: {why}")]
    Format { path: String, why: String },
}

/// Names the router serves itself; a torrent with one of these names could never be fetched.
const RESERVED: &[&str] = &[
    "",
    "announce",
    "scrape",
    "publish",
    "metrics",
    "favicon.ico",
    "feed.xml",
];

#[derive(Debug, Default)]
pub struct Registry {
    by_name: HashMap<String, Arc<PublishedTorrent>>,
    by_hash: HashMap<InfoHash, Arc<PublishedTorrent>>,
}

impl Registry {
    pub fn get_by_hash(&self, h: &InfoHash) -> Option<&Arc<PublishedTorrent>> {
        self.by_hash.get(h)
    }

    pub fn get_by_name(&self, name: &str) -> Option<&Arc<PublishedTorrent>> {
        self.by_name.get(name)
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Every published torrent, in no order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<PublishedTorrent>> {
        self.by_name.values()
    }

    /// Sorted by name (the state file's order).
    pub fn list(&self) -> Vec<Arc<PublishedTorrent>> {
        let mut v: Vec<_> = self.by_name.values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Validates and records a published torrent. Publishing the same torrent again updates its
    /// publisher; the same name with another info-hash is refused (as the original tracker did).
    pub fn add(
        &mut self,
        torrent: Bytes,
        publisher: SocketAddr,
        now_secs: u64,
    ) -> Result<(Arc<PublishedTorrent>, Option<Arc<PublishedTorrent>>), RegistryError> {
        let meta = Metainfo::from_bytes(&torrent)?;
        let name = meta.info.name.clone();
        if RESERVED.contains(&name.as_str()) {
            return Err(RegistryError::ReservedName(name));
        }
        if let Some(old) = self.by_name.get(&name) {
            if old.info_hash != meta.info_hash {
                return Err(RegistryError::NameTaken(name));
            }
        }
        let files = if meta.info.single_file {
            Vec::new()
        } else {
            meta.info
                .files
                .iter()
                .filter(|f| !f.pad)
                .map(|f| (f.path.join("/"), f.length))
                .collect()
        };
        let p = Arc::new(PublishedTorrent {
            name_lower: name.to_lowercase(),
            files,
            name: name.clone(),
            info_hash: meta.info_hash,
            total_length: meta.info.total_length,
            torrent,
            publisher,
            published_at: now_secs,
        });
        // The same info-hash under an older name is impossible (the name is in the info).
        self.by_hash.insert(p.info_hash, p.clone());
        let previous = self.by_name.insert(name, p.clone());
        Ok((p, previous))
    }

    /// Records `p` as it is, unvalidated: for tests of names protocol may one day refuse.
    #[cfg(test)]
    pub(crate) fn insert_unchecked(&mut self, p: PublishedTorrent) {
        let p = Arc::new(p);
        self.by_hash.insert(p.info_hash, p.clone());
        self.by_name.insert(p.name.clone(), p);
    }

    /// Reverts [`Registry::add`] (when `--file` could not be written).
    pub fn undo_add(&mut self, p: &PublishedTorrent, previous: Option<Arc<PublishedTorrent>>) {
        match previous {
            Some(old) => {
                self.by_hash.insert(old.info_hash, old.clone());
                self.by_name.insert(old.name.clone(), old);
            }
            None => {
                self.by_hash.remove(&p.info_hash);
                self.by_name.remove(&p.name);
            }
        }
    }

    /// The `--file` image: a bencoded list of {name, publisher ip, publisher port, published, torrent}.
    pub fn to_state_bytes(&self) -> Vec<u8> {
        let list = self
            .list()
            .iter()
            .map(|p| {
                let mut d = Value::dict();
                d.insert("name", Value::bytes(p.name.as_bytes().to_vec()))
                    .insert("publisher ip", Value::bytes(p.publisher.ip().to_string()))
                    .insert("publisher port", Value::Int(i64::from(p.publisher.port())))
                    .insert("published", Value::Int(p.published_at as i64))
                    .insert("torrent", Value::bytes(p.torrent.to_vec()));
                d
            })
            .collect();
        let mut root = Value::dict();
        root.insert("bttrack state", Value::Int(1))
            .insert("torrents", Value::List(list));
        root.to_bytes()
    }

    pub fn from_state_bytes(bytes: &[u8]) -> Result<Registry, String> {
        let limits = Limits {
            max_depth: 8,
            max_items: 10_000_000,
            allow_unsorted_keys: false,
        };
        let root = bencode::decode_with(bytes, limits).map_err(|e| e.to_string())?;
        let list = root
            .get("torrents")
            .and_then(Value::as_list)
            .ok_or("no torrents list")?;
        let mut reg = Registry::default();
        for (i, entry) in list.iter().enumerate() {
            let field = |k: &str| entry.get(k).ok_or(format!("entry {i}: missing {k}"));
            let torrent = field("torrent")?
                .as_bytes()
                .ok_or(format!("entry {i}: torrent"))?;
            let ip: IpAddr = field("publisher ip")?
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or(format!("entry {i}: publisher ip"))?;
            let port = field("publisher port")?
                .as_int()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or(format!("entry {i}: publisher port"))?;
            let at = field("published")?.as_int().unwrap_or(0).max(0) as u64;
            match reg.add(
                Bytes::copy_from_slice(torrent),
                SocketAddr::new(ip, port),
                at,
            ) {
                Ok(_) => {}
                // A name reserved since it was published (`feed.xml`): the rest still loads.
                Err(e @ RegistryError::ReservedName(_)) => {
                    tracing::warn!("entry {i}: {e}; skipped")
                }
                Err(e) => return Err(format!("entry {i}: {e}")),
            }
        }
        Ok(reg)
    }

    /// Reads `--file`; a missing file is an empty registry (it is created on the first publish).
    pub fn load(path: &Path) -> Result<Registry, StateFileError> {
        match fs::read(path) {
            Ok(b) => Registry::from_state_bytes(&b).map_err(|why| StateFileError::Format {
                path: path.display().to_string(),
                why,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Registry::default()),
            Err(source) => Err(StateFileError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::MetainfoBuilder;

    pub(crate) fn torrent(name: &str, content: &[u8]) -> Bytes {
        use sha1::Digest;
        let pieces = content
            .chunks(16384)
            .map(|c| sha1::Sha1::digest(c).into())
            .collect();
        let built = MetainfoBuilder::single_file(name, content.len() as u64)
            .piece_length(16384)
            .pieces(pieces)
            .announce_tiers(vec![vec!["http://127.0.0.1:1/announce".into()]])
            .build()
            .unwrap();
        Bytes::from(built.bytes)
    }

    #[test]
    fn publish_refuses_a_taken_name_and_garbage_and_state_round_trips() {
        let mut reg = Registry::default();
        let a = torrent("movie.mpeg", b"one");
        let addr: SocketAddr = "127.0.0.1:5989".parse().unwrap();
        let (p, previous) = reg.add(a.clone(), addr, 10).unwrap();
        assert!(previous.is_none());
        assert_eq!(p.name, "movie.mpeg");
        // Same torrent again: fine (a publisher restarting).
        reg.add(a.clone(), "127.0.0.1:6000".parse().unwrap(), 11)
            .unwrap();
        assert!(matches!(
            reg.add(torrent("movie.mpeg", b"two"), addr, 12),
            Err(RegistryError::NameTaken(_))
        ));
        assert!(matches!(
            reg.add(Bytes::from_static(b"garbage"), addr, 12),
            Err(RegistryError::Metainfo(_))
        ));
        let back = Registry::from_state_bytes(&reg.to_state_bytes()).unwrap();
        let q = back.get_by_name("movie.mpeg").unwrap();
        assert_eq!(q.torrent, a, "byte for byte");
        assert_eq!(q.publisher, "127.0.0.1:6000".parse().unwrap());
        assert!(back.get_by_hash(&p.info_hash).is_some());
        assert!(Registry::from_state_bytes(b"d8:torrentsli1eee").is_err());
    }

    #[test]
    fn a_missing_state_file_is_an_empty_registry() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Registry::load(&dir.path().join("missing"))
            .unwrap()
            .is_empty());
    }
}
