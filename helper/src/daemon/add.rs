//! `add` and the restore at start: a torrent from a `.torrent` (bytes or URL) or a magnet, checked
//! against the settings, persisted (its `.torrent` copy first) and handed to the engine.

use std::time::SystemTime;

use base64::Engine as _;
use engine::{EngineError, TorrentSource};
use protocol::{Magnet, Metainfo};
use serde_json::{json, Value};

use super::state::{add_torrent, blocking, engine_error, lock, unrestorable_status, Core};
use super::store::Entry;
use crate::api::{AddArgs, ApiError, ErrorCode};

impl Core {
    /// Adds every persisted download to the session (at daemon start). A download that cannot
    /// be restored is logged and kept in the list, so a fixed file or a newer helper can retry.
    pub async fn restore(&self) {
        // Neither the state's lock held across the engine's adds nor the runtime blocked on
        // reading 2,000 `.torrent` files: the entries are copied out, the files read on a
        // blocking thread, then each download is added.
        let (entries, settings) = {
            let state = self.state.lock().await;
            (state.entries.clone(), state.settings.clone())
        };
        let store = self.store.clone();
        let wanted: Vec<String> = (entries.iter())
            .filter(|e| e.magnet.is_none())
            .map(|e| e.info_hash.clone())
            .collect();
        let mut files = tokio::task::spawn_blocking(move || {
            (wanted.into_iter())
                .map(|ih| {
                    let bytes = store.load_torrent(&ih).map_err(|e| format!("{e:#}"));
                    (ih, bytes)
                })
                .collect::<std::collections::HashMap<_, _>>()
        })
        .await
        .unwrap_or_default();
        for entry in &entries {
            let source = match &entry.magnet {
                Some(link) => Magnet::parse(link)
                    .map(TorrentSource::Magnet)
                    .map_err(|e| e.to_string()),
                None => (files.remove(&entry.info_hash))
                    .unwrap_or_else(|| Err("the .torrent file was not read".into()))
                    .and_then(|b| Metainfo::from_bytes(&b).map_err(|e| e.to_string()))
                    .map(|m| TorrentSource::Metainfo(Box::new(m))),
            };
            let result = match source {
                Ok(source) => self
                    .session
                    .add(add_torrent(source, entry, &settings))
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Err(error) => Err(error),
            };
            if let Err(error) = result {
                tracing::error!(info_hash = %entry.info_hash, %error, "cannot restore download");
                lock(&self.unrestorable).push(unrestorable_status(entry, error));
            }
        }
        tracing::info!(count = entries.len(), "downloads restored");
    }

    pub(super) async fn add(&self, args: AddArgs) -> Result<Value, ApiError> {
        let given = [&args.torrent_b64, &args.magnet, &args.url]
            .iter()
            .filter(|o| o.is_some())
            .count();
        if given != 1 {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "add needs exactly one of `torrent_b64`, `magnet`, `url`",
            ));
        }
        let peers = args
            .peers
            .iter()
            .map(|p| {
                p.parse::<std::net::SocketAddr>().map_err(|_| {
                    ApiError::new(
                        ErrorCode::BadRequest,
                        format!("peer {p:?} is not an ip:port"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_limits(args.down_limit, args.up_limit)?;
        let save_dir = self
            .state
            .lock()
            .await
            .settings
            .resolve_save_dir(args.save_dir.as_deref())?;
        let mut source_url = args.source_url.clone();
        let (source, torrent_bytes, magnet) = if let Some(link) = &args.magnet {
            let magnet = Magnet::parse(link).map_err(|e| {
                ApiError::new(
                    ErrorCode::InvalidMagnet,
                    format!("not a usable magnet link: {e}"),
                )
            })?;
            (TorrentSource::Magnet(magnet), None, Some(link.clone()))
        } else {
            let bytes = if let Some(b64) = &args.torrent_b64 {
                base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|e| {
                        ApiError::new(
                            ErrorCode::BadRequest,
                            format!("`torrent_b64` is not base64: {e}"),
                        )
                    })?
            } else {
                let url = args.url.as_deref().unwrap_or_default();
                source_url = Some(url.to_owned());
                crate::fetch::fetch_torrent(url).await.map_err(|e| {
                    ApiError::new(ErrorCode::FetchFailed, format!("fetching {url}: {e:#}"))
                })?
            };
            let metainfo = Metainfo::from_bytes(&bytes).map_err(|e| {
                ApiError::new(
                    ErrorCode::InvalidTorrent,
                    format!("not a valid .torrent: {e}"),
                )
            })?;
            (
                TorrentSource::Metainfo(Box::new(metainfo)),
                Some(bytes),
                None,
            )
        };
        let (info_hash, name) = match &source {
            TorrentSource::Metainfo(m) => (m.info_hash, m.info.name.clone()),
            TorrentSource::Magnet(m) => (
                m.info_hash,
                m.display_name
                    .clone()
                    .unwrap_or_else(|| m.info_hash.to_hex()),
            ),
        };
        let (only, awaiting_selection) = super::choose::selection_at_add(
            &source,
            args.files.as_deref(),
            &self.state.lock().await.settings,
        )?;
        let hex = info_hash.to_hex();
        let (listed, allow_lan) = {
            let state = self.state.lock().await;
            let listed = state.entries.iter().any(|e| e.info_hash == hex);
            (listed, state.settings.allow_lan_for_web_torrents)
        };
        if listed {
            // Added again: what this add brings joins the running torrent (under this add's
            // LAN rule), and the caller still hears that it was listed.
            let mut sources = engine::Sources::of(&source);
            sources.peers.extend(peers);
            let merged = self
                .session
                .add_sources(info_hash, sources, source_url.as_deref(), allow_lan)
                .is_ok();
            let how = match merged {
                true => "; the trackers, web seeds and peers it brings were added to it",
                false => "",
            };
            return Err(ApiError::new(
                ErrorCode::AlreadyAdded,
                format!("{name} is already in the download list{how}"),
            ));
        }
        let dir = save_dir.clone();
        blocking(move || Ok(std::fs::create_dir_all(&dir)))
            .await?
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::Engine,
                    format!("cannot create {}: {e}", save_dir.display()),
                )
            })?;
        let entry = Entry {
            info_hash: hex.clone(),
            name: name.clone(),
            magnet,
            source_url,
            save_dir,
            paused: args.paused,
            sequential: args.sequential,
            added_at: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            down_limit: args.down_limit,
            up_limit: args.up_limit,
            only,
            priorities: None,
            awaiting_selection,
            seed_ratio: protocol::Goal::Follow,
            seed_time_secs: protocol::Goal::Follow,
        };
        // The .torrent copy is written first: a download in the list must always be restorable.
        if let Some(bytes) = torrent_bytes {
            let (store, hex) = (self.store.clone(), hex.clone());
            blocking(move || store.save_torrent(&hex, &bytes)).await?;
        }
        // No lock is held across the engine's add: the settings are a copy.
        let settings = self.state.lock().await.settings.clone();
        let mut add = add_torrent(source, &entry, &settings);
        add.peers = peers;
        let queued = !add.paused && self.starts_queued(settings.max_active_downloads);
        if queued {
            add.paused = true;
            lock(&self.queue).queued.insert(hex.clone());
        }
        if let Err(e) = self.session.add(add).await {
            lock(&self.queue).queued.remove(&hex);
            if !matches!(e, EngineError::AlreadyAdded(_)) {
                let (store, hex) = (self.store.clone(), hex.clone());
                let _ = blocking(move || {
                    store.delete_torrent(&hex);
                    Ok(())
                })
                .await;
            }
            return Err(engine_error(e));
        }
        if awaiting_selection {
            lock(&self.awaiting).insert(hex.clone());
        }
        if queued || awaiting_selection {
            // Shown as `queued` / `awaiting_selection` from now on, not as the engine says.
            self.touch(info_hash);
        }
        self.state.lock().await.entries.push(entry);
        self.save_entries().await?;
        let mut reply = json!({"info_hash": hex, "name": name});
        if awaiting_selection {
            reply["awaiting_selection"] = json!(true);
        }
        Ok(reply)
    }
}

/// A per-torrent limit is a positive number of bytes per second, or none.
pub(super) fn check_limits(down: Option<u64>, up: Option<u64>) -> Result<(), ApiError> {
    if down == Some(0) || up == Some(0) {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "a rate limit is a positive number of bytes per second, or null for none",
        ));
    }
    Ok(())
}
