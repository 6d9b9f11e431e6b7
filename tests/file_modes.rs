//! Files written for others to read get the mode the user's umask asks for (0644 under
//! 022), not a temporary file's 0600: a CI artifact uploader or a teammate must be able to
//! read the reports.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;

use system_tests::{TestDir, wait_output};

#[test]
fn reports_honour_the_umask() {
    let t = TestDir::hello();
    let mut cmd = t.command(&[
        "run",
        "tests/steps.wasm",
        "--junit",
        "out/junit.xml",
        "--json",
        "out/report.json",
    ]);
    // SAFETY: umask is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
            Ok(())
        });
    }
    let out = wait_output(cmd.spawn().expect("spawn the runner"));
    assert_eq!(out.code(), 0, "{out}");
    let root = t.tests().parent().expect("root").to_path_buf();
    for report in ["out/junit.xml", "out/report.json"] {
        let mode = std::fs::metadata(root.join(report))
            .unwrap_or_else(|e| panic!("{report}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{report}");
    }
}
