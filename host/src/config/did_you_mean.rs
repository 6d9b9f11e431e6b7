//! "Did you mean" suggestions for unknown keys: extra keys are legal (steps read them), so a
//! key close to a known one is only a warning.
//!
//! Imports nothing from the crate; start from [`closest`].

/// Largest edit distance at which an unknown key is taken for a typo of a known one.
pub(crate) const MAX_TYPO_DISTANCE: usize = 2;

/// The known key nearest to `word` within [`MAX_TYPO_DISTANCE`] edits, if any (the first of
/// equally near ones).
pub(crate) fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    // Lengths further apart than the distance cannot be within it: skipping those keeps
    // a document of thousands of extra keys cheap.
    let length = word.chars().count();
    known
        .iter()
        .filter(|candidate| candidate.len().abs_diff(length) <= MAX_TYPO_DISTANCE)
        .map(|candidate| (levenshtein(word, candidate), *candidate))
        .filter(|(distance, _)| *distance <= MAX_TYPO_DISTANCE)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Edit distance (insertions, deletions, substitutions) between two strings, by characters.
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            let deletion = previous[j + 1] + 1;
            let insertion = current[j] + 1;
            current.push(substitution.min(deletion).min(insertion));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits() {
        assert_eq!(levenshtein("max_round", "max_rounds"), 1);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("same", "same"), 0);
    }

    #[test]
    fn suggests_only_near_keys() {
        let known = ["max_rounds", "base_port", "data_dir"];
        assert_eq!(closest("max_round", &known), Some("max_rounds"));
        assert_eq!(closest("bsae_port", &known), Some("base_port"));
        assert_eq!(closest("post_urls", &known), None);
    }
}
