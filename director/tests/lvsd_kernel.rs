//! The daemon against instrumented kernels: checks keep running while a
//! kernel call blocks, and what each event costs in kernel reads and writes.
//! Every wait is bounded; assertions are on outcomes (counts, tables),
//! never on durations.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ipvs::{Change, Error, Timeouts};
use ipvs_director::check::Engine;
use ipvs_director::desired::CheckId;
use ipvs_director::director::{Control, Director, Options};
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
