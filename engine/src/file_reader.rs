//! A streaming reader of one file of a running torrent: what the daemon's streaming server
//! reads a response's body from. Dropping it tells the torrent the reader is gone, so its
//! pieces stop being urgent.

use bytes::Bytes;
use protocol::InfoHash;
use tokio::sync::{mpsc, oneshot};

use crate::torrent::{StreamCmd, TorrentCmd, MAX_READ};
use crate::types::EngineError;
pub use crate::types::FilePieces;
use crate::Session;

pub struct FileReader {
    cmd: mpsc::UnboundedSender<TorrentCmd>,
    reader: u64,
    offset: u64,
    length: u64,
}

impl FileReader {
    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Up to `max` bytes at byte `at` of the file (never more than 256 KiB, never across a
    /// piece boundary), once their piece is verified: this waits as long as that takes, so the
    /// caller bounds it. Past the end: empty.
    pub async fn read(&self, at: u64, max: u32) -> Result<Bytes, EngineError> {
        if at >= self.length {
            return Ok(Bytes::new());
        }
        let max = u64::from(max.clamp(1, MAX_READ)).min(self.length - at) as u32;
        let (reply, wait) = oneshot::channel();
        let cmd = StreamCmd::Read {
            reader: self.reader,
            offset: self.offset + at,
            max,
            reply,
        };
        (self.cmd.send(TorrentCmd::Stream(cmd))).map_err(|_| EngineError::ShutDown)?;
        wait.await
            .unwrap_or(Err(EngineError::Stream("the torrent stopped")))
    }
}

impl Drop for FileReader {
    fn drop(&mut self) {
        let cmd = StreamCmd::Close {
            reader: self.reader,
        };
        let _ = self.cmd.send(TorrentCmd::Stream(cmd));
    }
}

impl Session {
    /// A reader of file `file` (its index in the torrent) positioned at byte `at`, so the
    /// pieces there become urgent at once. Refused for a pad file, an index past the last
    /// file, a magnet whose metadata has not arrived, and past `MAX_READERS` readers.
    pub async fn open_file(
        &self,
        ih: InfoHash,
        file: usize,
        at: u64,
    ) -> Result<FileReader, EngineError> {
        let cmd = self.handle(ih)?.cmd;
        let (reply, wait) = oneshot::channel();
        (cmd.send(TorrentCmd::Stream(StreamCmd::Open { file, at, reply })))
            .map_err(|_| EngineError::UnknownTorrent(ih))?;
        let opened = wait.await.unwrap_or(Err(EngineError::Stream(
            "the torrent's metadata has not arrived yet",
        )))?;
        Ok(FileReader {
            cmd,
            reader: opened.reader,
            offset: opened.offset,
            length: opened.length,
        })
    }

    /// Which pieces of file `file` are verified. Refused for a pad file, an index past the
    /// last file, and a magnet whose metadata has not arrived.
    pub async fn file_pieces(&self, ih: InfoHash, file: usize) -> Result<FilePieces, EngineError> {
        let cmd = self.handle(ih)?.cmd;
        let (reply, wait) = oneshot::channel();
        (cmd.send(TorrentCmd::Stream(StreamCmd::Pieces { file, reply })))
            .map_err(|_| EngineError::UnknownTorrent(ih))?;
        wait.await.unwrap_or(Err(EngineError::Stream(
            "the torrent's metadata has not arrived yet",
        )))
    }
}
