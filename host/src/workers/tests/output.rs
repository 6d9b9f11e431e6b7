//! Splitting worker output into lines.

use crate::workers::output::{CUT_MARK, MAX_LINE_BYTES, read_lines};

async fn lines_of(bytes: &[u8]) -> Vec<String> {
    let mut lines = Vec::new();
    read_lines(bytes, |line| lines.push(line.to_owned()))
        .await
        .expect("reading a slice cannot fail");
    lines
}

#[tokio::test]
async fn lines_lose_their_newline_and_carriage_return() {
    assert_eq!(
        lines_of(b"one\r\ntwo\n\nlast").await,
        ["one", "two", "", "last"]
    );
}

#[tokio::test]
async fn invalid_utf8_is_replaced_not_dropped() {
    assert_eq!(lines_of(b"caf\xe9 ok\n").await, ["caf\u{fffd} ok"]);
}

#[tokio::test]
async fn overlong_lines_are_split() {
    let mut input = vec![b'x'; MAX_LINE_BYTES + 5];
    input.push(b'\n');
    input.extend_from_slice(&vec![b'y'; MAX_LINE_BYTES]);
    input.push(b'\n');
    let lines = lines_of(&input).await;
    let lengths: Vec<usize> = lines.iter().map(String::len).collect();
    let mark = CUT_MARK.len_utf8();
    assert_eq!(lengths, [MAX_LINE_BYTES + mark, mark + 5, MAX_LINE_BYTES]);
    // The redactor masks a secret's part next to the marks.
    assert!(lines[0].ends_with(CUT_MARK) && lines[1].starts_with(CUT_MARK));
}
