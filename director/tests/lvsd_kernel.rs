//! The daemon against instrumented kernels: checks keep running while a
//! kernel call blocks, and what each event costs in kernel reads and writes.
//! Every wait is bounded; assertions are on outcomes (counts, tables),
//! never on durations.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ipvs::plan::Table;
use ipvs::{Change, Destination, Error, ServiceKey, Timeouts};
use ipvs_director::check::Engine;
use ipvs_director::desired::CheckId;
use ipvs_director::director::{Control, Director, Note, Options};
use ipvs_director::keepalived;
use ipvs_director::kernel::{Kernel, KernelTable, MemoryKernel};
use tokio::sync::mpsc;

/// Upper bound of every wait.
const BOUND: Duration = Duration::from_secs(20);

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lvsd-kernel-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Waits (bounded) until `f` holds; whether it did.
fn wait_until(mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + BOUND;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    f()
}

/// A TCP listener on 127.0.0.1 that accepts and drops, on a thread of its
/// own (it lives until the test process ends).
fn listener() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            drop(s);
        }
    });
    port
}

fn config(dir: &Path, port: u16) -> keepalived::Config {
    let conf = format!(
        "virtual_server 192.0.2.1 80 {{
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server 127.0.0.1 {port} {{
        weight 2
        TCP_CHECK {{
            connect_timeout 2
            retry 0
            delay_before_retry 0.1
            delay_loop 0.1
            warmup 0
        }}
    }}
}}
"
    );
    let path = dir.join("keepalived.conf");
    std::fs::write(&path, conf).unwrap();
    keepalived::parse_file(&path)
        .unwrap_or_else(|e| panic!("{e}"))
        .config
}

#[derive(Default)]
struct GateState {
    closed: bool,
    /// Kernel calls that found the gate closed.
    entered: u64,
}

/// A kernel whose reads and writes block while its gate is closed, as a
/// netlink call does when the kernel is slow to answer (up to the socket's
/// timeout); each blocked call waits at most [`BOUND`].
#[derive(Clone)]
struct GatedKernel {
    inner: MemoryKernel,
    gate: Arc<(Mutex<GateState>, Condvar)>,
}

impl GatedKernel {
    fn pass(&self) {
        let (m, cv) = &*self.gate;
        let mut g = m.lock().unwrap();
        if g.closed {
            g.entered += 1;
            cv.notify_all();
            let _ = cv.wait_timeout_while(g, BOUND, |g| g.closed).unwrap();
        }
    }

    fn set_closed(&self, closed: bool) {
        let (m, cv) = &*self.gate;
        m.lock().unwrap().closed = closed;
        cv.notify_all();
    }

    fn entered(&self) -> u64 {
        self.gate.0.lock().unwrap().entered
    }
}

impl Kernel for GatedKernel {
    fn snapshot(&mut self) -> Result<KernelTable, Error> {
        self.pass();
        self.inner.snapshot()
    }

    fn apply(&mut self, changes: &[Change]) -> Result<Vec<Result<(), Error>>, Error> {
        self.pass();
        self.inner.apply(changes)
    }

    fn timeouts(&mut self) -> Result<Timeouts, Error> {
        self.pass();
        self.inner.timeouts()
    }
}

/// Runs a director on its own thread with a `current_thread` runtime, as
/// `lvsd` does; returns its engine, its control channel and the thread.
fn spawn_director<K: Kernel + Send + 'static>(
    kernel: K,
    config: keepalived::Config,
    options: Options,
) -> (
    Engine<CheckId>,
    mpsc::UnboundedSender<Control>,
    std::thread::JoinHandle<()>,
) {
    let (control, rx) = mpsc::unbounded_channel();
    let (tx_engine, rx_engine) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (d, mut notes) =
                Director::start(kernel, &config, None, options).unwrap_or_else(|e| panic!("{e}"));
            tx_engine.send(d.engine().clone()).unwrap();
            tokio::spawn(async move { while notes.recv().await.is_some() {} });
            d.run(rx).await;
        });
    });
    let engine = rx_engine
        .recv_timeout(BOUND)
        .expect("director did not start");
    (engine, control, thread)
}

fn quiet_options() -> Options {
    Options {
        reconcile_interval: Duration::from_secs(3600),
        retry_interval: Duration::from_secs(3600),
        ..Options::default()
    }
}

#[test]
fn checks_keep_running_while_a_kernel_call_blocks() {
    let dir = temp_dir("blocked");
    let port = listener();
    let kernel = GatedKernel {
        inner: MemoryKernel::new(),
        gate: Arc::default(),
    };
    let (engine, control, thread) =
        spawn_director(kernel.clone(), config(&dir, port), quiet_options());
    assert!(
        wait_until(|| engine.stats().finished >= 1),
        "no probe ever finished"
    );

    // The next kernel call hangs, as a netlink request to a busy kernel.
    kernel.set_closed(true);
    control.send(Control::Reconcile).unwrap();
    assert!(
        wait_until(|| kernel.entered() >= 1),
        "the director made no kernel call"
    );
    let before = engine.stats().finished;
    let progressed = wait_until(|| engine.stats().finished >= before + 5);
    let after = engine.stats().finished;
    kernel.set_closed(false);

    control.send(Control::Stop).unwrap();
    thread.join().unwrap();
    assert!(
        progressed,
        "checks stalled while a kernel call was blocked: {before} probes finished before, {after} after"
    );
}

// ---- Incremental reconciles: what a health event costs ----------------

/// A TCP listener on 127.0.0.1 (on the test's runtime) that can be closed
/// and reopened on the same port.
struct Port {
    port: u16,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Port {
    async fn new() -> Port {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut p = Port {
            port: l.local_addr().unwrap().port(),
            task: None,
        };
        p.serve(l);
        p
    }

    fn serve(&mut self, l: tokio::net::TcpListener) {
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
            let l = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
                .await
                .unwrap();
            self.serve(l);
        }
    }
}

fn real_server(port: u16, extra: &str) -> String {
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

/// `vs` (an address) on port 80 with `body`, then 50 more virtual servers
/// of 8 real servers each without checks, so that the table is not tiny.
fn big_conf(body: &str) -> String {
    let mut c = format!(
        "virtual_server 192.0.2.1 80 {{
    lb_algo wrr
    lb_kind NAT
    protocol TCP
{body}}}
"
    );
    for v in 0..50 {
        c += &format!(
            "virtual_server 203.0.113.{} 80 {{\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n",
            v + 1
        );
        for r in 0..8 {
            c += &format!(
                "    real_server 198.18.{v}.{} 80 {{\n        weight 1\n    }}\n",
                r + 1
            );
        }
        c += "}\n";
    }
    c
}

fn web() -> ServiceKey {
    "tcp:192.0.2.1:80".parse().unwrap()
}

/// The real server on 127.0.0.1:`port` of `tcp:192.0.2.1:80`.
fn dest(t: &Table, port: u16) -> Option<Destination> {
    t.service(&web())?
        .destinations
        .iter()
        .find(|d| d.port == port)
        .cloned()
}

struct Rig {
    kernel: MemoryKernel,
    notes: mpsc::UnboundedReceiver<Note>,
    seen: Vec<Note>,
    control: mpsc::UnboundedSender<Control>,
    task: tokio::task::JoinHandle<()>,
    path: PathBuf,
}

impl Rig {
    async fn start(dir: &Path, conf: &str, kernel: MemoryKernel, options: Options) -> Rig {
        let path = dir.join("keepalived.conf");
        std::fs::write(&path, conf).unwrap();
        let parsed = keepalived::parse_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let (d, notes) =
            Director::start(kernel.clone(), &parsed.config, Some(path.clone()), options)
                .unwrap_or_else(|e| panic!("{e}"));
        let (control, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(d.run(rx));
        Rig {
            kernel,
            notes,
            seen: Vec::new(),
            control,
            task,
            path,
        }
    }

    fn drain(&mut self) {
        while let Ok(n) = self.notes.try_recv() {
            self.seen.push(n);
        }
    }

    /// Waits until the kernel table satisfies `f`.
    async fn table(&mut self, what: &str, f: impl Fn(&Table) -> bool) -> Table {
        let r = tokio::time::timeout(BOUND, async {
            loop {
                let t = self.kernel.table();
                if f(&t) {
                    return t;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        self.drain();
        r.unwrap_or_else(|_| panic!("table never {what}; notes: {:#?}", self.seen))
    }

    /// (snapshots taken, writes made) so far.
    fn counts(&self) -> (u64, usize) {
        let s = self.kernel.state();
        (s.snapshots, s.writes.len())
    }

    fn writes_since(&self, n: usize) -> Vec<Change> {
        self.kernel.state().writes[n..].to_vec()
    }

    async fn stop(mut self) -> Vec<Note> {
        self.control.send(Control::Stop).unwrap();
        tokio::time::timeout(BOUND, &mut self.task)
            .await
            .expect("director did not stop")
            .unwrap();
        self.drain();
        self.seen
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_health_event_reads_nothing_and_writes_only_its_change() {
    let dir = temp_dir("incremental");
    let mut a = Port::new().await;
    let mut b = Port::new().await;
    let conf = big_conf(&(real_server(a.port, "") + &real_server(b.port, "inhibit_on_failure")));
    let mut rig = Rig::start(&dir, &conf, MemoryKernel::new(), quiet_options()).await;
    let t = rig
        .table("started", |t| {
            t.len() == 51 && dest(t, a.port).is_some() && dest(t, b.port).is_some()
        })
        .await;
    let da = dest(&t, a.port).unwrap();
    let db = dest(&t, b.port).unwrap();
    // Let the start settle: its reads and writes are not counted below.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (snapshots, writes) = rig.counts();

    a.close().await;
    rig.table("without a", |t| dest(t, a.port).is_none()).await;
    assert_eq!(
        rig.writes_since(writes),
        [Change::DeleteDestination(web(), da.clone())]
    );

    b.close().await;
    rig.table("with b at weight 0", |t| {
        dest(t, b.port).is_some_and(|d| d.weight == 0)
    })
    .await;
    assert_eq!(
        rig.writes_since(writes),
        [
            Change::DeleteDestination(web(), da.clone()),
            Change::EditDestination(web(), db.clone().with_weight(0)),
        ]
    );

    a.open().await;
    b.open().await;
    rig.table("with a and b back", |t| {
        dest(t, a.port).is_some() && dest(t, b.port).is_some_and(|d| d.weight == 2)
    })
    .await;
    let w = rig.writes_since(writes);
    assert_eq!(w.len(), 4, "{w:#?}");
    assert!(
        w.contains(&Change::AddDestination(web(), da.clone())),
        "{w:#?}"
    );
    assert!(
        w.contains(&Change::EditDestination(web(), db.clone())),
        "{w:#?}"
    );

    let (after, _) = rig.counts();
    assert_eq!(
        after,
        snapshots,
        "health events read the kernel {} times",
        after - snapshots
    );
    let notes = rig.stop().await;
    assert!(!notes
        .iter()
        .any(|n| matches!(n, Note::ChangeFailed { .. } | Note::KernelError(_))));
}

#[tokio::test(flavor = "current_thread")]
async fn drift_is_repaired_periodically_while_health_events_flow() {
    let dir = temp_dir("periodic");
    let mut a = Port::new().await;
    let b = Port::new().await;
    let conf = big_conf(&(real_server(a.port, "") + &real_server(b.port, "")));
    let options = Options {
        reconcile_interval: Duration::from_millis(1500),
        ..quiet_options()
    };
    let mut rig = Rig::start(&dir, &conf, MemoryKernel::new(), options).await;
    let t = rig.table("started", |t| dest(t, b.port).is_some()).await;
    let db = dest(&t, b.port).unwrap();
    let other: ServiceKey = "tcp:203.0.113.7:80".parse().unwrap();
    let foreign = t.service(&other).unwrap().destinations[3].clone();

    // Behind the daemon's back: b deleted, a weight changed elsewhere.
    rig.kernel
        .tamper(&Change::DeleteDestination(web(), db.clone()))
        .unwrap();
    rig.kernel
        .tamper(&Change::EditDestination(
            other,
            foreign.clone().with_weight(9),
        ))
        .unwrap();
    let (snapshots, _) = rig.counts();

    // a flaps every 200 ms, so that health events never pause for as long
    // as the reconcile interval; the periodic reconcile still comes.
    let repaired = tokio::time::timeout(BOUND, async {
        let mut closed = false;
        loop {
            let t = rig.kernel.table();
            if dest(&t, b.port).is_some()
                && t.service(&other)
                    .unwrap()
                    .destinations
                    .iter()
                    .any(|d| d == &foreign)
            {
                break;
            }
            if closed {
                a.open().await;
            } else {
                a.close().await;
            }
            closed = !closed;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    a.open().await;
    rig.drain();
    assert!(
        repaired.is_ok(),
        "drift not repaired; notes: {:#?}",
        rig.seen
    );
    assert!(rig.counts().0 > snapshots);
    rig.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn drift_is_repaired_at_reload_with_one_read() {
    let dir = temp_dir("reload");
    let a = Port::new().await;
    let b = Port::new().await;
    let conf = big_conf(&(real_server(a.port, "") + &real_server(b.port, "")));
    let mut rig = Rig::start(&dir, &conf, MemoryKernel::new(), quiet_options()).await;
    let t = rig.table("started", |t| dest(t, b.port).is_some()).await;
    let db = dest(&t, b.port).unwrap();
    rig.kernel
        .tamper(&Change::DeleteDestination(web(), db.clone()))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (snapshots, writes) = rig.counts();
    assert!(dest(&rig.kernel.table(), b.port).is_none());

    std::fs::write(&rig.path, &conf).unwrap();
    rig.control.send(Control::Reload).unwrap();
    rig.table("with b back", |t| dest(t, b.port).is_some())
        .await;
    assert_eq!(
        rig.writes_since(writes),
        [Change::AddDestination(web(), db)]
    );
    assert_eq!(
        rig.counts().0,
        snapshots + 1,
        "a reload reads the kernel once"
    );
    rig.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_change_refused_after_drift_brings_a_full_reconcile() {
    let dir = temp_dir("refused");
    let mut a = Port::new().await;
    let b = Port::new().await;
    let conf = big_conf(&(real_server(a.port, "") + &real_server(b.port, "")));
    let mut rig = Rig::start(&dir, &conf, MemoryKernel::new(), quiet_options()).await;
    let t = rig
        .table("started", |t| {
            dest(t, a.port).is_some() && dest(t, b.port).is_some()
        })
        .await;
    let da = dest(&t, a.port).unwrap();
    let db = dest(&t, b.port).unwrap();
    // Behind the daemon's back: a and b deleted. The known table still has
    // them, so a's check going down asks for a delete the kernel refuses.
    for d in [&da, &db] {
        rig.kernel
            .tamper(&Change::DeleteDestination(web(), d.clone()))
            .unwrap();
    }
    let (snapshots, writes) = rig.counts();
    a.close().await;
    // The refusal brings a full reconcile at once: b is repaired.
    rig.table("with b back", |t| dest(t, b.port).is_some())
        .await;
    assert!(dest(&rig.kernel.table(), a.port).is_none());
    assert_eq!(
        rig.writes_since(writes),
        [Change::AddDestination(web(), db)]
    );
    assert!(rig.counts().0 > snapshots);
    assert_eq!(
        rig.kernel.state().failures,
        [Change::DeleteDestination(web(), da.clone())]
    );
    a.open().await;
    rig.table("with a back", |t| dest(t, a.port).is_some())
        .await;
    rig.stop().await;
}
