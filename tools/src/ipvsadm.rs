//! The ipvsadm-compatible command line.
//!
//! Layers, from argv to output:
//!
//! 1. [`surface`]: the option surface as a `clap::Command`, used to generate
//!    the man pages and shell completions (not as the parser; see
//!    [`popt`] for why).
//! 2. [`table`]: the one data table (commands, options, legality, messages).
//! 3. [`popt`] + [`request`]: a popt-compatible tokenizer and the typed
//!    [`Request`], with all of ipvsadm's validation.
//! 4. [`format`](mod@format): every listing, byte for byte.
//! 5. [`run`]: request → library calls → output; [`restore`] for `-R`.

pub mod entry;
pub mod format;
pub mod parse;
pub mod popt;
pub mod request;
pub mod restore;
pub mod run;
pub mod stdio;
pub mod surface;
pub mod sys;
pub mod table;
pub mod wrappers;

pub use request::{parse, CliError, Format, ListTarget, Request};
pub use run::main;

/// A small deterministic generator (xorshift64) for the randomized unit
/// tests, so that failures reproduce.
#[cfg(test)]
pub(crate) fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}
