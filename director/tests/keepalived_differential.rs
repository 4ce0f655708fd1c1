//! keepalived itself as the oracle: for every configuration of the corpus
//! (director/fixtures/keepalived/*.conf), `keepalived --config-test` must
//! accept exactly the configurations lvsd accepts without a warning that
//! keepalived counts as a configuration error.
//!
//! Skipped, with a notice, when keepalived is not installed (Debian:
//! `apt-get install --no-install-recommends keepalived`; tests/run-all
//! installs it).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use ipvs_director::keepalived::{self, ErrorKind};

/// Configurations where lvsd and keepalived disagree on purpose, and why.
const KNOWN_DIVERGENCES: &[(&str, &str)] = &[
    (
        "unsupported-definitions.conf",
        "lvsd refuses keepalived's $NAME parameter definitions (ErrorKind::Unsupported)",
    ),
    (
        "unsupported-ha-suspend.conf",
        "lvsd refuses ha_suspend (ErrorKind::Unsupported)",
    ),
    (
        "extension-rise.conf",
        "lvsd_rise is lvsd's own keyword, unknown to keepalived",
    ),
];

/// Configurations keepalived judges differently when not run as root, and why.
const ROOT_ONLY: &[(&str, &str)] = &[(
    "bad-script-security.conf",
    "keepalived's script security check applies to scripts run as root only",
)];

/// Whether this process runs with effective uid 0 (from /proc/self/status).
fn running_as_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

fn keepalived_binary() -> Option<PathBuf> {
    [
        "/usr/sbin/keepalived",
        "/sbin/keepalived",
        "/usr/local/sbin/keepalived",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/keepalived");
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    v.sort();
    v
}

/// lvsd's verdict: accepted with nothing keepalived would report.
fn lvsd_accepts(conf: &Path) -> (bool, String) {
    match keepalived::parse_file(conf) {
        Ok(p) => {
            let reported: Vec<String> = p
                .warnings
                .iter()
                .filter(|w| w.keepalived_reports)
                .map(|w| w.to_string())
                .collect();
            (reported.is_empty(), reported.join("\n"))
        }
        Err(r) => {
            let only_unsupported = r.errors.iter().all(|e| e.kind == ErrorKind::Unsupported);
            (false, format!("{r} (only unsupported: {only_unsupported})"))
        }
    }
}

#[test]
fn accept_and_reject_like_keepalived_config_test() {
    let Some(bin) = keepalived_binary() else {
        println!(
            "NOTICE: keepalived is not installed; the differential test against \
             `keepalived --config-test` is skipped"
        );
        return;
    };
    let files = corpus();
    assert!(files.len() >= 20, "corpus too small: {}", files.len());
    let mut mismatches = Vec::new();
    let (mut agree_accept, mut agree_reject) = (0, 0);
    let root = running_as_root();
    for conf in &files {
        let name = conf.file_name().unwrap().to_string_lossy().into_owned();
        if let (false, Some((_, why))) = (root, ROOT_ONLY.iter().find(|(n, _)| *n == name)) {
            println!("NOTICE: {name} skipped when not root: {why}");
            continue;
        }
        // Absolute path: keepalived resolves includes from the file's directory.
        let out = Command::new(&bin)
            .arg("--config-test")
            .arg("-f")
            .arg(conf)
            .output()
            .expect("run keepalived");
        let ka_ok = out.status.success();
        let (ours_ok, why) = lvsd_accepts(conf);
        let divergence = KNOWN_DIVERGENCES.iter().find(|(n, _)| *n == name);
        match (ka_ok == ours_ok, divergence) {
            (true, None) => {
                if ka_ok {
                    agree_accept += 1
                } else {
                    agree_reject += 1
                }
            }
            (false, Some(_)) => {}
            (true, Some((_, reason))) => mismatches.push(format!(
                "{name}: listed as a known divergence ({reason}) but both now agree"
            )),
            (false, None) => mismatches.push(format!(
                "{name}: keepalived {} (status {:?}: {}), lvsd {} ({why})",
                if ka_ok { "accepts" } else { "rejects" },
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).trim(),
                if ours_ok { "accepts" } else { "rejects" },
            )),
        }
    }
    println!("keepalived --config-test agrees on {agree_accept} accepted and {agree_reject} rejected configurations");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert!(
        agree_accept >= 10 && agree_reject >= 10,
        "{agree_accept} / {agree_reject}"
    );
}
