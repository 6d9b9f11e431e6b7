use super::*;

fn redactor(secrets: &[&str]) -> Redactor {
    Redactor::new(secrets.iter().map(|s| s.to_string()))
}

#[test]
fn masks_every_occurrence_longest_first() {
    let r = redactor(&["tok1", "tok1-123", ""]);
    assert_eq!(r.redact("a tok1-123 b tok1"), "a *** b ***");
    assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
}

#[test]
fn masks_whole_values_only() {
    let r = redactor(&["test"]);
    let cases = [
        ("testing latest contest test_x xtest", None),
        ("NODE_ENV=test", Some("NODE_ENV=***")),
        ("\"test\", (test). test", Some("\"***\", (***). ***")),
        ("test-suite", Some("***-suite")),
        ("test", Some("***")),
    ];
    for (text, masked) in cases {
        assert_eq!(r.redact(text), masked.unwrap_or(text), "{text:?}");
    }
}

#[test]
fn secrets_with_symbols_at_their_edges_match_inside_words() {
    // A boundary is only required where the secret itself starts or ends with a letter,
    // digit or `_`, as `\b` does.
    let r = redactor(&["==abc==", "p@ss:w0rd"]);
    assert_eq!(r.redact("x==abc==y"), "x***y");
    assert_eq!(r.redact("mongodb://u:p@ss:w0rd@h"), "mongodb://u:***@h");
}

#[test]
fn uri_credentials_are_masked_between_separators() {
    let r = redactor(&["hunter22"]);
    assert_eq!(
        r.redact("mongodb://admin:hunter22@db:27017/x?pw=hunter22&a=1"),
        "mongodb://admin:***@db:27017/x?pw=***&a=1"
    );
}

#[test]
fn a_secret_split_by_escapes_or_controls_is_still_caught() {
    let r = redactor(&["s3cret-token"]);
    let hostile = [
        "s3cr\x1b[0met-token",
        "s3cr\x1b[1;31met-token",
        "s3cr\x1b]8;;http://x\x07et-token",
        "s3cr\x1b]52;c;aGk=\x1b\\et-token",
        "s3cr\x07et-token",
        "s3cr\ret-token",
        "s3cr\net-token",
        "s3cr\u{200b}et-\u{200d}token",
        "s3cr\u{202e}et-token",
        "s3cr\u{9b}0met-token",
        "s3cr\x1bcet-token",
        "\x1b[1ms3cret-token\x1b[0m",
        "x\x1b[0ms3cret-token",
        "\x1b[s3cret-token",
        "\x1b]s3cret-token",
    ];
    for text in hostile {
        let out = r.scrub_line(&format!("key: {text} end"));
        assert!(out.starts_with("key: "), "{text:?} -> {out}");
        assert!(out.contains(MASK), "{text:?} -> {out}");
        for part in ["s3cr", "et-token", "cret"] {
            assert!(!out.contains(part), "{text:?} -> {out}");
        }
    }
}

#[test]
fn a_cut_at_any_position_of_a_secret_leaks_none_of_it() {
    let secret = "s3cret-Tok_9.x";
    let r = redactor(&[secret]);
    let chars: Vec<char> = secret.chars().collect();
    for p in 1..chars.len() {
        let head: String = chars[..p].iter().collect();
        let tail: String = chars[p..].iter().collect();
        assert_eq!(
            r.redact(&format!("value: {head}{CUT_MARK}")),
            format!("value: {MASK}{CUT_MARK}"),
            "cut after {p}"
        );
        assert_eq!(
            r.redact(&format!("{CUT_MARK}{tail} rest")),
            format!("{CUT_MARK}{MASK} rest"),
            "continued after {p}"
        );
        if p < 2 {
            continue;
        }
        // Split by escapes and cut.
        let split = format!("value: {}\x1b[0m{}{CUT_MARK}", &head[..1], &head[1..]);
        assert!(!r.scrub_line(&split).contains(&head[1..]), "{split:?}");
    }
}

#[test]
fn cut_marks_mask_only_starts_at_a_boundary() {
    let r = redactor(&["s3cret"]);
    // `xs3c` cannot be the start of the whole value `s3cret`.
    assert_eq!(r.redact("xs3c…"), "xs3c…");
    assert_eq!(r.redact("starting workers…"), "starting workers…");
}

#[test]
fn multi_line_secrets_are_masked_whole_and_line_by_line() {
    let pem = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END KEY-----";
    let r = redactor(&[pem]);
    assert_eq!(r.redact(&format!("key={pem}")), "key=***");
    assert_eq!(r.redact("line MIIBOgIBAAJBAKj34GkxFhD9"), "line ***");
}

#[test]
fn scrub_masks_then_renders_controls() {
    let r = redactor(&["tok3n"]);
    assert_eq!(
        r.scrub("a\x1b[31mtok3n\x1b[0m\n\x1b]52;c;eA==\x07b"),
        "a\\u{1b}[31m***\\u{1b}[0m\n\\u{1b}]52;c;eA==\\u{7}b"
    );
    assert_eq!(r.scrub_line("a\nb\rc"), "a\\nb\\rc");
}

/// Many unterminated string sequences (a hostile log) are not sequences, and a secret
/// split by a terminated one is still found: each start looks its end up instead of
/// scanning to the end of the text, which made such a log quadratic.
#[test]
fn many_unterminated_string_sequences_leave_secrets_found() {
    let r = redactor(&["s3cret"]);
    let hostile = "\x1b]".repeat(20_000);
    let text = format!("key s3\x1b]0;t\x07cret {hostile}s3cret");
    let out = r.redact(&text);
    assert!(out.starts_with("key *** "), "the split secret is masked");
    assert!(out.ends_with("\x1b]***"), "the secret after them is masked");
    assert_eq!(out.matches("\x1b]").count(), 20_000);
    // A terminator far away still ends the first sequence: everything up to it is hidden.
    let far = format!("\x1b]{}\x07s3cret", "x".repeat(10_000));
    assert_eq!(
        r.redact(&far),
        format!("\x1b]{}\x07***", "x".repeat(10_000))
    );
}

/// Texts built from the pieces matching cares about: secrets whole and in parts, escape
/// sequences complete and broken off, terminators, cut marks, separators, word characters.
fn hostile_texts(count: usize) -> Vec<String> {
    let pieces = [
        "tok3n-XYZ",
        "tok3",
        "n-XYZ",
        "s3cr",
        "et",
        "s3cret",
        " ",
        " ",
        ",",
        "=",
        "a",
        "Z9_",
        "\x1b",
        "\x1b[",
        "\x1b[0m",
        "\x1b[31;1",
        "\x1b]",
        "\x1b]52;c;",
        "\x07",
        "\u{9c}",
        "\x1b\\",
        "\\",
        "\u{9b}",
        "\u{9d}",
        "…",
        "\n",
        "\t",
        "\u{200b}",
        "é",
        "{",
        "}",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..count)
        .map(|_| {
            let len = 20 + (next() % 200) as usize;
            (0..len)
                .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                .collect()
        })
        .collect()
}

#[test]
fn matching_in_windows_masks_exactly_what_matching_the_whole_text_masks() {
    let r = Redactor::new(["tok3n-XYZ".to_string(), "s3cret".to_string()]);
    let mut split = 0;
    for text in hostile_texts(3000) {
        let whole = r.redact_whole(&text).into_owned();
        for window in [1, 2, 5, 16, 64] {
            let windowed = r.redact_in_windows(&text, window).into_owned();
            assert_eq!(windowed, whole, "window {window}: {text:?}");
            split += usize::from(!super::safe_splits(&text, window, &r.secrets).is_empty());
        }
    }
    assert!(split > 1000, "the texts were split ({split})");
}

#[test]
fn a_long_text_is_matched_in_windows_with_the_same_result() {
    let r = Redactor::new(["tok3n-XYZ".to_string()]);
    let unit = "log tok3n-XYZ and tok\x1b[0m3n-XYZ, \x1b]52;c;x\x07 more …n-XYZ\n";
    let text = unit.repeat((3 << 20) / unit.len());
    let splits = super::safe_splits(&text, super::REDACT_WINDOW_BYTES, &r.secrets);
    assert!(splits.len() >= 2, "{} splits", splits.len());
    let redacted = r.redact(&text);
    assert_eq!(redacted, r.redact_whole(&text));
    assert!(!redacted.contains("tok3n"));
}
