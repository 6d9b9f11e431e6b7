//! Secret redaction: every line the runner prints passes through a [`Redactor`].

use std::borrow::Cow;

/// The text that replaces a secret.
pub const MASK: &str = "***";

/// Replaces known secret values (from `.env` files, `env_vars`) with `***`.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so a secret that contains another is masked whole.
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for these values; empty values are ignored.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// `text` with every secret replaced by [`MASK`].
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), MASK));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence_longest_first() {
        let r = Redactor::new(["tok".to_string(), "token-123".to_string(), String::new()]);
        assert_eq!(r.redact("a token-123 b tok"), "a *** b ***");
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
    }
}
