//! Choosing what a torrent downloads: the selection at `add` (`files`, a magnet's `so=`, the
//! `choose_files` setting), the `awaiting_selection` wait, and the `files`, `priority` and
//! `select` commands. The engine does the work (priorities, the part file); this keeps the
//! download list in step so a restart restores the same choice.

use engine::{FilePriority, FileProgress, TorrentSource};
use protocol::{InfoHash, Magnet, Metainfo};
use serde_json::{json, Value};

use super::state::{add_torrent, engine_error, internal, lock, Core};
use crate::api::{ApiError, ErrorCode, FileList};
use crate::settings::{ChooseFiles, Settings};

/// What an `add` downloads: the chosen indices (`files`, else a magnet's `so=`) and whether it
/// waits for the user's choice instead (`choose_files: ask`, a torrent of several files or a
/// magnet, and no choice given).
pub(super) fn selection_at_add(
    source: &TorrentSource,
    files: Option<&[u32]>,
    settings: &Settings,
) -> Result<(Option<Vec<u32>>, bool), ApiError> {
    let (only, several) = match source {
        TorrentSource::Metainfo(m) => {
            if let Some(bad) =
                files.and_then(|f| f.iter().find(|&&i| i as usize >= m.info.files.len()))
            {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    format!(
                        "file index {bad} is past the last file ({} files)",
                        m.info.files.len()
                    ),
                ));
            }
            (files.map(<[u32]>::to_vec), data_files(m) > 1)
        }
        // How many files a magnet has is known only with its metadata.
        TorrentSource::Magnet(m) => (
            files.map(<[u32]>::to_vec).or_else(|| m.select_only.clone()),
            true,
        ),
    };
    if files.is_some_and(<[u32]>::is_empty) {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "`files` selects no file",
        ));
    }
    let awaiting = only.is_none() && several && settings.choose_files == ChooseFiles::Ask;
    Ok((only, awaiting))
}

fn data_files(m: &Metainfo) -> usize {
    m.info.files.iter().filter(|f| !f.pad).count()
}

fn priority_name(p: FilePriority) -> &'static str {
    match p {
        FilePriority::Skip => "skip",
        FilePriority::Low => "low",
        FilePriority::Normal => "normal",
        FilePriority::High => "high",
    }
}

fn file_json(f: &FileProgress) -> Value {
    let progress = if f.length == 0 {
        1.0
    } else {
        f.have_bytes as f64 / f.length as f64
    };
    json!({
        "index": f.index,
        "path": f.path.join("/"),
        "length": f.length,
        "priority": priority_name(f.priority),
        "have_bytes": f.have_bytes,
        "progress": progress,
    })
}

impl Core {
    /// The engine's files of a known torrent; `None` before a magnet's metadata.
    async fn engine_files(&self, ih: InfoHash) -> Result<Option<Vec<FileProgress>>, ApiError> {
        self.session.files(ih).await.map_err(engine_error)
    }

    pub(super) async fn files(&self, info_hash: &str, offset: usize) -> Result<Value, ApiError> {
        let ih = self.known(info_hash).await?;
        let hex = ih.to_hex();
        let awaiting = lock(&self.awaiting).contains(&hex);
        let status = self.statuses().into_iter().find(|s| s.info_hash == ih);
        let (name, save_path) = (status
            .map(|s| (s.name, s.save_path.to_string_lossy().into_owned())))
        .unwrap_or_default();
        let files = self.engine_files(ih).await?;
        let metadata = files.is_some();
        let files: Vec<FileProgress> = files
            .unwrap_or_default()
            .into_iter()
            .filter(|f| !f.pad)
            .collect();
        let total_bytes: u64 = files.iter().map(|f| f.length).sum();
        let selected_bytes: u64 = (files.iter())
            .filter(|f| f.priority != FilePriority::Skip)
            .map(|f| f.length)
            .sum();
        let total = files.len();
        let rest: Vec<Value> = files.iter().skip(offset).map(file_json).collect();
        let remaining = rest.len();
        let first = crate::frame::split_by_size(rest, crate::frame::MAX_TO_BROWSER - 4096)
            .into_iter()
            .next()
            .unwrap_or_default();
        let next_offset = (first.len() < remaining).then(|| offset + first.len());
        Ok(json!({
            "info_hash": hex, "name": name, "metadata": metadata,
            "awaiting_selection": awaiting, "save_path": save_path,
            "total_bytes": total_bytes, "selected_bytes": selected_bytes,
            "files": first, "total": total, "next_offset": next_offset,
        }))
    }

    /// The priorities after giving `files` the priority `to` (and, with `others`, the rest it).
    async fn new_priorities(
        &self,
        ih: InfoHash,
        files: &FileList,
        to: FilePriority,
        others: Option<FilePriority>,
    ) -> Result<Vec<FilePriority>, ApiError> {
        let Some(current) = self.engine_files(ih).await? else {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "the torrent's metadata has not arrived yet: its files are not known",
            ));
        };
        if let FileList::Only(list) = files {
            if let Some(bad) = list.iter().find(|&&i| i as usize >= current.len()) {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    format!(
                        "file index {bad} is past the last file ({} files)",
                        current.len()
                    ),
                ));
            }
        }
        Ok(current
            .iter()
            .map(|f| match (files.names(f.index), others) {
                (true, _) => to,
                (false, Some(o)) => o,
                (false, None) => f.priority,
            })
            .collect())
    }

    /// Applies and remembers priorities; the torrent stops waiting for a choice.
    async fn apply(&self, ih: InfoHash, priorities: Vec<FilePriority>) -> Result<(), ApiError> {
        self.session
            .set_file_priorities(ih, priorities.clone())
            .await
            .map_err(engine_error)?;
        let hex = ih.to_hex();
        let mut state = self.state.lock().await;
        if let Some(e) = state.entries.iter_mut().find(|e| e.info_hash == hex) {
            e.priorities = Some(priorities);
            e.only = None;
        }
        drop(state);
        self.save_entries().await
    }

    pub(super) async fn priority(
        &self,
        info_hash: &str,
        files: &FileList,
        priority: FilePriority,
    ) -> Result<Value, ApiError> {
        let ih = self.known(info_hash).await?;
        let priorities = self.new_priorities(ih, files, priority, None).await?;
        self.apply(ih, priorities.clone()).await?;
        let names: Vec<&str> = priorities.iter().map(|&p| priority_name(p)).collect();
        Ok(json!({"info_hash": ih.to_hex(), "priorities": names}))
    }

    pub(super) async fn select(
        &self,
        info_hash: &str,
        files: &FileList,
        save_dir: Option<&str>,
    ) -> Result<Value, ApiError> {
        let ih = self.known(info_hash).await?;
        let hex = ih.to_hex();
        let awaiting = lock(&self.awaiting).contains(&hex);
        if save_dir.is_some() && !awaiting {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "`save_dir` only goes with a torrent that waits for its selection; use `move`",
            ));
        }
        let priorities =
            (self.new_priorities(ih, files, FilePriority::Normal, Some(FilePriority::Skip)))
                .await?;
        if !priorities.iter().any(|&p| p != FilePriority::Skip) {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "the selection names no file",
            ));
        }
        if let Some(dir) = save_dir {
            self.readd_in(ih, dir).await?;
        }
        self.apply(ih, priorities.clone()).await?;
        if awaiting {
            lock(&self.awaiting).remove(&hex);
            self.touch(ih);
            let mut state = self.state.lock().await;
            let mut paused = false;
            if let Some(e) = state.entries.iter_mut().find(|e| e.info_hash == hex) {
                e.awaiting_selection = false;
                paused = e.paused;
            }
            drop(state);
            self.save_entries().await?;
            if !paused {
                self.session.resume(ih).await.map_err(engine_error)?;
            }
        }
        let selected: Vec<usize> = (priorities.iter().enumerate())
            .filter(|(_, &p)| p != FilePriority::Skip)
            .map(|(i, _)| i)
            .collect();
        Ok(json!({"info_hash": hex, "files": selected}))
    }

    /// A torrent still waiting for its choice has written nothing: it moves to another allowed
    /// folder by being added again there.
    async fn readd_in(&self, ih: InfoHash, dir: &str) -> Result<(), ApiError> {
        let hex = ih.to_hex();
        let mut state = self.state.lock().await;
        let save_dir = state.settings.resolve_save_dir(Some(dir))?;
        std::fs::create_dir_all(&save_dir).map_err(|e| {
            ApiError::new(
                ErrorCode::Engine,
                format!("cannot create {}: {e}", save_dir.display()),
            )
        })?;
        let super::state::State { entries, settings } = &mut *state;
        let Some(entry) = entries.iter_mut().find(|e| e.info_hash == hex) else {
            return Err(ApiError::new(ErrorCode::UnknownTorrent, "no such torrent"));
        };
        let source = match &entry.magnet {
            Some(link) => TorrentSource::Magnet(
                Magnet::parse(link)
                    .map_err(|e| ApiError::new(ErrorCode::InvalidMagnet, e.to_string()))?,
            ),
            None => {
                let bytes = self.store.load_torrent(&hex).map_err(internal)?;
                let m = Metainfo::from_bytes(&bytes)
                    .map_err(|e| ApiError::new(ErrorCode::InvalidTorrent, e.to_string()))?;
                TorrentSource::Metainfo(Box::new(m))
            }
        };
        entry.save_dir = save_dir;
        let add = add_torrent(source, entry, settings);
        self.session.remove(ih, false).await.map_err(engine_error)?;
        self.session.add(add).await.map_err(engine_error)?;
        drop(state);
        self.save_entries().await
    }
}
