//! Replays the committed fuzz corpora of ipvsadm's targets (`fuzz/`, see
//! fuzz/README.md) on stable, as ordinary tests. `fuzz/regressions/TARGET/`
//! holds inputs that once failed.

#[allow(dead_code)]
#[path = "../../fuzz/harness/tools.rs"]
mod tools;

#[path = "../../fuzz/harness/replay.rs"]
mod replay;

/// Runs `target` on its committed inputs; returns how many there were.
fn replay(target: &str, run: fn(&[u8])) -> usize {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    replay::replay(&fuzz, target, run)
}

#[test]
fn ipvsadm_argv_corpus() {
    let n = replay("ipvsadm_argv", tools::argv);
    assert!(n >= 20, "only {n} inputs");
}

#[test]
fn ipvsadm_restore_corpus() {
    let n = replay("ipvsadm_restore", tools::restore);
    assert!(n >= 10, "only {n} inputs");
}

#[test]
fn text_parsers_corpus() {
    let n = replay("text_parsers", tools::text_parsers);
    assert!(n >= 10, "only {n} inputs");
}
