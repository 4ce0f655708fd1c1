//! The `ldirectord` command line: argument parsing, the configuration
//! lookup, the pid file and what each action does; and the real ldirectord
//! as the oracle for exit statuses and texts (skipped with a notice when it
//! is not installed).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use ipvs_director::ldirectord::cli::{self, Action, Invocation, PidFile, Run, Step};

fn run(args: &[&str]) -> Run {
    match cli::parse_args(args) {
        Invocation::Run(r) => r,
        other => panic!("{args:?}: {other:?}"),
    }
}

#[test]
fn arguments() {
    let r = run(&["start"]);
    assert_eq!(
        (r.debug, r.config.as_str(), r.name.as_str(), r.action),
        (false, "ldirectord.cf", "ldirectord", Action::Start)
    );
    assert_eq!(
        r.pid_file(),
        PathBuf::from("/var/run/ldirectord.ldirectord.pid")
    );
    let r = run(&["-d", "/etc/ha.d/web.cf", "force-reload", "ignored"]);
    assert_eq!(
        (r.debug, r.config.as_str(), r.name.as_str(), r.action),
        (true, "/etc/ha.d/web.cf", "web.cf", Action::ForceReload)
    );
    assert_eq!(
        r.pid_file(),
        PathBuf::from("/var/run/ldirectord.web.cf.pid")
    );
    assert!(run(&["--debug", "x", "try-restart"]).debug);
    // `--` ends the options: "-d" is then the configuration.
    let r = run(&["--", "-d", "stop"]);
    assert_eq!((r.debug, r.config.as_str()), (false, "-d"));
    // Options only before the first other word.
    assert_eq!(
        cli::parse_args(&["x.cf", "-d", "stop"]),
        Invocation::Usage { message: None }
    );
    for w in [
        "start",
        "stop",
        "restart",
        "try-restart",
        "reload",
        "force-reload",
        "status",
    ] {
        assert_eq!(run(&[w]).action.word(), w);
    }
    assert_eq!(
        cli::parse_args::<&str>(&[]),
        Invocation::Usage { message: None }
    );
    assert_eq!(
        cli::parse_args(&["x.cf", "frob"]),
        Invocation::Usage { message: None }
    );
    assert_eq!(
        cli::parse_args(&["-dx", "stop"]),
        Invocation::Usage {
            message: Some("Unknown option: x".into())
        }
    );
    assert_eq!(
        cli::parse_args(&["-t", "stop"]),
        Invocation::Usage {
            message: Some("Unknown option: t".into())
        }
    );
    assert_eq!(cli::parse_args(&["-dv"]), Invocation::Version);
    assert_eq!(cli::parse_args(&["-?", "-v"]), Invocation::Help);
    assert_eq!(cli::parse_args(&["--help", "stop"]), Invocation::Help);
}

#[test]
fn config_lookup_order() {
    let r = run(&["web.cf", "start"]);
    let only = |p: &'static str| move |q: &Path| q == Path::new(p);
    assert_eq!(
        r.config_path(only("/etc/ha.d/web.cf")).unwrap(),
        PathBuf::from("/etc/ha.d/web.cf")
    );
    assert_eq!(
        r.config_path(only("/etc/ha.d/conf/web.cf")).unwrap(),
        PathBuf::from("/etc/ha.d/conf/web.cf")
    );
    assert_eq!(
        r.config_path(only("web.cf")).unwrap(),
        PathBuf::from("web.cf")
    );
    assert_eq!(
        r.config_path(|_| false).unwrap_err(),
        "Config file web.cf not found"
    );
    // /etc/ha.d first even when the other exists too.
    assert_eq!(
        r.config_path(|q| q.starts_with("/etc/ha.d")).unwrap(),
        PathBuf::from("/etc/ha.d/web.cf")
    );
    // The default configuration.
    let r = run(&["status"]);
    assert_eq!(
        r.config_path(only("/etc/ha.d/ldirectord.cf")).unwrap(),
        PathBuf::from("/etc/ha.d/ldirectord.cf")
    );
}

#[test]
fn steps() {
    let p = Path::new("/etc/ha.d/ldirectord.cf");
    let step = |a: &str, running: Option<u32>, stale: bool| run(&[a]).step(running, p, stale);
    assert_eq!(step("start", None, false), Step::Start);
    assert_eq!(step("restart", None, false), Step::Start);
    assert_eq!(
        step("start", Some(7), false),
        Step::Exit {
            code: 0,
            stdout: None,
            stderr: None
        }
    );
    assert_eq!(
        step("stop", Some(7), false),
        Step::Signal {
            pid: 7,
            signal: libc::SIGTERM,
            then_start: false
        }
    );
    assert_eq!(
        step("try-restart", Some(7), false),
        Step::Signal {
            pid: 7,
            signal: libc::SIGTERM,
            then_start: true
        }
    );
    assert_eq!(
        step("reload", Some(7), false),
        Step::Signal {
            pid: 7,
            signal: libc::SIGHUP,
            then_start: false
        }
    );
    assert_eq!(
        step("try-restart", None, false),
        Step::Exit {
            code: 0,
            stdout: None,
            stderr: None
        }
    );
    assert_eq!(
        step("force-reload", None, false),
        Step::Exit {
            code: 1,
            stdout: None,
            stderr: None
        }
    );
    assert_eq!(
        step("status", Some(7), false),
        Step::Exit {
            code: 0,
            stdout: None,
            stderr: Some("ldirectord for /etc/ha.d/ldirectord.cf is running with pid: 7\n".into())
        }
    );
    assert_eq!(
        step("status", None, false),
        Step::Exit {
            code: 3,
            stdout: Some("ldirectord is stopped for /etc/ha.d/ldirectord.cf\n".into()),
            stderr: None
        }
    );
    let Step::Exit {
        code: 1,
        stderr: Some(e),
        ..
    } = step("status", None, true)
    else {
        panic!()
    };
    assert_eq!(
        e,
        "ldirectord stale pid file /var/run/ldirectord.ldirectord.pid for /etc/ha.d/ldirectord.cf\n"
    );
}

/// What lvsd's model says the entry point prints and returns, for the cases
/// that do not start a daemon: (status, stdout, stderr must contain).
fn modelled(args: &[&str]) -> (i32, String, String) {
    match cli::parse_args(args) {
        Invocation::Help => panic!("help runs perldoc"),
        Invocation::Version => (0, cli::VERSION_TEXT.into(), String::new()),
        Invocation::Usage { message } => (
            cli::EXIT_USAGE,
            cli::USAGE_TEXT.into(),
            message.map(|m| m + "\n").unwrap_or_default(),
        ),
        Invocation::Run(r) => match r.config_path(|p| p.is_file()) {
            Err(msg) => (cli::EXIT_INIT_ERROR, String::new(), msg),
            Ok(path) => {
                let pid = PidFile::probe(&r.pid_file(), |p| fs::read(p).ok());
                match r.step(pid.running(), &path, pid.exists()) {
                    Step::Exit {
                        code,
                        stdout,
                        stderr,
                    } => (code, stdout.unwrap_or_default(), stderr.unwrap_or_default()),
                    other => panic!("{args:?}: {other:?} would start or signal"),
                }
            }
        },
    }
}

#[test]
fn like_ldirectord() {
    let bin = Path::new("/usr/sbin/ldirectord");
    if !bin.is_file() {
        println!("NOTICE: ldirectord is not installed; the command-line comparison is skipped");
        return;
    }
    let work = std::env::temp_dir().join(format!("ld-cli-{}", std::process::id()));
    fs::create_dir_all(&work).unwrap();
    fs::write(work.join("ipvsadm"), "#!/bin/sh\nexit 1\n").unwrap();
    let name = format!("lvsd-cli-test-{}.cf", std::process::id());
    let conf = work.join(&name);
    fs::write(&conf, "virtual=192.0.2.1:80\n\treal=198.51.100.1:80 gate\n").unwrap();
    assert!(!Path::new(&format!("/var/run/ldirectord.{name}.pid")).exists());
    let c = conf.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["-x", "stop"],
        vec!["-t", c, "start"],
        vec!["--frob"],
        vec!["-v"],
        vec!["--version"],
        vec!["-dv"],
        vec!["-d", c, "frob"],
        vec!["-d", "/nonexistent/lvsd.cf", "stop"],
        vec!["-d", c, "status"],
        vec!["-d", c, "stop"],
        vec!["-d", c, "try-restart"],
        vec!["-d", c, "reload"],
        vec!["-d", c, "force-reload"],
        vec!["--", "-d", "stop"],
    ];
    let mut mismatches = Vec::new();
    for args in &cases {
        let out = Command::new(bin)
            .current_dir(&work)
            .env("PERLIO", "perlio")
            .args(args)
            .output()
            .unwrap();
        let (code, stdout, stderr) = modelled(args);
        let their_stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(code)
            || String::from_utf8_lossy(&out.stdout) != stdout
            || !their_stderr.contains(&stderr)
        {
            mismatches.push(format!(
                "{args:?}: ldirectord {:?} {:?} {:?}; model {code} {stdout:?} {stderr:?}",
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                their_stderr
            ));
        }
    }
    let _ = fs::remove_dir_all(&work);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    println!(
        "ldirectord and the model agree on {} command lines",
        cases.len()
    );
}

#[test]
fn pid_file_states() {
    let pid = Path::new("/var/run/ldirectord.x.cf.pid");
    let files = |entries: Vec<(&'static str, &'static [u8])>| {
        move |p: &Path| {
            entries
                .iter()
                .find(|(n, _)| Path::new(n) == p)
                .map(|(_, c)| c.to_vec())
        }
    };
    assert_eq!(PidFile::probe(pid, files(vec![])), PidFile::Absent);
    let running = PidFile::probe(
        pid,
        files(vec![
            ("/var/run/ldirectord.x.cf.pid", b"4242\n"),
            (
                "/proc/4242/cmdline",
                b"/usr/bin/perl\0-w\0/usr/sbin/ldirectord\0x.cf\0start\0",
            ),
        ]),
    );
    assert_eq!((running.running(), running.exists()), (Some(4242), true));
    let stale = PidFile::probe(
        pid,
        files(vec![
            ("/var/run/ldirectord.x.cf.pid", b"4242\n"),
            ("/proc/4242/cmdline", b"/usr/sbin/sshd\0"),
        ]),
    );
    assert_eq!(stale, PidFile::Stale("4242".into()));
    assert_eq!((stale.running(), stale.exists()), (None, true));
    let gone = PidFile::probe(pid, files(vec![("/var/run/ldirectord.x.cf.pid", b"77\n")]));
    assert_eq!(gone, PidFile::Stale("77".into()));
}

/// Our `ldirectord` binary on the command lines that do not start a daemon:
/// the model's exit status and standard output exactly, its standard error
/// contained; and, when ldirectord is installed, the same exit status and
/// standard output as ldirectord's.
#[test]
fn our_binary_like_the_model_and_ldirectord() {
    let work = std::env::temp_dir().join(format!("ld-cli-ours-{}", std::process::id()));
    fs::create_dir_all(&work).unwrap();
    fs::write(work.join("ipvsadm"), "#!/bin/sh\nexit 1\n").unwrap();
    let name = format!("lvsd-cli-ours-{}.cf", std::process::id());
    let conf = work.join(&name);
    fs::write(&conf, "virtual=192.0.2.1:80\n\treal=198.51.100.1:80 gate\n").unwrap();
    assert!(!Path::new(&format!("/var/run/ldirectord.{name}.pid")).exists());
    let c = conf.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["-x", "stop"],
        vec!["-t", c, "start"],
        vec!["--frob"],
        vec!["-v"],
        vec!["--version"],
        vec!["-dv"],
        vec!["-d", c, "frob"],
        vec!["-d", "/nonexistent/lvsd.cf", "stop"],
        vec![c, "status"],
        vec!["-d", c, "status"],
        vec![c, "stop"],
        vec!["-d", c, "try-restart"],
        vec![c, "reload"],
        vec!["-d", c, "force-reload"],
        vec!["--", "-d", "stop"],
    ];
    let real = Path::new("/usr/sbin/ldirectord");
    let mut mismatches = Vec::new();
    for args in &cases {
        let ours = Command::new(env!("CARGO_BIN_EXE_ldirectord"))
            .current_dir(&work)
            .args(args)
            .output()
            .unwrap();
        let (code, stdout, stderr) = modelled(args);
        let our_stdout = String::from_utf8_lossy(&ours.stdout);
        let our_stderr = String::from_utf8_lossy(&ours.stderr);
        if ours.status.code() != Some(code) || our_stdout != stdout || !our_stderr.contains(&stderr)
        {
            mismatches.push(format!(
                "{args:?}: ours {:?} {our_stdout:?} {our_stderr:?}; model {code} {stdout:?} {stderr:?}",
                ours.status.code()
            ));
        }
        if real.is_file() {
            let theirs = Command::new(real)
                .current_dir(&work)
                .env("PERLIO", "perlio")
                .args(args)
                .output()
                .unwrap();
            if theirs.status.code() != ours.status.code() || theirs.stdout != ours.stdout {
                mismatches.push(format!(
                    "{args:?}: ours {:?} {our_stdout:?}; ldirectord {:?} {:?}",
                    ours.status.code(),
                    theirs.status.code(),
                    String::from_utf8_lossy(&theirs.stdout)
                ));
            }
        }
    }
    let _ = fs::remove_dir_all(&work);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
