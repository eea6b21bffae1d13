//! Bounded capture of a guest's stdout and stderr.
//!
//! A write never fails and never blocks: the pipe keeps the first and the
//! last `limit / 2` bytes and counts what it drops in between, so a chatty
//! guest cannot crash itself (Rust's `println!` panics when a write fails)
//! or exhaust the host, and a panic message printed last is still there.
//! What is done with the text (logging it, quoting it in a trap's cause) is
//! decided by the caller.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// What a guest wrote to one stream, bounded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// The kept text: the head and the tail of the stream, with a marker
    /// line where bytes were dropped. Invalid UTF-8 is replaced.
    pub text: String,
    /// Bytes written in total.
    pub written: u64,
    /// Bytes dropped because the stream went past its limit.
    pub dropped: u64,
}

/// A write end shared by every handle the guest opens on the stream.
#[derive(Clone)]
pub(crate) struct CapturePipe(Arc<Mutex<Buffer>>);

struct Buffer {
    half: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    written: u64,
    dropped: u64,
}

impl CapturePipe {
    /// A pipe keeping at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        CapturePipe(Arc::new(Mutex::new(Buffer {
            half: limit / 2,
            head: Vec::new(),
            tail: VecDeque::new(),
            written: 0,
            dropped: 0,
        })))
    }

    fn push(&self, mut bytes: &[u8]) {
        let mut buf = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        buf.written += bytes.len() as u64;
        let room = buf.half.saturating_sub(buf.head.len());
        let (to_head, rest) = bytes.split_at(room.min(bytes.len()));
        buf.head.extend_from_slice(to_head);
        bytes = rest;
        if bytes.len() > buf.half {
            // Only the last `half` bytes of this write can survive.
            let skip = bytes.len() - buf.half;
            buf.dropped += (skip + buf.tail.len()) as u64;
            buf.tail.clear();
            bytes = &bytes[skip..];
        }
        let overflow = (buf.tail.len() + bytes.len()).saturating_sub(buf.half);
        buf.tail.drain(..overflow);
        buf.dropped += overflow as u64;
        buf.tail.extend(bytes);
    }

    /// The text kept so far.
    pub fn snapshot(&self) -> Captured {
        let buf = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut text = String::from_utf8_lossy(&buf.head).into_owned();
        if buf.dropped > 0 {
            text.push_str(&format!("\n[... {} bytes dropped ...]\n", buf.dropped));
        }
        let (a, b) = buf.tail.as_slices();
        text.push_str(&String::from_utf8_lossy(&[a, b].concat()));
        Captured {
            text,
            written: buf.written,
            dropped: buf.dropped,
        }
    }
}

impl IsTerminal for CapturePipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturePipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturePipe {
    async fn ready(&mut self) {}
}

/// How much one `check-write` permits; guests write in chunks of at most this.
const WRITE_PERMIT: usize = 64 * 1024;

impl OutputStream for CapturePipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

impl AsyncWrite for CapturePipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_under_the_limit() {
        let pipe = CapturePipe::new(16);
        pipe.push(b"hello ");
        pipe.push(b"world");
        let c = pipe.snapshot();
        assert_eq!(
            (c.text.as_str(), c.written, c.dropped),
            ("hello world", 11, 0)
        );
    }

    #[test]
    fn keeps_head_and_tail_and_counts_the_middle() {
        let pipe = CapturePipe::new(8);
        pipe.push(b"abcd");
        for _ in 0..10 {
            pipe.push(b"xx");
        }
        pipe.push(b"wxyz");
        let c = pipe.snapshot();
        assert_eq!(c.written, 28);
        assert_eq!(c.dropped, 20);
        assert_eq!(c.text, "abcd\n[... 20 bytes dropped ...]\nwxyz");
    }

    #[test]
    fn one_huge_write_keeps_its_own_tail() {
        let pipe = CapturePipe::new(4);
        pipe.push(b"0123456789");
        let c = pipe.snapshot();
        assert_eq!(c.dropped, 6);
        assert_eq!(c.text, "01\n[... 6 bytes dropped ...]\n89");
    }
}
