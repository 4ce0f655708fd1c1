//! `lvsd`: the LVS director daemon on keepalived's `virtual_server`
//! configuration. Runs in the foreground and logs to standard error.
//!
//! ```text
//! lvsd [-f FILE]        run (default /etc/keepalived/keepalived.conf)
//! lvsd -t [-f FILE]     check the configuration only
//! ```
//!
//! SIGHUP reloads the file, SIGTERM and SIGINT stop.

use std::path::PathBuf;
use std::process::ExitCode;

use ipvs_director::director::{Control, Director, Note, Options};
use ipvs_director::keepalived::{self, Config};
use ipvs_director::kernel::{Kernel, MemoryKernel};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

const DEFAULT_CONFIG: &str = "/etc/keepalived/keepalived.conf";

const USAGE: &str = "\
usage: lvsd [-f FILE] [-t]
  -f, --use-file FILE   configuration file (default /etc/keepalived/keepalived.conf)
  -t, --config-test     check the configuration and exit (0 when valid)
  -n, --dont-fork       run in the foreground (always the case)
      --dry-run         run on an in-memory table instead of the kernel (starts empty;
                        logs the changes it would make)
  -h, --help            this text
  -v, --version         version
lvsd runs in the foreground and logs to standard error; SIGHUP reloads the
configuration, SIGTERM and SIGINT stop it. It does not daemonize itself
(-D/--daemonize is refused): run it under a service manager.";

struct Args {
    file: PathBuf,
    test: bool,
    dry_run: bool,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut file = PathBuf::from(DEFAULT_CONFIG);
    let mut test = false;
    let mut dry_run = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-f" | "--use-file" => {
                file = args
                    .next()
                    .ok_or_else(|| format!("{a} needs a file name"))?
                    .into()
            }
            "-t" | "--config-test" => test = true,
            "--dry-run" => dry_run = true,
            "-n" | "--dont-fork" | "-l" | "--log-console" => {}
            "-D" | "--daemonize" => {
                return Err("-D/--daemonize is not supported: lvsd runs in the foreground, run it under a service manager".into())
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            "-v" | "--version" => {
                println!("lvsd {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            s if s.starts_with("--use-file=") => file = s["--use-file=".len()..].into(),
            s if s.starts_with("-f") && s.len() > 2 => file = s[2..].into(),
            s => return Err(format!("unknown argument {s:?}")),
        }
    }
    Ok(Some(Args {
        file,
        test,
        dry_run,
    }))
}

fn log(line: impl std::fmt::Display) {
    eprintln!("lvsd: {line}");
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
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            log(e);
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let parsed = match keepalived::parse_file(&args.file) {
        Ok(p) => p,
        Err(refused) => {
            for w in &refused.warnings {
                log(format_args!("warning: {w}"));
            }
            for e in &refused.errors {
                eprintln!("{e}");
            }
            log(format_args!(
                "{}: configuration refused ({} errors)",
                args.file.display(),
                refused.errors.len()
            ));
            return ExitCode::FAILURE;
        }
    };
    for w in &parsed.warnings {
        log(format_args!("warning: {w}"));
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            log(format_args!("cannot start the runtime: {e}"));
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
                    log(format_args!("warning: {n}"));
                }
                log(format_args!(
                    "{}: configuration valid: {} services",
                    args.file.display(),
                    model.services().count()
                ));
                ExitCode::SUCCESS
            }
            Err(errors) => {
                for e in errors {
                    eprintln!("{e}");
                }
                ExitCode::FAILURE
            }
        };
    }
    raise_open_files();
    if args.dry_run {
        log("dry run: an in-memory table stands for the kernel (it starts empty)");
        return runtime.block_on(daemon(MemoryKernel::new(), parsed.config, args.file));
    }
    let ipvs = match ipvs::Ipvs::open() {
        Ok(i) => i,
        Err(e) => {
            log(e);
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(daemon(ipvs, parsed.config, args.file))
}

/// Runs the daemon until SIGTERM or SIGINT.
async fn daemon<K: Kernel>(kernel: K, config: Config, file: PathBuf) -> ExitCode {
    // Signals first, so that a SIGHUP or SIGTERM sent during the start is
    // handled, not fatal.
    let (tx, rx) = mpsc::unbounded_channel();
    let signals = [
        (SignalKind::hangup(), Control::Reload),
        (SignalKind::terminate(), Control::Stop),
        (SignalKind::interrupt(), Control::Stop),
    ];
    for (kind, control) in signals {
        let mut s = match signal(kind) {
            Ok(s) => s,
            Err(e) => {
                log(format_args!("cannot handle signals: {e}"));
                return ExitCode::FAILURE;
            }
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            while s.recv().await.is_some() {
                if control == Control::Reload {
                    log("SIGHUP: reloading");
                }
                if tx.send(control).is_err() {
                    break;
                }
            }
        });
    }
    let (director, mut notes) =
        match Director::start(kernel, &config, Some(file), Options::default()) {
            Ok(d) => d,
            Err(e) => {
                for line in e.to_string().lines() {
                    eprintln!("{line}");
                }
                log("configuration refused");
                return ExitCode::FAILURE;
            }
        };
    let printer = tokio::spawn(async move {
        while let Some(n) = notes.recv().await {
            log(&n);
            if matches!(n, Note::Stopped) {
                break;
            }
        }
    });
    director.run(rx).await;
    let _ = printer.await;
    ExitCode::SUCCESS
}
