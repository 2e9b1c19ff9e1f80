//! `move`: a torrent's files go to another allowed folder while it runs (the engine's
//! `Session::move_storage`: a rename on one file system; copy, verify, delete across file
//! systems). The download list remembers the new folder once the engine says it moved.
//! `cancel_move` stops a copy under way (`Session::cancel_move`): the files stay where they were.

use std::path::Path;

use protocol::InfoHash;
use serde_json::{json, Value};

use super::state::{engine_error, lock, Core};
use crate::api::{ApiError, ErrorCode};

impl Core {
    pub(super) async fn move_storage(
        &self,
        info_hash: &str,
        save_dir: &str,
    ) -> Result<Value, ApiError> {
        let ih = self.known(info_hash).await?;
        let hex = ih.to_hex();
        if lock(&self.awaiting).contains(&hex) {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "the torrent waits for its selection: `select` with `save_dir` puts it elsewhere",
            ));
        }
        let dir = self
            .state
            .lock()
            .await
            .settings
            .resolve_save_dir(Some(save_dir))?;
        std::fs::create_dir_all(&dir).map_err(|e| {
            ApiError::new(
                ErrorCode::Engine,
                format!("cannot create {}: {e}", dir.display()),
            )
        })?;
        (self.session.move_storage(ih, dir))
            .await
            .map_err(engine_error)?;
        Ok(json!({"info_hash": hex, "moving": true}))
    }

    pub(super) async fn cancel_move(&self, info_hash: &str) -> Result<Value, ApiError> {
        let ih = self.known(info_hash).await?;
        (self.session.cancel_move(ih)).await.map_err(engine_error)?;
        Ok(json!({"info_hash": ih.to_hex(), "moving": false}))
    }

    /// The engine moved a torrent's files to `root`: the download list keeps its new folder, so
    /// a restart finds it there.
    pub(super) async fn moved(&self, ih: InfoHash, root: &Path) {
        let Some(dir) = root.parent() else { return };
        let hex = ih.to_hex();
        let mut state = self.state.lock().await;
        if let Some(e) = state.entries.iter_mut().find(|e| e.info_hash == hex) {
            e.save_dir = dir.to_path_buf();
        }
        if let Err(e) = self.store.save_entries(&state.entries) {
            tracing::error!(%ih, "cannot save the download list after a move: {e}");
        }
    }
}
