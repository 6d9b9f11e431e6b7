//! [`CappedOutput`]: a step's stdout or stderr, kept in memory up to the
//! `limits.output_max_kb` budget. The write that crosses the cap keeps what fits and then
//! traps with [`BudgetExceeded`], so a guest that floods its output fails its step with a
//! message naming the budget, instead of filling the runner's memory or the terminal.
//!
//! (wasmtime's `MemoryOutputPipe` traps too, but with a message that names neither the
//! budget nor the key that raises it, and it tells the guest "closed" once full.)

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

use crate::plugin::limits::{Budget, BudgetExceeded};

/// Bytes a guest may hand over per write: the permit `check-write` grants. It is always
/// granted, also when the buffer is full, so that the next write traps with the budget's
/// message instead of the guest seeing a closed stream.
const WRITE_PERMIT: usize = 64 << 10;

/// A capped in-memory output stream; clones share the buffer.
#[derive(Debug, Clone)]
pub struct CappedOutput {
    capacity: usize,
    buffer: Arc<Mutex<BytesMut>>,
}

impl CappedOutput {
    /// An empty stream holding at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            buffer: Arc::new(Mutex::new(BytesMut::new())),
        }
    }

    /// What was written so far (at most the capacity).
    pub fn contents(&self) -> Bytes {
        self.lock().clone().freeze()
    }

    /// True once the budget is spent: what was kept ends where the write was cut.
    pub fn is_full(&self) -> bool {
        self.lock().len() >= self.capacity
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BytesMut> {
        // A panic while holding the lock cannot leave the buffer inconsistent (appends only).
        self.buffer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends what fits; `Err` when `bytes` did not fit whole.
    fn append(&self, bytes: &[u8]) -> Result<(), BudgetExceeded> {
        let mut buffer = self.lock();
        let room = self.capacity.saturating_sub(buffer.len());
        buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
        if bytes.len() > room {
            return Err(BudgetExceeded {
                budget: Budget::Output,
                value: format!("{} KiB", self.capacity >> 10),
            });
        }
        Ok(())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for CappedOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.append(&bytes)
            .map_err(|e| StreamError::Trap(wasmtime::Error::new(e)))
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(WRITE_PERMIT)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for CappedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(
            self.append(buf)
                .map(|()| buf.len())
                .map_err(io::Error::other),
        )
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for CappedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_fits_then_traps_naming_the_budget() {
        let mut out = CappedOutput::new(2048);
        out.write(Bytes::from(vec![b'a'; 2000])).unwrap();
        let err = out.write(Bytes::from(vec![b'b'; 100])).unwrap_err();
        let StreamError::Trap(err) = err else {
            panic!("expected a trap, got {err:?}")
        };
        let exceeded = err.downcast_ref::<BudgetExceeded>().expect("budget");
        assert_eq!(exceeded.budget, Budget::Output);
        assert!(err.to_string().contains("limits.output_max_kb"), "{err}");
        assert_eq!(out.contents().len(), 2048);
        // Still granting permits when full, so the guest's next write traps too.
        assert_eq!(out.check_write().unwrap(), WRITE_PERMIT);
    }
}
