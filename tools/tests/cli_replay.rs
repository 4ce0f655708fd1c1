//! The oracle's recorded outputs (`fixtures/recorded/`, written by the
//! lab's `--record`) replayed through our command line against an
//! in-memory model of the kernel: formatting, messages and exit statuses are
//! checked byte for byte on the host, without a VM.
//!
//! Each scenario runs from an empty model; its commands are replayed in
//! order as long as the small shell interpreter understands them (`ipvsadm
//! ARGS`, `printf ... | ipvsadm -R`, `; echo "status $?"`); at the first
//! line it does not understand, the rest of the scenario is left to the lab
//! (the model's state would no longer be known). Listing lines the model
//! cannot reproduce are skipped one by one, and a few whole scenarios are
//! skipped (see [`SKIP_SCENARIOS`]).

mod cli_support;

use std::path::{Path, PathBuf};

use cli_support::{run_line, FakeKernel, GuestResolver, Outcome};

/// Scenarios the model cannot reproduce, with the reason.
const SKIP_SCENARIOS: &[(&str, &str)] = &[
    (
        "list-sort-order",
        "non-transitive comparator: the order depends on the kernel's hash order",
    ),
    (
        "daemon",
        "sync-daemon defaults (maxlen) depend on the interface and kernel",
    ),
    ("daemon-master-options", "sync daemons on a new interface"),
    ("daemon-backup-options", "sync daemons on a new interface"),
    ("daemon-ipv6-group", "sync daemons on a new interface"),
    ("daemon-interface-bytes", "sync daemons on new interfaces"),
    ("daemon-restart", "kernel clamps of sync-maxlen"),
    ("errors-einval-texts", "kernel clamps of sync-maxlen"),
    (
        "args-daemon-extra-words",
        "kernel rounding of a backup's sync-maxlen",
    ),
];

/// Listing lines the model cannot reproduce (the command is skipped, the
/// scenario goes on: listings change nothing).
fn skip_line(cmd: &str) -> bool {
    cmd.contains("--nosort") || cmd.contains("--rate") && cmd.contains("-c")
}

fn recorded_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/recorded")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

struct Report {
    scenarios: usize,
    checked: usize,
    left_to_lab: usize,
    failures: Vec<String>,
}

fn replay(dir: &Path, resolver: &GuestResolver, report: &mut Report) {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    if SKIP_SCENARIOS.iter().any(|(n, _)| *n == name) {
        return;
    }
    report.scenarios += 1;
    let mut kernel = FakeKernel::default();
    let mut ids: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".cmd").map(String::from)
        })
        .collect();
    ids.sort();
    for id in ids {
        let cmd = String::from_utf8(read(&dir.join(format!("{id}.cmd")))).unwrap();
        let cmd = cmd.trim_end_matches('\n');
        let expected = Outcome {
            stdout: read(&dir.join(format!("{id}.stdout"))),
            stderr: read(&dir.join(format!("{id}.stderr"))),
            status: String::from_utf8(read(&dir.join(format!("{id}.status"))))
                .unwrap()
                .trim()
                .parse()
                .unwrap(),
        };
        let before = kernel.model.clone();
        let Some(got) = run_line(&mut kernel, resolver, cmd) else {
            report.left_to_lab += 1;
            return;
        };
        if skip_line(cmd) {
            kernel.model = before;
            continue;
        }
        report.checked += 1;
        if got != expected {
            report.failures.push(format!(
                "{name} {id}: {cmd}\n--- oracle (status {})\nstdout:\n{}stderr:\n{}--- ours (status {})\nstdout:\n{}stderr:\n{}",
                expected.status,
                String::from_utf8_lossy(&expected.stdout),
                String::from_utf8_lossy(&expected.stderr),
                got.status,
                String::from_utf8_lossy(&got.stdout),
                String::from_utf8_lossy(&got.stderr),
            ));
            // The model may have diverged; the rest is for the lab.
            return;
        }
    }
}

#[test]
fn recorded_oracle_outputs_replay_identically() {
    let Some(resolver) = GuestResolver::new() else {
        eprintln!("no /etc/services on this host: replay skipped");
        return;
    };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(recorded_dir())
        .expect("fixtures/recorded")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut report = Report {
        scenarios: 0,
        checked: 0,
        left_to_lab: 0,
        failures: Vec::new(),
    };
    for d in &dirs {
        replay(d, &resolver, &mut report);
    }
    eprintln!(
        "replayed {} commands of {} scenarios ({} scenarios stop early at a line for the lab)",
        report.checked, report.scenarios, report.left_to_lab
    );
    assert!(
        report.failures.is_empty(),
        "{} mismatches:\n{}",
        report.failures.len(),
        report.failures.join("\n")
    );
    // The replay must keep covering most of the corpus.
    assert!(
        report.checked >= 300,
        "only {} commands replayed",
        report.checked
    );
}
