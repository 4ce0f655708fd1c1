//! The daemon: configuration → health → desired table → plan → kernel.
//!
//! A [`Director`] owns the kernel handle ([`Kernel`]), the check engine, the
//! configuration [`Model`] and the [`Health`] view. Every reconcile reads a
//! fresh kernel snapshot, computes the desired table (configuration +
//! health + real servers being drained) and applies [`ipvs::plan::plan`]'s
//! changes in one batch: a table that matches gets no write, drift made
//! behind the daemon's back is repaired, and a change the kernel refuses is
//! reported and tried again at the next reconcile while every other change
//! goes through. Only the daemon's services are compared: those of the
//! configuration, and those a reload removed until they are deleted;
//! services the configuration never named are left alone, as keepalived
//! leaves them. Reconciles run after health events (coalesced), after a
//! reload, every [`Options::reconcile_interval`], and every
//! [`Options::drain_poll`] while drains are pending.
//!
//! Everything worth a log line is sent as a [`Note`] on the channel
//! [`Director::start`] returns; the library prints nothing.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use ipvs::plan::{plan, Table};
use ipvs::{Change, Destination, Protocol, Service, ServiceKey};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;

use crate::check::{Engine, Event, EventKind};
use crate::desired::{CheckId, Model};
use crate::health::{Health, Transition};
use crate::keepalived::{self, Config, FlushOnStop, Script};
use crate::kernel::{Kernel, KernelTable};
use crate::notify::{ScriptOutcome, Scripts};
use crate::status::{self, DaemonStatus, DrainStatus, ReloadStatus, Status, STATUS_SCHEMA};

/// Tunables of the daemon's loop.
#[derive(Debug, Clone)]
pub struct Options {
    /// Reconcile at least this often (drift repair). Default 10 s.
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

struct Draining {
    service: ServiceKey,
    destination: Destination,
    deadline: Instant,
}

/// The director daemon.
pub struct Director<K: Kernel> {
    kernel: K,
    engine: Engine<CheckId>,
    events: UnboundedReceiver<Event<CheckId>>,
    model: Model,
    path: Option<PathBuf>,
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
}

fn count(model: &Model) -> (usize, usize, usize) {
    (
        model.services().count(),
        model
            .virtual_servers
            .iter()
            .map(|v| v.real_servers.len())
            .sum(),
        model.checks().len(),
    )
}

impl<K: Kernel> Director<K> {
    /// Starts the daemon on a parsed configuration: subscribes the checks
    /// (inside the current tokio runtime), flushes the table if
    /// `lvs_flush` says so, sets `lvs_timeouts` where they differ, and
    /// reconciles once. `path` is the file [`Director::reload`] reads
    /// (without one, only [`Director::reload_config`] can reload).
    pub fn start(
        kernel: K,
        config: &Config,
        path: Option<PathBuf>,
        options: Options,
    ) -> Result<(Director<K>, UnboundedReceiver<Note>), StartError> {
        let model = Model::build(config).map_err(StartError::Model)?;
        let (engine, events) = Engine::new(tokio::runtime::Handle::current(), false);
        if let Some(r) = &options.recorder {
            engine.observe(r.probe_observer());
        }
        engine
            .sync(model.checks())
            .map_err(|e| StartError::Model(vec![e.to_string()]))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let mut health = Health::new();
        health.sync(&model, |id| engine.state(id));
        let scripts = Scripts::new(options.script_limit, options.script_timeout);
        let mut d = Director {
            kernel,
            engine,
            events,
            model,
            path,
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
        Ok((d, rx))
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
                config: self.path.as_ref().map(|p| p.display().to_string()),
                started: status::unix_time(self.started),
                last_reload: self.last_reload.clone(),
            },
            virtual_servers: status::virtual_servers(&self.model, &self.health),
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

    /// Applies changes; reports failures; returns how many succeeded.
    fn write(&mut self, changes: &[Change]) -> usize {
        if changes.is_empty() {
            return 0;
        }
        let results = match self.kernel.apply(changes) {
            Ok(r) => r,
            Err(e) => {
                self.failed = true;
                self.note(Note::KernelError(e.to_string()));
                return 0;
            }
        };
        let mut ok = 0;
        let mut failures = HashSet::new();
        for (c, r) in changes.iter().zip(&results) {
            match r {
                Ok(()) => ok += 1,
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
        let failed = changes.len() - ok;
        self.failed = failed > 0;
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

    /// The table wanted now: configuration and health, plus the real
    /// servers (and services) being drained, at weight 0.
    fn desired(&self, actual: &KernelTable) -> Table {
        let _ = actual;
        let mut t = self.model.table(&self.health);
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

    /// Reads the kernel, computes the desired table and applies the plan.
    /// Returns the number of changes written.
    pub fn reconcile(&mut self) -> usize {
        let started = Instant::now();
        let written = self.reconcile_now();
        if let Some(r) = &self.options.recorder {
            r.reconcile(started.elapsed());
        }
        written
    }

    fn reconcile_now(&mut self) -> usize {
        let actual = match self.kernel.snapshot() {
            Ok(t) => t,
            Err(e) => {
                self.failed = true;
                self.note(Note::KernelError(e.to_string()));
                return 0;
            }
        };
        self.settle_drains(&actual);
        self.retired.retain(|k| actual.table.service(k).is_some());
        let desired = self.desired(&actual);
        // Only the daemon's services: configured, leaving or retired.
        let ours = Table::from(
            actual
                .table
                .services()
                .iter()
                .filter(|s| {
                    desired.service(&s.service.key).is_some()
                        || self.retired.contains(&s.service.key)
                })
                .cloned()
                .collect::<Vec<_>>(),
        );
        let p = plan(&desired, &ours);
        if p.is_empty() {
            self.failed = false;
            self.last_failures.clear();
            return 0;
        }
        self.write(p.changes())
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
                    .and_then(|r| r.server.notify_up.clone())
                    .map(|s| (format!("notify_up of {rs}"), s)),
                Transition::Down { rs, .. } => self
                    .model
                    .rs(rs)
                    .and_then(|r| r.server.notify_down.clone())
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
        let Some(path) = self.path.clone() else {
            self.note(Note::ReloadFailed(vec![
                "no configuration file to reload".into()
            ]));
            return false;
        };
        let parsed = match keepalived::parse_file(&path) {
            Ok(p) => p,
            Err(r) => {
                self.note(Note::ReloadFailed(
                    r.errors.iter().map(|e| e.to_string()).collect(),
                ));
                return false;
            }
        };
        self.reload_config(
            &parsed.config,
            parsed.warnings.iter().map(|w| w.to_string()).collect(),
        )
    }

    /// [`Director::reload`] with a configuration already parsed.
    pub fn reload_config(&mut self, config: &Config, warnings: Vec<String>) -> bool {
        let model = match Model::build(config) {
            Ok(m) => m,
            Err(e) => {
                self.note(Note::ReloadFailed(e));
                return false;
            }
        };
        // Validates every spec before changing any subscription.
        if let Err(e) = self.engine.sync(model.checks()) {
            self.note(Note::ReloadFailed(vec![e.to_string()]));
            return false;
        }
        for w in warnings.into_iter().chain(model.notes.iter().cloned()) {
            self.note(Note::Warning(w));
        }
        let old = self.model.table(&self.health);
        let old_model = std::mem::replace(&mut self.model, model);
        for s in old_model.services() {
            if !self.model.services().any(|n| n.key == s.key) {
                self.retired.insert(s.key);
            }
        }
        let engine = &self.engine;
        let t = self.health.sync(&self.model, |id| engine.state(id));
        self.on_transitions(t);
        let new = self.model.table(&self.health);
        self.start_drains(&old, &new);
        if self.model.global.lvs_timeouts != old_model.global.lvs_timeouts {
            self.set_timeouts();
        }
        let (services, real_servers, checks) = count(&self.model);
        self.note(Note::Reloaded {
            services,
            real_servers,
            checks,
        });
        self.reconcile();
        true
    }

    /// Whether the new model still names this real server in this service
    /// (as a real server or its sorry server), whatever its health.
    fn configured(&self, key: &ServiceKey, d: &Destination) -> bool {
        self.model.virtual_servers.iter().any(|vs| {
            vs.services.iter().any(|s| &s.key == key)
                && (vs.real_servers.iter().any(|r| {
                    let x = r.server.destination_for(key);
                    x.addr == d.addr && x.port == d.port
                }) || vs.sorry.as_ref().is_some_and(|s| {
                    let x = crate::desired::sorry_destination(s, key);
                    x.addr == d.addr && x.port == d.port
                }))
        })
    }

    fn start_drains(&mut self, old: &Table, new: &Table) {
        let timeout = self.model.drain_timeout;
        let actual = self.kernel.snapshot().ok();
        for s in old.services() {
            let key = s.service.key;
            let service_gone = new.service(&key).is_none();
            let udp = matches!(
                key,
                ServiceKey::Addr {
                    protocol: Protocol::Udp,
                    ..
                }
            );
            let mut any = false;
            for d in &s.destinations {
                if !service_gone && self.configured(&key, d) {
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
                let connections = actual.as_ref().map(|a| a.connections(&key, d)).unwrap_or(0);
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
                        scripts.push((format!("notify_down of {} (omega)", rs.id), s.clone()));
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
                    .services()
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
        let mut next = Instant::now() + self.period();
        loop {
            let deadline = tokio::time::Instant::from_std(next);
            tokio::select! {
                biased;
                c = control.recv() => match c {
                    Some(Control::Reload) => { self.reload(); }
                    Some(Control::Reconcile) => { self.reconcile(); }
                    Some(Control::Status(reply)) => { let _ = reply.send(self.status()); }
                    Some(Control::Stop) | None => break,
                },
                ev = self.events.recv() => {
                    let Some(ev) = ev else { break };
                    self.on_event(&ev);
                    while let Ok(ev) = self.events.try_recv() {
                        self.on_event(&ev);
                    }
                    self.reconcile();
                }
                _ = tokio::time::sleep_until(deadline) => { self.reconcile(); }
            }
            next = Instant::now() + self.period();
        }
        self.stop();
    }

    fn period(&self) -> Duration {
        let mut p = self.options.reconcile_interval;
        if self.failed {
            p = p.min(self.options.retry_interval);
        }
        if !self.drains.is_empty() {
            p = p.min(self.options.drain_poll);
        }
        p
    }
}
