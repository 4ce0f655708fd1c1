//! `ldirectord`: lvsd's engine behind ldirectord 4.12's command line and
//! `ldirectord.cf`.
//!
//! ```text
//! ldirectord [-d|--debug] [--] [configfile] start|stop|restart|try-restart|reload|force-reload|status
//! ldirectord [-h|-?|--help|-v|--version]
//! ```
//!
//! The configuration is looked up as ldirectord does (`/etc/ha.d/NAME`,
//! `/etc/ha.d/conf/NAME`, then NAME); the pid file is
//! `/var/run/ldirectord.NAME.pid`; `stop`, `reload` and `status` act on the
//! process it names with SIGTERM / SIGHUP, with ldirectord's messages and
//! exit statuses (`director/src/ldirectord/cli.rs`). `start` runs the daemon:
//! in the foreground with `-d` (log on standard error) or `supervised=yes`,
//! else detached (fork, setsid, fork, `/` as working directory, standard
//! streams on `/dev/null`) with the pid file written, as ldirectord does.
//!
//! `LDIRECTORD_DRY_RUN=1` in the environment runs the daemon on an
//! in-memory table instead of the kernel (tests without IPVS);
//! `LDIRECTORD_RUNDIR=DIR` puts the pid files in DIR instead of `/var/run`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipvs_director::director::{Control, Director, Loader, Note, Options};
use ipvs_director::kernel::{Kernel, MemoryKernel};
use ipvs_director::ldirectord::cli::{self, Invocation, PidFile, Run, Step};
use ipvs_director::ldirectord::{self, daemon, LogTarget, Parsed, Refused};
use md5::{Digest, Md5};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// Where the log lines go.
#[derive(Clone)]
enum Log {
    Stderr,
    File(PathBuf),
    Syslog,
}

#[derive(Clone)]
struct Logger {
    to: Log,
    name: String,
    also_stderr: bool,
    file: Arc<Mutex<Option<fs::File>>>,
}

fn now_text() -> String {
    // ldirectord's `localtime()` text: "Mon Nov 30 11:00:00 2026".
    let mut t: libc::time_t = 0;
    let mut buf = [0u8; 64];
    // SAFETY: time, localtime_r and strftime write only into the locals
    // given, whose sizes are passed.
    let n = unsafe {
        libc::time(&mut t);
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        libc::strftime(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%a %b %e %H:%M:%S %Y".as_ptr(),
            &tm,
        )
    };
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

impl Logger {
    fn new(to: Log, name: &str, also_stderr: bool) -> Logger {
        if let Log::Syslog = to {
            // SAFETY: the identity is a static C string; openlog keeps the pointer.
            unsafe { libc::openlog(c"ldirectord".as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
        }
        Logger {
            to,
            name: name.to_string(),
            also_stderr,
            file: Arc::new(Mutex::new(None)),
        }
    }

    fn log(&self, msg: impl std::fmt::Display) {
        let msg = msg.to_string();
        let pid = std::process::id();
        if self.also_stderr {
            eprintln!("[{}|{}|{pid}] {msg}", now_text(), self.name);
        }
        match &self.to {
            Log::Stderr => {}
            Log::File(path) => {
                let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
                // Reopened at every line so that log rotation works, as
                // ldirectord does.
                *f = fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .ok();
                if let Some(f) = f.as_mut() {
                    let _ = writeln!(f, "[{}|{}|{pid}] {msg}", now_text(), self.name);
                }
            }
            Log::Syslog => {
                if let Ok(c) = std::ffi::CString::new(msg.replace('%', "%%")) {
                    // SAFETY: a valid C string and a format without arguments.
                    unsafe { libc::syslog(libc::LOG_INFO, c.as_ptr()) };
                }
            }
        }
    }
}

fn run_dir() -> String {
    std::env::var("LDIRECTORD_RUNDIR")
        .map(|d| format!("{}/ldirectord", d.trim_end_matches('/')))
        .unwrap_or_else(|_| cli::RUN_PID_PREFIX.to_string())
}

fn pid_file(run: &Run) -> PathBuf {
    PathBuf::from(format!("{}.{}.pid", run_dir(), run.name))
}

fn config_messages(refused: &Refused, config: &Path) {
    let pid = std::process::id();
    for w in &refused.warnings {
        eprintln!(
            "Warning [{pid}] reading file {} at line {}: {}",
            config.display(),
            w.line,
            w.message
        );
    }
    if let Some(e) = refused.errors.first() {
        if e.line > 0 {
            eprintln!(
                "Error [{pid}] reading file {} at line {}: {}",
                config.display(),
                e.line,
                e.message
            );
        } else {
            eprintln!("Error [{pid}]: {}", e.message);
        }
    }
    for e in refused.errors.iter().skip(1) {
        eprintln!("lvsd also found: {e}");
    }
}

fn main() -> ExitCode {
    ipvs_director::director::tune_allocator();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let run = match cli::parse_args(&args) {
        Invocation::Help => {
            // ldirectord shows its manual with perldoc; lvsd prints the usage.
            print!("{}", cli::USAGE_TEXT);
            return ExitCode::SUCCESS;
        }
        Invocation::Version => {
            print!("{}", cli::VERSION_TEXT);
            return ExitCode::SUCCESS;
        }
        Invocation::Usage { message } => {
            if let Some(m) = message {
                eprintln!("{m}");
            }
            print!("{}", cli::USAGE_TEXT);
            return ExitCode::from(cli::EXIT_USAGE as u8);
        }
        Invocation::Run(r) => r,
    };
    let config = match run.config_path(|p| p.is_file()) {
        Ok(p) => p,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(cli::EXIT_INIT_ERROR as u8);
        }
    };
    // ldirectord reads the configuration before it looks at the pid file.
    let parsed = match ldirectord::parse_file(&config) {
        Ok(p) => p,
        Err(refused) => {
            config_messages(&refused, &config);
            return ExitCode::from(cli::EXIT_CONFIG_ERROR as u8);
        }
    };
    let pid_path = pid_file(&run);
    let pid = PidFile::probe(&pid_path, |p| fs::read(p).ok());
    let mut step = run.step(pid.running(), &config, pid.exists());
    if let Step::Exit { stderr, .. } = &mut step {
        // The stale pid file message names the pid file in use.
        if let Some(s) = stderr.as_mut() {
            *s = s.replace(
                &run.pid_file().display().to_string(),
                &pid_path.display().to_string(),
            );
        }
    }
    match step {
        Step::Exit {
            code,
            stdout,
            stderr,
        } => {
            if let Some(s) = stderr {
                eprint!("{s}");
            }
            if let Some(s) = stdout {
                print!("{s}");
            }
            ExitCode::from(code as u8)
        }
        Step::Signal {
            pid,
            signal,
            then_start,
        } => {
            // SAFETY: kill has no memory effects.
            unsafe { libc::kill(pid as libc::pid_t, signal) };
            if !then_start {
                return ExitCode::SUCCESS;
            }
            // restart: wait until the old daemon removed its pid file.
            while pid_path.exists() {
                std::thread::sleep(Duration::from_millis(100));
            }
            start(&run, &config, &pid_path, parsed)
        }
        Step::Start => start(&run, &config, &pid_path, parsed),
    }
}

fn loader(config: PathBuf) -> Loader {
    Box::new(move || {
        let parsed = ldirectord::parse_file(&config)
            .map_err(|r| r.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
        let model = daemon::build_model(&parsed.config, &config)?;
        Ok((
            model,
            parsed.warnings.iter().map(|w| w.to_string()).collect(),
        ))
    })
}

fn start(run: &Run, config: &Path, pid_path: &Path, parsed: Parsed) -> ExitCode {
    let model = match daemon::build_model(&parsed.config, config) {
        Ok(m) => m,
        Err(errors) => {
            for e in errors {
                eprintln!("Error [{}]: {e}", std::process::id());
            }
            return ExitCode::from(cli::EXIT_CONFIG_ERROR as u8);
        }
    };
    let g = &parsed.config.global;
    let foreground = run.debug || g.supervised;
    let to = if run.debug {
        Log::Stderr
    } else {
        match &g.log {
            LogTarget::File(p) => Log::File(p.clone()),
            LogTarget::Syslog(_) => Log::Syslog,
        }
    };
    let logger = Logger::new(to, &run.name, run.debug);
    for w in &parsed.warnings {
        logger.log(format_args!("Warning: {w}"));
    }
    logger.log(format_args!(
        "Invoking ldirectord invoked as: ldirectord {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    ));
    let mut wrote_pid = false;
    if foreground {
        logger.log(format_args!(
            "Starting lvsd {} (ldirectord front end) with pid: {}",
            env!("CARGO_PKG_VERSION"),
            std::process::id()
        ));
    } else {
        logger.log(format_args!(
            "Starting lvsd {} (ldirectord front end) as daemon",
            env!("CARGO_PKG_VERSION")
        ));
        let mut file = match fs::File::create(pid_path) {
            Ok(f) => f,
            Err(_) => {
                let msg = format!("Can not open {}", pid_path.display());
                logger.log(&msg);
                eprintln!("{msg}");
                return ExitCode::from(cli::EXIT_INIT_ERROR as u8);
            }
        };
        if let Err(e) = detach() {
            logger.log(format_args!("cannot become a daemon: {e}"));
            return ExitCode::from(cli::EXIT_INIT_ERROR as u8);
        }
        let _ = writeln!(file, "{}", std::process::id());
        wrote_pid = true;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            logger.log(format_args!("cannot start the runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    // `execute`: one more instance per named configuration, started and
    // stopped with this one, as ldirectord's ld_cmd_children does.
    let children = g.execute.clone();
    children_cmd(&logger, &children, "start");
    let check_interval = Duration::from_secs(g.check_interval.max(1).into());
    let autoreload = g.autoreload;
    let code = if std::env::var_os("LDIRECTORD_DRY_RUN").is_some_and(|v| v == "1") {
        logger.log("dry run: an in-memory table stands for the kernel (it starts empty)");
        runtime.block_on(serve(
            MemoryKernel::new(),
            model,
            config.to_path_buf(),
            logger.clone(),
            check_interval,
            autoreload,
        ))
    } else {
        match ipvs::Ipvs::open() {
            Ok(k) => runtime.block_on(serve(
                k,
                model,
                config.to_path_buf(),
                logger.clone(),
                check_interval,
                autoreload,
            )),
            Err(e) => {
                logger.log(e);
                if !foreground {
                    let _ = fs::remove_file(pid_path);
                }
                return ExitCode::FAILURE;
            }
        }
    };
    children_cmd(&logger, &children, "stop");
    if wrote_pid {
        let _ = fs::remove_file(pid_path);
    }
    code
}

/// Runs `ldirectord CONFIG ACTION` for every `execute` configuration.
fn children_cmd(log: &Logger, children: &[String], action: &str) {
    let Ok(me) = std::env::current_exe() else {
        return;
    };
    for c in children {
        log.log(format_args!(
            "Running system({} {c} {action})",
            me.display()
        ));
        if let Err(e) = std::process::Command::new(&me)
            .args([c.as_str(), action])
            .status()
        {
            log.log(format_args!("cannot run {}: {e}", me.display()));
        }
    }
}

/// ldirectord's `ld_daemon`: fork (the parent exits 0), setsid, fork
/// again, `/` as working directory, standard streams on `/dev/null`.
fn detach() -> std::io::Result<()> {
    for round in 0..2 {
        // SAFETY: no other thread exists yet (the runtime is built after).
        match unsafe { libc::fork() } {
            -1 => return Err(std::io::Error::last_os_error()),
            0 => {}
            _ => std::process::exit(0),
        }
        // SAFETY: setsid has no memory effects.
        if round == 0 && unsafe { libc::setsid() } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    std::env::set_current_dir("/")?;
    let null = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    use std::os::fd::AsRawFd;
    for fd in 0..3 {
        // SAFETY: dup2 onto the standard descriptors, which stay open.
        if unsafe { libc::dup2(null.as_raw_fd(), fd) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The MD5 of a file, as ldirectord's `check_cfgfile` takes it.
fn digest(path: &Path) -> Option<Vec<u8>> {
    fs::read(path).ok().map(|b| Md5::digest(&b).to_vec())
}

fn mtime(path: &Path) -> Option<std::time::SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Runs the daemon until SIGTERM (or SIGINT).
async fn serve<K: Kernel>(
    kernel: K,
    model: ipvs_director::desired::Model,
    config: PathBuf,
    log: Logger,
    check_interval: Duration,
    autoreload: bool,
) -> ExitCode {
    let (tx, rx) = mpsc::unbounded_channel();
    let signals = [
        (
            SignalKind::hangup(),
            true,
            "Reloading Linux Director Daemon config on signal",
        ),
        (
            SignalKind::terminate(),
            false,
            "Linux Director Daemon terminated on signal: TERM",
        ),
        (
            SignalKind::interrupt(),
            false,
            "Linux Director Daemon terminated on signal: INT",
        ),
        (
            SignalKind::quit(),
            false,
            "Linux Director Daemon terminated on signal: QUIT",
        ),
    ];
    // (signal, whether it reloads (else it stops), what is logged)
    for (kind, reload, text) in signals {
        let mut s = match signal(kind) {
            Ok(s) => s,
            Err(e) => {
                log.log(format_args!("cannot handle signals: {e}"));
                return ExitCode::FAILURE;
            }
        };
        let tx = tx.clone();
        let log = log.clone();
        tokio::spawn(async move {
            while s.recv().await.is_some() {
                log.log(text);
                let control = if reload {
                    Control::Reload
                } else {
                    Control::Stop
                };
                if tx.send(control).is_err() {
                    break;
                }
            }
        });
    }
    // check_cfgfile: every checkinterval, the file's mtime, then its MD5.
    {
        let tx = tx.clone();
        let log = log.clone();
        let config = config.clone();
        tokio::spawn(async move {
            let mut stamp = mtime(&config);
            let mut sum = digest(&config);
            loop {
                tokio::time::sleep(check_interval).await;
                let now = mtime(&config);
                if now == stamp {
                    continue;
                }
                stamp = now;
                let new = digest(&config);
                if new.is_some() && new != sum {
                    log.log(format_args!(
                        "Configuration file '{}' has changed on disk",
                        config.display()
                    ));
                    if autoreload {
                        log.log(" - reread new configuration");
                        if tx.send(Control::Reload).is_err() {
                            break;
                        }
                    } else {
                        log.log(" - ignore new configuration");
                    }
                }
                if new.is_some() {
                    sum = new;
                }
            }
        });
    }
    let name = config.display().to_string();
    let (mut director, mut notes) =
        match Director::start_model(kernel, model, Some(loader(config)), Options::default()) {
            Ok(d) => d,
            Err(e) => {
                for line in e.to_string().lines() {
                    log.log(line);
                }
                return ExitCode::from(cli::EXIT_CONFIG_ERROR as u8);
            }
        };
    director.set_config_name(name);
    let printer = {
        let log = log.clone();
        tokio::spawn(async move {
            while let Some(n) = notes.recv().await {
                log.log(format_args!("lvsd: {n}"));
                if matches!(n, Note::Stopped) {
                    break;
                }
            }
        })
    };
    director.run(rx).await;
    let _ = printer.await;
    ExitCode::SUCCESS
}
