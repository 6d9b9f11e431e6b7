use super::*;

fn dumps_of(text: &str) -> String {
    python_dumps(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn floats_are_written_as_python_repr() {
    let cases = [
        ("1", "1"),
        ("1.0", "1.0"),
        ("1e16", "1e+16"),
        ("1e15", "1000000000000000.0"),
        ("1E-5", "1e-05"),
        ("0.0001", "0.0001"),
        ("0.1", "0.1"),
        ("-0.0", "-0.0"),
        ("-0", "0"),
        ("1.5e300", "1.5e+300"),
        ("5e-324", "5e-324"),
        ("123456789012345678.0", "1.2345678901234568e+17"),
        ("1e400", "Infinity"),
        ("-1e400", "-Infinity"),
        ("NaN", "NaN"),
        ("2.50", "2.5"),
    ];
    for (input, python) in cases {
        assert_eq!(dumps_of(input), python, "{input}");
    }
}

#[test]
fn big_ints_keep_every_digit() {
    let big = "123456789012345678901234567890123456789";
    assert_eq!(
        dumps_of(&format!("[{big}, -{big}]")),
        format!("[{big}, -{big}]")
    );
    let too_long = "9".repeat(MAX_INT_DIGITS + 1);
    assert!(python_dumps(&too_long).is_err());
}

#[test]
fn strings_are_ascii_escaped_with_surrogate_pairs() {
    assert_eq!(
        dumps_of(r#""é😀\u007f/""#),
        r#""\u00e9\ud83d\ude00\u007f/""#
    );
    assert_eq!(dumps_of(r#""\ud800x""#), r#""\ud800x""#);
    assert_eq!(dumps_of(r#""\ud83d\ude00""#), r#""\ud83d\ude00""#);
    assert_eq!(
        dumps_of("\"\\b\\f\\n\\r\\t\\\"\\\\\""),
        "\"\\b\\f\\n\\r\\t\\\"\\\\\""
    );
    assert_eq!(dumps_of(r#""\u0001""#), r#""\u0001""#);
}

#[test]
fn keys_are_sorted_by_code_point_and_the_last_duplicate_wins() {
    assert_eq!(
        dumps_of(
            r#"{"b": 1, "a": {"z": [], "y": {}}, "B": 2, "é": 3, "😀": 4, "\uffff": 5, "a": 6}"#
        ),
        r#"{"B": 2, "a": 6, "b": 1, "\u00e9": 3, "\uffff": 5, "\ud83d\ude00": 4}"#
    );
    assert_eq!(dumps_of(" { } "), "{}");
    assert_eq!(dumps_of("[ ]"), "[]");
}

#[test]
fn invalid_json_is_refused_as_python_refuses_it() {
    for text in [
        "",
        "{",
        "[1,]",
        "01",
        "1.",
        "1e",
        "+1",
        "'a'",
        "\"a\nb\"",
        "\"\\x\"",
        "{\"a\" 1}",
        "[1] 2",
        "-NaN",
        "\u{feff}{}",
        "\"\\u12\"",
    ] {
        assert!(python_dumps(text).is_err(), "{text:?} should be refused");
    }
    let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 2), "]".repeat(MAX_DEPTH + 2));
    assert!(python_dumps(&deep).is_err());
}

#[test]
fn the_deepest_accepted_payload_fits_a_small_stack() {
    // Host calls run on wasmtime's fiber stack (2 MiB, of which the guest may use 512 KiB);
    // parsing, writing and dropping the deepest payload must fit inside the rest, even in
    // an unoptimised build (whose frames are several times larger): 1 MiB here.
    let text = format!("{}1{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    let out = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || python_dumps(&text))
        .expect("spawn")
        .join()
        .expect("no stack overflow");
    assert!(out.is_ok());
}
