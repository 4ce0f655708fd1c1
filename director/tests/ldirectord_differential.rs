//! ldirectord itself as the oracle: for every configuration of the corpus
//! (director/fixtures/ldirectord/*.cf), `ldirectord -d CONF stop` reads the
//! configuration (exit status 2 and "Error [pid] reading file F at line N:
//! message" on a configuration error) and, with no daemon running for it,
//! exits 0 without touching IPVS. lvsd must accept exactly what ldirectord
//! accepts, and refuse the rest with ldirectord's first error: same line,
//! same message.
//!
//! Skipped, with a notice, when ldirectord is not installed (Debian:
//! `apt-get install --no-install-recommends ldirectord`; tests/run-all
//! installs it).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use ipvs_director::ldirectord::{self, ErrorKind, ParseOptions};

/// Configurations where lvsd and ldirectord disagree on purpose, and why.
const KNOWN_DIVERGENCES: &[(&str, &str)] = &[(
    "bad-external-perl.cf",
    "lvsd refuses checktype=external-perl (ErrorKind::Unsupported)",
)];

fn ldirectord_binary() -> Option<PathBuf> {
    ["/usr/sbin/ldirectord", "/sbin/ldirectord"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ldirectord");
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cf"))
        .collect();
    v.sort();
    v
}

/// The warnings ldirectord printed with a line ("Warning [pid] reading file
/// F at line N: message").
fn located_warnings(stderr: &str, conf: &Path) -> Vec<(u32, String)> {
    let needle = format!("reading file {} at line ", conf.display());
    stderr
        .lines()
        .filter(|l| l.starts_with("Warning ["))
        .filter_map(|l| {
            let rest = &l[l.find(&needle)? + needle.len()..];
            let (n, msg) = rest.split_once(": ")?;
            Some((n.parse().ok()?, msg.to_string()))
        })
        .collect()
}

/// ldirectord's verdict: `Ok(warnings)` when accepted, else (line, message).
type Verdict = Result<Vec<(u32, String)>, (u32, String)>;

fn ldirectord_verdict(bin: &Path, work: &Path, conf: &Path) -> Result<Verdict, String> {
    let out = Command::new(bin)
        .current_dir(work)
        // Without PERLIO set, ldirectord re-executes itself once.
        .env("PERLIO", "perlio")
        .arg("-d")
        .arg(conf)
        .arg("stop")
        .output()
        .map_err(|e| format!("run ldirectord: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => Ok(Ok(located_warnings(&stderr, conf))),
        Some(2) => {
            let needle = format!("reading file {} at line ", conf.display());
            let at = stderr
                .find(&needle)
                .ok_or_else(|| format!("status 2 without a located error: {stderr}"))?;
            let rest = &stderr[at + needle.len()..];
            // The message runs to the next log line: ldirectord quotes whole
            // lines, newline included ("Unknown command \"\tx=y\n\"").
            let rest = &rest[..rest.find("\nDEBUG").unwrap_or(rest.len())];
            let (n, msg) = rest.split_once(": ").ok_or("no message")?;
            let msg = msg.replace('\n', "").trim_end().to_string();
            Ok(Err((n.parse().map_err(|_| "bad line number")?, msg)))
        }
        other => Err(format!("unexpected status {other:?}: {stderr}")),
    }
}

#[test]
fn accept_reject_and_first_error_like_ldirectord() {
    let Some(bin) = ldirectord_binary() else {
        println!(
            "NOTICE: ldirectord is not installed; the differential test against \
             `ldirectord -d CONF stop` is skipped"
        );
        return;
    };
    // ldirectord insists on an ipvsadm binary; with -d, ./ipvsadm is taken
    // first (never run by `stop`), so the test needs none installed.
    let work = std::env::temp_dir().join(format!("ld-differential-{}", std::process::id()));
    fs::create_dir_all(&work).unwrap();
    fs::write(work.join("ipvsadm"), "#!/bin/sh\nexit 1\n").unwrap();
    let files = corpus();
    assert!(files.len() >= 40, "corpus too small: {}", files.len());
    let opts = ParseOptions {
        hostname: "director.example".into(),
        ..ParseOptions::default()
    };
    let mut mismatches = Vec::new();
    let (mut agree_accept, mut agree_reject, mut seen_warnings) = (0, 0, 0);
    for conf in &files {
        let name = conf.file_name().unwrap().to_string_lossy().into_owned();
        // `stop` would signal a daemon running for this configuration name.
        let pid_file = format!("/var/run/ldirectord.{name}.pid");
        if Path::new(&pid_file).exists() {
            println!("NOTICE: {name} skipped: {pid_file} exists");
            continue;
        }
        let theirs = match ldirectord_verdict(&bin, &work, conf) {
            Ok(v) => v,
            Err(e) => {
                mismatches.push(format!("{name}: {e}"));
                continue;
            }
        };
        let ours = ldirectord::parse_file_with(conf, &opts);
        let divergence = KNOWN_DIVERGENCES.iter().find(|(n, _)| *n == name);
        let same = match (&theirs, &ours) {
            (Ok(warnings), Ok(parsed)) => {
                // Every warning ldirectord gives at a line, lvsd gives too.
                let missing: Vec<String> = warnings
                    .iter()
                    .filter(|(l, m)| {
                        !parsed
                            .warnings
                            .iter()
                            .any(|w| w.line == *l && w.message == *m)
                    })
                    .map(|(l, m)| format!("line {l}: {m}"))
                    .collect();
                if missing.is_empty() {
                    agree_accept += 1;
                    seen_warnings += warnings.len();
                    true
                } else {
                    mismatches.push(format!("{name}: warnings lvsd lacks: {missing:?}"));
                    true
                }
            }
            (Err((line, msg)), Err(r)) => {
                let e = &r.errors[0];
                let ok = *line == e.line && *msg == e.message;
                if ok {
                    agree_reject += 1;
                }
                ok
            }
            _ => false,
        };
        match (same, divergence) {
            (true, None) | (false, Some(_)) => {}
            (true, Some((_, why))) => mismatches.push(format!(
                "{name}: listed as a known divergence ({why}) but both now agree"
            )),
            (false, None) => mismatches.push(format!(
                "{name}: ldirectord {}, lvsd {}",
                match &theirs {
                    Ok(_) => "accepts".to_string(),
                    Err((l, m)) => format!("refuses at line {l}: {m}"),
                },
                match &ours {
                    Ok(_) => "accepts".to_string(),
                    Err(r) => format!(
                        "refuses at line {} ({:?}): {}",
                        r.errors[0].line, r.errors[0].kind, r.errors[0].message
                    ),
                }
            )),
        }
        if let (Some(_), Err(r)) = (divergence, &ours) {
            assert_eq!(r.errors[0].kind, ErrorKind::Unsupported, "{name}");
        }
    }
    let _ = fs::remove_dir_all(&work);
    println!(
        "ldirectord agrees on {agree_accept} accepted and {agree_reject} refused configurations \
         (line and message of the first error; {seen_warnings} located warnings of ldirectord found)"
    );
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert!(
        agree_accept >= 12 && agree_reject >= 25,
        "{agree_accept} / {agree_reject}"
    );
    assert!(seen_warnings >= 3, "only {seen_warnings} warnings compared");
}
