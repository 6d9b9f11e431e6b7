//! One line from an error and its causes, for the HTTP, probe and fetch errors a user
//! reads. A leaf: it imports nothing of the crate, so every layer may use it.

/// `error`'s message and each cause not already part of it, joined by `: `
/// (`error sending request: … connection refused`): reqwest's top level alone rarely says
/// what failed.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn causes_are_joined_once_each() {
        let inner = Layer("connection refused", None);
        let middle = Layer(
            "tcp connect error: connection refused",
            Some(Box::new(inner)),
        );
        let outer = Layer("error sending request", Some(Box::new(middle)));
        assert_eq!(
            error_chain(&outer),
            "error sending request: tcp connect error: connection refused"
        );
    }
}
