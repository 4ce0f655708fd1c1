//! `lvsd`: the LVS director daemon on keepalived's `virtual_server`
//! configuration. Runs in the foreground and logs to standard error.
//!
//! ```text
//! lvsd [-f FILE]        run (default /etc/keepalived/keepalived.conf)
//! lvsd -t [-f FILE]     check the configuration only
//! lvsd --control PATH   the control socket (default /run/lvsd/control.sock; none: no socket)
//! ```
//!
//! SIGHUP reloads the file, SIGTERM and SIGINT stop. The command line is
//! `ipvs_director::lvsd_cli` (also the source of `lvsd(8)`); under systemd
//! it speaks `sd_notify` and journald priorities (`ipvs_director::systemd`).
//! `lvsctl` talks to the control socket (see `ipvs_director::control`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use ipvs_director::control::{ControlSocket, DEFAULT_SOCKET};
use ipvs_director::director::{Control, Director, Note, Options};
use ipvs_director::keepalived::{self, Config};
use ipvs_director::kernel::{Kernel, MemoryKernel};
use ipvs_director::lvsd_cli::{self, Invocation};
use ipvs_director::metrics::{self, KernelStats, MetricsOptions, Recorder};
use ipvs_director::systemd::{
    self, Environment, Heartbeat, Notifier, Priority, Watchdog, WatchdogAction, WatchdogState,
};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// Whether standard error is the journal (decided once, at start).
static JOURNAL: OnceLock<bool> = OnceLock::new();

/// Writes `text` to standard error, one line per line: with the journal's
/// `<N>` priority prefix when standard error is the journal, else with
/// `prefix` (`"lvsd: "` for the daemon's own lines, `""` for quoted
/// errors such as `FILE:LINE: ...`).
fn emit(priority: Priority, prefix: &str, text: &str) {
    use std::io::Write;
    let journal = *JOURNAL.get_or_init(systemd::journal_stderr);
    let mut out = String::new();
    for line in text.lines() {
        if journal {
            out.push_str(priority.prefix());
        } else {
            out.push_str(prefix);
        }
        out.push_str(line);
        out.push('\n');
    }
    let _ = std::io::stderr().lock().write_all(out.as_bytes());
}

fn log(priority: Priority, line: impl std::fmt::Display) {
    emit(priority, "lvsd: ", &line.to_string());
}

/// Open files lvsd asks for: every check in flight holds a socket, and thousands of
/// checks can be in flight at once (keepalived raises its limit likewise, to its number of
/// checkers plus a margin).
const WANTED_OPEN_FILES: libc::rlim_t = 65536;

/// Raises the soft limit on open files (usually 1024) to `WANTED_OPEN_FILES`, the hard
/// limit too when allowed (CAP_SYS_RESOURCE), else to the hard limit. Without it, a
/// configuration of some thousands of real servers fails checks with EMFILE ("Too many open
/// files") as soon as more than ~1,000 probes are in flight.
fn raise_open_files() {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 || lim.rlim_cur >= WANTED_OPEN_FILES
        {
            return;
        }
        let want = libc::rlimit {
            rlim_cur: WANTED_OPEN_FILES,
            rlim_max: lim.rlim_max.max(WANTED_OPEN_FILES),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &want) != 0 && lim.rlim_cur < lim.rlim_max {
            let soft = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            libc::setrlimit(libc::RLIMIT_NOFILE, &soft);
        }
    }
}

fn main() -> ExitCode {
    ipvs_director::director::tune_allocator();
    // systemd's variables are read and taken out of the environment before
    // any thread starts, so that the scripts lvsd runs do not inherit them.
    let env = Environment::take();
    let args = match lvsd_cli::parse(std::env::args_os().skip(1)) {
        Ok(Invocation::Run(a)) => a,
        Ok(Invocation::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            if e == lvsd_cli::DAEMONIZE_REFUSED {
                log(Priority::Error, e);
            } else {
                emit(Priority::Error, "", e.trim_end());
            }
            return ExitCode::from(2);
        }
    };
    let parsed = match keepalived::parse_file(&args.file) {
        Ok(p) => p,
        Err(refused) => {
            for w in &refused.warnings {
                log(Priority::Warning, format_args!("warning: {w}"));
            }
            for e in &refused.errors {
                emit(Priority::Error, "", &e.to_string());
            }
            log(
                Priority::Error,
                format_args!(
                    "{}: configuration refused ({} errors)",
                    args.file.display(),
                    refused.errors.len()
                ),
            );
            return ExitCode::FAILURE;
        }
    };
    for w in &parsed.warnings {
        log(Priority::Warning, format_args!("warning: {w}"));
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            log(
                Priority::Error,
                format_args!("cannot start the runtime: {e}"),
            );
            return ExitCode::FAILURE;
        }
    };
    if args.test {
        // Everything a start would refuse, without touching the kernel.
        let checked = runtime.block_on(async {
            let model = ipvs_director::desired::Model::build(&parsed.config)?;
            let (engine, _events) =
                ipvs_director::check::Engine::new(tokio::runtime::Handle::current(), false);
            engine
                .sync(model.checks())
                .map_err(|e| vec![format!("{}: {e}", args.file.display())])?;
            Ok::<_, Vec<String>>(model)
        });
        return match checked {
            Ok(model) => {
                for n in &model.notes {
                    log(Priority::Warning, format_args!("warning: {n}"));
                }
                log(
                    Priority::Info,
                    format_args!(
                        "{}: configuration valid: {} services",
                        args.file.display(),
                        model.services().count()
                    ),
                );
                ExitCode::SUCCESS
            }
            Err(errors) => {
                for e in errors {
                    emit(Priority::Error, "", &e);
                }
                ExitCode::FAILURE
            }
        };
    }
    raise_open_files();
    let notifier = match env.notify_socket.as_deref().map(Notifier::new) {
        None => None,
        Some(Ok(n)) => Some(Arc::new(n)),
        Some(Err(e)) => {
            log(Priority::Warning, format_args!("warning: systemd: {e}"));
            None
        }
    };
    let systemd = Systemd {
        notifier,
        watchdog: env.watchdog,
        heartbeat: Heartbeat::new(),
    };
    // Bound before the kernel is opened and the daemon starts; an explicit
    // --control that cannot be made stops lvsd, the default one only
    // warns (lvsd runs on without a control socket).
    let socket = match &args.control {
        Some(None) => None,
        Some(Some(path)) => match ControlSocket::bind(path) {
            Ok(s) => Some(s),
            Err(e) => {
                log(
                    Priority::Error,
                    format_args!("control socket {}: {e}", path.display()),
                );
                return ExitCode::FAILURE;
            }
        },
        None => match ControlSocket::bind(DEFAULT_SOCKET.as_ref()) {
            Ok(s) => Some(s),
            Err(e) => {
                log(
                    Priority::Warning,
                    format_args!(
                        "warning: no control socket: {DEFAULT_SOCKET}: {e} (lvsctl cannot reach this daemon; see --control)"
                    ),
                );
                None
            }
        },
    };
    // The metrics listener is bound before the daemon starts, so that a
    // taken address stops the start.
    let listener = match args.metrics {
        None => None,
        Some(addr) => match std::net::TcpListener::bind(addr) {
            Ok(l) => Some((l, args.metrics_options)),
            Err(e) => {
                log(Priority::Error, format_args!("--metrics {addr}: {e}"));
                return ExitCode::FAILURE;
            }
        },
    };
    if args.dry_run {
        log(
            Priority::Notice,
            "dry run: an in-memory table stands for the kernel (it starts empty)",
        );
        let kernel = MemoryKernel::new();
        let metrics =
            listener.map(|(l, o)| (l, o, Box::new(kernel.clone()) as Box<dyn KernelStats>));
        return runtime.block_on(daemon(
            kernel,
            parsed.config,
            args.file,
            systemd,
            socket,
            metrics,
        ));
    }
    if parsed.config.global.lvsd_active_active {
        let dir = std::path::Path::new(ipvs_director::active_active::SYSCTL_DIR);
        for r in ipvs_director::active_active::set_sysctls(dir) {
            match r {
                Ok(set) => log(Priority::Notice, format_args!("lvsd_active_active: {set}")),
                Err(e) => log(
                    Priority::Warning,
                    format_args!("lvsd_active_active: warning: cannot set {e}"),
                ),
            }
        }
    }
    let ipvs = match ipvs::Ipvs::open() {
        Ok(i) => i,
        Err(e) => {
            log(Priority::Error, e);
            return ExitCode::FAILURE;
        }
    };
    // The scrapes' own netlink handle: a dump never waits for the daemon's.
    let metrics = match listener {
        None => None,
        Some((l, o)) => match ipvs::Ipvs::open() {
            Ok(i) => Some((l, o, Box::new(i) as Box<dyn KernelStats>)),
            Err(e) => {
                log(Priority::Error, e);
                return ExitCode::FAILURE;
            }
        },
    };
    runtime.block_on(daemon(
        ipvs,
        parsed.config,
        args.file,
        systemd,
        socket,
        metrics,
    ))
}

/// The metrics listener, its options and its kernel dump source.
type MetricsSetup = (std::net::TcpListener, MetricsOptions, Box<dyn KernelStats>);

/// What systemd asked for.
struct Systemd {
    notifier: Option<Arc<Notifier>>,
    watchdog: Option<Watchdog>,
    heartbeat: Heartbeat,
}

/// Sends a notification; a failure is logged (once: the socket does not
/// come back).
fn notify(n: &Option<Arc<Notifier>>, send: impl FnOnce(&Notifier) -> std::io::Result<()>) {
    static FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if let Some(n) = n {
        if let Err(e) = send(n) {
            if !FAILED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                log(
                    Priority::Warning,
                    format_args!("warning: systemd notification: {e}"),
                );
            }
        }
    }
}

/// What a signal asks for.
#[derive(Clone, Copy)]
enum Signal {
    /// SIGHUP.
    Reload,
    /// SIGTERM, SIGINT.
    Stop,
}

/// The `STATUS=` line for a configuration's counts.
fn status_line(what: &str, services: usize, real_servers: usize, checks: usize) -> String {
    format!("{what}: {services} services, {real_servers} real servers, {checks} checks")
}

/// Runs the daemon until SIGTERM or SIGINT.
async fn daemon<K: Kernel>(
    kernel: K,
    config: Config,
    file: PathBuf,
    systemd: Systemd,
    socket: Option<ControlSocket>,
    metrics: Option<MetricsSetup>,
) -> ExitCode {
    let Systemd {
        notifier,
        watchdog,
        heartbeat,
    } = systemd;
    // Signals first, so that a SIGHUP or SIGTERM sent during the start is
    // handled, not fatal.
    let (tx, rx) = mpsc::unbounded_channel();
    let signals = [
        (SignalKind::hangup(), Signal::Reload),
        (SignalKind::terminate(), Signal::Stop),
        (SignalKind::interrupt(), Signal::Stop),
    ];
    for (kind, what) in signals {
        let mut s = match signal(kind) {
            Ok(s) => s,
            Err(e) => {
                log(Priority::Error, format_args!("cannot handle signals: {e}"));
                return ExitCode::FAILURE;
            }
        };
        let tx = tx.clone();
        let notifier = notifier.clone();
        tokio::spawn(async move {
            while s.recv().await.is_some() {
                let control = match what {
                    Signal::Reload => {
                        log(Priority::Notice, "SIGHUP: reloading");
                        notify(&notifier, |n| n.reloading("reloading the configuration"));
                        Control::Reload
                    }
                    Signal::Stop => {
                        notify(&notifier, |n| n.stopping("stopping"));
                        Control::Stop
                    }
                };
                if tx.send(control).is_err() {
                    break;
                }
            }
        });
    }
    notify(&notifier, |n| n.status("starting"));
    let mut watch = WatchdogState::new(&heartbeat);
    let recorder = metrics.as_ref().map(|_| Recorder::new());
    let options = Options {
        heartbeat: Some(heartbeat.clone()),
        recorder: recorder.clone(),
        ..Options::default()
    };
    // The parsed configuration moves into the model (its checkers become
    // the engine's specs): a large file is not held twice while starting.
    let (director, mut notes) = match Director::start_owned(kernel, config, Some(file), options) {
        Ok(d) => d,
        Err(e) => {
            emit(Priority::Error, "", &e.to_string());
            log(Priority::Error, "configuration refused");
            return ExitCode::FAILURE;
        }
    };
    // The first reconcile is done: ready.
    let mut status = String::from("running");
    let printer = {
        let notifier = notifier.clone();
        // The start's notes (the first reconcile's included) come first.
        let mut ready_sent = false;
        tokio::spawn(async move {
            while let Some(n) = notes.recv().await {
                log(systemd::note_priority(&n), &n);
                match &n {
                    Note::Started {
                        services,
                        real_servers,
                        checks,
                    } => {
                        status = status_line("running", *services, *real_servers, *checks);
                    }
                    Note::Reloaded {
                        services,
                        real_servers,
                        checks,
                    } => {
                        status =
                            status_line("running (reloaded)", *services, *real_servers, *checks);
                        notify(&notifier, |x| x.ready(&status));
                    }
                    Note::ReloadFailed(_) => {
                        notify(&notifier, |x| {
                            x.ready(&format!("{status}; the last reload was refused: {n}"))
                        });
                    }
                    Note::Stopped => break,
                    Note::Health(_) | Note::DrainStart { .. } | Note::DrainEnd { .. } => {
                        // The last state change, for `systemctl status`.
                        notify(&notifier, |x| x.status(&format!("{status}; last: {n}")));
                    }
                    _ => {}
                }
                if !ready_sent && notes.is_empty() {
                    // Every note of the start (and of the first reconcile)
                    // is logged: ready.
                    ready_sent = true;
                    notify(&notifier, |x| x.ready(&status));
                }
            }
        })
    };
    if let (Some(w), Some(_)) = (watchdog, &notifier) {
        let notifier = notifier.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(w.tick());
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                match watch.tick(&heartbeat) {
                    WatchdogAction::Ping => notify(&notifier, |n| n.watchdog()),
                    WatchdogAction::Probe => {
                        if tx.send(Control::Reconcile).is_err() {
                            break;
                        }
                    }
                    WatchdogAction::Silent => {}
                }
            }
        });
    }
    let _metrics_server = match (metrics, recorder) {
        (Some((listener, options, source)), Some(recorder)) => {
            let scraper = metrics::Scraper::new(source, tx.clone(), recorder, options);
            match metrics::spawn(listener, scraper) {
                Ok(s) => {
                    log(
                        Priority::Info,
                        format_args!("metrics: http://{}/metrics", s.local_addr()),
                    );
                    Some(s)
                }
                Err(e) => {
                    log(
                        Priority::Error,
                        format_args!("metrics: cannot start the listener: {e}"),
                    );
                    return ExitCode::FAILURE;
                }
            }
        }
        _ => None,
    };
    let server = socket.map(|s| {
        log(
            Priority::Info,
            format_args!("control socket: {}", s.path().display()),
        );
        tokio::spawn(s.serve(tx.clone()))
    });
    drop(tx);
    director.run(rx).await;
    if let Some(server) = server {
        // Ends once the loop is gone; removes the socket file.
        let _ = server.await;
    }
    let _ = printer.await;
    ExitCode::SUCCESS
}
