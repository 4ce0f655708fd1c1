//! Replays the committed fuzz corpora of the library's targets (`fuzz/`,
//! see fuzz/README.md: seeds, minimized corpus, regressions) on stable, as
//! ordinary tests: every input must go
//! through the target's checks (decoders: the emit/parse round trip)
//! without a panic. `fuzz/regressions/TARGET/` holds inputs that once
//! failed.

#[allow(dead_code)]
#[path = "../fuzz/harness/library.rs"]
mod library;

#[path = "../fuzz/harness/replay.rs"]
mod replay;

/// Runs `target` on its committed inputs; returns how many there were.
fn replay(target: &str, run: fn(&[u8])) -> usize {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    replay::replay(&fuzz, target, run)
}

#[test]
fn decode_corpus() {
    let n = replay("decode", library::decode);
    assert!(n >= 20, "only {n} inputs");
}

#[test]
fn conn_reader_corpus() {
    let n = replay("conn_reader", library::conn_reader);
    assert!(n >= 10, "only {n} inputs");
}
