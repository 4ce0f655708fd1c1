//! The daemon on the host: real checks against loopback listeners, the
//! kernel replaced by the in-memory table (`MemoryKernel`). Every wait is
//! bounded; assertions are on outcomes (table contents, notes, counts),
//! never on durations.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ipvs::plan::Table;
use ipvs::{Change, Destination, ForwardMethod, Service, ServiceKey};
use ipvs_director::desired::Model;
use ipvs_director::director::{Control, Director, DrainEnd, Note, Options};
use ipvs_director::health::Transition;
use ipvs_director::keepalived;
use ipvs_director::kernel::MemoryKernel;
use tokio::net::TcpListener;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

/// Upper bound of every wait.
const BOUND: Duration = Duration::from_secs(30);

/// A TCP listener on 127.0.0.1 that accepts and drops, and can be closed
/// and reopened on the same port.
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

    /// A port nobody listens on (bound, then closed).
    async fn closed() -> Listener {
        let mut l = Listener::new().await;
        l.close().await;
        l
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

fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "lvsd-test-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A real server block with a fast TCP_CHECK.
fn rs(port: u16, extra: &str) -> String {
    format!(
        "    real_server 127.0.0.1 {port} {{
        weight 2
        {extra}
        TCP_CHECK {{
            connect_timeout 2
            retry 0
            delay_before_retry 0.1
            delay_loop 0.1
            warmup 0
        }}
    }}
"
    )
}

fn vs(addr: &str, port: u16, body: &str) -> String {
    format!(
        "virtual_server {addr} {port} {{
    lb_algo wrr
    lb_kind NAT
    protocol TCP
{body}}}
"
    )
}

fn key(s: &str) -> ServiceKey {
    s.parse().unwrap()
}

fn lo(port: u16) -> (IpAddr, u16) {
    ("127.0.0.1".parse().unwrap(), port)
}

/// The weight of a real server in the table, if present.
fn weight(t: &Table, svc: &str, port: u16) -> Option<i32> {
    let (a, p) = lo(port);
    t.service(&key(svc))?
        .destinations
        .iter()
        .find(|d| d.addr == a && d.port == p)
        .map(|d| d.weight)
}

struct Rig {
    kernel: MemoryKernel,
    notes: UnboundedReceiver<Note>,
    seen: Vec<Note>,
    cursor: usize,
    control: UnboundedSender<Control>,
    task: JoinHandle<()>,
    path: PathBuf,
}

fn options() -> Options {
    Options {
        reconcile_interval: Duration::from_secs(3600),
        retry_interval: Duration::from_secs(3600),
        drain_poll: Duration::from_millis(50),
        ..Options::default()
    }
}

impl Rig {
    async fn start(dir: &Path, conf: &str, kernel: MemoryKernel) -> Rig {
        let path = dir.join("keepalived.conf");
        std::fs::write(&path, conf).unwrap();
        let parsed = keepalived::parse_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let (d, notes) = Director::start(
            kernel.clone(),
            &parsed.config,
            Some(path.clone()),
            options(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let (control, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(d.run(rx));
        Rig {
            kernel,
            notes,
            seen: Vec::new(),
            cursor: 0,
            control,
            task,
            path,
        }
    }

    /// Waits for a note matching `f`, after the last one matched (notes are
    /// kept in `seen`).
    async fn wait(&mut self, what: &str, f: impl Fn(&Note) -> bool) -> Note {
        self.drain();
        if let Some(i) = self.seen[self.cursor..].iter().position(&f) {
            self.cursor += i + 1;
            return self.seen[self.cursor - 1].clone();
        }
        self.cursor = self.seen.len();
        let r = tokio::time::timeout(BOUND, async {
            loop {
                let n = self.notes.recv().await.expect("director stopped");
                self.seen.push(n.clone());
                self.cursor = self.seen.len();
                if f(&n) {
                    return n;
                }
            }
        })
        .await;
        r.unwrap_or_else(|_| panic!("no note {what} within {BOUND:?}; seen: {:#?}", self.seen))
    }

    /// Forgets the notes sent so far: [`Rig::wait`] looks at later ones.
    fn skip(&mut self) {
        self.drain();
        self.cursor = self.seen.len();
    }

    /// Waits until the kernel table satisfies `f`.
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
        self.drain();
        r.unwrap_or_else(|_| {
            panic!(
                "table never {what}; table: {:#?}; notes: {:#?}",
                self.kernel.table(),
                self.seen
            )
        })
    }

    /// Moves the notes sent so far into `seen`.
    fn drain(&mut self) {
        while let Ok(n) = self.notes.try_recv() {
            self.seen.push(n);
        }
    }

    fn send(&self, c: Control) {
        self.control.send(c).unwrap();
    }

    async fn stop(mut self) -> Vec<Note> {
        self.send(Control::Stop);
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

#[tokio::test(flavor = "current_thread")]
async fn servers_go_down_removed_or_inhibited_and_come_back() {
    let dir = temp_dir("down-up");
    let mut a = Listener::new().await;
    let mut b = Listener::new().await;
    let conf = vs(
        "192.0.2.1",
        80,
        &(rs(a.port, "") + &rs(b.port, "inhibit_on_failure")),
    );
    let mut rig = Rig::start(&dir, &conf, MemoryKernel::new()).await;
    let svc = "tcp:192.0.2.1:80";
    let t = rig.kernel.table();
    assert_eq!(weight(&t, svc, a.port), Some(2));
    assert_eq!(weight(&t, svc, b.port), Some(2));
    assert_eq!(t.service(&key(svc)).unwrap().service.scheduler, "wrr");

    a.close().await;
    let n = rig
        .wait(
            "A down",
            |n| matches!(n, Note::Health(Transition::Down { rs, .. }) if rs.port == a.port),
        )
        .await;
    let Note::Health(Transition::Down { check, reason, .. }) = &n else {
        unreachable!()
    };
    assert!(check.starts_with("TCP_CHECK"), "{check}");
    assert_eq!(reason, "connection refused");
    assert!(n.to_string().contains("is down: TCP_CHECK"), "{n}");
    rig.table("without A", |t| weight(t, svc, a.port).is_none())
        .await;
    assert_eq!(weight(&rig.kernel.table(), svc, b.port), Some(2));

    b.close().await;
    rig.table("with B inhibited", |t| weight(t, svc, b.port) == Some(0))
        .await;

    a.open().await;
    rig.wait(
        "A up",
        |n| matches!(n, Note::Health(Transition::Up { rs, .. }) if rs.port == a.port),
    )
    .await;
    rig.table("with A back", |t| weight(t, svc, a.port) == Some(2))
        .await;
    b.open().await;
    rig.table("with B at its weight", |t| {
        weight(t, svc, b.port) == Some(2)
    })
    .await;
    let notes = rig.stop().await;
    // Every change went through, none failed.
    assert!(!notes.iter().any(|n| matches!(n, Note::ChangeFailed { .. })));
}

#[tokio::test(flavor = "current_thread")]
async fn all_down_brings_the_sorry_server_and_quorum_scripts() {
    let dir = temp_dir("sorry");
    let mut a = Listener::new().await;
    let mut b = Listener::new().await;
    let down = dir.join("quorum-down");
    let up = dir.join("quorum-up");
    let body = format!(
        "    quorum 2
    hysteresis 1
    sorry_server 127.0.0.1 9
    sorry_server_inhibit
    quorum_down \"/usr/bin/touch {}\"
    quorum_up \"/usr/bin/touch {}\"
{}{}",
        down.display(),
        up.display(),
        rs(a.port, ""),
        rs(b.port, "")
    );
    let conf = format!(
        "global_defs {{\n    enable_script_security\n}}\n{}",
        vs("192.0.2.2", 80, &body)
    );
    let mut rig = Rig::start(&dir, &conf, MemoryKernel::new()).await;
    let svc = "tcp:192.0.2.2:80";
    // Quorum held: the inhibited sorry server waits at weight 0.
    let t = rig.kernel.table();
    assert_eq!(weight(&t, svc, 9), Some(0));
    assert_eq!(weight(&t, svc, a.port), Some(2));

    // Live weight 2 of 4: not below quorum - hysteresis = 1.
    a.close().await;
    rig.table("without A", |t| weight(t, svc, a.port).is_none())
        .await;
    assert_eq!(weight(&rig.kernel.table(), svc, 9), Some(0));
    b.close().await;
    rig.wait("quorum lost", |n| {
        matches!(n, Note::Health(Transition::QuorumDown { .. }))
    })
    .await;
    let t = rig
        .table("with the sorry server in", |t| weight(t, svc, 9) == Some(1))
        .await;
    assert_eq!(t.service(&key(svc)).unwrap().destinations.len(), 1);
    rig.wait(
        "quorum_down run",
        |n| matches!(n, Note::Script { what, .. } if what.starts_with("quorum_down")),
    )
    .await;
    wait_file(&down).await;
    assert!(!up.exists());

    // One server back: live weight 2 < quorum + hysteresis = 3: still sorry.
    a.open().await;
    rig.wait(
        "A up",
        |n| matches!(n, Note::Health(Transition::Up { rs, .. }) if rs.port == a.port),
    )
    .await;
    let t = rig.kernel.table();
    assert_eq!(weight(&t, svc, 9), Some(1));
    assert_eq!(weight(&t, svc, a.port), None);
    // Both back: 4 >= 3, quorum regained.
    b.open().await;
    rig.wait("quorum regained", |n| {
        matches!(n, Note::Health(Transition::QuorumUp { .. }))
    })
    .await;
    let t = rig
        .table("with the sorry server out", |t| {
            weight(t, svc, 9) == Some(0) && weight(t, svc, a.port) == Some(2)
        })
        .await;
    assert_eq!(weight(&t, svc, b.port), Some(2));
    wait_file(&up).await;
    rig.stop().await;
}

async fn wait_file(p: &Path) {
    tokio::time::timeout(BOUND, async {
        while !p.exists() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{} never appeared", p.display()));
}

#[tokio::test(flavor = "current_thread")]
async fn reload_drains_removed_servers_and_adds_services() {
    let dir = temp_dir("reload");
    let a = Listener::new().await;
    let b = Listener::new().await;
    let c = Listener::new().await;
    let d = Listener::new().await;
    let udp_rs =
        |port: u16| format!("    real_server 127.0.0.1 {port} {{\n        weight 1\n    }}\n");
    let udp = format!(
        "virtual_server 192.0.2.5 53 {{\n    lb_algo rr\n    lb_kind NAT\n    protocol UDP\n{}{}}}\n",
        udp_rs(5301),
        udp_rs(5302)
    );
    let gone = vs("192.0.2.4", 80, &rs(d.port, ""));
    let before = vs("192.0.2.3", 80, &(rs(a.port, "") + &rs(b.port, ""))) + &gone + &udp;
    let mut rig = Rig::start(&dir, &before, MemoryKernel::new()).await;
    let web = "tcp:192.0.2.3:80";
    assert_eq!(weight(&rig.kernel.table(), web, b.port), Some(2));
    // Connections the kernel still forwards to B and D.
    let (lo_a, _) = lo(0);
    rig.kernel.set_connections(key(web), lo_a, b.port, 5);
    rig.kernel
        .set_connections(key("tcp:192.0.2.4:80"), lo_a, d.port, 3);

    // B, the whole 192.0.2.4 and the UDP server 5302 leave; a new service comes.
    let udp_after = format!(
        "virtual_server 192.0.2.5 53 {{\n    lb_algo rr\n    lb_kind NAT\n    protocol UDP\n{}}}\n",
        udp_rs(5301)
    );
    let after =
        vs("192.0.2.3", 80, &rs(a.port, "")) + &vs("192.0.2.6", 443, &rs(c.port, "")) + &udp_after;
    std::fs::write(&rig.path, after).unwrap();
    let writes_before = rig.kernel.write_count();
    rig.send(Control::Reload);
    rig.wait("reloaded", |n| matches!(n, Note::Reloaded { .. }))
        .await;
    let t = rig
        .table("with the new service", |t| {
            weight(t, "tcp:192.0.2.6:443", c.port) == Some(2)
        })
        .await;
    // Drained, not cut: B and D at weight 0, their service still there.
    assert_eq!(weight(&t, web, b.port), Some(0));
    assert_eq!(weight(&t, web, a.port), Some(2));
    assert_eq!(weight(&t, "tcp:192.0.2.4:80", d.port), Some(0));
    // UDP: deleted at once.
    assert_eq!(weight(&t, "udp:192.0.2.5:53", 5302), None);
    assert_eq!(weight(&t, "udp:192.0.2.5:53", 5301), Some(1));
    let drains = rig
        .seen
        .iter()
        .filter(|n| matches!(n, Note::DrainStart { .. }))
        .count();
    assert_eq!(drains, 2, "{:#?}", rig.seen);
    assert!(rig
        .seen
        .iter()
        .any(|n| matches!(n, Note::UdpRemoved { destination, .. } if destination.port == 5302)));
    assert!(rig.kernel.write_count() > writes_before);

    // Connections end: B is deleted.
    rig.kernel.set_connections(key(web), lo_a, b.port, 0);
    rig.wait("B drained", |n| {
        matches!(n, Note::DrainEnd { destination, end: DrainEnd::Empty, .. } if destination.port == b.port)
    })
    .await;
    rig.table("without B", |t| weight(t, web, b.port).is_none())
        .await;
    // D still has connections: its service stays.
    assert_eq!(
        weight(&rig.kernel.table(), "tcp:192.0.2.4:80", d.port),
        Some(0)
    );
    rig.kernel
        .set_connections(key("tcp:192.0.2.4:80"), lo_a, d.port, 0);
    rig.table("without the removed service", |t| {
        t.service(&key("tcp:192.0.2.4:80")).is_none()
    })
    .await;
    let t = rig.kernel.table();
    assert_eq!(t.len(), 3, "{t:#?}");
    rig.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_drain_ends_at_its_deadline() {
    let dir = temp_dir("deadline");
    let a = Listener::new().await;
    let b = Listener::new().await;
    let g = "global_defs {\n    lvsd_drain_timeout 0.3\n}\n";
    let before = format!(
        "{g}{}",
        vs("192.0.2.7", 80, &(rs(a.port, "") + &rs(b.port, "")))
    );
    let mut rig = Rig::start(&dir, &before, MemoryKernel::new()).await;
    let svc = "tcp:192.0.2.7:80";
    rig.kernel.set_connections(key(svc), lo(0).0, b.port, 9);
    std::fs::write(
        &rig.path,
        format!("{g}{}", vs("192.0.2.7", 80, &rs(a.port, ""))),
    )
    .unwrap();
    rig.send(Control::Reload);
    rig.wait("deadline", |n| {
        matches!(
            n,
            Note::DrainEnd {
                end: DrainEnd::Deadline(9),
                ..
            }
        )
    })
    .await;
    rig.table("without B", |t| weight(t, svc, b.port).is_none())
        .await;
    rig.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn drift_is_repaired_and_foreign_services_are_left_alone() {
    let dir = temp_dir("drift");
    let a = Listener::new().await;
    let b = Listener::new().await;
    let conf = vs("192.0.2.8", 80, &(rs(a.port, "") + &rs(b.port, "")));
    let mut rig = Rig::start(&dir, &conf, MemoryKernel::new()).await;
    let svc = key("tcp:192.0.2.8:80");
    let want = rig.kernel.table();
    // Behind the daemon's back: one server deleted, one re-weighted, the
    // scheduler changed, and a service the configuration does not name.
    let (addr, _) = lo(0);
    let nat = |p| Destination::new(addr, p, ForwardMethod::Masquerade);
    rig.kernel
        .tamper(&Change::DeleteDestination(svc, nat(a.port)))
        .unwrap();
    rig.kernel
        .tamper(&Change::EditDestination(svc, nat(b.port).with_weight(7)))
        .unwrap();
    let mut s = want.service(&svc).unwrap().service.clone();
    s.scheduler = "rr".into();
    rig.kernel.tamper(&Change::EditService(s)).unwrap();
    let foreign = Service::new(key("tcp:203.0.113.9:25"));
    rig.kernel
        .tamper(&Change::AddService(foreign.clone()))
        .unwrap();
    let writes = rig.kernel.write_count();

    rig.skip();
    rig.send(Control::Reconcile);
    rig.wait("repair", |n| matches!(n, Note::Applied { .. }))
        .await;
    let t = rig.kernel.table();
    let only = |t: &Table| Table::from(vec![t.service(&svc).unwrap().clone()]);
    assert_eq!(only(&t), only(&want));
    assert!(t.service(&foreign.key).is_some(), "foreign service deleted");
    // Three writes: the edit of the service, the edit of B, the add of A.
    assert_eq!(rig.kernel.write_count() - writes, 3);
    rig.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_restart_on_a_matching_table_writes_nothing() {
    let dir = temp_dir("restart");
    let a = Listener::new().await;
    let b = Listener::closed().await;
    let conf = vs(
        "192.0.2.9",
        80,
        &(rs(a.port, "") + &rs(b.port, "inhibit_on_failure")),
    );
    let kernel = MemoryKernel::new();
    let mut rig = Rig::start(&dir, &conf, kernel.clone()).await;
    let svc = "tcp:192.0.2.9:80";
    rig.table("with B inhibited", |t| weight(t, svc, b.port) == Some(0))
        .await;
    let first = rig.stop().await;
    assert!(!first.iter().any(|n| matches!(n, Note::Flushed)));
    // The table stays at stop (no lvs_flush_on_stop).
    let table = kernel.table();
    assert_eq!(table.len(), 1);
    let writes = kernel.write_count();
    assert!(writes >= 3);

    // Same configuration, B back: the table already matches.
    let mut b = b;
    b.open().await;
    // B was inhibited at weight 0: make the table what a healthy start wants.
    kernel
        .tamper(&Change::EditDestination(
            key(svc),
            Destination::new(lo(0).0, b.port, ForwardMethod::Masquerade).with_weight(2),
        ))
        .unwrap();
    let mut rig = Rig::start(&dir, &conf, kernel.clone()).await;
    assert_eq!(kernel.write_count(), writes, "a matching table got writes");
    // A few reconciles later, still nothing.
    for _ in 0..3 {
        rig.send(Control::Reconcile);
    }
    rig.send(Control::Stop);
    let _ = tokio::time::timeout(BOUND, &mut rig.task).await;
    assert_eq!(kernel.write_count(), writes);
    assert!(kernel.state().snapshots >= 2);

    // lvs_flush: keepalived flushes at start, whatever the table.
    let flush = format!("global_defs {{\n    lvs_flush\n}}\n{conf}");
    let rig = Rig::start(&dir, &flush, kernel.clone()).await;
    let s = kernel.state().writes[writes..].to_vec();
    assert_eq!(s.first(), Some(&Change::Flush));
    assert_eq!(kernel.table(), table_with_b(&table, svc, b.port));
    rig.stop().await;
}

fn table_with_b(t: &Table, svc: &str, port: u16) -> Table {
    let mut t = t.clone();
    let d = Destination::new(lo(0).0, port, ForwardMethod::Masquerade).with_weight(2);
    t.edit_destination(&key(svc), d).unwrap();
    t
}

#[tokio::test(flavor = "current_thread")]
async fn a_bad_reload_changes_nothing_and_the_daemon_goes_on() {
    let dir = temp_dir("bad-reload");
    let mut a = Listener::new().await;
    let b = Listener::new().await;
    let conf = vs("192.0.2.10", 80, &(rs(a.port, "") + &rs(b.port, "")));
    let mut rig = Rig::start(&dir, &conf, MemoryKernel::new()).await;
    let before = rig.kernel.table();
    let writes = rig.kernel.write_count();
    std::fs::write(&rig.path, vs("192.0.2.10", 80, &rs(a.port, "weight many"))).unwrap();
    rig.send(Control::Reload);
    let n = rig
        .wait("refused", |n| matches!(n, Note::ReloadFailed(_)))
        .await;
    let Note::ReloadFailed(errors) = &n else {
        unreachable!()
    };
    let path = rig.path.display().to_string();
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(&format!("{path}:")) && e.contains(": weight: ")),
        "{errors:?}"
    );
    assert_eq!(rig.kernel.table(), before);
    assert_eq!(rig.kernel.write_count(), writes);
    // The old configuration's checks still run.
    a.close().await;
    rig.table("without A", |t| {
        weight(t, "tcp:192.0.2.10:80", a.port).is_none()
    })
    .await;
    // An invalid check (bad regex) is refused as a whole too.
    let http = format!(
        "    real_server 127.0.0.1 {} {{\n        HTTP_GET {{\n            url {{\n                path /\n                regex \"(\"\n            }}\n        }}\n    }}\n",
        b.port
    );
    std::fs::write(&rig.path, vs("192.0.2.10", 80, &http)).unwrap();
    let seen = rig.seen.len();
    rig.send(Control::Reload);
    rig.wait("refused again", |n| matches!(n, Note::ReloadFailed(_)))
        .await;
    assert!(!rig.seen[seen..]
        .iter()
        .any(|n| matches!(n, Note::Reloaded { .. })));
    assert_eq!(
        weight(&rig.kernel.table(), "tcp:192.0.2.10:80", b.port),
        Some(2)
    );
    rig.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_change_is_retried_and_does_not_stop_the_others() {
    let dir = temp_dir("refused");
    let a = Listener::new().await;
    let b = Listener::new().await;
    let kernel = MemoryKernel::new();
    kernel.state().refuse.insert(key("tcp:192.0.2.11:80"));
    let conf = vs("192.0.2.11", 80, &rs(a.port, "")) + &vs("192.0.2.12", 80, &rs(b.port, ""));
    let mut rig = Rig::start(&dir, &conf, kernel.clone()).await;
    rig.wait("failure", |n| matches!(n, Note::ChangeFailed { .. }))
        .await;
    let t = kernel.table();
    assert!(t.service(&key("tcp:192.0.2.11:80")).is_none());
    assert_eq!(weight(&t, "tcp:192.0.2.12:80", b.port), Some(2));
    kernel.state().refuse.clear();
    rig.send(Control::Reconcile);
    rig.table("with the refused service", |t| {
        weight(t, "tcp:192.0.2.11:80", a.port) == Some(2)
    })
    .await;
    rig.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn flush_on_stop_as_keepalived() {
    let dir = temp_dir("stop");
    let a = Listener::new().await;
    let conf = vs("192.0.2.13", 80, &rs(a.port, ""));
    let foreign = Service::new(key("tcp:203.0.113.1:25"));
    for (global, left) in [
        ("", 2usize),
        ("global_defs {\n    lvs_flush_on_stop VS\n}\n", 1),
        ("global_defs {\n    lvs_flush_on_stop\n}\n", 0),
    ] {
        let kernel = MemoryKernel::new();
        kernel.tamper(&Change::AddService(foreign.clone())).unwrap();
        let rig = Rig::start(&dir, &format!("{global}{conf}"), kernel.clone()).await;
        assert_eq!(kernel.table().len(), 2);
        rig.stop().await;
        assert_eq!(kernel.table().len(), left, "{global:?}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn dynamic_weights_and_alpha() {
    let dir = temp_dir("dynamic");
    let a = Listener::new().await;
    let b = Listener::closed().await;
    let value = dir.join("value");
    std::fs::write(&value, "3\n").unwrap();
    let script = dir.join("weight.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 9\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let body = format!(
        "    real_server 127.0.0.1 {a} {{
        weight 2
        MISC_CHECK {{
            misc_path {script}
            misc_dynamic
            delay_loop 0.1
            warmup 0
        }}
    }}
    real_server 127.0.0.2 {a} {{
        weight 2
        FILE_CHECK {{
            track_file extra
        }}
    }}
    real_server 127.0.0.1 {b} {{
        weight 2
        alpha
        inhibit_on_failure
        TCP_CHECK {{
            delay_loop 0.1
            warmup 0
        }}
    }}
",
        a = a.port,
        b = b.port,
        script = script.display()
    );
    let conf = format!(
        "global_defs {{\n    enable_script_security\n}}\ntrack_file extra {{\n    file {}\n    weight 4\n}}\n{}",
        value.display(),
        vs("192.0.2.14", 80, &body)
    );
    let mut rig = Rig::start(&dir, &conf, MemoryKernel::new()).await;
    let svc = key("tcp:192.0.2.14:80");
    let w = |t: &Table, addr: &str, port: u16| {
        let a: IpAddr = addr.parse().unwrap();
        t.service(&svc)?
            .destinations
            .iter()
            .find(|d| d.addr == a && d.port == port)
            .map(|d| d.weight)
    };
    // alpha: B starts down (inhibited: weight 0) and its port is closed.
    assert_eq!(w(&rig.kernel.table(), "127.0.0.1", b.port), Some(0));
    // misc_dynamic exit 9: weight 7. FILE_CHECK 3 x 4 added to 2: 14.
    rig.table("with dynamic weights", |t| {
        w(t, "127.0.0.1", a.port) == Some(7) && w(t, "127.0.0.2", a.port) == Some(14)
    })
    .await;
    std::fs::write(&value, "1\n").unwrap();
    rig.table("with the new file value", |t| {
        w(t, "127.0.0.2", a.port) == Some(6)
    })
    .await;
    assert_eq!(w(&rig.kernel.table(), "127.0.0.1", b.port), Some(0));
    let notes = rig.stop().await;
    assert!(notes
        .iter()
        .any(|n| matches!(n, Note::Health(Transition::Weight { to: 6, .. }))));
}

/// Real servers whose checker blocks are equal share one copy of the check's parameters
/// (a large pool's specs differ only by target); a different block gets its own.
#[test]
fn equal_checker_blocks_share_their_parameters() {
    let conf = "virtual_server 192.0.2.20 80 {
    real_server 198.51.100.1 80 {
        TCP_CHECK {
            connect_timeout 3
        }
    }
    real_server 198.51.100.2 80 {
        TCP_CHECK {
            connect_timeout 3
        }
    }
}
virtual_server 192.0.2.21 80 {
    real_server 198.51.100.3 80 {
        TCP_CHECK {
            connect_timeout 3
        }
    }
    real_server 198.51.100.4 80 {
        TCP_CHECK {
            connect_timeout 4
        }
    }
}
";
    let parsed = keepalived::parse_str(conf, "t.conf").unwrap();
    let m = Model::build(&parsed.config).unwrap();
    let checks = m.checks();
    assert_eq!(checks.len(), 4);
    let params = |i: usize| -> *const ipvs_director::check::CheckParams { &**checks[i].1 };
    assert!(
        std::ptr::eq(params(0), params(1)),
        "same block, same service"
    );
    assert!(
        std::ptr::eq(params(0), params(2)),
        "same block, another service"
    );
    assert!(
        !std::ptr::eq(params(0), params(3)),
        "another connect_timeout"
    );
    assert_eq!(checks[3].1.timing.connect_timeout, Duration::from_secs(4));
}

#[test]
fn lvsd_rise_and_timing_reach_the_check_specs() {
    let conf = "virtual_server 192.0.2.20 80 {
    lb_kind NAT
    protocol TCP
    lvsd_rise 3
    real_server 198.51.100.1 8080 {
        TCP_CHECK {
            connect_port 8081
            retry 4
            delay_loop 2.5
        }
    }
}
";
    let parsed = keepalived::parse_str(conf, "t.conf").unwrap();
    let m = Model::build(&parsed.config).unwrap();
    let checks = m.checks();
    assert_eq!(checks.len(), 1);
    let spec = &checks[0].1;
    assert_eq!(spec.timing.rise, 3);
    assert_eq!(spec.timing.retry, 4);
    assert_eq!(spec.timing.delay_loop, Duration::from_millis(2500));
    assert_eq!(
        spec.target,
        "198.51.100.1:8080".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(
        spec.probe_addr(),
        "198.51.100.1:8081".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(m.drain_timeout, Duration::from_secs(300));
}

#[test]
fn lvsd_exits_non_zero_on_a_bad_configuration() {
    let dir = temp_dir("bin");
    let bad = dir.join("bad.conf");
    std::fs::write(&bad, "virtual_server 192.0.2.1 80 {\n    protocol TCP\n    lb_kind NAT\n    real_server 198.51.100.2 80 {\n        weight x\n    }\n}\n").unwrap();
    let good = dir.join("good.conf");
    std::fs::write(&good, "global_defs {\n    lvsd_drain_timeout 60\n}\nvirtual_server 192.0.2.1 80 {\n    protocol TCP\n    lb_kind NAT\n    real_server 198.51.100.2 80 {\n        weight 1\n    }\n}\n").unwrap();
    let lvsd = env!("CARGO_BIN_EXE_lvsd");
    let run = |args: &[&str]| {
        std::process::Command::new(lvsd)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["-t", "-f", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:5: weight: ", bad.display())),
        "{err}"
    );
    let out = run(&["-t", "-f", good.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Start-up with a bad configuration: refused before touching the kernel.
    let out = run(&["-f", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(":5: weight: "));
    let out = run(&["-D", "-f", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "current_thread")]
async fn notify_scripts_and_omega() {
    let dir = temp_dir("notify");
    let mut a = Listener::new().await;
    let b = Listener::new().await;
    let f = |n: &str| dir.join(n);
    let scripts = format!(
        "notify_down \"/usr/bin/touch {}\"\n        notify_up \"/usr/bin/touch {}\"",
        f("a-down").display(),
        f("a-up").display()
    );
    let b_scripts = format!(
        "notify_down \"/usr/bin/touch {}\"",
        f("b-down-omega").display()
    );
    let body = format!(
        "    omega\n    quorum_down \"/usr/bin/touch {}\"\n{}{}",
        f("quorum-down-omega").display(),
        rs(a.port, &scripts),
        rs(b.port, &b_scripts)
    );
    let conf = format!(
        "global_defs {{\n    enable_script_security\n}}\n{}",
        vs("192.0.2.15", 80, &body)
    );
    let rig = Rig::start(&dir, &conf, MemoryKernel::new()).await;
    a.close().await;
    wait_file(&f("a-down")).await;
    assert!(!f("a-up").exists());
    a.open().await;
    wait_file(&f("a-up")).await;
    // No quorum change, no omega script before the stop.
    assert!(!f("quorum-down-omega").exists() && !f("b-down-omega").exists());
    let notes = rig.stop().await;
    assert!(notes.iter().any(|n| matches!(n, Note::Stopped)));
    wait_file(&f("b-down-omega")).await;
    wait_file(&f("quorum-down-omega")).await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_reload_keeps_a_failed_server_failed() {
    let dir = temp_dir("reload-state");
    let a = Listener::new().await;
    let b = Listener::closed().await;
    let conf = vs("192.0.2.16", 80, &(rs(a.port, "") + &rs(b.port, "")));
    let mut rig = Rig::start(&dir, &conf, MemoryKernel::new()).await;
    let svc = "tcp:192.0.2.16:80";
    rig.table("without B", |t| weight(t, svc, b.port).is_none())
        .await;
    let c = Listener::new().await;
    std::fs::write(
        &rig.path,
        conf.clone() + &vs("192.0.2.17", 80, &rs(c.port, "")),
    )
    .unwrap();
    rig.skip();
    let from = rig.seen.len();
    rig.send(Control::Reload);
    rig.wait("reloaded", |n| matches!(n, Note::Reloaded { .. }))
        .await;
    rig.drain();
    let t = rig.kernel.table();
    assert_eq!(weight(&t, "tcp:192.0.2.17:80", c.port), Some(2));
    assert_eq!(
        weight(&t, svc, b.port),
        None,
        "a failed server re-added by a reload"
    );
    assert_eq!(weight(&t, svc, a.port), Some(2));
    // Nothing about B in the reload: no transition, no drain.
    let since = &rig.seen[from..];
    assert!(
        !since
            .iter()
            .any(|n| matches!(n, Note::Health(_) | Note::DrainStart { .. })),
        "{since:#?}"
    );
    rig.stop().await;
}

/// The binary itself, on the in-memory table (`--dry-run`): SIGHUP reloads
/// (a bad file is refused and it goes on), SIGTERM stops with status 0.
#[test]
fn the_binary_reloads_on_sighup_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::sync::mpsc as smpsc;

    let dir = temp_dir("signals");
    let conf = dir.join("k.conf");
    std::fs::write(&conf, vs("192.0.2.30", 80, &rs(1, ""))).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        // No control socket: tests/control.rs tests it; none in /run from tests.
        .args([
            "--dry-run",
            "--control",
            "none",
            "-f",
            conf.to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Killed if the test fails before its SIGTERM.
    struct Reap(Option<u32>);
    impl Drop for Reap {
        fn drop(&mut self) {
            if let Some(pid) = self.0 {
                // SAFETY: kill(2) on our own child, not yet waited for.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            }
        }
    }
    let mut reap = Reap(Some(child.id()));
    let (tx, rx) = smpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    let mut wait_line = |what: &str| {
        let end = std::time::Instant::now() + BOUND;
        loop {
            let left = end.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(what);
                    log.push(l);
                    if hit {
                        return;
                    }
                }
                Err(_) => panic!("no line with {what:?}; log: {log:#?}"),
            }
        }
    };
    let signal = |pid: u32, sig: i32| {
        // SAFETY: kill(2) on our own child.
        assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
    };
    wait_line("lvsd: started: 1 services");
    // Port 1 on loopback refuses: the real server goes down.
    wait_line("of tcp:192.0.2.30:80 is down: TCP_CHECK (line 8): connection refused");
    std::fs::write(&conf, vs("192.0.2.30", 80, &(rs(1, "") + &rs(2, "")))).unwrap();
    signal(child.id(), libc::SIGHUP);
    wait_line("reload: ok: 1 services, 2 real servers");
    std::fs::write(&conf, "virtual_server {\n").unwrap();
    signal(child.id(), libc::SIGHUP);
    wait_line("reload: refused, nothing changed");
    signal(child.id(), libc::SIGTERM);
    wait_line("lvsd: stopped");
    let status = child.wait().unwrap();
    reap.0 = None;
    assert!(status.success(), "{status:?}; log: {log:#?}");
}

#[test]
fn lvsd_drain_timeout_is_read_and_checked() {
    let conf = |v: &str| {
        format!(
            "global_defs {{\n    lvsd_drain_timeout {v}\n}}\n{}",
            vs("192.0.2.40", 80, &rs(80, ""))
        )
    };
    let parsed = keepalived::parse_str(&conf("2.5"), "t.conf").unwrap();
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let m = Model::build(&parsed.config).unwrap();
    assert_eq!(m.drain_timeout, Duration::from_millis(2500));
    let m = Model::build(&keepalived::parse_str(&conf("0"), "t.conf").unwrap().config).unwrap();
    assert_eq!(m.drain_timeout, Duration::ZERO);
    let refused = keepalived::parse_str(&conf("soon"), "t.conf").unwrap_err();
    assert_eq!(refused.errors.len(), 1);
    assert!(
        refused.errors[0]
            .to_string()
            .starts_with("t.conf:2: lvsd_drain_timeout: invalid time 'soon'"),
        "{}",
        refused.errors[0]
    );
}
