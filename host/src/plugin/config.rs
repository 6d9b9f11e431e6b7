//! The `config` interface: read-only access to config.yaml.

use wasmtime::component::HasData;

use crate::model::CallKind;
use crate::plugin::bindings::prometheus::step::config::{Host, Json};
use crate::plugin::ctx::{HostState, RunCtx};
use crate::plugin::json::lookup_dotted;
use crate::plugin::record::show::shown_part;
use crate::plugin::record::{Args, Recorder, Shown, no_args};

/// What a guest's `config` calls see: the run's configuration.
pub struct ConfigView<'a> {
    run: &'a RunCtx,
    rec: &'a Recorder,
}

impl<'a> ConfigView<'a> {
    /// A view of the run's configuration, its calls going through `rec`.
    pub fn new(run: &'a RunCtx, rec: &'a Recorder) -> Self {
        Self { run, rec }
    }
}

// Reads are kept for a replay (which has no config.yaml); `config.get` is shown too.
impl Host for ConfigView<'_> {
    async fn task_id(&mut self) -> wasmtime::Result<String> {
        let live = async { self.run.task_id.clone() };
        self.rec
            .call("config.task_id", no_args(), live, |_| None)
            .await
    }

    async fn get(&mut self, key: String) -> wasmtime::Result<Option<Json>> {
        let args = Args::new(key.len(), || serde_json::json!({ "key": &key }));
        let live = async { lookup_dotted(&self.run.config, &key).map(|v| v.to_string()) };
        let show = |value: &Option<String>| {
            let summary = format!("config.get {}", shown_part(&key));
            Some(
                Shown::new(CallKind::Config, summary)
                    .response(value.as_deref().unwrap_or("(none)"), false),
            )
        };
        self.rec.call("config.get", args, live, show).await
    }
}

/// Links `config` into the store's host state.
pub(crate) struct ConfigData;

impl HasData for ConfigData {
    type Data<'a> = ConfigView<'a>;
}

pub(crate) fn view(state: &mut HostState) -> ConfigView<'_> {
    ConfigView::new(&state.run, &state.recorder)
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
        let rec = Recorder::quiet();
        let mut v = ConfigView::new(&run, &rec);
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
