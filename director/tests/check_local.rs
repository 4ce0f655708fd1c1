//! MISC_CHECK (scripts) and FILE_CHECK (a file's number).

mod check_support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use check_support::*;
use ipvs_director::check::{CheckKind, Engine, EventKind, Failure, FileCheck, MiscCheck, Weight};

fn target() -> SocketAddr {
    "127.0.0.1:80".parse().unwrap()
}

fn sh(script: &str, dynamic: bool) -> CheckKind {
    CheckKind::Misc(MiscCheck {
        argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
        timeout: Some(Duration::from_secs(10)),
        dynamic,
        user: None,
    })
}

async fn misc(script: &str, dynamic: bool) -> Result<Option<Weight>, Failure> {
    probe_once(spec(target(), sh(script, dynamic), fast(0, 1)))
        .await
        .outcome
}

#[tokio::test]
async fn misc_exit_codes() {
    assert_eq!(misc("exit 0", false).await, Ok(None));
    assert_eq!(misc("exit 1", false).await, Err(Failure::ScriptExit(1)));
    assert_eq!(misc("exit 7", false).await, Err(Failure::ScriptExit(7)));
    assert_eq!(
        misc("kill -9 $$", false).await,
        Err(Failure::ScriptSignal(9))
    );
    // misc_dynamic: 0 up at the configured weight, 1 down, 2..255 up with weight code - 2.
    assert_eq!(misc("exit 0", true).await, Ok(Some(Weight::Configured)));
    assert_eq!(misc("exit 1", true).await, Err(Failure::ScriptExit(1)));
    assert_eq!(misc("exit 2", true).await, Ok(Some(Weight::Set(0))));
    assert_eq!(misc("exit 12", true).await, Ok(Some(Weight::Set(10))));
    assert_eq!(misc("exit 255", true).await, Ok(Some(Weight::Set(253))));
    let missing = CheckKind::Misc(MiscCheck {
        argv: vec!["/nonexistent/check-script".into()],
        timeout: None,
        dynamic: false,
        user: None,
    });
    assert!(matches!(
        probe_once(spec(target(), missing, fast(0, 1)))
            .await
            .outcome,
        Err(Failure::Spawn(_))
    ));
}

fn alive(pid: i32) -> bool {
    // A zombie is dead too: look at the state in /proc.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

async fn read_pids(path: &PathBuf, n: usize) -> Vec<i32> {
    for _ in 0..500 {
        if let Ok(t) = std::fs::read_to_string(path) {
            let pids: Vec<i32> = t
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect();
            if pids.len() >= n {
                return pids;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the script wrote its pids");
}

#[tokio::test]
async fn misc_timeout_kills_the_script_and_its_children() {
    let dir = tempdir("misc");
    for (name, script) in [
        // Dies on SIGTERM.
        ("term", "sleep 60 & echo $$ $! > PIDS; wait"),
        // Ignores SIGTERM: needs the SIGKILL after the grace period.
        (
            "kill",
            "trap '' TERM; sleep 60 & echo $$ $! > PIDS; wait; wait",
        ),
    ] {
        let pids = dir.join(name);
        let script = script.replace("PIDS", pids.to_str().unwrap());
        let kind = CheckKind::Misc(MiscCheck {
            argv: vec!["/bin/sh".into(), "-c".into(), script],
            timeout: Some(Duration::from_millis(300)),
            dynamic: false,
            user: None,
        });
        let result = probe_once(spec(target(), kind, fast(0, 1))).await;
        assert_eq!(result.outcome, Err(Failure::ScriptTimeout), "{name}");
        let pids = read_pids(&pids, 2).await;
        for _ in 0..500 {
            if !pids.iter().any(|&p| alive(p)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for p in pids {
            assert!(!alive(p), "{name}: process {p} killed");
        }
    }
}

#[tokio::test]
async fn misc_runs_as_user() {
    let as_nobody = CheckKind::Misc(MiscCheck {
        argv: vec![
            "/bin/sh".into(),
            "-c".into(),
            "[ \"$(id -u):$(id -g)\" = 65534:65534 ]".into(),
        ],
        // Not the default (delay_loop, 50 ms here): on a loaded machine the
        // shell and its two `id` can take longer, and the test failed on a
        // timeout instead of the user.
        timeout: Some(Duration::from_secs(10)),
        dynamic: false,
        user: Some((65534, 65534)),
    });
    let result = probe_once(spec(target(), as_nobody.clone(), fast(0, 1))).await;
    if !nix_root() {
        eprintln!("NOTICE: not root, misc user test skipped");
        return;
    }
    assert_eq!(result.outcome, Ok(None));
    let CheckKind::Misc(mut as_self) = as_nobody else {
        unreachable!()
    };
    as_self.user = None;
    let result = probe_once(spec(target(), CheckKind::Misc(as_self), fast(0, 1))).await;
    assert_eq!(
        result.outcome,
        Err(Failure::ScriptExit(1)),
        "root is not nobody"
    );
}

fn nix_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

#[tokio::test]
async fn misc_dynamic_weight_events() {
    let dir = tempdir("weight");
    let code = dir.join("code");
    std::fs::write(&code, "12").unwrap();
    let script = format!("exit $(cat {})", code.display());
    let (engine, mut rx) = Engine::new(tokio::runtime::Handle::current(), false);
    engine
        .add("rs", spec(target(), sh(&script, true), fast(0, 1)))
        .unwrap();
    assert_eq!(next(&mut rx).await.kind, EventKind::Weight(Weight::Set(10)));
    std::fs::write(&code, "7").unwrap();
    assert_eq!(next(&mut rx).await.kind, EventKind::Weight(Weight::Set(5)));
    std::fs::write(&code, "1").unwrap();
    let e = next(&mut rx).await;
    assert_eq!(
        e.kind,
        EventKind::Down {
            reason: Failure::ScriptExit(1)
        }
    );
    std::fs::write(&code, "0").unwrap();
    assert_eq!(
        next(&mut rx).await.kind,
        EventKind::Up {
            weight: Some(Weight::Configured)
        }
    );
    assert_eq!(
        engine.state(&"rs").unwrap().weight,
        Some(Weight::Configured)
    );
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lvsd-check-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn file_check_values() {
    let dir = tempdir("file");
    let path = dir.join("state");
    let kind = |weight, reverse| {
        CheckKind::File(FileCheck {
            path: path.clone(),
            weight,
            reverse,
        })
    };
    let once = |weight, reverse| {
        let k = kind(weight, reverse);
        async move { probe_once(spec(target(), k, fast(0, 1))).await.outcome }
    };
    assert!(
        matches!(once(0, false).await, Err(Failure::File(_))),
        "missing file"
    );
    std::fs::write(&path, "0\n").unwrap();
    assert_eq!(once(0, false).await, Ok(Some(Weight::Add(0))));
    assert_eq!(once(0, true).await, Err(Failure::FileFault(0)));
    std::fs::write(&path, "3\n").unwrap();
    assert_eq!(once(0, false).await, Err(Failure::FileFault(3)));
    assert_eq!(once(0, true).await, Ok(Some(Weight::Add(0))));
    assert_eq!(once(5, false).await, Ok(Some(Weight::Add(15))));
    assert_eq!(once(5, true).await, Ok(Some(Weight::Add(-15))));
}

#[tokio::test]
async fn file_check_transitions() {
    let dir = tempdir("file-events");
    let path = dir.join("state");
    std::fs::write(&path, "0").unwrap();
    let (engine, mut rx) = Engine::new(tokio::runtime::Handle::current(), false);
    let kind = CheckKind::File(FileCheck {
        path: path.clone(),
        weight: 0,
        reverse: false,
    });
    engine.add(1, spec(target(), kind, fast(0, 1))).unwrap();
    assert_eq!(next(&mut rx).await.kind, EventKind::Weight(Weight::Add(0)));
    std::fs::write(&path, "1").unwrap();
    assert_eq!(
        next(&mut rx).await.kind,
        EventKind::Down {
            reason: Failure::FileFault(1)
        }
    );
    std::fs::write(&path, "0").unwrap();
    assert_eq!(
        next(&mut rx).await.kind,
        EventKind::Up {
            weight: Some(Weight::Add(0))
        }
    );
}
