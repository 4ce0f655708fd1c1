//! Replays a fuzz target's committed inputs (`seeds/`, `corpus/` and
//! `regressions/` under the fuzz directory) as an ordinary test on stable;
//! used by `tests/fuzz_corpus.rs` and `tools/tests/fuzz_corpus.rs`.

use std::path::Path;

/// Runs `target` on every committed input under `fuzz`; returns how many
/// there were. A panic names the input.
pub fn replay(fuzz: &Path, target: &str, run: fn(&[u8])) -> usize {
    let mut n = 0;
    for dir in ["seeds", "corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
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
