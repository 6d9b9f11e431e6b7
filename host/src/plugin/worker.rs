//! The `worker` interface: the test's worker servers as guests see them.

use wasmtime::component::HasData;

use crate::plugin::bindings::prometheus::step::worker::{Host, Json};
use crate::plugin::ctx::{HostState, RunCtx, WorkerInfo};

/// What a guest's `worker` calls see: every worker, and which one the step runs against.
pub struct WorkerView<'a> {
    run: &'a RunCtx,
    current: &'a str,
}

impl<'a> WorkerView<'a> {
    /// A view with `current` as the step's worker.
    pub fn new(run: &'a RunCtx, current: &'a str) -> Self {
        Self { run, current }
    }

    fn find(&self, name: Option<&str>) -> Option<&'a WorkerInfo> {
        self.run.worker(name.unwrap_or(self.current))
    }
}

impl Host for WorkerView<'_> {
    async fn current(&mut self) -> wasmtime::Result<String> {
        Ok(self.current.to_string())
    }

    async fn names(&mut self) -> wasmtime::Result<Vec<String>> {
        Ok(self.run.workers.iter().map(|w| w.name.clone()).collect())
    }

    async fn get(&mut self, worker: Option<String>, key: String) -> wasmtime::Result<Option<Json>> {
        Ok(self
            .find(worker.as_deref())
            .and_then(|w| w.data.get(&key))
            .map(|v| v.to_string()))
    }

    async fn env(
        &mut self,
        worker: Option<String>,
        name: String,
    ) -> wasmtime::Result<Option<String>> {
        Ok(self
            .find(worker.as_deref())
            .and_then(|w| w.env.get(&name))
            .cloned())
    }
}

/// Links `worker` into the store's host state.
pub(crate) struct WorkerData;

impl HasData for WorkerData {
    type Data<'a> = WorkerView<'a>;
}

pub(crate) fn view(state: &mut HostState) -> WorkerView<'_> {
    WorkerView::new(&state.run, &state.worker)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run() -> RunCtx {
        let worker = |name: &str, port: u16| {
            WorkerInfo {
            name: name.into(),
            data: json!({"name": name, "port": port, "url": format!("http://localhost:{port}"), "role": "x"})
                .as_object()
                .unwrap()
                .clone(),
            env: [("PORT".to_string(), port.to_string())].into(),
        }
        };
        RunCtx {
            workers: vec![worker("worker1", 5000), worker("worker2", 5001)],
            ..RunCtx::empty()
        }
    }

    #[tokio::test]
    async fn current_worker_is_the_default() {
        let run = run();
        let mut v = WorkerView::new(&run, "worker2");
        assert_eq!(v.current().await.unwrap(), "worker2");
        assert_eq!(v.names().await.unwrap(), ["worker1", "worker2"]);
        assert_eq!(
            v.get(None, "port".into()).await.unwrap().as_deref(),
            Some("5001")
        );
        assert_eq!(
            v.get(Some("worker1".into()), "url".into())
                .await
                .unwrap()
                .as_deref(),
            Some("\"http://localhost:5000\"")
        );
        assert_eq!(
            v.env(None, "PORT".into()).await.unwrap().as_deref(),
            Some("5001")
        );
        assert_eq!(v.env(None, "HOME".into()).await.unwrap(), None);
        assert_eq!(
            v.get(Some("nobody".into()), "url".into()).await.unwrap(),
            None
        );
    }
}
