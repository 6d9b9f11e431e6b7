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
