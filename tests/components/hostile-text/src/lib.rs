//! A step package whose every text attacks the terminal and the redactor: step names and
//! descriptions carry ESC, OSC 52 (clipboard write), BEL, `\r` (a fake `✓` line) and a
//! bidi override; logs, stdout, the skip reason and the failure message carry the same,
//! plus config.yaml's `leak` (the test puts a secret of its `.env` there) split by escape
//! codes, at the end of a log line cut by the runner's length limit, and whole.
//!
//! | step | does |
//! |---|---|
//! | `ESC[31m…` (a hostile name) | logs and prints hostile text, completes |
//! | `skip\u{202e}me` | skips with a hostile reason |
//! | `fail\x07` | logs HTML markup (`<script>`), fails with a hostile message |
//!
//! With `fail_post_load: true` in config.yaml, `post-load` fails quoting the secret; with
//! `fail_bytes: N`, `fail\x07` fails with a message of N bytes (hostile lines, the secret
//! near the start), for the cap on any one message.

use prometheus_step::{Ctx, Error, Outcome, Steps, fail};

/// What every hostile text carries: a clipboard write, a bell, a line erase, a carriage
/// return drawing a fake passed step, hidden text and a right-to-left override.
const ATTACK: &str = "osc52\x1b]52;c;aGFja2Vk\x07 bel\x07 erase\x1b[2K\r  ✓ fake-pass \x1b[8mhidden\x1b[0m \u{202e}txt.exe";

/// Markup that would run if a report inserted it as HTML: it retitles the page.
const MARKUP: &str =
    "markup <script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">";

/// The runner's longest log line (`MAX_LOG_LINE_BYTES`): a line this long is cut.
const MAX_LOG_LINE_BYTES: usize = 16 * 1024;

fn steps() -> Steps {
    Steps::new()
        .step(
            "\x1b[31mred\x1b[0m-step\r  ✓ fake",
            format!("desc {ATTACK}"),
            "worker1",
            |_: &Ctx, _: ()| Ok(()),
            |ctx: &Ctx, _: (), _: ()| {
                let secret = leak(ctx)?;
                ctx.info(format!("log {ATTACK}"));
                ctx.info(format!("split {}", split(&secret)));
                ctx.info(format!("whole {secret} and again \"{secret}\""));
                ctx.warn(format!("multi\nline {ATTACK}\n{}", split(&secret)));
                // The cut lands inside the secret: its first characters must not show.
                let pad = MAX_LOG_LINE_BYTES - secret.len() / 2;
                ctx.info(format!("{} {secret}", "x".repeat(pad - 1)));
                println!("stdout {ATTACK} {}", split(&secret));
                eprintln!("stderr {ATTACK} {secret}");
                Ok(Outcome::done(true))
            },
        )
        .step(
            "skip\u{202e}me",
            "skips \x1b]0;title\x07",
            "worker1",
            |_: &Ctx, _: ()| Ok(()),
            |ctx: &Ctx, _: (), _: ()| {
                let secret = leak(ctx)?;
                Ok(Outcome::skip(format!("reason {ATTACK} {}", split(&secret))))
            },
        )
        .step(
            "fail\x07",
            "fails",
            "worker1",
            |_: &Ctx, _: ()| Ok(()),
            |ctx: &Ctx, _: (), _: ()| {
                let secret = leak(ctx)?;
                // Markup for the HTML report, which must show it as text.
                ctx.error(MARKUP);
                if let Some(bytes) = ctx.config::<usize>("fail_bytes")? {
                    return Err(Error::msg(huge(bytes, &secret)));
                }
                fail!("failure {ATTACK} {}\nline two {secret}", split(&secret))
            },
        )
        .post_load(|ctx: &Ctx| {
            if ctx.config::<bool>("fail_post_load")?.unwrap_or(false) {
                let secret = leak(ctx)?;
                fail!("post-load saw {secret} and {}", split(&secret));
            }
            Ok(())
        })
}

prometheus_step::export_steps!(steps);

/// config.yaml's `leak`.
fn leak(ctx: &Ctx) -> Result<String, Error> {
    ctx.config::<String>("leak")?
        .ok_or_else(|| Error::msg("config.yaml has no `leak`"))
}

/// `secret` with a color reset and a bell inside it: it still reads as the secret on a
/// terminal.
fn split(secret: &str) -> String {
    let (head, tail) = secret.split_at(secret.len() / 2);
    let (mid, tail) = tail.split_at(tail.len() / 2);
    format!("{head}\x1b[0m{mid}\x07{tail}")
}

/// A failure message of about `bytes` bytes: the secret, then hostile lines.
fn huge(bytes: usize, secret: &str) -> String {
    let mut text = String::with_capacity(bytes + ATTACK.len() + 64);
    text.push_str("huge failure ");
    text.push_str(secret);
    text.push('\n');
    while text.len() < bytes {
        text.push_str("boom ");
        text.push_str(ATTACK);
        text.push('\n');
    }
    text
}
