//! A call's stderr: the last bytes the plugin wrote, so a panic message that
//! follows a flood of output is still there when the call fails.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Keeps the last `capacity` bytes written; writes never fail.
#[derive(Clone)]
pub(crate) struct TailPipe {
    capacity: usize,
    buffer: Arc<Mutex<VecDeque<u8>>>,
}

impl TailPipe {
    pub fn new(capacity: usize) -> TailPipe {
        TailPipe {
            capacity,
            buffer: Arc::new(Mutex::new(VecDeque::with_capacity(capacity))),
        }
    }

    /// What is kept, oldest first.
    pub fn contents(&self) -> Vec<u8> {
        self.buffer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect()
    }
}

impl IsTerminal for TailPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for TailPipe {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for TailPipe {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let mut kept = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let tail = &buf[buf.len().saturating_sub(self.capacity)..];
        let overflow = (kept.len() + tail.len()).saturating_sub(self.capacity);
        kept.drain(..overflow);
        kept.extend(tail);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::TailPipe;

    #[tokio::test]
    async fn keeps_the_last_bytes() {
        let pipe = TailPipe::new(8);
        let mut writer = pipe.clone();
        writer.write_all(b"0123").await.unwrap();
        assert_eq!(pipe.contents(), b"0123");
        writer.write_all(b"456789").await.unwrap();
        assert_eq!(pipe.contents(), b"23456789");
        writer.write_all(b"a much longer line than eight").await.unwrap();
        assert_eq!(pipe.contents(), b"an eight");
    }
}
