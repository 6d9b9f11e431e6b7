//! The `config` interface: read-only access to config.yaml.

use wasmtime::component::HasData;

use crate::plugin::bindings::prometheus::step::config::{Host, Json};
use crate::plugin::ctx::{HostState, RunCtx};
use crate::plugin::json::lookup_dotted;

/// What a guest's `config` calls see: the run's configuration.
pub struct ConfigView<'a> {
    run: &'a RunCtx,
}

impl<'a> ConfigView<'a> {
    /// A view of the run's configuration.
    pub fn new(run: &'a RunCtx) -> Self {
        Self { run }
    }
}

impl Host for ConfigView<'_> {
    async fn task_id(&mut self) -> wasmtime::Result<String> {
        Ok(self.run.task_id.clone())
    }

    async fn get(&mut self, key: String) -> wasmtime::Result<Option<Json>> {
        Ok(lookup_dotted(&self.run.config, &key).map(|v| v.to_string()))
    }
}

/// Links `config` into the store's host state.
pub(crate) struct ConfigData;

impl HasData for ConfigData {
    type Data<'a> = ConfigView<'a>;
}

pub(crate) fn view(state: &mut HostState) -> ConfigView<'_> {
    ConfigView::new(&state.run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn get_reads_nested_and_extra_keys() {
        let run = RunCtx {
            task_id: "t1".into(),
            config: json!({"task_id": "t1", "mongodb": {"database": "db"}, "extra": [1, 2]}),
            ..RunCtx::empty()
        };
        let mut v = ConfigView::new(&run);
        assert_eq!(v.task_id().await.unwrap(), "t1");
        assert_eq!(
            v.get("mongodb.database".into()).await.unwrap().as_deref(),
            Some("\"db\"")
        );
        assert_eq!(
            v.get("extra".into()).await.unwrap().as_deref(),
            Some("[1,2]")
        );
        assert_eq!(v.get("missing.key".into()).await.unwrap(), None);
    }
}
