//! Replays the committed fuzz corpora of the library's targets (`fuzz/`,
//! see fuzz/README.md: seeds, minimized corpus, regressions) on stable, as
//! ordinary tests: every input must go
//! through the target's checks (decoders: the emit/parse round trip)
//! without a panic. `fuzz/regressions/TARGET/` holds inputs that once
//! failed.

#[allow(dead_code)]
#[path = "../fuzz/harness/library.rs"]
mod library;

use std::path::Path;

/// Runs `target` on every file of its corpus and regression directories;
/// returns how many there were.
fn replay(target: &str, run: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut n = 0;
    for dir in ["seeds", "corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let data = std::fs::read(&path).unwrap();
            if let Err(e) = std::panic::catch_unwind(|| run(&data)) {
                std::panic::resume_unwind(Box::new(format!("{}: {e:?}", path.display())));
            }
            n += 1;
        }
    }
    n
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
