//! A step package that targets `prometheus:step@0.2.0`: the runner (0.1.0) must say which
//! version it targets and which one the runner provides.

wit_bindgen::generate!({ path: "wit", world: "steps" });

struct Future;

impl Guest for Future {
    fn manifest() -> Vec<String> {
        prometheus::step::log::log("listing");
        vec!["one".into()]
    }
}

export!(Future);
