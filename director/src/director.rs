//! The daemon: configuration → health → desired table → plan → kernel.
//!
//! A [`Director`] owns the kernel handle ([`Kernel`]), the check engine, the
//! configuration [`Model`] and the [`Health`] view. A reconcile computes
//! the desired table (configuration + health + real servers being drained)
//! and applies [`ipvs::plan::plan`]'s changes in one batch: a table that
//! matches gets no write, and a change the kernel refuses is reported and
//! tried again at the next reconcile while every other change goes
//! through. Only the daemon's services are compared: those of the
//! configuration, and those a reload removed until they are deleted;
//! services the configuration never named are left alone, as keepalived
//! leaves them.
//!
//! A full reconcile ([`Director::reconcile`]) plans against a fresh kernel
//! snapshot, so drift made behind the daemon's back is repaired: at start,
//! at a reload, every [`Options::reconcile_interval`], every
//! [`Options::drain_poll`] while drains are pending (their connection
//! counts), every [`Options::retry_interval`] while changes fail. Health
//! events (coalesced) get an incremental one
//! ([`Director::reconcile_health`]): planned against the known table (the
//! last snapshot with the changes written since), so an event costs only
//! its writes, not a dump of the whole table; a failed change or any doubt
//! about the known table brings a full reconcile at once.
//!
//! The check engine runs on a thread of its own (its own `current_thread`
//! runtime, started by [`Director::start`] and stopped when the director is
//! dropped): the daemon's kernel calls are synchronous and may block for
//! up to the netlink socket's timeout, and they must not stall the checks.
//!
//! Everything worth a log line is sent as a [`Note`] on the channel
//! [`Director::start`] returns; the library prints nothing.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use ipvs::plan::{plan, Table};
use ipvs::{Change, DaemonState, Destination, Protocol, Service, ServiceKey, SyncDaemon};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;

use crate::admin::{self, Overrides};
use crate::check::{Engine, Event, EventKind};
use crate::control::{Reply, Request};
use crate::desired::{CheckId, Model};
use crate::health::{Health, Transition};
use crate::keepalived::{self, Config, FlushOnStop, Script, SyncDaemonConfig};
use crate::kernel::{Kernel, KernelTable};
use crate::notify::{ScriptOutcome, Scripts};
use crate::status::{self, DaemonStatus, DrainStatus, ReloadStatus, Status, STATUS_SCHEMA};

/// Tunables of the daemon's loop.
#[derive(Debug, Clone)]
pub struct Options {
    /// Advanced at every turn of the daemon's loop: a watchdog's sign that
    /// the loop is alive ([`crate::systemd::Heartbeat`]). Default none.
    pub heartbeat: Option<crate::systemd::Heartbeat>,
    /// Reconcile at least this often (drift repair). Default 10 s. Stretched
    /// to 100 times the last full read's duration when that is longer (and
    /// the retry and drain polls to 10 times): a large table's periodic
    /// reads take a bounded share of the daemon's time.
    pub reconcile_interval: Duration,
    /// Reconcile this often while changes failed. Default 5 s.
    pub retry_interval: Duration,
    /// Poll draining real servers this often. Default 1 s.
    pub drain_poll: Duration,
    /// Notify scripts running at once. Default 32.
    pub script_limit: usize,
    /// A notify script's time limit. Default 30 s.
    pub script_timeout: Duration,
    /// Where probes, reconciles and kernel changes are recorded for the
    /// metrics ([`crate::metrics`]). Default none.
    pub recorder: Option<crate::metrics::Recorder>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            heartbeat: None,
            reconcile_interval: Duration::from_secs(10),
            retry_interval: Duration::from_secs(5),
            drain_poll: Duration::from_secs(1),
            script_limit: 32,
            script_timeout: Duration::from_secs(30),
            recorder: None,
        }
    }
}

/// Why a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainEnd {
    /// No connection left.
    Empty,
    /// The deadline passed with this many connections left.
    Deadline(u64),
    /// The real server left the kernel by other means.
    Gone,
    /// The real server is back in the configuration.
    Cancelled,
}

/// Something the daemon did or saw, one log line each.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// Started with this configuration.
    Started {
        /// Services configured.
        services: usize,
        /// Real servers configured (per virtual server).
        real_servers: usize,
        /// Checks subscribed.
        checks: usize,
    },
    /// A health transition.
    Health(Transition),
    /// A script was run (or not).
    Script {
        /// Which (`notify_up` of ..., `quorum_down` of ...).
        what: String,
        /// The program.
        program: String,
        /// What happened.
        outcome: ScriptOutcome,
    },
    /// A real server removed from the configuration is being drained.
    DrainStart {
        /// Its service.
        service: ServiceKey,
        /// The real server.
        destination: Destination,
        /// Connections at the start.
        connections: u64,
        /// Time allowed.
        timeout: Duration,
    },
    /// A drain is over; the real server is deleted (unless cancelled).
    DrainEnd {
        /// Its service.
        service: ServiceKey,
        /// The real server.
        destination: Destination,
        /// Why.
        end: DrainEnd,
    },
    /// A real server of a UDP service removed from the configuration,
    /// deleted without drain.
    UdpRemoved {
        /// Its service.
        service: ServiceKey,
        /// The real server.
        destination: Destination,
    },
    /// The configuration was reloaded.
    Reloaded {
        /// Services configured.
        services: usize,
        /// Real servers configured.
        real_servers: usize,
        /// Checks subscribed.
        checks: usize,
    },
    /// A reload was refused; nothing changed.
    ReloadFailed(Vec<String>),
    /// A configuration warning or a setting not acted on.
    Warning(String),
    /// Changes were written to the kernel.
    Applied {
        /// Changes that succeeded.
        ok: usize,
        /// Changes that failed.
        failed: usize,
        /// The changes when few (at most 20), as `ipvsadm`-like text.
        changes: Vec<String>,
    },
    /// A change failed (said once until the set of failures changes).
    ChangeFailed {
        /// The change.
        change: String,
        /// The kernel's error.
        error: String,
    },
    /// The kernel could not be read.
    KernelError(String),
    /// An operator's action through the control socket (drain, enable,
    /// weight, maintenance), or an override dropped because its real
    /// server left the configuration.
    Admin(String),
    /// The table was flushed (`lvs_flush` at start, `lvs_flush_on_stop`).
    Flushed,
    /// Stopped.
    Stopped,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::Started {
                services,
                real_servers,
                checks,
            } => write!(
                f,
                "started: {services} services, {real_servers} real servers, {checks} checks"
            ),
            Note::Health(t) => write!(f, "{t}"),
            Note::Script {
                what,
                program,
                outcome,
            } => match outcome {
                ScriptOutcome::Started => write!(f, "{what}: running {program}"),
                ScriptOutcome::Failed(e) => write!(f, "{what}: cannot run {program}: {e}"),
                ScriptOutcome::Skipped => {
                    write!(f, "{what}: {program} not run: too many scripts running")
                }
            },
            Note::DrainStart {
                service,
                destination,
                connections,
                timeout,
            } => write!(
                f,
                "drain start: real server {} of {service} (weight 0, {connections} connections, deleted when none are left or after {} s)",
                dest_name(destination),
                timeout.as_secs()
            ),
            Note::DrainEnd {
                service,
                destination,
                end,
            } => {
                let d = dest_name(destination);
                match end {
                    DrainEnd::Empty => write!(f, "drain end: real server {d} of {service}: no connection left, deleted"),
                    DrainEnd::Deadline(n) => write!(f, "drain end: real server {d} of {service}: deadline passed with {n} connections, deleted"),
                    DrainEnd::Gone => write!(f, "drain end: real server {d} of {service}: gone from the kernel"),
                    DrainEnd::Cancelled => write!(f, "drain end: real server {d} of {service}: back in the configuration"),
                }
            }
            Note::UdpRemoved {
                service,
                destination,
            } => write!(
                f,
                "real server {} of {service} removed from the configuration: UDP, deleted without drain",
                dest_name(destination)
            ),
            Note::Reloaded {
                services,
                real_servers,
                checks,
            } => write!(
                f,
                "reload: ok: {services} services, {real_servers} real servers, {checks} checks"
            ),
            Note::ReloadFailed(errors) => {
                write!(f, "reload: refused, nothing changed: {}", errors.join("; "))
            }
            Note::Warning(w) => write!(f, "warning: {w}"),
            Note::Applied {
                ok,
                failed,
                changes,
            } => {
                write!(f, "kernel: {ok} changes applied")?;
                if *failed > 0 {
                    write!(f, ", {failed} failed")?;
                }
                if !changes.is_empty() {
                    write!(f, ": {}", changes.join("; "))?;
                }
                Ok(())
            }
            Note::ChangeFailed { change, error } => {
                write!(f, "kernel: {change}: {error} (retried at the next reconcile)")
            }
            Note::KernelError(e) => write!(f, "kernel: {e}"),
            Note::Admin(m) => write!(f, "control: {m}"),
            Note::Flushed => f.write_str("kernel: table flushed"),
            Note::Stopped => f.write_str("stopped"),
        }
    }
}

fn dest_name(d: &Destination) -> String {
    std::net::SocketAddr::new(d.addr, d.port).to_string()
}

/// What the daemon's loop is asked to do.
#[derive(Debug)]
pub enum Control {
    /// Reload the configuration file (SIGHUP).
    Reload,
    /// Reconcile now.
    Reconcile,
    /// Send the daemon's view ([`Director::status`]) on this channel.
    Status(oneshot::Sender<Status>),
    /// A control socket request ([`crate::control`]), answered by
    /// [`Director::handle`] on this channel.
    Request(Request, oneshot::Sender<Reply>),
    /// Stop (SIGTERM, SIGINT).
    Stop,
}

/// Why the daemon could not start.
#[derive(Debug)]
pub enum StartError {
    /// The configuration file was refused.
    Config(keepalived::Refused),
    /// The configuration cannot be acted on.
    Model(Vec<String>),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Config(r) => write!(f, "{r}"),
            StartError::Model(e) => f.write_str(&e.join("\n")),
        }
    }
}

impl std::error::Error for StartError {}

/// Reads the configuration again for a reload, whatever its front end:
/// the new model and the warnings to log, or the errors that refuse it.
pub type Loader = Box<dyn FnMut() -> Result<(Model, Vec<String>), Vec<String>> + Send>;

/// The keepalived front end's loader: `path` parsed as `keepalived.conf`.
pub fn keepalived_loader(path: PathBuf) -> Loader {
    Box::new(move || {
        let parsed = keepalived::parse_file(&path)
            .map_err(|r| r.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
        let warnings = parsed.warnings.iter().map(|w| w.to_string()).collect();
        let model = Model::from_config(parsed.config)?;
        Ok((model, warnings))
    })
}

/// The connection-sync daemons `lvs_sync_daemon` asks lvsd to run. Without
/// a VRRP instance (`inst`), both the master and the backup daemon, as
/// keepalived's checker process runs them (sync id 0 unless `id` says
/// otherwise): every director sends its connections and takes its peers'.
/// With one, none: the daemons follow that instance's state, which is the
/// VRRP daemon's job (keepalived's VRRP process switches them between
/// master and backup), and lvsd runs no VRRP.
pub fn wanted_daemons(config: Option<&SyncDaemonConfig>) -> Vec<SyncDaemon> {
    let Some(c) = config.filter(|c| c.vrrp_instance.is_none()) else {
        return Vec::new();
    };
    [DaemonState::Master, DaemonState::Backup]
        .into_iter()
        .map(|state| {
            SyncDaemon::new(state, c.interface.as_bytes())
                .with_sync_id(c.sync_id.unwrap_or(0).into())
                .with_sync_maxlen(c.maxlen.unwrap_or(0))
                .with_mcast_group(c.group)
                .with_mcast_port(c.port.unwrap_or(0))
                .with_mcast_ttl(c.ttl.unwrap_or(0))
        })
        .collect()
}

/// Whether a running daemon (as the kernel reports it, its defaults filled
/// in) is the wanted one: what the configuration leaves unset matches
/// the kernel's default (group 224.0.0.81, port 8848, TTL 1, any maxlen).
pub fn daemon_matches(want: &SyncDaemon, have: &SyncDaemon) -> bool {
    let default_group: std::net::IpAddr = std::net::Ipv4Addr::new(224, 0, 0, 81).into();
    want.state == have.state
        && want.mcast_ifn == have.mcast_ifn
        && want.sync_id == have.sync_id
        && (want.sync_maxlen == 0 || want.sync_maxlen == have.sync_maxlen)
        && match want.mcast_group {
            Some(g) => have.mcast_group == Some(g),
            None => have.mcast_group.is_none() || have.mcast_group == Some(default_group),
        }
        && match want.mcast_port {
            0 => matches!(have.mcast_port, 0 | 8848),
            p => have.mcast_port == p,
        }
        && match want.mcast_ttl {
            0 => matches!(have.mcast_ttl, 0 | 1),
            t => have.mcast_ttl == t,
        }
}

/// The changes given to the kernel in one call by [`Director::write`].
const WRITE_SLICE: usize = 4096;

struct Draining {
    service: ServiceKey,
    destination: Destination,
    deadline: Instant,
}

/// The thread the check engine runs on: a `current_thread` tokio runtime
/// of its own, so that kernel calls (synchronous netlink requests, which can
/// take up to the socket timeout) never delay a probe or its result. Dropping
/// it stops the runtime and joins the thread.
struct CheckThread {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The thread's id, for its scheduling priority (0 if unknown).
    tid: libc::pid_t,
}

/// How much lower the check thread's priority is while the daemon reloads (nice levels).
const RELOAD_NICE_STEP: libc::c_int = 10;

/// Keeps a thread's nice value raised until dropped (see [`CheckThread::yield_to_reload`]).
struct NiceGuard {
    tid: libc::pid_t,
    was: libc::c_int,
}

impl Drop for NiceGuard {
    fn drop(&mut self) {
        // SAFETY: setpriority only reads its arguments.
        unsafe { libc::setpriority(libc::PRIO_PROCESS, self.tid as libc::id_t, self.was) };
    }
}

/// Whether this process may lower a nice value again (CAP_SYS_NICE, or an RLIMIT_NICE
/// that allows `nice`): raising a thread's nice value is always allowed, undoing it is not.
fn may_restore_nice(nice: libc::c_int) -> bool {
    const CAP_SYS_NICE: u32 = 23;
    let cap = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|eff| eff & (1 << CAP_SYS_NICE) != 0);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given.
    let rlimit_ok = unsafe { libc::getrlimit(libc::RLIMIT_NICE, &mut limit) } == 0
        && limit.rlim_cur >= (20 - nice) as libc::rlim_t;
    cap || rlimit_ok
}

/// A thread's nice value, if it can be read.
fn nice_of(tid: libc::pid_t) -> Option<libc::c_int> {
    // getpriority returns -1 both for an error and for nice -1: errno tells them apart.
    // SAFETY: errno is thread-local; getpriority only reads its arguments.
    unsafe {
        *libc::__errno_location() = 0;
        let n = libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t);
        (*libc::__errno_location() == 0).then_some(n)
    }
}

impl CheckThread {
    fn spawn() -> std::io::Result<CheckThread> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("lvsd-checks".into())
            .spawn(move || {
                // SAFETY: gettid has no arguments and cannot fail.
                let _ = tid_tx.send(unsafe { libc::gettid() });
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                // Probes are aborted; a MISC_CHECK child left behind is
                // not waited for.
                runtime.shutdown_timeout(Duration::from_secs(1));
            })?;
        Ok(CheckThread {
            handle,
            stop: Some(stop),
            thread: Some(thread),
            tid: tid_rx.recv().unwrap_or(0),
        })
    }

    /// Lowers the probes' share of the CPU while a reload runs (until the guard is
    /// dropped): probes go on, but on a saturated machine the reload's parse, model and
    /// kernel read no longer split the CPU evenly with thousands of probes. Only when the
    /// priority can be given back (CAP_SYS_NICE, as a daemon that writes IPVS has, or a
    /// permissive RLIMIT_NICE); otherwise nothing changes.
    fn yield_to_reload(&self) -> Option<NiceGuard> {
        if self.tid <= 0 {
            return None;
        }
        let was = nice_of(self.tid)?;
        if !may_restore_nice(was) {
            return None;
        }
        let lowered = (was + RELOAD_NICE_STEP).min(19);
        // SAFETY: setpriority only reads its arguments.
        let ok =
            unsafe { libc::setpriority(libc::PRIO_PROCESS, self.tid as libc::id_t, lowered) } == 0;
        ok.then_some(NiceGuard { tid: self.tid, was })
    }
}

impl Drop for CheckThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The director daemon.
pub struct Director<K: Kernel> {
    kernel: K,
    engine: Engine<CheckId>,
    /// Runs the engine's probes; declared after `engine` so that the
    /// engine (and its checks) stop before the runtime does.
    _checks: CheckThread,
    events: UnboundedReceiver<Event<CheckId>>,
    model: Model,
    loader: Option<Loader>,
    /// The configuration file's name, for status.
    config_name: Option<String>,
    health: Health,
    drains: Vec<Draining>,
    /// Services removed from the configuration, kept while their real
    /// servers drain.
    leaving: Vec<Service>,
    /// Services removed from the configuration by a reload, to be deleted
    /// from the kernel (other services the configuration does not name
    /// are not the daemon's and are left alone).
    retired: HashSet<ServiceKey>,
    notes: UnboundedSender<Note>,
    scripts: Scripts,
    options: Options,
    last_failures: HashSet<String>,
    failed: bool,
    started: SystemTime,
    last_reload: Option<ReloadStatus>,
    /// Operator overrides ([`crate::admin`]).
    admin: Overrides,
    /// The kernel's table as last known: the last snapshot with the
    /// changes written since applied to it. `None` when in doubt (a
    /// change failed, the channel failed): the next reconcile reads the
    /// kernel.
    known: Option<Table>,
    /// When the kernel was last read (the periodic reconcile counts from
    /// there).
    last_read: Instant,
    /// How long the last successful full read of the kernel took: periodic
    /// reads are spaced so that they take a bounded share of the daemon's
    /// time.
    read_cost: Duration,
    /// A sync-daemon change failed (tried again at the next full
    /// reconcile, which comes sooner then).
    daemons_failed: bool,
}

fn count(model: &Model) -> (usize, usize, usize) {
    (
        model.services().count(),
        model
            .virtual_servers
            .iter()
            .map(|v| v.real_servers.len())
            .sum(),
        model
            .virtual_servers
            .iter()
            .flat_map(|v| &v.real_servers)
            .map(|r| r.checks.len())
            .sum(),
    )
}

impl<K: Kernel> Director<K> {
    /// Starts the daemon on a parsed configuration: subscribes the checks
    /// (on a thread of their own, so that a slow kernel call never delays
    /// them), flushes the table if
    /// `lvs_flush` says so, sets `lvs_timeouts` where they differ, and
    /// reconciles once. `path` is the file [`Director::reload`] reads
    /// (without one, only [`Director::reload_config`] can reload).
    pub fn start(
        kernel: K,
        config: &Config,
        path: Option<PathBuf>,
        options: Options,
    ) -> Result<(Director<K>, UnboundedReceiver<Note>), StartError> {
        Director::start_owned(kernel, config.clone(), path, options)
    }

    /// [`Director::start`] taking the configuration by value: it moves into
    /// the model, so a large file is not held twice while starting, and the
    /// parse's freed memory goes back to the system before the engine starts.
    pub fn start_owned(
        kernel: K,
        config: Config,
        path: Option<PathBuf>,
        options: Options,
    ) -> Result<(Director<K>, UnboundedReceiver<Note>), StartError> {
        let model = Model::from_config(config).map_err(StartError::Model)?;
        release_free_memory();
        let name = path.as_ref().map(|p| p.display().to_string());
        let (mut d, notes) =
            Director::start_model(kernel, model, path.map(keepalived_loader), options)?;
        d.config_name = name;
        Ok((d, notes))
    }

    /// [`Director::start`] with a model any front end built; `loader`
    /// reads the configuration again for [`Director::reload`].
    pub fn start_model(
        kernel: K,
        model: Model,
        loader: Option<Loader>,
        options: Options,
    ) -> Result<(Director<K>, UnboundedReceiver<Note>), StartError> {
        let checks = CheckThread::spawn()
            .map_err(|e| StartError::Model(vec![format!("cannot start the check thread: {e}")]))?;
        let (engine, events) = Engine::new(checks.handle.clone(), false);
        // No probe before the first reconcile has put the table in place
        // (resumed below): on a small machine thousands of first probes
        // would otherwise share the CPU with the start.
        engine.pause();
        if let Some(r) = &options.recorder {
            engine.observe(r.probe_observer());
        }
        let kept = engine
            .sync(model.checks())
            .map_err(|e| StartError::Model(vec![e.to_string()]))?;
        let mut model = model;
        model.share_specs(kept);
        let (tx, rx) = mpsc::unbounded_channel();
        let mut health = Health::new();
        // From the checks' starting states: a probe that finished before the
        // loop listens is then a transition (logged, notify scripts run).
        health.sync(&model, |id| engine.initial_state(id));
        let scripts = Scripts::new(options.script_limit, options.script_timeout);
        let mut d = Director {
            kernel,
            engine,
            _checks: checks,
            events,
            model,
            loader,
            config_name: None,
            health,
            drains: Vec::new(),
            leaving: Vec::new(),
            retired: HashSet::new(),
            notes: tx,
            scripts,
            options,
            last_failures: HashSet::new(),
            failed: false,
            started: SystemTime::now(),
            last_reload: None,
            admin: Overrides::new(),
            known: None,
            last_read: Instant::now(),
            read_cost: Duration::ZERO,
            daemons_failed: false,
        };
        for n in d.model.notes.clone() {
            d.note(Note::Warning(n));
        }
        if d.model.global.lvs_flush {
            d.write(&[Change::Flush]);
            d.note(Note::Flushed);
        }
        d.set_timeouts();
        let (services, real_servers, checks) = count(&d.model);
        d.note(Note::Started {
            services,
            real_servers,
            checks,
        });
        d.reconcile();
        d.engine.resume();
        // The first reconcile's transient tables and change list back to the system: the
        // known table grew among them, and the holes would stay resident.
        release_free_memory();
        Ok((d, rx))
    }

    /// Names the configuration file in [`Director::status`] (set by
    /// [`Director::start`]; front ends that start with
    /// [`Director::start_model`] set it here).
    pub fn set_config_name(&mut self, name: impl Into<String>) {
        self.config_name = Some(name.into());
    }

    /// The kernel handle.
    pub fn kernel(&mut self) -> &mut K {
        &mut self.kernel
    }

    /// The configuration acted on.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The health view.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// The check engine.
    pub fn engine(&self) -> &Engine<CheckId> {
        &self.engine
    }

    /// The daemon's view now: configuration, health, drains and the last
    /// reload (no kernel counters; see [`crate::status`]).
    pub fn status(&self) -> Status {
        let now = Instant::now();
        Status {
            schema: STATUS_SCHEMA,
            daemon: DaemonStatus {
                pid: std::process::id(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                config: self.config_name.clone(),
                started: status::unix_time(self.started),
                last_reload: self.last_reload.clone(),
            },
            virtual_servers: status::with_overrides(
                status::virtual_servers(&self.model, &self.health),
                &self.model,
                &self.admin,
            ),
            draining: self
                .drains
                .iter()
                .map(|d| DrainStatus {
                    service: d.service,
                    addr: std::net::SocketAddr::new(d.destination.addr, d.destination.port),
                    deadline_in: d.deadline.saturating_duration_since(now).as_secs_f64(),
                })
                .collect(),
        }
    }

    fn note(&mut self, n: Note) {
        match &n {
            Note::Reloaded { .. } => {
                self.last_reload = Some(ReloadStatus {
                    ok: true,
                    at: status::unix_time(SystemTime::now()),
                    errors: Vec::new(),
                })
            }
            Note::ReloadFailed(errors) => {
                self.last_reload = Some(ReloadStatus {
                    ok: false,
                    at: status::unix_time(SystemTime::now()),
                    errors: errors.clone(),
                })
            }
            Note::Applied { ok, failed, .. } => {
                if let Some(r) = &self.options.recorder {
                    r.changes(*ok, *failed);
                }
            }
            _ => {}
        }
        let _ = self.notes.send(n);
    }

    fn set_timeouts(&mut self) {
        let Some(want) = self.model.global.lvs_timeouts else {
            return;
        };
        match self.kernel.timeouts() {
            Ok(cur) => {
                let differs = [
                    (want.tcp, cur.tcp),
                    (want.tcp_fin, cur.tcp_fin),
                    (want.udp, cur.udp),
                ]
                .iter()
                .any(|(w, c)| *w != 0 && w != c);
                if differs {
                    self.write(&[Change::SetTimeouts(want)]);
                }
            }
            Err(e) => self.note(Note::KernelError(e.to_string())),
        }
    }

    /// Makes the running sync daemons those of `lvs_sync_daemon`
    /// ([`wanted_daemons`]): a daemon that runs as wanted is left alone (a
    /// restart or reload writes nothing), one that differs is stopped and
    /// started again, a missing one is started. Without daemons to run
    /// (no `lvs_sync_daemon`, or one with `inst`) nothing is read or
    /// written: as keepalived's checker, lvsd stops no daemon when a reload
    /// removes the keyword or names an instance (the VRRP daemon's then),
    /// nor when it stops.
    fn sync_daemons(&mut self) {
        let want = wanted_daemons(self.model.global.lvs_sync_daemon.as_ref());
        if want.is_empty() {
            self.daemons_failed = false;
            return;
        }
        let have = match self.kernel.daemons() {
            Ok(h) => h,
            Err(e) => {
                self.daemons_failed = true;
                self.note(Note::KernelError(format!("sync daemons: {e}")));
                return;
            }
        };
        let mut changes = Vec::new();
        for state in [DaemonState::Master, DaemonState::Backup] {
            let w = want.iter().find(|d| d.state == state);
            let h = have.iter().find(|d| d.state == state);
            match (w, h) {
                (Some(w), Some(h)) if daemon_matches(w, h) => {}
                (Some(w), Some(_)) => {
                    changes.push(Change::StopDaemon(state));
                    changes.push(Change::StartDaemon(w.clone()));
                }
                (Some(w), None) => changes.push(Change::StartDaemon(w.clone())),
                (None, _) => {}
            }
        }
        let ok = self.write(&changes);
        self.daemons_failed = ok < changes.len();
    }

    /// Applies changes; reports failures; returns how many succeeded.
    fn write(&mut self, changes: &[Change]) -> usize {
        if changes.is_empty() {
            return 0;
        }
        let mut ok = 0;
        let mut failures = HashSet::new();
        // In slices, so that a table's worth of results (a start writes every real server)
        // is never held at once; the kernel calls batch within each slice anyway.
        for slice in changes.chunks(WRITE_SLICE) {
            let results = match self.kernel.apply(slice) {
                Ok(r) => r,
                Err(e) => {
                    self.failed = true;
                    self.known = None;
                    self.note(Note::KernelError(e.to_string()));
                    if ok == 0 {
                        return 0;
                    }
                    break;
                }
            };
            if results.len() != slice.len() {
                self.known = None;
            }
            self.take_results(slice, &results, &mut ok, &mut failures);
        }
        let failed = changes.len() - ok;
        self.failed = failed > 0;
        if self.failed {
            self.known = None;
        }
        self.last_failures = failures;
        self.note(Note::Applied {
            ok,
            failed,
            changes: if changes.len() <= 20 {
                changes.iter().map(|c| c.to_string()).collect()
            } else {
                Vec::new()
            },
        });
        ok
    }

    /// Counts one slice's results, keeps the known table in step and notes new failures.
    fn take_results(
        &mut self,
        changes: &[Change],
        results: &[Result<(), ipvs::Error>],
        ok: &mut usize,
        failures: &mut HashSet<String>,
    ) {
        for (c, r) in changes.iter().zip(results) {
            match r {
                Ok(()) => {
                    *ok += 1;
                    // The kernel took it: so does the known table (a
                    // change it cannot take means the table is in doubt).
                    if self.known.as_mut().is_some_and(|k| k.apply(c).is_err()) {
                        self.known = None;
                    }
                }
                Err(e) => {
                    let change = c.to_string();
                    if !self.last_failures.contains(&change) {
                        self.note(Note::ChangeFailed {
                            change: change.clone(),
                            error: e.to_string(),
                        });
                    }
                    failures.insert(change);
                }
            }
        }
    }

    /// The table wanted now: configuration and health, plus the real
    /// servers (and services) being drained, at weight 0.
    fn desired(&self) -> Table {
        let mut t = self.model.table(&self.health);
        self.admin.apply(&mut t, &self.model, &self.health);
        for s in &self.leaving {
            if t.service(&s.key).is_none() {
                let _ = t.add_service(s.clone());
            }
        }
        for d in &self.drains {
            let _ = t.add_destination(&d.service, d.destination.clone());
        }
        t
    }

    /// Ends drains that are over (no connection, deadline, gone, back in
    /// the configuration) and services left without drains.
    fn settle_drains(&mut self, actual: &KernelTable) {
        if self.drains.is_empty() && self.leaving.is_empty() {
            // Nothing to settle: the wanted table is not built for nothing.
            return;
        }
        let now = Instant::now();
        let config = self.model.table(&self.health);
        let mut ended = Vec::new();
        self.drains.retain(|d| {
            let configured = config.service(&d.service).is_some_and(|s| {
                s.destinations
                    .iter()
                    .any(|x| x.addr == d.destination.addr && x.port == d.destination.port)
            });
            let present = actual.table.service(&d.service).is_some_and(|s| {
                s.destinations
                    .iter()
                    .any(|x| x.addr == d.destination.addr && x.port == d.destination.port)
            });
            let conns = actual.connections(&d.service, &d.destination);
            let end = if configured {
                Some(DrainEnd::Cancelled)
            } else if !present {
                Some(DrainEnd::Gone)
            } else if conns == 0 {
                Some(DrainEnd::Empty)
            } else if now >= d.deadline {
                Some(DrainEnd::Deadline(conns))
            } else {
                None
            };
            if let Some(end) = end {
                ended.push(Note::DrainEnd {
                    service: d.service,
                    destination: d.destination.clone(),
                    end,
                });
            }
            end.is_none()
        });
        for n in ended {
            self.note(n);
        }
        let drains = &self.drains;
        self.leaving.retain(|s| {
            config.service(&s.key).is_none() && drains.iter().any(|d| d.service == s.key)
        });
    }

    /// Reads the kernel, computes the desired table and applies the plan:
    /// drift is repaired, drains are settled with fresh connection counts,
    /// and the table read becomes the known one. Returns the number of
    /// changes written.
    pub fn reconcile(&mut self) -> usize {
        let started = Instant::now();
        let written = self.reconcile_full();
        self.record_reconcile(started);
        written
    }

    /// [`Director::reconcile`]'s work, untimed.
    fn reconcile_full(&mut self) -> usize {
        let actual = self.read();
        self.reconcile_on(actual)
    }

    /// Gives the metrics recorder, if any, one reconcile's duration.
    fn record_reconcile(&self, started: Instant) {
        if let Some(r) = &self.options.recorder {
            r.reconcile(started.elapsed());
        }
    }

    /// Reads the kernel (a full dump). The known table, if any, is brought
    /// up to date in place (see [`Kernel::refresh`]): an unchanged table is
    /// not built a second time.
    fn read(&mut self) -> Result<KernelTable, ipvs::Error> {
        let started = Instant::now();
        let mut current = KernelTable {
            table: self.known.take().unwrap_or_default(),
            connections: Default::default(),
        };
        let snapshot = self.kernel.refresh(&mut current).map(|()| current);
        self.last_read = Instant::now();
        // Only a complete read measures the table: a read that failed (a
        // netlink timeout, say) must not stretch the retries after it.
        if snapshot.is_ok() {
            self.read_cost = self.last_read - started;
        }
        snapshot
    }

    /// [`Director::reconcile`] on a snapshot just read, which becomes the
    /// known table.
    fn reconcile_on(&mut self, actual: Result<KernelTable, ipvs::Error>) -> usize {
        // Sync daemons too are compared at every full reconcile (one small
        // read, none without lvs_sync_daemon): drift and failures repaired.
        self.sync_daemons();
        let actual = match actual {
            Ok(t) => t,
            Err(e) => {
                self.failed = true;
                self.known = None;
                self.note(Note::KernelError(e.to_string()));
                return 0;
            }
        };
        self.settle_drains(&actual);
        self.retired.retain(|k| actual.table.service(k).is_some());
        let changes = self.plan_changes(&actual.table);
        self.known = Some(actual.table);
        if changes.is_empty() {
            self.failed = false;
            self.last_failures.clear();
            return 0;
        }
        self.write(&changes)
    }

    /// The reconcile after health events: plans against the known table
    /// (the last snapshot with the changes written since) instead of
    /// reading the kernel, so that an event costs only the writes it
    /// needs, whatever the size of the table. Falls back to
    /// [`Director::reconcile`] when the known table is in doubt (none yet,
    /// a change failed, the kernel channel failed), and runs it at once
    /// when one of its own changes fails (the table changed behind the
    /// daemon's back). Drift is repaired by the periodic reconcile and at
    /// reload; drains are settled at their polls. Returns the number of
    /// changes written.
    pub fn reconcile_health(&mut self) -> usize {
        let started = Instant::now();
        let written = self.reconcile_known();
        self.record_reconcile(started);
        written
    }

    /// [`Director::reconcile_health`]'s work, untimed (its fallbacks to a
    /// full reconcile are part of the same, single, recorded reconcile).
    fn reconcile_known(&mut self) -> usize {
        if self.failed {
            return self.reconcile_full();
        }
        let Some(known) = &self.known else {
            return self.reconcile_full();
        };
        let changes = self.plan_changes(known);
        if changes.is_empty() {
            return 0;
        }
        let written = self.write(&changes);
        if self.failed {
            return written + self.reconcile_full();
        }
        written
    }

    /// The changes that make `actual` the desired table, for the daemon's
    /// services only: configured, leaving or retired (a service the
    /// configuration never named is left alone).
    fn plan_changes(&self, actual: &Table) -> Vec<Change> {
        let desired = self.desired();
        let mut changes = plan(&desired, actual).into_changes();
        changes.retain(|c| match c {
            Change::DeleteService(k) => self.retired.contains(k),
            _ => true,
        });
        changes
    }

    fn run_script(&mut self, what: String, script: &Script) {
        let outcome = self.scripts.spawn(script, &self.model.global);
        self.note(Note::Script {
            what,
            program: script.argv.first().cloned().unwrap_or_default(),
            outcome,
        });
    }

    fn on_transitions(&mut self, transitions: Vec<Transition>) {
        for t in transitions {
            let script = match &t {
                Transition::Up { rs, .. } => self
                    .model
                    .rs(rs)
                    .and_then(|r| r.server.notify_up.as_deref().cloned())
                    .map(|s| (format!("notify_up of {rs}"), s)),
                Transition::Down { rs, .. } => self
                    .model
                    .rs(rs)
                    .and_then(|r| r.server.notify_down.as_deref().cloned())
                    .map(|s| (format!("notify_down of {rs}"), s)),
                Transition::QuorumUp { vs, .. } => self
                    .model
                    .vs(vs)
                    .and_then(|v| v.quorum_up.clone())
                    .map(|s| (format!("quorum_up of {vs}"), s)),
                Transition::QuorumDown { vs, .. } => self
                    .model
                    .vs(vs)
                    .and_then(|v| v.quorum_down.clone())
                    .map(|s| (format!("quorum_down of {vs}"), s)),
                Transition::Weight { .. } => None,
            };
            self.note(Note::Health(t));
            if let Some((what, s)) = script {
                self.run_script(what, &s);
            }
        }
    }

    /// Applies one check event to the health view (no reconcile).
    pub fn on_event(&mut self, event: &Event<CheckId>) {
        if matches!(event.kind, EventKind::Result) {
            return;
        }
        // An event queued before a reload changed the key's check: the
        // engine's current state decides.
        match (&event.kind, self.engine.state(&event.key)) {
            (_, None) => return,
            (EventKind::Up { .. }, Some(s)) | (EventKind::Weight(_), Some(s)) if !s.up => return,
            (EventKind::Down { .. }, Some(s)) if s.up => return,
            _ => {}
        }
        let t = self.health.on_event(&self.model, &event.key, &event.kind);
        self.on_transitions(t);
    }

    /// Reloads the configuration file: parses and validates it fully, then
    /// carries check states over, drains the real servers that left the
    /// configuration and reconciles. A refused configuration changes
    /// nothing. Whether the new configuration was taken.
    pub fn reload(&mut self) -> bool {
        let Some(loader) = self.loader.as_mut() else {
            self.note(Note::ReloadFailed(vec![
                "no configuration file to reload".into()
            ]));
            return false;
        };
        // Probes yield the CPU to the reload until it is done (see
        // CheckThread::yield_to_reload).
        let _yielded = self._checks.yield_to_reload();
        let loaded = loader();
        // The parse's garbage back to the system before the new model is
        // taken in, and the old model's after.
        release_free_memory();
        let taken = match loaded {
            Ok((model, warnings)) => self.reload_model(model, warnings),
            Err(e) => {
                self.note(Note::ReloadFailed(e));
                false
            }
        };
        release_free_memory();
        taken
    }

    /// [`Director::reload`] with a configuration already parsed.
    pub fn reload_config(&mut self, config: &Config, warnings: Vec<String>) -> bool {
        match Model::build(config) {
            Ok(m) => self.reload_model(m, warnings),
            Err(e) => {
                self.note(Note::ReloadFailed(e));
                false
            }
        }
    }

    /// [`Director::reload`] with a model any front end built.
    pub fn reload_model(&mut self, mut model: Model, warnings: Vec<String>) -> bool {
        // Validates every spec before changing any subscription.
        match self.engine.sync(model.checks()) {
            Ok(kept) => model.share_specs(kept),
            Err(e) => {
                self.note(Note::ReloadFailed(vec![e.to_string()]));
                return false;
            }
        }
        for w in warnings.into_iter().chain(model.notes.iter().cloned()) {
            self.note(Note::Warning(w));
        }
        let old = self.model.table(&self.health);
        // The old model goes as soon as it has said what it retires: two models of a large
        // configuration are not held through the reconcile.
        let timeouts_changed = {
            let old_model = std::mem::replace(&mut self.model, model);
            let kept: HashSet<ServiceKey> = self.model.services().map(|n| n.key).collect();
            for s in old_model.services() {
                if !kept.contains(&s.key) {
                    self.retired.insert(s.key);
                }
            }
            self.model.global.lvs_timeouts != old_model.global.lvs_timeouts
        };
        self.prune_overrides();
        let engine = &self.engine;
        let t = self.health.sync(&self.model, |id| engine.state(id));
        self.on_transitions(t);
        // One read serves the drains' connection counts and the reconcile.
        let started = Instant::now();
        let actual = self.read();
        self.start_drains(&old, actual.as_ref().ok());
        drop(old);
        if timeouts_changed {
            self.set_timeouts();
        }
        let (services, real_servers, checks) = count(&self.model);
        self.note(Note::Reloaded {
            services,
            real_servers,
            checks,
        });
        self.reconcile_on(actual);
        self.record_reconcile(started);
        true
    }

    /// The (address, port) of every real server and sorry server the model names for
    /// the service `key` of virtual server `vs`, whatever their health.
    fn configured(&self, vs: usize, key: &ServiceKey) -> HashSet<(IpAddr, u16)> {
        let Some(vs) = self.model.virtual_servers.get(vs) else {
            return HashSet::new();
        };
        vs.real_servers
            .iter()
            .map(|r| r.server.destination_for(key))
            .chain(
                vs.sorry
                    .iter()
                    .map(|sorry| crate::desired::sorry_destination(sorry, key)),
            )
            .map(|d| (d.addr, d.port))
            .collect()
    }

    /// Drains what `old` (the table wanted before a reload) holds and the new model does
    /// not name, or whose service it no longer has.
    fn start_drains(&mut self, old: &Table, actual: Option<&KernelTable>) {
        let timeout = self.model.drain_timeout;
        // Each service to its virtual server (a few thousand entries, not one per real
        // server).
        let services: HashMap<ServiceKey, usize> = self
            .model
            .virtual_servers
            .iter()
            .enumerate()
            .flat_map(|(i, vs)| vs.services.iter().map(move |s| (s.key, i)))
            .collect();
        for s in old.services() {
            let key = s.service.key;
            // One service's names at a time (a set: a virtual server may have thousands).
            let configured = services.get(&key).map(|&vs| self.configured(vs, &key));
            let service_gone = configured.is_none();
            let udp = matches!(
                key,
                ServiceKey::Addr {
                    protocol: Protocol::Udp,
                    ..
                }
            );
            let mut any = false;
            for d in &s.destinations {
                if configured
                    .as_ref()
                    .is_some_and(|c| c.contains(&(d.addr, d.port)))
                {
                    continue;
                }
                if self.drains.iter().any(|x| {
                    x.service == key && x.destination.addr == d.addr && x.destination.port == d.port
                }) {
                    any = true;
                    continue;
                }
                if udp || timeout.is_zero() {
                    if udp {
                        self.note(Note::UdpRemoved {
                            service: key,
                            destination: d.clone(),
                        });
                    }
                    continue;
                }
                let connections = actual.map(|a| a.connections(&key, d)).unwrap_or(0);
                let destination = d.clone().with_weight(0);
                self.note(Note::DrainStart {
                    service: key,
                    destination: destination.clone(),
                    connections,
                    timeout,
                });
                self.drains.push(Draining {
                    service: key,
                    destination,
                    deadline: Instant::now() + timeout,
                });
                any = true;
            }
            if service_gone && any && !self.leaving.iter().any(|x| x.key == key) {
                self.leaving.push(s.service.clone());
            }
        }
    }

    /// Stops: runs `omega` scripts and applies `lvs_flush_on_stop`
    /// (keepalived 2.2.7: nothing by default, a flush with
    /// `lvs_flush_on_stop`, the configured services deleted with
    /// `lvs_flush_on_stop VS`).
    pub fn stop(&mut self) {
        let mut scripts = Vec::new();
        for vs in &self.model.virtual_servers {
            if !vs.omega {
                continue;
            }
            for rs in &vs.real_servers {
                if self.health.rs(&rs.id).is_some_and(|h| h.alive) {
                    if let Some(s) = &rs.server.notify_down {
                        scripts.push((format!("notify_down of {} (omega)", rs.id), (**s).clone()));
                    }
                }
            }
            if self.health.quorum_up(&vs.id) {
                if let Some(s) = &vs.quorum_down {
                    scripts.push((format!("quorum_down of {} (omega)", vs.id), s.clone()));
                }
            }
        }
        for (what, s) in scripts {
            self.run_script(what, &s);
        }
        match self.model.global.lvs_flush_on_stop {
            FlushOnStop::No => {}
            FlushOnStop::Full => {
                self.write(&[Change::Flush]);
                self.note(Note::Flushed);
            }
            FlushOnStop::VirtualServers => {
                let present = self.kernel.snapshot().map(|t| t.table).unwrap_or_default();
                let keys: Vec<Change> = self
                    .model
                    .virtual_servers
                    .iter()
                    .filter(|vs| !vs.keep_on_stop)
                    .flat_map(|vs| &vs.services)
                    .map(|s| s.key)
                    .chain(self.leaving.iter().map(|s| s.key))
                    .filter(|k| present.service(k).is_some())
                    .map(Change::DeleteService)
                    .collect();
                self.write(&keys);
            }
        }
        self.note(Note::Stopped);
    }

    /// Runs until [`Control::Stop`] (or the control channel closes), then
    /// [`Director::stop`]s.
    pub async fn run(mut self, mut control: UnboundedReceiver<Control>) {
        loop {
            // Counted from the last read of the kernel, so that a stream of
            // health events (which do not read it) never puts off drift
            // repair, retries or drain polls.
            let deadline = tokio::time::Instant::from_std(self.last_read + self.period());
            tokio::select! {
                biased;
                c = control.recv() => match c {
                    Some(Control::Reload) => { self.reload(); }
                    Some(Control::Reconcile) => { self.reconcile(); }
                    Some(Control::Status(reply)) => { let _ = reply.send(self.status()); }
                    Some(Control::Request(req, reply)) => { let _ = reply.send(self.handle(req)); }
                    Some(Control::Stop) | None => break,
                },
                ev = self.events.recv() => {
                    let Some(ev) = ev else { break };
                    self.on_event(&ev);
                    while let Ok(ev) = self.events.try_recv() {
                        self.on_event(&ev);
                    }
                    self.reconcile_health();
                    // Events without a pause must not starve the timer.
                    if Instant::now() >= self.last_read + self.period() {
                        self.reconcile();
                    }
                }
                _ = tokio::time::sleep_until(deadline) => { self.reconcile(); }
            }
        }
        self.stop();
    }

    /// The wait before the next periodic reconcile; called at every turn of
    /// the loop, so the heartbeat beats here.
    fn period(&self) -> Duration {
        if let Some(h) = &self.options.heartbeat {
            h.beat();
        }
        read_period(
            &self.options,
            self.read_cost,
            self.failed || self.daemons_failed,
            !self.drains.is_empty(),
        )
    }
}

/// Sets the allocator up for a long-running daemon with large, short-lived
/// tables (glibc): allocations of 128 KiB and more are mapped on their own
/// and unmapped when freed, and free memory at the top of the heap beyond
/// 128 KiB is returned. glibc's default raises both thresholds as the
/// program frees large blocks (up to 32 MiB), after which a full kernel
/// read's or a plan's vectors stay resident as heap. Measured on a dry run
/// of 2,000 services x 8 real servers: 2.3 MB less peak RSS. Call before
/// the first large allocation. Elsewhere, nothing.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets the allocator's parameters.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
    }
}

/// Gives the heap's free pages back to the system (glibc's `malloc_trim`):
/// parsing a large configuration leaves megabytes of freed memory that the
/// allocator would otherwise keep resident. Elsewhere, nothing.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The wait between full reads of the kernel: the drift-repair interval,
/// shorter while changes failed or drains are pending. A full read of a
/// large table is not free (2,000 services x 8 real servers: about a second
/// of the lab's emulated CPU), so the drift repair reads at most 1% of the
/// time and the retry and drain polls at most 10%; small tables keep the
/// configured intervals.
fn read_period(options: &Options, read_cost: Duration, failed: bool, draining: bool) -> Duration {
    let mut p = options.reconcile_interval.max(read_cost * 100);
    if failed {
        p = p.min(options.retry_interval.max(read_cost * 10));
    }
    if draining {
        p = p.min(options.drain_poll.max(read_cost * 10));
    }
    p
}

/// The control socket's requests ([`crate::control`], [`crate::admin`]).
impl<K: Kernel> Director<K> {
    /// The operator overrides in force.
    pub fn overrides(&self) -> &Overrides {
        &self.admin
    }

    /// Answers one control request: status, reload, or an override
    /// (checked first: a refused one changes nothing; an accepted one is
    /// logged as a [`Note::Admin`] and the table reconciled before the
    /// reply).
    pub fn handle(&mut self, request: Request) -> Reply {
        let (service, addr, action) = match request {
            Request::Status => return Reply::status(self.status()),
            Request::Reload => {
                let before = self.admin.clone();
                let ok = self.reload();
                let errors = match &self.last_reload {
                    Some(r) if !r.ok => r.errors.join("; "),
                    _ => String::new(),
                };
                // Overrides whose real server left the configuration.
                let dropped: Vec<String> = before
                    .iter()
                    .filter(|(k, a, _)| self.admin.get(k, *a).is_none())
                    .map(|(k, a, o)| format!("override {o} of real server {a} of {k} dropped: no longer in the configuration"))
                    .collect();
                return if ok && dropped.is_empty() {
                    Reply::ok("reload: ok")
                } else if ok {
                    Reply::ok(format!("reload: ok; {}", dropped.join("; ")))
                } else {
                    Reply::refused(format!("reload: refused, nothing changed: {errors}"))
                };
            }
            Request::Drain {
                service,
                real_server,
            } => (service, real_server, admin::Action::Drain),
            Request::Enable {
                service,
                real_server,
            } => (service, real_server, admin::Action::Enable),
            Request::Weight {
                service,
                real_server,
                weight,
            } => (service, real_server, admin::Action::Weight(weight)),
            Request::Maintenance {
                service,
                real_server,
                on,
            } => (service, real_server, admin::Action::Maintenance(on)),
        };
        let d = match admin::decide(
            &self.model,
            &self.health,
            &self.admin,
            &service,
            addr,
            action,
        ) {
            Ok(d) => d,
            Err(e) => return Reply::refused(e),
        };
        match d.after {
            Some(o) => {
                self.admin.set(service, addr, o);
            }
            None => {
                self.admin.remove(&service, addr);
            }
        }
        self.note(Note::Admin(d.message.clone()));
        self.reconcile();
        Reply::ok(d.message)
    }

    /// Drops the overrides of real servers the configuration no longer
    /// has (at a reload), with a note each.
    fn prune_overrides(&mut self) {
        for (service, addr, o) in self.admin.retain_configured(&self.model) {
            self.note(Note::Admin(format!(
                "override {o} of real server {addr} of {service} dropped: no longer in the configuration"
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check thread's nice value is raised for a reload and given back after; without
    /// the right to give it back, it is not touched.
    #[test]
    fn probes_yield_the_cpu_to_a_reload_and_get_it_back() {
        let checks = CheckThread::spawn().unwrap();
        let before = nice_of(checks.tid).expect("the check thread's nice value");
        let guard = checks.yield_to_reload();
        if !may_restore_nice(before) {
            assert!(guard.is_none(), "lowered without the right to restore");
            assert_eq!(nice_of(checks.tid), Some(before));
            return;
        }
        assert!(guard.is_some());
        assert_eq!(
            nice_of(checks.tid),
            Some((before + RELOAD_NICE_STEP).min(19)),
            "lowered while reloading"
        );
        // The main thread is not the one lowered.
        assert_eq!(nice_of(0), Some(before));
        drop(guard);
        assert_eq!(nice_of(checks.tid), Some(before), "given back after");
    }

    #[test]
    fn a_slow_read_stretches_the_periods_a_quick_one_does_not() {
        let o = Options::default();
        let ms = Duration::from_millis;
        // A small table: the configured 10 s, 5 s and 1 s.
        assert_eq!(read_period(&o, ms(2), false, false), ms(10_000));
        assert_eq!(read_period(&o, ms(2), true, false), ms(5_000));
        assert_eq!(read_period(&o, ms(2), true, true), ms(1_000));
        // A read of 800 ms: drift repair every 80 s, polls every 8 s.
        assert_eq!(read_period(&o, ms(800), false, false), ms(80_000));
        assert_eq!(read_period(&o, ms(800), true, false), ms(8_000));
        assert_eq!(read_period(&o, ms(800), false, true), ms(8_000));
    }

    /// A kernel whose reads fail slowly while `failing` is set.
    struct SlowlyFailing {
        inner: crate::kernel::MemoryKernel,
        failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
    }

    impl Kernel for SlowlyFailing {
        fn snapshot(&mut self) -> Result<KernelTable, ipvs::Error> {
            if self.failing.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                return Err(ipvs::Error::NotAvailable);
            }
            self.inner.snapshot()
        }
        fn apply(
            &mut self,
            changes: &[Change],
        ) -> Result<Vec<Result<(), ipvs::Error>>, ipvs::Error> {
            self.inner.apply(changes)
        }
        fn timeouts(&mut self) -> Result<ipvs::Timeouts, ipvs::Error> {
            self.inner.timeouts()
        }
    }

    #[test]
    fn a_failed_read_does_not_stretch_the_retries() {
        let conf = "virtual_server 192.0.2.1 80 {\n    real_server 198.51.100.1 80 {\n    }\n}\n";
        let config = keepalived::parse_str(conf, "t.conf").unwrap().config;
        let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let kernel = SlowlyFailing {
            inner: crate::kernel::MemoryKernel::new(),
            failing: failing.clone(),
        };
        let (mut d, _notes) =
            Director::start_owned(kernel, config, None, Options::default()).unwrap();
        let cost = d.read_cost;
        assert!(cost < Duration::from_millis(200), "{cost:?}");
        failing.store(true, std::sync::atomic::Ordering::Relaxed);
        d.reconcile();
        assert!(d.failed);
        assert_eq!(d.read_cost, cost, "a failed read measured the table");
        assert_eq!(d.period(), Options::default().retry_interval);
    }
}
