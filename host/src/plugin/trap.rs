//! What a trap means, in the user's terms: a spent budget names the budget, its value and
//! the key that raises it; a panic points at the step's log; anything else is wasmtime's
//! own message.

use wasmtime::Trap;

use crate::plugin::limits::{Budget, BudgetExceeded, Budgets};

/// The message of a step that trapped with `error`.
pub fn describe_trap(budgets: &Budgets, error: &wasmtime::Error) -> String {
    if let Some(exceeded) = error.downcast_ref::<BudgetExceeded>() {
        return exceeded.to_string();
    }
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
        None => format!("{error:#}"),
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
        let fuel = describe_trap(&budgets, &wasmtime::Error::new(Trap::OutOfFuel));
        assert_eq!(
            fuel,
            "exceeded the fuel limit of 1000 units (raise limits.fuel in config.yaml or pass --fuel)"
        );
        let time = describe_trap(&budgets, &wasmtime::Error::new(Trap::Interrupt));
        assert!(time.contains("step time limit of 300s"), "{time}");
        let memory = wasmtime::Error::new(budgets.exceeded(Budget::Memory))
            .context("error while executing at wasm backtrace");
        assert!(describe_trap(&budgets, &memory).contains("limits.memory_mb"));
    }
}
