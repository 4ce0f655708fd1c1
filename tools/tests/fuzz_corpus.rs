//! Replays the committed fuzz corpora of ipvsadm's targets (`fuzz/`, see
//! fuzz/README.md) on stable, as ordinary tests. `fuzz/regressions/TARGET/`
//! holds inputs that once failed.

#[allow(dead_code)]
#[path = "../../fuzz/harness/tools.rs"]
mod tools;

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
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
