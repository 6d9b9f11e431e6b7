//! The one way to write a whole file for someone else to read (reports, `plan.lock`, a
//! rewritten plan, pulled packages): through a temporary file beside it, renamed over it,
//! so a reader never sees half a file and a failure leaves the old one.
//!
//! The file gets the mode the user expects, not the 0600 of a temporary file: a file it
//! replaces keeps its permissions, a new one gets 0666 less the umask (0644 under 022), as
//! `File::create` would — a CI artifact uploader or a teammate must be able to read a
//! report. A leaf: it imports nothing of the crate.

use std::fs::{self, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The mode asked for a new file; the process umask takes its bits away.
const NEW_FILE_MODE: u32 = 0o666;

/// Writes `bytes` to `path` atomically, creating its directory; with `durable`, the data
/// reach the disk before the rename (for files a crash must not lose).
pub fn write(path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    write_with(path, durable, |out| out.write_all(bytes))
}

/// Like [`write()`], with the content written by `fill` (buffered) as it is made: a large
/// report is streamed to its temporary file, never held whole in memory.
pub fn write_with(
    path: &Path,
    durable: bool,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let permissions = match fs::metadata(path) {
        Ok(existing) if existing.is_file() => existing.permissions(),
        _ => Permissions::from_mode(NEW_FILE_MODE),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".tmp-")
        .permissions(permissions)
        .tempfile_in(dir)?;
    {
        let mut out = io::BufWriter::with_capacity(1 << 16, temp.as_file_mut());
        fill(&mut out)?;
        out.flush()?;
    }
    if durable {
        temp.as_file().sync_all()?;
    }
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The process umask (read by setting it and putting it back at once).
    fn umask() -> u32 {
        use nix::sys::stat::{Mode, umask};
        let old = umask(Mode::from_bits_truncate(0o022));
        umask(old);
        old.bits()
    }

    #[test]
    fn a_new_file_gets_0666_less_the_umask_and_a_replaced_one_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reports/report.json");
        write(&path, b"{}", false).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"{}");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, NEW_FILE_MODE & !umask(), "not the temp file's 0600");

        fs::set_permissions(&path, Permissions::from_mode(0o640)).unwrap();
        write(&path, b"[]", true).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"[]");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "a rewritten file keeps its mode");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left");
    }
}
