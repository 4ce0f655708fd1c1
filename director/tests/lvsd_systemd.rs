//! `lvsd` under a fake systemd: the `sd_notify` messages on a datagram
//! socket standing for `$NOTIFY_SOCKET` (their order around the start, a
//! reload taken, a reload refused and the stop; the watchdog), journald's
//! priority prefixes when standard error is `$JOURNAL_STREAM`, and the
//! variables kept from the scripts lvsd runs. The binary runs with
//! `--dry-run` (the in-memory table). Every wait is bounded; nothing is
//! timed.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Upper bound of every wait.
const BOUND: Duration = Duration::from_secs(30);

fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "lvsd-sd-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// One virtual server with a real server on 127.0.0.1:`port` checked by a
/// fast TCP_CHECK, and `extra` lines in the real server.
fn config(addr: &str, ports: &[u16], extra: &str) -> String {
    let mut s = format!(
        "virtual_server {addr} 80 {{\n    lb_algo wrr\n    lb_kind NAT\n    protocol TCP\n"
    );
    for p in ports {
        s += &format!(
            "    real_server 127.0.0.1 {p} {{\n        weight 1\n        {extra}\n        TCP_CHECK {{\n            connect_timeout 2\n            retry 0\n            delay_before_retry 0.1\n            delay_loop 0.1\n            warmup 0\n        }}\n    }}\n"
        );
    }
    s + "}\n"
}

/// The child, killed if the test fails before it stops.
struct Lvsd(Option<Child>);

impl Lvsd {
    fn spawn(conf: &Path, env: &[(&str, String)], stderr: Stdio) -> Lvsd {
        let mut c = Command::new(env!("CARGO_BIN_EXE_lvsd"));
        c.args([
            "--dry-run",
            "--control",
            "none",
            "-f",
            conf.to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .env_remove("JOURNAL_STREAM");
        for (k, v) in env {
            c.env(k, v);
        }
        Lvsd(Some(c.spawn().unwrap()))
    }

    fn signal(&self, sig: i32) {
        let pid = self.0.as_ref().unwrap().id();
        // SAFETY: kill(2) on our own child, not yet waited for.
        assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        let mut c = self.0.take().unwrap();
        let end = Instant::now() + BOUND;
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s;
            }
            if Instant::now() > end {
                let _ = c.kill();
                panic!("lvsd did not stop");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Lvsd {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The fake `$NOTIFY_SOCKET`: every datagram received, in order.
struct Socket {
    sock: UnixDatagram,
    got: Vec<String>,
}

impl Socket {
    fn bind(path: &Path) -> Socket {
        let sock = UnixDatagram::bind(path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Socket {
            sock,
            got: Vec::new(),
        }
    }

    /// Receives until a message satisfies `hit`; returns its index in `got`.
    fn until(&mut self, what: &str, hit: impl Fn(&str) -> bool) -> usize {
        let end = Instant::now() + BOUND;
        let mut buf = vec![0u8; 4096];
        while Instant::now() < end {
            match self.sock.recv(&mut buf) {
                Ok(n) => {
                    let m = String::from_utf8(buf[..n].to_vec()).unwrap();
                    let h = hit(&m);
                    self.got.push(m);
                    if h {
                        return self.got.len() - 1;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("{e}"),
            }
        }
        panic!("no message {what}; got {:#?}", self.got)
    }
}

fn has(m: &str, line: &str) -> bool {
    m.lines().any(|l| l == line)
}

/// The value of `KEY=` in a message.
fn value<'a>(m: &'a str, key: &str) -> Option<&'a str> {
    m.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
}

fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

#[test]
fn notifications_in_order_with_watchdog_and_journal_priorities() {
    let dir = temp_dir("notify");
    let conf = dir.join("k.conf");
    // Port 1 on loopback refuses: its real server goes down at once.
    std::fs::write(&conf, config("192.0.2.40", &[1], "")).unwrap();
    let sock_path = dir.join("notify.sock");
    let mut sock = Socket::bind(&sock_path);
    // Standard error to a file that JOURNAL_STREAM names.
    let log_path = dir.join("stderr");
    let log = std::fs::File::create(&log_path).unwrap();
    let meta = log.metadata().unwrap();
    let journal = format!("{}:{}", meta.dev(), meta.ino());
    let mut lvsd = Lvsd::spawn(
        &conf,
        &[
            ("NOTIFY_SOCKET", sock_path.to_str().unwrap().to_string()),
            ("WATCHDOG_USEC", "200000".into()),
            ("JOURNAL_STREAM", journal),
        ],
        Stdio::from(log),
    );

    // Start: a status, then READY=1 with the counts.
    let ready = sock.until("READY=1", |m| has(m, "READY=1"));
    let m = sock.got[ready].clone();
    assert_eq!(
        value(&m, "STATUS"),
        Some("running: 1 services, 1 real servers, 1 checks"),
        "{m:?}"
    );
    assert!(
        sock.got[..ready]
            .iter()
            .all(|m| !has(m, "READY=1") && !has(m, "RELOADING=1") && !has(m, "STOPPING=1")),
        "{:#?}",
        sock.got
    );
    // The last state change in the status: the real server on port 1 down.
    // (It may come before READY=1: the loop can see the check's result
    // before the start's notes are all logged.)
    let down = |m: &str| {
        value(m, "STATUS").is_some_and(|s| {
            s.starts_with("running: 1 services, 1 real servers, 1 checks; last: real server 127.0.0.1:1 of tcp:192.0.2.40:80 is down: TCP_CHECK")
        })
    };
    if !sock.got.iter().any(|m| down(m)) {
        sock.until("a STATUS with the health event", down);
    }
    // The watchdog (WATCHDOG_USEC without WATCHDOG_PID): pings come.
    sock.until("WATCHDOG=1", |m| m == "WATCHDOG=1");

    // A reload taken: RELOADING=1 (with MONOTONIC_USEC), then READY=1.
    std::fs::write(&conf, config("192.0.2.40", &[1, 2], "")).unwrap();
    let before = monotonic_usec();
    lvsd.signal(libc::SIGHUP);
    let r = sock.until("RELOADING=1", |m| has(m, "RELOADING=1"));
    let m = sock.got[r].clone();
    let usec: u64 = value(&m, "MONOTONIC_USEC")
        .expect("MONOTONIC_USEC")
        .parse()
        .unwrap();
    assert!(
        usec >= before && usec <= monotonic_usec(),
        "MONOTONIC_USEC={usec} not from CLOCK_MONOTONIC"
    );
    let ready = sock.until("READY=1 after the reload", |m| has(m, "READY=1"));
    assert_eq!(
        value(&sock.got[ready], "STATUS"),
        Some("running (reloaded): 1 services, 2 real servers, 2 checks")
    );
    assert!(sock.got[r + 1..ready]
        .iter()
        .all(|m| !has(m, "RELOADING=1")));

    // A reload refused: RELOADING=1, then READY=1 saying so.
    std::fs::write(&conf, "virtual_server {\n").unwrap();
    lvsd.signal(libc::SIGHUP);
    let r = sock.until("RELOADING=1", |m| has(m, "RELOADING=1"));
    let ready = sock.until("READY=1 after the refused reload", |m| has(m, "READY=1"));
    assert!(r < ready);
    let status = value(&sock.got[ready], "STATUS").unwrap();
    assert!(
        status.contains("the last reload was refused: reload: refused, nothing changed"),
        "{status}"
    );

    // The watchdog still pings after the reloads.
    sock.until("WATCHDOG=1", |m| m == "WATCHDOG=1");

    // Stop: STOPPING=1, exit 0.
    lvsd.signal(libc::SIGTERM);
    sock.until("STOPPING=1", |m| has(m, "STOPPING=1"));
    let status = lvsd.wait();
    assert!(status.success(), "{status:?}");
    let after_stop = sock.got.iter().rposition(|m| has(m, "STOPPING=1")).unwrap();
    assert!(sock.got[after_stop..]
        .iter()
        .all(|m| !has(m, "READY=1") && !has(m, "RELOADING=1")));

    // The journal: every line has a priority, none the "lvsd: " prefix.
    let mut text = String::new();
    std::fs::File::open(&log_path)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    for l in text.lines() {
        assert!(
            ["<3>", "<4>", "<5>", "<6>"]
                .iter()
                .any(|p| l.starts_with(p)),
            "line without a priority: {l:?}\n{text}"
        );
    }
    for want in [
        "<5>started: 1 services",
        "<5>real server 127.0.0.1:1 of tcp:192.0.2.40:80 is down",
        "<5>reload: ok: 1 services, 2 real servers",
        "<3>reload: refused, nothing changed",
        "<5>stopped",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(want)),
            "no line {want:?}:\n{text}"
        );
    }
}

/// An abstract socket (`@name`), no watchdog asked for (and one for
/// another process): no WATCHDOG=1; scripts do not inherit the variables.
#[test]
fn abstract_socket_and_no_watchdog_for_another_pid() {
    use std::os::linux::net::SocketAddrExt;
    let dir = temp_dir("abstract");
    let env_out = dir.join("env.txt");
    let script = dir.join("down.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nenv > {}.tmp\nmv {0}.tmp {0}\n",
            env_out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let conf = dir.join("k.conf");
    std::fs::write(
        &conf,
        config(
            "192.0.2.41",
            &[1],
            &format!("notify_down {}", script.display()),
        ),
    )
    .unwrap();
    let name = format!("lvsd-sd-test-{}", std::process::id());
    let sock = UnixDatagram::bind_addr(
        &std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap(),
    )
    .unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut sock = Socket {
        sock,
        got: Vec::new(),
    };
    let mut lvsd = Lvsd::spawn(
        &conf,
        &[
            ("NOTIFY_SOCKET", format!("@{name}")),
            ("WATCHDOG_USEC", "100000".into()),
            // Not lvsd's pid (1 is init): no watchdog for lvsd.
            ("WATCHDOG_PID", "1".into()),
        ],
        Stdio::null(),
    );
    sock.until("READY=1", |m| has(m, "READY=1"));
    // The notify_down script ran (port 1 refuses) and wrote its environment.
    let end = Instant::now() + BOUND;
    while !env_out.exists() {
        assert!(Instant::now() < end, "the notify_down script did not run");
        std::thread::sleep(Duration::from_millis(20));
    }
    let env = std::fs::read_to_string(&env_out).unwrap();
    assert!(env.lines().any(|l| l.starts_with("PATH=")), "{env}");
    for v in ["NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID="] {
        assert!(!env.lines().any(|l| l.starts_with(v)), "{v} in {env}");
    }
    lvsd.signal(libc::SIGTERM);
    sock.until("STOPPING=1", |m| has(m, "STOPPING=1"));
    assert!(lvsd.wait().success());
    assert!(
        !sock.got.iter().any(|m| has(m, "WATCHDOG=1")),
        "{:#?}",
        sock.got
    );
}

/// The heartbeat the watchdog reads: the daemon's loop advances it at every
/// turn, so a probe (a reconcile asked for) makes it advance; a loop that
/// is not running leaves it still.
#[tokio::test(flavor = "current_thread")]
async fn the_loop_beats_the_heartbeat_when_probed() {
    use ipvs_director::director::{Control, Director, Options};
    use ipvs_director::kernel::MemoryKernel;
    use ipvs_director::systemd::{Heartbeat, WatchdogAction, WatchdogState};

    let parsed = ipvs_director::keepalived::parse_str(
        "virtual_server 192.0.2.42 80 {\n    lb_kind NAT\n    protocol TCP\n    real_server 127.0.0.1 1 {\n        weight 1\n    }\n}\n",
        "k.conf",
    )
    .unwrap();
    let hb = Heartbeat::new();
    let options = Options {
        heartbeat: Some(hb.clone()),
        reconcile_interval: Duration::from_secs(3600),
        retry_interval: Duration::from_secs(3600),
        ..Options::default()
    };
    let (director, _notes) =
        Director::start(MemoryKernel::new(), &parsed.config, None, options).unwrap();
    let mut watch = WatchdogState::new(&hb);
    // Not running yet: nothing beats; the watchdog probes, then stays silent.
    assert_eq!(watch.tick(&hb), WatchdogAction::Probe);
    assert_eq!(watch.tick(&hb), WatchdogAction::Silent);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(director.run(rx));
    for _ in 0..3 {
        let before = hb.get();
        tx.send(Control::Reconcile).unwrap();
        let end = Instant::now() + BOUND;
        while hb.get() == before {
            assert!(Instant::now() < end, "the loop did not turn");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(watch.tick(&hb), WatchdogAction::Ping);
    }
    tx.send(Control::Stop).unwrap();
    task.await.unwrap();
}
