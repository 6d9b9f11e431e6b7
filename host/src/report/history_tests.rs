//! The results journal's reading rules; appending is tested with the collector.

use super::*;

fn journal(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(RESULTS_FILE_NAME);
    std::fs::write(&path, text).expect("write");
    (dir, path)
}

#[test]
fn no_journal_is_none_and_a_bare_header_is_empty() {
    let dir = tempfile::tempdir().expect("temp dir");
    assert!(read(&dir.path().join("absent")).expect("ok").is_none());
    let header = "{\"journal\":\"prometheus-wasm results journal\",\"version\":1}\n";
    let (_dir, path) = journal(header);
    let found = read(&path).expect("ok").expect("some");
    assert!(found.entries.is_empty() && !found.torn_tail);
    assert_eq!(found.good_len, header.len() as u64);
}

#[test]
fn a_file_that_is_not_a_results_journal_is_refused() {
    for text in [
        "",
        "{\"journal\":\"prometheus-wasm results journal\"",
        "{\"a\":1}\n",
    ] {
        let (_dir, path) = journal(text);
        let err = read(&path).expect_err(text);
        assert!(
            matches!(err, HistoryError::Damaged { line: 1, .. }),
            "{err}"
        );
    }
}

#[test]
fn a_complete_last_line_that_does_not_parse_is_a_torn_tail() {
    let header = "{\"journal\":\"prometheus-wasm results journal\",\"version\":1}\n";
    let (_dir, path) = journal(&format!("{header}{{\"record\":\"nonsense\"}}\n"));
    let found = read(&path).expect("ok").expect("some");
    assert!(found.torn_tail);
    assert_eq!(found.good_len, header.len() as u64);
}
