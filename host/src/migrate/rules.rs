//! What runs in the sandbox: which modules a step package may import, and which calls
//! cannot work there, each with the reason and what to use instead.

/// Modules the compatibility layer provides (guest-python/): the seed's API, `requests`
/// over the runner's `http` interface, the native helper, and a `dotenv` whose
/// `load_dotenv` does nothing (the runner loads .env itself).
const COVERED: &[&str] = &["prometheus_test", "requests", "prometheus_step", "dotenv"];

/// Python 3.11's standard library (`sys.stdlib_module_names`, public names). Those listed
/// in [`BLOCKED`] import but cannot work in the sandbox.
#[rustfmt::skip]
const STDLIB: &[&str] = &[
    "abc", "aifc", "argparse", "array", "ast", "asynchat", "asyncio", "asyncore", "atexit",
    "audioop", "base64", "bdb", "binascii", "bisect", "builtins", "bz2", "cProfile", "calendar",
    "cgi", "cgitb", "chunk", "cmath", "cmd", "code", "codecs", "codeop", "collections",
    "colorsys", "compileall", "concurrent", "configparser", "contextlib", "contextvars", "copy",
    "copyreg", "crypt", "csv", "ctypes", "curses", "dataclasses", "datetime", "dbm", "decimal",
    "difflib", "dis", "distutils", "doctest", "email", "encodings", "ensurepip", "enum",
    "errno", "faulthandler", "fcntl", "filecmp", "fileinput", "fnmatch", "fractions", "ftplib",
    "functools", "gc", "genericpath", "getopt", "getpass", "gettext", "glob", "graphlib", "grp",
    "gzip", "hashlib", "heapq", "hmac", "html", "http", "idlelib", "imaplib", "imghdr", "imp",
    "importlib", "inspect", "io", "ipaddress", "itertools", "json", "keyword", "lib2to3",
    "linecache", "locale", "logging", "lzma", "mailbox", "mailcap", "marshal", "math",
    "mimetypes", "mmap", "modulefinder", "multiprocessing", "netrc", "nis", "nntplib", "ntpath",
    "numbers", "opcode", "operator", "optparse", "os", "ossaudiodev", "pathlib", "pdb",
    "pickle", "pickletools", "pipes", "pkgutil", "platform", "plistlib", "poplib", "posix",
    "posixpath", "pprint", "profile", "pstats", "pty", "pwd", "py_compile", "pyclbr", "pydoc",
    "pyexpat", "queue", "quopri", "random", "re", "readline", "reprlib", "resource",
    "rlcompleter", "runpy", "sched", "secrets", "select", "selectors", "shelve", "shlex",
    "shutil", "signal", "site", "smtpd", "smtplib", "sndhdr", "socket", "socketserver", "spwd",
    "sqlite3", "sre_compile", "sre_constants", "sre_parse", "ssl", "stat", "statistics",
    "string", "stringprep", "struct", "subprocess", "sunau", "symtable", "sys", "sysconfig",
    "syslog", "tabnanny", "tarfile", "telnetlib", "tempfile", "termios", "textwrap",
    "threading", "time", "timeit", "tkinter", "token", "tokenize", "tomllib", "trace",
    "traceback", "tracemalloc", "tty", "turtle", "types", "typing", "unicodedata", "unittest",
    "urllib", "uu", "uuid", "venv", "warnings", "wave", "weakref", "webbrowser", "wsgiref",
    "xdrlib", "xml", "xmlrpc", "zipapp", "zipfile", "zipimport", "zlib", "zoneinfo",
    "__future__",
];

const NO_PROCESSES: &str = "steps cannot start processes or threads: ask a worker server to do it, or do it before the run";
const NO_SOCKETS: &str = "steps have no sockets: use requests, which goes through the runner to the workers, middle_server_url and allowed_hosts";
const NO_FILES: &str = "steps have no filesystem: put the data in config.yaml (runner.config.<key>), seed it into the test database (mongodb.collections), or ask a worker for it";
const USE_MONGO: &str = "the runner owns the database connection: use runner.mongo_client[db][collection] (pymongo-like) or prometheus_step.collection(name)";
const USE_SIGNING: &str = "the runner holds the keys and signs: use prometheus_test.utils.create_signature(worker.get_key(\"staking_signing\"), payload); to check a signature, prometheus_step.verify(signature, public_key)";
const NO_ENV: &str = "steps have no environment of their own: read a worker's variables with worker.get_env(NAME) and settings with runner.config.<key>";

/// Modules (top-level name, or a dotted prefix) that cannot run in the sandbox, and why.
const BLOCKED: &[(&str, &str)] = &[
    ("subprocess", NO_PROCESSES),
    ("multiprocessing", NO_PROCESSES),
    ("threading", NO_PROCESSES),
    ("concurrent", NO_PROCESSES),
    ("pty", NO_PROCESSES),
    ("signal", NO_PROCESSES),
    ("socket", NO_SOCKETS),
    ("ssl", NO_SOCKETS),
    ("select", NO_SOCKETS),
    ("selectors", NO_SOCKETS),
    ("socketserver", NO_SOCKETS),
    ("asyncio", NO_SOCKETS),
    ("http.client", NO_SOCKETS),
    ("http.server", NO_SOCKETS),
    ("urllib.request", NO_SOCKETS),
    ("ftplib", NO_SOCKETS),
    ("smtplib", NO_SOCKETS),
    (
        "sqlite3",
        "a C extension the sandbox's Python does not have, and a database file: keep data in the test database (runner.mongo_client)",
    ),
    ("ctypes", "C code cannot be loaded in the sandbox"),
    ("shutil", NO_FILES),
    ("tempfile", NO_FILES),
    ("glob", NO_FILES),
    ("pymongo", USE_MONGO),
    ("bson", USE_MONGO),
    ("motor", USE_MONGO),
    (
        "nacl",
        "a C extension (libsodium), and private keys never enter the sandbox: use prometheus_test.utils.create_signature",
    ),
    ("base58", USE_SIGNING),
    ("solders", USE_SIGNING),
    (
        "httpx",
        "use requests, which goes through the runner's http interface",
    ),
    (
        "aiohttp",
        "use requests, which goes through the runner's http interface",
    ),
    (
        "urllib3",
        "use requests, which goes through the runner's http interface",
    ),
    (
        "github",
        "steps reach only the test's workers, middle_server_url and allowed_hosts: let a worker call GitHub, or add https://api.github.com to allowed_hosts and use requests",
    ),
    ("numpy", "a C extension: it cannot run in the sandbox"),
    ("pandas", "a C extension: it cannot run in the sandbox"),
];

/// How a module stands in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Module {
    /// The compatibility layer provides it.
    Covered,
    /// The standard library has it and it works.
    Stdlib,
    /// It cannot run in the sandbox; the text says why and what to do.
    Blocked(&'static str),
    /// Neither standard library nor this project: not in the package.
    Unknown,
}

/// How `module` (dotted) stands, for a module that is not one of the project's own.
pub fn classify(module: &str) -> Module {
    let top = module.split('.').next().unwrap_or(module);
    let blocked = BLOCKED.iter().find(|(name, _)| {
        module == *name
            || module.starts_with(&format!("{name}."))
            || (!name.contains('.') && top == *name)
    });
    if let Some((_, why)) = blocked {
        return Module::Blocked(why);
    }
    if COVERED.contains(&top) {
        Module::Covered
    } else if STDLIB.contains(&top) {
        Module::Stdlib
    } else {
        Module::Unknown
    }
}

/// What to do about a module that is neither standard library nor the project's.
pub const UNKNOWN_MODULE: &str = "not in the sandbox: if it is pure Python, copy it into wasm/src/ and run build.sh again; a C extension cannot run in the sandbox";

/// Calls that cannot work in the sandbox: (the text to find, as a call or attribute, and
/// why). A match must not follow a letter, digit, `_` or `.` unless the pattern starts
/// with `.`.
const CALLS: &[(&str, &str)] = &[
    ("open(", NO_FILES),
    (".read_text(", NO_FILES),
    (".write_text(", NO_FILES),
    (".read_bytes(", NO_FILES),
    (".write_bytes(", NO_FILES),
    ("os.listdir(", NO_FILES),
    ("os.makedirs(", NO_FILES),
    ("os.remove(", NO_FILES),
    ("os.unlink(", NO_FILES),
    ("os.walk(", NO_FILES),
    ("os.path.exists(", NO_FILES),
    ("os.path.isfile(", NO_FILES),
    ("os.system(", NO_PROCESSES),
    ("os.popen(", NO_PROCESSES),
    ("os.getenv(", NO_ENV),
    ("os.environ", NO_ENV),
    (
        "load_keypair(",
        "keypair files are read by the runner (workers.json keypairs): take worker.get_key(\"..._signing\") and create_signature",
    ),
    (
        "scope=\"execution\"",
        "the runner owns current_round and last_completed_step: a step cannot move them",
    ),
    (
        "scope='execution'",
        "the runner owns current_round and last_completed_step: a step cannot move them",
    ),
];

/// The calls of [`CALLS`] in `text` (blanked source): (byte offset, pattern, why).
pub fn calls(text: &str) -> Vec<(usize, &'static str, &'static str)> {
    let mut found = Vec::new();
    for &(pattern, why) in CALLS {
        let mut from = 0;
        while let Some(at) = text[from..].find(pattern).map(|i| i + from) {
            from = at + pattern.len();
            let before = text[..at].chars().next_back();
            let joined = before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
            if pattern.starts_with('.') || !joined {
                found.push((at, pattern, why));
            }
        }
    }
    found.sort_by_key(|f| f.0);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_modules() {
        assert_eq!(classify("json"), Module::Stdlib);
        assert_eq!(classify("urllib.parse"), Module::Stdlib);
        assert!(matches!(classify("urllib.request"), Module::Blocked(_)));
        assert!(matches!(classify("subprocess"), Module::Blocked(_)));
        assert!(matches!(classify("nacl.signing"), Module::Blocked(_)));
        assert_eq!(classify("prometheus_test.utils"), Module::Covered);
        assert_eq!(classify("requests.exceptions"), Module::Covered);
        assert_eq!(classify("anthropic"), Module::Unknown);
    }

    #[test]
    fn finds_calls_but_not_methods_or_names_that_end_alike() {
        let text = "f = open(p)\nx.open(p)\nreopen(p)\nos.getenv(\"A\")\npath.read_text()";
        let got: Vec<_> = calls(text).into_iter().map(|c| c.1).collect();
        assert_eq!(got, vec!["open(", "os.getenv(", ".read_text("]);
    }
}
