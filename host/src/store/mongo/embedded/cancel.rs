//! Store work off the async threads, stoppable: [`off_thread`] runs one embedded-store
//! call on a blocking thread and hands it a [`Cancel`] flag that is set when the caller
//! stops waiting (the step timed out, Ctrl-C dropped the step). The scans check the flag
//! once per document, so an abandoned call ends within a document instead of running (and
//! holding the collections' lock) to completion, and the step timer and signals are seen
//! while the call runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::MongoError;

/// Whether the caller of a store call gave up on it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// `Err` once the caller gave up: the work stops and nobody reads its result.
    pub(crate) fn check(&self) -> Result<(), MongoError> {
        if self.0.load(Ordering::Relaxed) {
            return Err(MongoError::Interrupted);
        }
        Ok(())
    }

    fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Sets the flag when the waiting future is dropped (or finishes: then it is too late to
/// matter).
struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// Runs `work` on a blocking thread; dropping the returned future cancels it.
pub(crate) async fn off_thread<T: Send + 'static>(
    work: impl FnOnce(&Cancel) -> Result<T, MongoError> + Send + 'static,
) -> Result<T, MongoError> {
    let cancel = Cancel::default();
    let _on_drop = CancelOnDrop(cancel.clone());
    tokio::task::spawn_blocking(move || work(&cancel))
        .await
        .map_err(|e| {
            MongoError::Driver(format!("the embedded store's worker thread failed: {e}"))
        })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn dropping_the_call_stops_the_work_at_its_next_check() {
        let (tx, rx) = std::sync::mpsc::channel();
        let call = off_thread(move |cancel| {
            let started = Instant::now();
            loop {
                if let Err(e) = cancel.check() {
                    tx.send(started.elapsed()).expect("the test waits");
                    return Err::<(), _>(e);
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        assert!(
            tokio::time::timeout(Duration::from_millis(50), call)
                .await
                .is_err()
        );
        let ran = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the work stopped");
        assert!(ran < Duration::from_secs(5), "{ran:?}");
    }
}
