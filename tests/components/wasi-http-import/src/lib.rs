//! A component that imports `wasi:http/client`: the runner must refuse it before
//! any worker starts, listing the import and how to build without it.

wit_bindgen::generate!({ path: "wit", world: "steps", generate_all });

struct WithHttp;

impl Guest for WithHttp {
    fn manifest() -> Vec<String> {
        // Uses the import, so that the linker keeps it.
        let status = wasi::http::client::handle("http://example.invalid/");
        vec![format!("status-{status}")]
    }
}

export!(WithHttp);
