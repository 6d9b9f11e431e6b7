//! `prometheus-wasm new [DIR] [--lang rust|python|js]`: the library's [`Scaffold`] written,
//! and what to run next printed.

use std::path::Path;

use crate::cli::args::{Lang, NewArgs};
use crate::cli::{EXIT_PASSED, UserError};
use crate::report::sanitize::bounded_line;
use crate::scaffold::{self, Scaffold};

/// Writes the test folder and says what to run next.
pub fn new(args: NewArgs) -> Result<u8, UserError> {
    let mut scaffold = Scaffold::new(&args.dir);
    scaffold.lang = match args.lang {
        Lang::Rust => scaffold::Lang::Rust,
        Lang::Python => scaffold::Lang::Python,
        Lang::Js => scaffold::Lang::Js,
    };
    scaffold.name = args.name;
    scaffold.sdk_path = args.sdk_path;
    let [build, plan] = scaffold.create()?;
    // The folder's name is the user's text, echoed: rendered like every other name.
    let shown = |path: &Path| bounded_line(&path.display().to_string());
    println!(
        "created {} ({} step package, one worker, one step)",
        shown(&args.dir),
        scaffold.lang.name()
    );
    println!("next:");
    println!("  {}", shown(&build));
    println!("  prometheus-wasm run {}", shown(&plan));
    Ok(EXIT_PASSED)
}
