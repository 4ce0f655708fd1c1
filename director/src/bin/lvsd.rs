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
use ipvs_director::metrics::{self, KernelStats, MetricNames, MetricsOptions, Recorder};
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
      --metrics ADDR:PORT   serve Prometheus metrics at http://ADDR:PORT/metrics
                        (no listener without it)
      --metrics-real-servers on|off
                        series per real server (on, default) or per service only
      --metrics-names lvsd|node_exporter|both
                        metric names: lvsd's (default), node_exporter's ipvs
                        collector's, or both
  -h, --help            this text
  -v, --version         version
lvsd runs in the foreground and logs to standard error; SIGHUP reloads the
configuration, SIGTERM and SIGINT stop it. It does not daemonize itself
(-D/--daemonize is refused): run it under a service manager.";

struct Args {
    file: PathBuf,
    test: bool,
    dry_run: bool,
    metrics: Option<std::net::SocketAddr>,
    metrics_options: MetricsOptions,
}

/// The value of `--name VALUE` or `--name=VALUE`.
fn option_value(
    a: &str,
    name: &str,
    args: &mut impl Iterator<Item = String>,
) -> Result<Option<String>, String> {
    if a == name {
        return args
            .next()
            .map(Some)
            .ok_or_else(|| format!("{name} needs a value"));
    }
    Ok(a.strip_prefix(name)
        .and_then(|r| r.strip_prefix('='))
        .map(str::to_string))
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut file = PathBuf::from(DEFAULT_CONFIG);
    let mut test = false;
    let mut dry_run = false;
    let mut metrics = None;
    let mut metrics_options = MetricsOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if let Some(v) = option_value(&a, "--metrics", &mut args)? {
            metrics = Some(
                v.parse()
                    .map_err(|e| format!("--metrics {v:?}: {e} (expected ADDR:PORT)"))?,
            );
            continue;
        }
        if let Some(v) = option_value(&a, "--metrics-real-servers", &mut args)? {
            metrics_options.real_servers =
                metrics::parse_switch(&v).map_err(|e| format!("--metrics-real-servers {e}"))?;
            continue;
        }
        if let Some(v) = option_value(&a, "--metrics-names", &mut args)? {
            metrics_options.names = v.parse::<MetricNames>()?;
            continue;
        }
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
        metrics,
        metrics_options,
    }))
}

fn log(line: impl std::fmt::Display) {
    eprintln!("lvsd: {line}");
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
    // The metrics listener is bound before anything else happens, so that
    // a taken address stops the start.
    let listener = match args.metrics {
        None => None,
        Some(addr) => match std::net::TcpListener::bind(addr) {
            Ok(l) => Some((l, args.metrics_options)),
            Err(e) => {
                log(format_args!("--metrics {addr}: {e}"));
                return ExitCode::FAILURE;
            }
        },
    };
    if args.dry_run {
        log("dry run: an in-memory table stands for the kernel (it starts empty)");
        let kernel = MemoryKernel::new();
        let metrics =
            listener.map(|(l, o)| (l, o, Box::new(kernel.clone()) as Box<dyn KernelStats>));
        return runtime.block_on(daemon(kernel, parsed.config, args.file, metrics));
    }
    let ipvs = match ipvs::Ipvs::open() {
        Ok(i) => i,
        Err(e) => {
            log(e);
            return ExitCode::FAILURE;
        }
    };
    // The scrapes' own netlink handle: a dump never waits for the daemon's.
    let metrics = match listener {
        None => None,
        Some((l, o)) => match ipvs::Ipvs::open() {
            Ok(i) => Some((l, o, Box::new(i) as Box<dyn KernelStats>)),
            Err(e) => {
                log(e);
                return ExitCode::FAILURE;
            }
        },
    };
    runtime.block_on(daemon(ipvs, parsed.config, args.file, metrics))
}

/// The metrics listener, its options and its kernel dump source.
type MetricsSetup = (std::net::TcpListener, MetricsOptions, Box<dyn KernelStats>);

/// Runs the daemon until SIGTERM or SIGINT.
async fn daemon<K: Kernel>(
    kernel: K,
    config: Config,
    file: PathBuf,
    metrics: Option<MetricsSetup>,
) -> ExitCode {
    // Signals first, so that a SIGHUP or SIGTERM sent during the start is
    // handled, not fatal.
    let (tx, rx) = mpsc::unbounded_channel();
    let signals = [
        (SignalKind::hangup(), true),
        (SignalKind::terminate(), false),
        (SignalKind::interrupt(), false),
    ];
    for (kind, reload) in signals {
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
                let control = if reload {
                    log("SIGHUP: reloading");
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
    let recorder = metrics.as_ref().map(|_| Recorder::new());
    let options = Options {
        recorder: recorder.clone(),
        ..Options::default()
    };
    let (director, mut notes) = match Director::start(kernel, &config, Some(file), options) {
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
    let _server = match (metrics, recorder) {
        (Some((listener, options, source)), Some(recorder)) => {
            let scraper = metrics::Scraper::new(source, tx.clone(), recorder, options);
            match metrics::spawn(listener, scraper) {
                Ok(s) => {
                    log(format_args!("metrics: http://{}/metrics", s.local_addr()));
                    Some(s)
                }
                Err(e) => {
                    log(format_args!("metrics: cannot start the listener: {e}"));
                    return ExitCode::FAILURE;
                }
            }
        }
        _ => None,
    };
    director.run(rx).await;
    let _ = printer.await;
    ExitCode::SUCCESS
}
