//! A response body fed by a task that reads verified bytes from the engine: the channel holds
//! two chunks at most, so a slow client slows the reading instead of filling memory, and a
//! client that goes away drops the receiver, which ends the task.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame};
use tokio::sync::mpsc;

pub type Chunk = Result<Bytes, std::io::Error>;

pub struct ChannelBody(pub mpsc::Receiver<Chunk>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| c.map(Frame::data)))
    }
}
