//! `prometheus-wasm inspect`: a package's manifest, contract, capabilities, size and hash,
//! also for a package the runner refuses.

use sha2::{Digest, Sha256};
use system_tests::{TestDir, component};

fn sha256_hex(path: &std::path::Path) -> String {
    let bytes = std::fs::read(path).expect("read component");
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn json_report_has_manifest_contract_imports_size_and_hash() {
    let t = TestDir::hello();
    let package = component("hello_steps");
    let out = t.run(&["inspect", "--json", package.to_str().expect("utf-8 path")]);
    assert_eq!(out.code(), 0, "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON report");
    assert_eq!(doc["sha256"], sha256_hex(&package));
    assert_eq!(
        doc["size"],
        std::fs::metadata(&package).expect("metadata").len()
    );
    assert_eq!(doc["targets"], serde_json::json!(["prometheus:step@0.1.0"]));
    let steps: Vec<&str> = doc["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(steps[0], "check-health", "{doc}");
    assert_eq!(doc["steps"][1]["params"]["text"], "hello");
    let imports = doc["imports"].as_array().expect("imports");
    let http = imports
        .iter()
        .find(|i| i["name"] == "prometheus:step/http@0.1.0")
        .expect("the http import");
    assert_eq!(http["provided"], true);
    assert!(imports.iter().all(|i| i["provided"] == true), "{doc}");
    assert!(doc["error"].is_null());
}

#[test]
fn text_report_lists_capabilities_with_what_is_granted() {
    let t = TestDir::hello();
    let package = component("hello_steps");
    let out = t.run(&["inspect", package.to_str().expect("utf-8 path")]);
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        out.stdout
            .contains(&format!("sha256    {}", sha256_hex(&package))),
        "{out}"
    );
    assert!(
        out.stdout.contains(
            "targets   prometheus:step@0.1.0 (this runner provides prometheus:step@0.1.0)"
        ),
        "{out}"
    );
    assert!(
        out.stdout.contains("wasi:cli/environment@0.2.6") && out.stdout.contains("no variables"),
        "{out}"
    );
    assert!(out.stdout.contains("2. submit-greeting @ worker1"), "{out}");
}

#[test]
fn a_refused_package_is_still_described_with_the_reason() {
    let t = TestDir::hello();
    let package = component("wasi_http_import");
    let out = t.run(&["inspect", package.to_str().expect("utf-8 path")]);
    assert_eq!(out.code(), 2, "{out}");
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("wasi:http/client@0.2.6"))
        .unwrap_or_else(|| panic!("no wasi:http line\n{out}"));
    assert!(line.trim_start().starts_with('!'), "{line}");
    assert!(
        line.ends_with("not provided: `run` refuses the package"),
        "{line}"
    );
    assert!(
        out.stderr
            .contains("it imports what this runner does not provide: wasi:http/client@0.2.6"),
        "{out}"
    );
}

#[test]
fn every_example_package_is_accepted_with_all_its_imports_granted() {
    // Each example uses a different part of the contract (mongo, signing, http): none of
    // its imports may be reported as not provided.
    let t = TestDir::hello();
    for name in ["hello_steps", "todos_steps", "audit_steps"] {
        let out = t.run(&["inspect", component(name).to_str().expect("utf-8 path")]);
        assert_eq!(out.code(), 0, "{name}: {out}");
        assert!(!out.stdout.contains("not provided"), "{name}: {out}");
    }
}
