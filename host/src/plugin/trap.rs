//! What a trap means, in the user's terms: a spent budget names the budget, its value and
//! the key that raises it; a panic points at the step's log; anything else is wasmtime's
//! own message — the cause first, the wasm backtrace apart (shown with `-v`).

use wasmtime::{Trap, WasmBacktrace};
use wasmtime_wasi::I32Exit;

use crate::plugin::limits::{Budget, BudgetExceeded, Budgets};

/// A trap in the user's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrapReport {
    /// The cause, first and alone: the budget that ran out, the panic, the host's error.
    pub message: String,
    /// Where in the guest it happened (wasmtime's wasm backtrace), for `-v`.
    pub backtrace: Option<String>,
}

/// The message of a step that trapped with `error`, and its wasm backtrace apart from it.
pub fn describe_trap(budgets: &Budgets, error: &wasmtime::Error) -> TrapReport {
    let backtrace = error
        .downcast_ref::<WasmBacktrace>()
        .map(ToString::to_string)
        .filter(|b| !b.trim().is_empty());
    let message = if let Some(exceeded) = error.downcast_ref::<BudgetExceeded>() {
        exceeded.to_string()
    } else if let Some(exit) = error.downcast_ref::<I32Exit>() {
        format!(
            "the step exited with status {} (a step returns its outcome instead of exiting)",
            exit.0
        )
    } else {
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => budgets.exceeded(Budget::StepTimeout).to_string(),
            Some(Trap::OutOfFuel) => budgets.exceeded(Budget::Fuel).to_string(),
            Some(Trap::StackOverflow) => {
                "the step overflowed its call stack (unbounded recursion?)".into()
            }
            Some(Trap::UnreachableCodeReached) => {
                "the step panicked (wasm `unreachable`); the log above has the panic message".into()
            }
            Some(trap) => trap.to_string(),
            None => cause_chain(error, backtrace.as_deref()),
        }
    };
    TrapReport { message, backtrace }
}

/// The error's chain of causes, outermost first, without the backtrace wasmtime adds as
/// context (it would put a page of frames before the cause).
fn cause_chain(error: &wasmtime::Error, backtrace: Option<&str>) -> String {
    let parts: Vec<String> = error
        .chain()
        .map(ToString::to_string)
        .filter(|part| Some(part.as_str()) != backtrace && !part.trim().is_empty())
        .collect();
    if parts.is_empty() {
        format!("{error}")
    } else {
        parts.join(": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_traps_name_the_budget_and_key() {
        let budgets = Budgets {
            fuel: Some(1000),
            ..Budgets::default()
        };
        let fuel = describe_trap(&budgets, &wasmtime::Error::new(Trap::OutOfFuel)).message;
        assert_eq!(
            fuel,
            "exceeded the fuel limit of 1000 units (raise limits.fuel in config.yaml or pass --fuel)"
        );
        let time = describe_trap(&budgets, &wasmtime::Error::new(Trap::Interrupt)).message;
        assert!(time.contains("step time limit of 300s"), "{time}");
        let memory = wasmtime::Error::new(budgets.exceeded(Budget::Memory))
            .context("error while executing at wasm backtrace");
        assert!(
            describe_trap(&budgets, &memory)
                .message
                .contains("limits.memory_mb")
        );
    }
}
