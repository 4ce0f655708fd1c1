//! The ldirectord fixture corpus (director/fixtures/ldirectord/*.cf): each
//! configuration's outcome — the resolved model, or the errors — and its
//! warnings, compared with the golden `*.expected` file next to it.
//!
//! To regenerate the goldens after a deliberate change, run with
//! `LD_BLESS=1` and review the diff.

use std::fs;
use std::path::{Path, PathBuf};

use ipvs_director::ldirectord::{self, ParseOptions, Refused, Warning};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ldirectord")
}

fn corpus() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cf"))
        .collect();
    v.sort();
    v
}

fn rel(p: &Path) -> String {
    p.strip_prefix(fixtures())
        .unwrap_or(p)
        .display()
        .to_string()
}

fn warning_lines(out: &mut String, ws: &[Warning]) {
    out.push_str("warnings:\n");
    for w in ws {
        out.push_str(&format!(
            "  {}:{}: {}: [{:?}] {}\n",
            rel(&w.file),
            w.line,
            w.keyword,
            w.kind,
            w.message
        ));
    }
}

/// A fixed host name, so that ftp/sip defaults do not depend on the machine.
fn options() -> ParseOptions {
    ParseOptions {
        hostname: "director.example".into(),
        ..ParseOptions::default()
    }
}

fn outcome(path: &Path) -> String {
    let mut out = String::new();
    match ldirectord::parse_file_with(path, &options()) {
        Ok(parsed) => {
            out.push_str("accepted\n");
            out.push_str(&ldirectord::render(&parsed.config));
            warning_lines(&mut out, &parsed.warnings);
        }
        Err(Refused { errors, warnings }) => {
            out.push_str("refused\nerrors:\n");
            for e in &errors {
                out.push_str(&format!(
                    "  {}:{}: {}: [{:?}] {}\n",
                    rel(&e.file),
                    e.line,
                    e.keyword,
                    e.kind,
                    e.message
                ));
            }
            warning_lines(&mut out, &warnings);
        }
    }
    out
}

#[test]
fn corpus_matches_the_goldens() {
    let files = corpus();
    let bless = std::env::var_os("LD_BLESS").is_some();
    let (mut accepted, mut refused) = (0, 0);
    let mut failures = Vec::new();
    for conf in &files {
        let got = outcome(conf);
        if got.starts_with("accepted") {
            accepted += 1;
        } else {
            refused += 1;
        }
        let golden = conf.with_extension("expected");
        if bless {
            fs::write(&golden, &got).unwrap();
            continue;
        }
        let want = fs::read_to_string(&golden).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with LD_BLESS=1 to create it)",
                golden.display()
            )
        });
        if got != want {
            failures.push(format!("--- {}\n+++ actual\n{got}", rel(&golden)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(accepted >= 12, "only {accepted} accepted configurations");
    assert!(refused >= 25, "only {refused} refused configurations");
}
