//! `prometheus-wasm lock PLAN`: loads every package of a plan (checking pins), writes the
//! capability lock beside the plan, and prints each package's sha256 so it can be pinned.
//! With `--update-pins`, first rewrites the plan's pins to what its sources hold now
//! (`update_pins.rs`), after showing old and new side by side.

use anyhow::anyhow;

use crate::cli::args::LockArgs;
use crate::cli::stopped;
use crate::cli::update_pins::update_pins;
use crate::cli::{EXIT_PASSED, UserError};
use crate::config::LimitsConfig;
use crate::plugin::lock::describe;
use crate::report::sanitize::{bounded_line, bounded_text};
use crate::session::signals::install_signals;
use crate::session::source::{LockPolicy, Source, check_lock, code_cache, is_plan_path, load};

/// Writes the plan's lock; returns the exit code.
pub async fn lock(args: LockArgs) -> Result<u8, UserError> {
    if !is_plan_path(&args.plan) {
        return Err(UserError::usage(
            anyhow!("{} is not a plan file (.yaml)", args.plan.display()),
            Some(
                "only plans have a lock; a bare package runs with the capabilities it imports"
                    .into(),
            ),
        ));
    }
    let mut source = Source::read(&args.plan)?;
    let resolver = args.fetch.resolver(args.cache_dir.clone())?;
    if args.update_pins {
        let Source::Plan(file) = &source else {
            unreachable!("a .yaml path reads as a plan");
        };
        if update_pins(file, &resolver, args.yes).await? {
            source = Source::read(&args.plan)?;
        }
    }
    let Source::Plan(file) = &source else {
        unreachable!("a .yaml path reads as a plan");
    };
    let cache = code_cache(args.cache_dir.clone(), args.no_cache, None);
    // Notes, names, identities and imports come from plans, packages and registries:
    // every printed line goes through the report's sanitizer.
    let note = |line: &str| println!("{}", bounded_text(line));
    let mut signals = install_signals()?;
    let budgets = args.budgets.budgets(&LimitsConfig::default());
    // Loading runs each package's manifest: under the budgets, stopped by a signal.
    let plan = match signals
        .until(load(&source, cache.as_ref(), &budgets, &resolver, &note))
        .await
    {
        Ok(plan) => plan?,
        Err(stop) => return Ok(stopped(stop)),
    };
    check_lock(file, &plan, LockPolicy::Update)?.write(&note)?;
    println!(
        "pins for {}:",
        bounded_line(&file.path.display().to_string())
    );
    for (name, package) in plan.packages() {
        let name = bounded_line(name);
        match package.identity().label() {
            Some(label) => println!("  {name}:  # {}", bounded_line(&label)),
            None => println!("  {name}:"),
        }
        println!("    sha256: {}", bounded_line(package.sha256()));
        for import in package.imports() {
            println!(
                "    # imports {} ({})",
                bounded_line(import),
                describe(import)
            );
        }
    }
    Ok(EXIT_PASSED)
}
