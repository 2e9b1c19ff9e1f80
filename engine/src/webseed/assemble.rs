//! Cuts the byte stream of a web seed run into 16 KiB blocks and hands each to the torrent actor
//! as soon as it is whole, so a job holds at most one block (not a piece, which may be 64 MiB) and
//! the blocks go to disk through the same write-and-hash path as peers' blocks.

use bytes::{Bytes, BytesMut};
use protocol::PieceIndex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::context::{FetchContext, FetchError, WebSeedEvent};
use crate::disk::HIGH_WATER;

/// How often a job looks again at a full disk backlog.
const BACKLOG_POLL: Duration = Duration::from_millis(5);

pub(crate) struct Assembler<'a> {
    ctx: &'a FetchContext,
    seed: usize,
    job: u64,
    pieces: &'a [PieceIndex],
    /// Index into `pieces` and the block within it that the next bytes belong to.
    next: usize,
    block: u32,
    buf: BytesMut,
}

impl<'a> Assembler<'a> {
    pub fn new(ctx: &'a FetchContext, seed: usize, job: u64, pieces: &'a [PieceIndex]) -> Self {
        Assembler {
            ctx,
            seed,
            job,
            pieces,
            next: 0,
            block: 0,
            buf: BytesMut::new(),
        }
    }

    /// Takes the next bytes of the run, in order.
    pub async fn push(&mut self, mut data: Bytes) -> Result<(), FetchError> {
        while !data.is_empty() {
            let Some(&piece) = self.pieces.get(self.next) else {
                // The fetcher never reads past what the run covers: unreachable by construction.
                return Ok(());
            };
            let Some(block) = self.ctx.lengths.block(piece, self.block) else {
                return Ok(());
            };
            let len = block.length as usize;
            let whole = if self.buf.is_empty() && data.len() >= len {
                data.split_to(len) // no copy: a slice of the body's own buffer
            } else {
                let take = (len - self.buf.len()).min(data.len());
                self.buf.extend_from_slice(&data.split_to(take));
                if self.buf.len() < len {
                    continue;
                }
                std::mem::take(&mut self.buf).freeze()
            };
            self.block += 1;
            if self.block >= self.ctx.lengths.blocks_in_piece(piece) {
                self.block = 0;
                self.next += 1;
            }
            // A slow disk slows the web seed down (TCP pushes back on the server) instead of
            // piling blocks up in memory: the same high-water mark that stops peer requests.
            while self.ctx.backlog.pending.load(Ordering::Acquire) >= HIGH_WATER {
                tokio::time::sleep(BACKLOG_POLL).await;
            }
            let event = WebSeedEvent::Block {
                seed: self.seed,
                job: self.job,
                block,
                data: whole,
            };
            if self.ctx.events.send(event).await.is_err() {
                return Err(FetchError::Gone);
            }
        }
        Ok(())
    }
}
