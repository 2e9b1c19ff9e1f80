//! `stream_url` and what streaming does to a download: reading a file is the user's wish to
//! have it, so a skipped file is selected and a paused (or queued) torrent resumed.

use engine::{FilePriority, TorrentState};
use protocol::InfoHash;
use serde_json::{json, Value};

use super::mime;
use crate::api::{ApiError, ErrorCode, FileList};
use crate::daemon::state::{engine_error, lock, Core};

impl Core {
    /// `stream_url`: the URL of file `file` of a torrent in the list, and its media type.
    pub(in crate::daemon) async fn stream_url(
        &self,
        info_hash: &str,
        file: usize,
    ) -> Result<Value, ApiError> {
        let ih = self.known(info_hash).await?;
        let Some(addr) = self.stream.get() else {
            return Err(ApiError::new(
                ErrorCode::Internal,
                "the streaming server is not running",
            ));
        };
        let Some(files) = self.session.files(ih).await.map_err(engine_error)? else {
            return Err(ApiError::new(
                ErrorCode::NotComplete,
                "the torrent's metadata has not arrived yet: ask again in a moment",
            ));
        };
        let Some(f) = files.get(file).filter(|f| !f.pad) else {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("the torrent has no file {file} ({} files)", files.len()),
            ));
        };
        let name = f.path.last().cloned().unwrap_or_default();
        self.prepare_stream(ih, file).await;
        let mime = mime::content_type(&name);
        Ok(json!({
            "url": addr.url(&ih.to_hex(), file, &name),
            "mime": mime,
            "name": name,
            "length": f.length,
        }))
    }

    /// Selects `file` if it is skipped (or the torrent still waits for a choice) and resumes
    /// the torrent if it is paused or queued. Failures are logged: the read then waits.
    pub(in crate::daemon) async fn prepare_stream(&self, ih: InfoHash, file: usize) {
        let hex = ih.to_hex();
        let only = FileList::Only(vec![u32::try_from(file).unwrap_or(u32::MAX)]);
        let awaiting = lock(&self.awaiting).contains(&hex);
        let result = if awaiting {
            self.select(&hex, &only, None).await.map(|_| ())
        } else {
            match self.session.files(ih).await {
                Ok(Some(files))
                    if files
                        .get(file)
                        .is_some_and(|f| f.priority == FilePriority::Skip) =>
                {
                    (self.priority(&hex, &only, FilePriority::Normal).await).map(|_| ())
                }
                _ => Ok(()),
            }
        };
        if let Err(error) = result {
            tracing::warn!(info_hash = %hex, error = %error.message, "streaming: cannot select the file");
        }
        let held = (self.statuses().iter())
            .find(|s| s.info_hash == ih)
            .is_some_and(|s| matches!(s.state, TorrentState::Paused | TorrentState::Queued));
        if held {
            if let Err(error) = self.set_paused(&hex, false).await {
                tracing::warn!(info_hash = %hex, error = %error.message, "streaming: cannot resume");
            }
        }
    }
}
