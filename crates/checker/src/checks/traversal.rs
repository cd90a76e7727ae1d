//! Stage 2: nothing outside the root is ever read or sent.
//!
//! The checker plants a secret file outside the server's root and a symlink to it
//! inside. Each check asks for the secret in one disguise and fails if the secret's
//! text comes back, or if the answer is anything but a 4xx error.

use super::Check;
use crate::report::Failure;
use crate::target::Context;

pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "traversal-dot-dot",
            stages: 2..=8,
            behaviour: "GET /../../secret is refused",
            needs_pid: false,
            run: dot_dot,
        },
        Check {
            name: "traversal-encoded-dots",
            stages: 2..=8,
            behaviour: "GET /%2e%2e/%2E%2E/secret is refused",
            needs_pid: false,
            run: encoded_dots,
        },
        Check {
            name: "traversal-encoded-slashes",
            stages: 2..=8,
            behaviour: "GET /..%2f..%2fsecret is refused",
            needs_pid: false,
            run: encoded_slashes,
        },
        Check {
            name: "traversal-backslashes",
            stages: 2..=8,
            behaviour: "GET /..\\..\\secret and /..%5c..%5csecret are refused",
            needs_pid: false,
            run: backslashes,
        },
        Check {
            name: "traversal-nul-byte",
            stages: 2..=8,
            behaviour: "GET /page.html%00.png is refused, not cut at the NUL",
            needs_pid: false,
            run: nul_byte,
        },
        Check {
            name: "traversal-absolute-path",
            stages: 2..=8,
            behaviour: "GET //tmp/secret and /%2ftmp/secret stay under the root",
            needs_pid: false,
            run: absolute_path,
        },
        Check {
            name: "traversal-symlink-out",
            stages: 2..=8,
            behaviour: "a symlink inside the root that points outside is not followed out",
            needs_pid: false,
            run: symlink_out,
        },
    ]
}

/// Sends `GET path` and fails if the secret comes back or the status is not 4xx.
fn refused(context: &Context, path: &str) -> Result<(), Failure> {
    let exchange = context.get(path)?;
    context.expect_no_secret(&exchange)?;
    if !(400..500).contains(&exchange.reply.status) {
        return Err(exchange.fail(
            format!("the status was {}", exchange.reply.status),
            "a 4xx error: 400 (bad path), 403 (forbidden) or 404 (not found)",
        ));
    }
    Ok(())
}

/// The path to the secret after climbing with `step` repeated.
fn climbing(context: &Context, step: &str) -> String {
    format!(
        "/{}{}",
        step.repeat(context.climb_depth()),
        context.secret_relative_to_slash()
    )
}

fn dot_dot(context: &Context) -> Result<(), Failure> {
    refused(context, &climbing(context, "../"))?;
    let inside = format!(
        "{}/../{}",
        context.fixtures.url(),
        climbing(context, "../").trim_start_matches('/')
    );
    refused(context, &inside)
}

fn encoded_dots(context: &Context) -> Result<(), Failure> {
    refused(context, &climbing(context, "%2e%2e/"))?;
    refused(context, &climbing(context, "%2E%2E/"))?;
    refused(context, &climbing(context, ".%2e/"))
}

fn encoded_slashes(context: &Context) -> Result<(), Failure> {
    refused(context, &climbing(context, "..%2f"))?;
    refused(context, &climbing(context, "%2e%2e%2F"))
}

fn backslashes(context: &Context) -> Result<(), Failure> {
    refused(context, &climbing(context, "..\\"))?;
    refused(context, &climbing(context, "..%5c"))
}

fn nul_byte(context: &Context) -> Result<(), Failure> {
    refused(
        context,
        &format!("{}%00.png", context.fixtures.url_of("page.html")),
    )?;
    refused(context, &format!("{}%00", climbing(context, "../")))
}

fn absolute_path(context: &Context) -> Result<(), Failure> {
    let secret = context.secret_relative_to_slash();
    refused(context, &format!("//{secret}"))?;
    refused(context, &format!("/%2f{secret}"))?;
    refused(context, &format!("/%2F{}", secret.replace('/', "%2F")))
}

fn symlink_out(context: &Context) -> Result<(), Failure> {
    refused(context, &context.fixtures.url_of("escape.txt"))
}
