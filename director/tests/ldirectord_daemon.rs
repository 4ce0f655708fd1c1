//! The ldirectord front end on the daemon's engine: the model an
//! `ldirectord.cf` builds (the same `desired::Model` as keepalived's), the
//! Director running it on the host with real connect checks against
//! loopback listeners and the in-memory kernel, and the `ldirectord` binary
//! (start as a daemon with its pid file, status, reload, autoreload, stop)
//! with `LDIRECTORD_DRY_RUN=1`. Every wait is bounded; no timing is asserted.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ipvs::plan::Table;
use ipvs::ServiceKey;
use ipvs_director::check::CheckKind;
use ipvs_director::desired::Model;
use ipvs_director::director::{Control, Director, Loader, Note, Options};
use ipvs_director::keepalived::FlushOnStop;
use ipvs_director::kernel::MemoryKernel;
use ipvs_director::ldirectord::{self, daemon};
use tokio::net::TcpListener;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

const BOUND: Duration = Duration::from_secs(30);

fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "ld-daemon-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn model_of(text: &str, dir: &Path) -> Result<Model, Vec<String>> {
    let path = dir.join("ld.cf");
    std::fs::write(&path, text).unwrap();
    let parsed = ldirectord::parse_file(&path).unwrap_or_else(|e| panic!("{e}"));
    daemon::build_model(&parsed.config, &path)
}

#[test]
fn the_model_carries_ldirectord_semantics() {
    let dir = temp_dir("model");
    let maint = dir.join("maint");
    std::fs::create_dir_all(&maint).unwrap();
    let text = format!(
        "checkinterval=2
checktimeout=4
failurecount=3
quiescent=yes
maintenancedir={}

virtual=192.0.2.1:80
\treal=198.51.100.1:8080 masq 5
\treal=198.51.100.2 gate 2
\tfallback=198.51.100.9:8080 masq
\tchecktype=connect

virtual=192.0.2.2:25
\treal=198.51.100.1:25 masq
\tquiescent=no
\tcleanstop=no
\tchecktype=on
",
        maint.display()
    );
    let m = model_of(&text, &dir).unwrap();
    assert_eq!(m.virtual_servers.len(), 2);
    let web = &m.virtual_servers[0];
    assert_eq!(web.services[0].key, "tcp:192.0.2.1:80".parse().unwrap());
    assert_eq!(web.services[0].scheduler, "wrr");
    assert_eq!(
        (web.quorum, web.hysteresis, web.keep_on_stop),
        (1, 0, false)
    );
    let sorry = web
        .sorry
        .as_ref()
        .expect("the fallback is the sorry server");
    assert_eq!(
        (
            sorry.destination.port,
            sorry.destination.weight,
            sorry.inhibit
        ),
        (8080, 1, false)
    );
    let r1 = &web.real_servers[0];
    assert!(r1.server.inhibit_on_failure, "quiescent=yes is weight 0");
    assert_eq!(r1.server.destination.weight, 5);
    // The connect check, then the maintenance check.
    assert_eq!(r1.checks.len(), 2);
    let (_, connect) = &r1.checks[0];
    assert_eq!(connect.kind, CheckKind::Tcp);
    assert_eq!(connect.target, "198.51.100.1:8080".parse().unwrap());
    assert_eq!(connect.timing.delay_loop, Duration::from_secs(2));
    assert_eq!(connect.timing.connect_timeout, Duration::from_secs(4));
    assert_eq!(connect.timing.retry, 2, "failurecount 3 = 2 retries");
    assert!(connect.timing.alpha, "down until checked");
    let (_, maintenance) = &r1.checks[1];
    assert_eq!(
        maintenance.kind,
        CheckKind::Maintenance(vec![
            maint.join("198.51.100.1:8080"),
            maint.join("198.51.100.1")
        ])
    );
    // A gate real server takes the virtual port; its maintenance file the same.
    let r2 = &web.real_servers[1];
    assert_eq!(r2.server.destination.port, 80);
    assert_eq!(
        r2.checks[1].1.kind,
        CheckKind::Maintenance(vec![
            maint.join("198.51.100.2:80"),
            maint.join("198.51.100.2")
        ])
    );
    let mail = &m.virtual_servers[1];
    assert!(!mail.real_servers[0].server.inhibit_on_failure);
    assert!(mail.keep_on_stop, "cleanstop=no keeps the service at stop");
    // checktype=on: no probe, only the maintenance check.
    assert_eq!(mail.real_servers[0].checks.len(), 1);
    assert_eq!(m.global.lvs_flush_on_stop, FlushOnStop::VirtualServers);

    // Nothing cleans at stop: no flush on stop at all.
    let m = model_of(
        "cleanstop=no\nvirtual=192.0.2.1:80\n\treal=198.51.100.1:80 masq\n\tchecktype=off\n",
        &dir,
    )
    .unwrap();
    assert_eq!(m.global.lvs_flush_on_stop, FlushOnStop::No);
    assert_eq!(
        m.virtual_servers[0].real_servers[0].checks[0].1.kind,
        CheckKind::Off
    );
}

#[test]
fn checks_lvsd_cannot_run_are_refused_naming_the_service() {
    let dir = temp_dir("refused");
    for (service, port) in [("mysql", 3306), ("pgsql", 5432), ("oracle", 1521)] {
        let text = format!(
            "virtual=192.0.2.1:{port}\n\treal=198.51.100.1:{port} masq\n\tservice={service}\n\tchecktype=negotiate\n\tlogin=\"u\"\n\tpasswd=\"p\"\n\tdatabase=\"d\"\n\trequest=\"SELECT 1\"\n\tsecret=\"s\"\n"
        );
        let errors = model_of(&text, &dir).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains(&format!("service={service}")),
            "{}",
            errors[0]
        );
        assert!(
            errors[0].contains(":2: real: 198.51.100.1"),
            "{}",
            errors[0]
        );
    }
}

/// A TCP listener on 127.0.0.1 that can be closed and reopened.
struct Listener {
    port: u16,
    task: Option<JoinHandle<()>>,
}

impl Listener {
    async fn new() -> Listener {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let mut me = Listener { port, task: None };
        me.serve(l);
        me
    }

    fn serve(&mut self, l: TcpListener) {
        self.task = Some(tokio::spawn(async move {
            loop {
                if let Ok((s, _)) = l.accept().await {
                    drop(s);
                }
            }
        }));
    }

    async fn close(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }

    async fn open(&mut self) {
        if self.task.is_none() {
            let l = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
            self.serve(l);
        }
    }
}

fn weight(t: &Table, addr: &str, port: u16) -> Option<i32> {
    let a: IpAddr = addr.parse().unwrap();
    t.service(&"tcp:192.0.2.1:80".parse::<ServiceKey>().unwrap())?
        .destinations
        .iter()
        .find(|d| d.addr == a && d.port == port)
        .map(|d| d.weight)
}

struct Rig {
    kernel: MemoryKernel,
    notes: UnboundedReceiver<Note>,
    seen: Vec<Note>,
    control: UnboundedSender<Control>,
    task: JoinHandle<()>,
}

fn loader(path: PathBuf) -> Loader {
    Box::new(move || {
        let parsed = ldirectord::parse_file(&path)
            .map_err(|r| r.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
        Ok((daemon::build_model(&parsed.config, &path)?, Vec::new()))
    })
}

impl Rig {
    fn start(path: &Path, kernel: MemoryKernel) -> Rig {
        let parsed = ldirectord::parse_file(path).unwrap_or_else(|e| panic!("{e}"));
        let model = daemon::build_model(&parsed.config, path).unwrap();
        let options = Options {
            reconcile_interval: Duration::from_secs(3600),
            retry_interval: Duration::from_secs(3600),
            drain_poll: Duration::from_millis(50),
            ..Options::default()
        };
        let (d, notes) = Director::start_model(
            kernel.clone(),
            model,
            Some(loader(path.to_path_buf())),
            options,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let (control, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(d.run(rx));
        Rig {
            kernel,
            notes,
            seen: Vec::new(),
            control,
            task,
        }
    }

    async fn table(&mut self, what: &str, f: impl Fn(&Table) -> bool) -> Table {
        let r = tokio::time::timeout(BOUND, async {
            loop {
                let t = self.kernel.table();
                if f(&t) {
                    return t;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        while let Ok(n) = self.notes.try_recv() {
            self.seen.push(n);
        }
        r.unwrap_or_else(|_| {
            panic!(
                "table never {what}; table: {:#?}; notes: {:#?}",
                self.kernel.table(),
                self.seen
            )
        })
    }

    async fn stop(mut self) -> Vec<Note> {
        self.control.send(Control::Stop).unwrap();
        tokio::time::timeout(BOUND, &mut self.task)
            .await
            .expect("director did not stop")
            .unwrap();
        while let Ok(n) = self.notes.try_recv() {
            self.seen.push(n);
        }
        self.seen
    }
}

fn web_conf(a: u16, b: u16, quiescent: &str, maint: &Path, wb: u32, cleanstop: &str) -> String {
    format!(
        "checkinterval=1
checktimeout=2
quiescent={quiescent}
cleanstop={cleanstop}
maintenancedir={}

virtual=192.0.2.1:80
\treal=127.0.0.1:{a} masq 3
\treal=127.0.0.1:{b} masq {wb}
\tfallback=127.0.0.2:8080 masq
\tchecktype=connect
",
        maint.display()
    )
}

#[tokio::test(flavor = "current_thread")]
async fn quiescent_fallback_maintenance_reload_and_cleanstop() {
    let dir = temp_dir("quiescent");
    let maint = dir.join("maint");
    std::fs::create_dir_all(&maint).unwrap();
    let mut a = Listener::new().await;
    let mut b = Listener::new().await;
    let path = dir.join("ld.cf");
    std::fs::write(&path, web_conf(a.port, b.port, "yes", &maint, 1, "yes")).unwrap();
    let mut rig = Rig::start(&path, MemoryKernel::new());
    let fb = ("127.0.0.2", 8080);
    rig.table("with both at their weights, no fallback", |t| {
        weight(t, "127.0.0.1", a.port) == Some(3)
            && weight(t, "127.0.0.1", b.port) == Some(1)
            && weight(t, fb.0, fb.1).is_none()
    })
    .await;

    a.close().await;
    rig.table("with A quiescent (weight 0)", |t| {
        weight(t, "127.0.0.1", a.port) == Some(0) && weight(t, "127.0.0.1", b.port) == Some(1)
    })
    .await;
    b.close().await;
    rig.table("with the fallback in, A and B at 0", |t| {
        weight(t, "127.0.0.1", a.port) == Some(0)
            && weight(t, "127.0.0.1", b.port) == Some(0)
            && weight(t, fb.0, fb.1) == Some(1)
    })
    .await;
    a.open().await;
    rig.table("with A back and the fallback out", |t| {
        weight(t, "127.0.0.1", a.port) == Some(3) && weight(t, fb.0, fb.1).is_none()
    })
    .await;
    b.open().await;
    rig.table("with B back", |t| weight(t, "127.0.0.1", b.port) == Some(1))
        .await;

    // A maintenance file named RIP:RPORT takes only that real server out.
    let f = maint.join(format!("127.0.0.1:{}", a.port));
    std::fs::write(&f, "").unwrap();
    rig.table("with A in maintenance", |t| {
        weight(t, "127.0.0.1", a.port) == Some(0) && weight(t, "127.0.0.1", b.port) == Some(1)
    })
    .await;
    std::fs::remove_file(&f).unwrap();
    rig.table("with A out of maintenance", |t| {
        weight(t, "127.0.0.1", a.port) == Some(3)
    })
    .await;
    // A file named RIP takes every port of that address out.
    let f = maint.join("127.0.0.1");
    std::fs::write(&f, "").unwrap();
    rig.table("with both in maintenance and the fallback in", |t| {
        weight(t, "127.0.0.1", a.port) == Some(0)
            && weight(t, "127.0.0.1", b.port) == Some(0)
            && weight(t, fb.0, fb.1) == Some(1)
    })
    .await;
    std::fs::remove_file(&f).unwrap();
    rig.table("with both back", |t| {
        weight(t, "127.0.0.1", a.port) == Some(3) && weight(t, "127.0.0.1", b.port) == Some(1)
    })
    .await;

    // A reload through the ldirectord loader.
    std::fs::write(&path, web_conf(a.port, b.port, "yes", &maint, 4, "yes")).unwrap();
    rig.control.send(Control::Reload).unwrap();
    rig.table("with B at its new weight", |t| {
        weight(t, "127.0.0.1", b.port) == Some(4)
    })
    .await;

    let kernel = rig.kernel.clone();
    let notes = rig.stop().await;
    assert!(
        kernel.table().services().is_empty(),
        "cleanstop=yes deletes the virtual service: {:#?}",
        kernel.table()
    );
    assert!(notes.iter().any(|n| matches!(n, Note::Reloaded { .. })));
    assert!(!notes.iter().any(|n| matches!(n, Note::ChangeFailed { .. })));
}

#[tokio::test(flavor = "current_thread")]
async fn not_quiescent_deletes_and_cleanstop_no_keeps_the_table() {
    let dir = temp_dir("remove");
    let maint = dir.join("maint");
    std::fs::create_dir_all(&maint).unwrap();
    let mut a = Listener::new().await;
    let b = Listener::new().await;
    let path = dir.join("ld.cf");
    std::fs::write(&path, web_conf(a.port, b.port, "no", &maint, 1, "no")).unwrap();
    let mut rig = Rig::start(&path, MemoryKernel::new());
    rig.table("with both", |t| {
        weight(t, "127.0.0.1", a.port) == Some(3) && weight(t, "127.0.0.1", b.port) == Some(1)
    })
    .await;
    a.close().await;
    rig.table("without A", |t| {
        weight(t, "127.0.0.1", a.port).is_none() && weight(t, "127.0.0.1", b.port) == Some(1)
    })
    .await;
    a.open().await;
    rig.table("with A back", |t| weight(t, "127.0.0.1", a.port) == Some(3))
        .await;
    let kernel = rig.kernel.clone();
    rig.stop().await;
    let t = kernel.table();
    assert_eq!(
        weight(&t, "127.0.0.1", a.port),
        Some(3),
        "cleanstop=no: {t:#?}"
    );
    assert_eq!(weight(&t, "127.0.0.1", b.port), Some(1));
    drop(b);
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ldirectord"));
    c.env("LDIRECTORD_DRY_RUN", "1");
    c
}

fn wait_for(what: &str, f: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < BOUND, "never {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_binary_starts_a_daemon_and_acts_on_its_pid_file() {
    let dir = temp_dir("binary");
    let run = dir.join("run");
    std::fs::create_dir_all(&run).unwrap();
    let log = dir.join("ld.log");
    let conf = dir.join("web.cf");
    // `execute`: another configuration started and stopped with this one.
    let other = dir.join("other.cf");
    std::fs::write(
        &other,
        format!(
            "logfile=\"{}\"\nvirtual=192.0.2.2:25\n\treal=198.51.100.2:25 masq\n\tchecktype=on\n",
            dir.join("other.log").display()
        ),
    )
    .unwrap();
    let text = |w: u32| {
        format!(
            "logfile=\"{}\"\ncheckinterval=1\nautoreload=yes\nexecute={}\n\nvirtual=192.0.2.1:80\n\treal=198.51.100.1:80 masq {w}\n\tchecktype=on\n",
            log.display(),
            other.display()
        )
    };
    std::fs::write(&conf, text(1)).unwrap();
    let c = conf.to_str().unwrap();
    let out = |args: &[&str]| {
        let o = bin()
            .env("LDIRECTORD_RUNDIR", &run)
            .args(args)
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let logged = |s: &str| {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains(s)
    };
    let pid_file = run.join("ldirectord.web.cf.pid");
    let other_pid_file = run.join("ldirectord.other.cf.pid");

    let (code, stdout, _) = out(&[c, "status"]);
    assert_eq!(
        (code, stdout.as_str()),
        (3, format!("ldirectord is stopped for {c}\n").as_str())
    );

    // start: the parent returns at once; the daemon writes its pid file.
    let (code, _, _) = out(&[c, "start"]);
    assert_eq!(code, 0);
    wait_for("a pid file", || pid_file.exists());
    wait_for("the daemon started", || logged("lvsd: started: 1 services"));
    wait_for("the executed configuration's daemon", || {
        other_pid_file.exists()
    });
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    let (code, _, stderr) = out(&[c, "status"]);
    assert_eq!(code, 0);
    assert_eq!(
        stderr,
        format!("ldirectord for {c} is running with pid: {pid}\n")
    );
    // A second start does nothing.
    assert_eq!(out(&[c, "start"]).0, 0);

    // reload: SIGHUP to the daemon.
    assert_eq!(out(&[c, "reload"]).0, 0);
    wait_for("a reload", || logged("lvsd: reload: ok"));
    // autoreload: the file's change is noticed within a checkinterval or two.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(&conf, text(5)).unwrap();
    wait_for("the change noticed", || logged("has changed on disk"));
    wait_for("the new weight applied", || logged("Masq weight 5"));

    // stop: SIGTERM; cleanstop=yes deletes the service; the pid file goes.
    assert_eq!(out(&[c, "stop"]).0, 0);
    wait_for("the pid file removed", || !pid_file.exists());
    wait_for("the executed configuration stopped", || {
        !other_pid_file.exists()
    });
    wait_for("the daemon gone", || {
        !Path::new(&format!("/proc/{pid}/cmdline")).exists()
            || std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| c.is_empty())
                .unwrap_or(true)
    });
    assert!(
        logged("- service tcp:192.0.2.1:80"),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert!(logged("lvsd: stopped"));
    assert_eq!(out(&[c, "status"]).0, 3);
    // With no daemon, reload exits 1 as ldirectord's does.
    assert_eq!(out(&[c, "reload"]).0, 1);
}

#[test]
fn the_binary_refuses_a_bad_configuration_as_ldirectord() {
    let dir = temp_dir("bad");
    let conf = dir.join("bad.cf");
    std::fs::write(
        &conf,
        "virtual=192.0.2.1:80\n\treal=198.51.100.1:80 masq\n\tscheduler=\n",
    )
    .unwrap();
    let o = bin()
        .env("LDIRECTORD_RUNDIR", &dir)
        .args(["-d", conf.to_str().unwrap(), "start"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&format!("reading file {} at line 3", conf.display())),
        "{stderr}"
    );
    // A service lvsd cannot check: refused at start, exit 2, the service named.
    std::fs::write(
        &conf,
        "virtual=192.0.2.1:3306\n\treal=198.51.100.1:3306 masq\n\tservice=mysql\n\tchecktype=negotiate\n",
    )
    .unwrap();
    let o = bin()
        .env("LDIRECTORD_RUNDIR", &dir)
        .args(["-d", conf.to_str().unwrap(), "start"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("service=mysql"));
}
