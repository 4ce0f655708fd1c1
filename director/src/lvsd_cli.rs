//! `lvsd`'s command line as a clap definition ([`command`]), read by the
//! binary ([`parse`]) and rendered into the `lvsd(8)` manual page and the
//! shell completions (`director/man/`, `director/completions/`, kept in
//! sync by `director/tests/cli_generated.rs`). The manual's sections beyond
//! the options are [`MAN_SECTIONS`].

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Arg, ArgAction, Command};

/// The configuration read when `-f` is not given.
pub const DEFAULT_CONFIG: &str = "/etc/keepalived/keepalived.conf";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// Run the daemon (or check the configuration, with `-t`).
    Run(Args),
    /// Print this text on standard output and exit 0 (`-h`, `-v`).
    Print(String),
}

/// The daemon's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// `-f FILE`.
    pub file: PathBuf,
    /// `-t`: check the configuration and exit.
    pub test: bool,
    /// `--dry-run`: the in-memory table instead of the kernel.
    pub dry_run: bool,
    /// `--control PATH`: `None` when not given (the default socket),
    /// `Some(None)` for `--control none` (no socket).
    pub control: Option<Option<PathBuf>>,
    /// `--metrics ADDR:PORT`: the Prometheus listener (none without it).
    pub metrics: Option<std::net::SocketAddr>,
    /// `--metrics-real-servers`, `--metrics-names`.
    pub metrics_options: crate::metrics::MetricsOptions,
}

/// Why `-D` is refused.
pub const DAEMONIZE_REFUSED: &str =
    "-D/--daemonize is not supported: lvsd runs in the foreground, run it under a service manager";

/// The clap definition of `lvsd`'s command line.
pub fn command() -> Command {
    Command::new("lvsd")
        .version(env!("CARGO_PKG_VERSION"))
        .about("LVS director daemon on keepalived's virtual_server configuration")
        .long_about(
            "lvsd keeps the kernel's IPVS table (Linux Virtual Server) in line with the \
             virtual_server blocks of a keepalived.conf file and with the health of the real \
             servers, which it checks as keepalived's checker process does (TCP_CHECK, HTTP_GET, \
             SSL_GET, DNS_CHECK, UDP_CHECK, PING_CHECK, SMTP_CHECK, MISC_CHECK, FILE_CHECK). \
             Every reconcile compares a fresh snapshot of the kernel with the desired table and \
             writes only the differences, so drift made with ipvsadm is repaired and a restart on \
             a matching table writes nothing. VRRP blocks are skipped with one notice.\n\n\
             lvsd runs in the foreground and logs one line per event to standard error; under \
             systemd (Type=notify) it reports readiness, reloads, its status and the watchdog \
             through $NOTIFY_SOCKET, and prefixes its lines with journald priorities when \
             standard error is the journal. It needs CAP_NET_ADMIN.",
        )
        .disable_version_flag(true)
        // Repeated options are accepted, the last one counts (as before).
        .args_override_self(true)
        .arg(
            Arg::new("use-file")
                .short('f')
                .long("use-file")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .value_hint(clap::ValueHint::FilePath)
                .help(format!("Configuration file (default {DEFAULT_CONFIG})")),
        )
        .arg(
            Arg::new("config-test")
                .short('t')
                .long("config-test")
                .action(ArgAction::SetTrue)
                .help("Check the configuration and exit: 0 when valid, 1 with FILE:LINE: KEYWORD: MESSAGE per error"),
        )
        .arg(
            Arg::new("dont-fork")
                .short('n')
                .long("dont-fork")
                .action(ArgAction::SetTrue)
                .help("Accepted for keepalived's sake; lvsd always runs in the foreground"),
        )
        .arg(
            Arg::new("log-console")
                .short('l')
                .long("log-console")
                .action(ArgAction::SetTrue)
                .help("Accepted for keepalived's sake; lvsd always logs to standard error"),
        )
        .arg(
            Arg::new("daemonize")
                .short('D')
                .long("daemonize")
                .action(ArgAction::SetTrue)
                .help("Refused (exit 2): lvsd does not fork; run it under a service manager"),
        )
        .arg(
            Arg::new("dry-run")
                .long("dry-run")
                .action(ArgAction::SetTrue)
                .help("Run on an in-memory table instead of the kernel (it starts empty) and log the changes lvsd would make; needs no privilege"),
        )
        .arg(
            Arg::new("control")
                .long("control")
                .value_name("PATH")
                .value_parser(clap::value_parser!(PathBuf))
                .value_hint(clap::ValueHint::FilePath)
                .help("The control socket lvsctl talks to (mode 0600; default /run/lvsd/control.sock; `none`: no socket)"),
        )
        .arg(
            Arg::new("metrics")
                .long("metrics")
                .value_name("ADDR:PORT")
                .value_parser(clap::value_parser!(std::net::SocketAddr))
                .help("Serve Prometheus metrics at http://ADDR:PORT/metrics (no listener without it)"),
        )
        .arg(
            Arg::new("metrics-real-servers")
                .long("metrics-real-servers")
                .value_name("on|off")
                .value_parser(["on", "off"])
                .help("Metric series per real server (on, the default) or per service only (off)"),
        )
        .arg(
            Arg::new("metrics-names")
                .long("metrics-names")
                .value_name("NAMES")
                .value_parser(["lvsd", "node_exporter", "both"])
                .help("Metric names: lvsd's (default), node_exporter's ipvs collector's, or both"),
        )
        .arg(
            Arg::new("version")
                .short('v')
                .long("version")
                .action(ArgAction::Version)
                .help("Print the version and exit"),
        )
        .after_help(
            "SIGHUP reloads the configuration, SIGTERM and SIGINT stop lvsd (the table stays).",
        )
}

/// Reads the command line (`args` without the program name). `Err` is
/// clap's error, or [`DAEMONIZE_REFUSED`]'s: a usage error (exit 2).
pub fn parse<I>(args: I) -> Result<Invocation, String>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let argv = std::iter::once(OsString::from("lvsd")).chain(args.into_iter().map(Into::into));
    let m = match command().try_get_matches_from(argv) {
        Ok(m) => m,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    Ok(Invocation::Print(e.render().to_string()))
                }
                _ => Err(e.render().to_string()),
            };
        }
    };
    if m.get_flag("daemonize") {
        return Err(DAEMONIZE_REFUSED.into());
    }
    Ok(Invocation::Run(Args {
        file: m
            .get_one::<PathBuf>("use-file")
            .cloned()
            .unwrap_or_else(|| DEFAULT_CONFIG.into()),
        test: m.get_flag("config-test"),
        dry_run: m.get_flag("dry-run"),
        control: m
            .get_one::<PathBuf>("control")
            .map(|p| (p.as_os_str() != "none").then(|| p.clone())),
        metrics: m.get_one::<std::net::SocketAddr>("metrics").copied(),
        metrics_options: {
            let mut o = crate::metrics::MetricsOptions::default();
            if let Some(v) = m.get_one::<String>("metrics-real-servers") {
                o.real_servers = v == "on";
            }
            if let Some(v) = m.get_one::<String>("metrics-names") {
                o.names = v.parse()?;
            }
            o
        },
    }))
}

/// A section of the manual page after the options: its title and its
/// paragraphs. A paragraph starting with `- ` is an item of a list; one
/// starting with `$ ` is an example line (printed as is).
#[derive(Debug, Clone, Copy)]
pub struct ManSection {
    /// The section's title (`SIGNALS`).
    pub title: &'static str,
    /// Its paragraphs.
    pub paragraphs: &'static [&'static str],
}

/// The keepalived configuration keywords lvsd reads, by block: the
/// `CONFIGURATION` section of the manual lists them, and a test checks that
/// the parser names each one.
pub const KEYWORDS: &[(&str, &[&str])] = &[
    (
        "global_defs",
        &[
            "lvs_flush",
            "lvs_flush_on_stop",
            "lvs_timeouts",
            "lvs_sync_daemon",
            "enable_script_security",
            "script_user",
            "checker_log_all_failures",
            "lvsd_drain_timeout",
        ],
    ),
    (
        "virtual_server, virtual_server_group",
        &[
            "lb_algo",
            "lvs_sched",
            "lb_kind",
            "lvs_method",
            "protocol",
            "ip_family",
            "persistence_timeout",
            "persistence_granularity",
            "persistence_engine",
            "ops",
            "hashed",
            "quorum",
            "hysteresis",
            "quorum_up",
            "quorum_down",
            "sorry_server",
            "sorry_server_inhibit",
            "sorry_server_lvs_method",
            "alpha",
            "omega",
            "inhibit_on_failure",
            "delay_loop",
            "virtualhost",
            "lvsd_rise",
        ],
    ),
    (
        "real_server",
        &[
            "weight",
            "lvs_method",
            "uthreshold",
            "lthreshold",
            "inhibit_on_failure",
            "notify_up",
            "notify_down",
            "alpha",
            "delay_loop",
            "retry",
            "delay_before_retry",
            "warmup",
            "connect_timeout",
            "virtualhost",
            "lvsd_rise",
        ],
    ),
    (
        "checkers",
        &[
            "TCP_CHECK",
            "HTTP_GET",
            "SSL_GET",
            "DNS_CHECK",
            "UDP_CHECK",
            "PING_CHECK",
            "SMTP_CHECK",
            "MISC_CHECK",
            "FILE_CHECK",
            "connect_ip",
            "connect_port",
            "bindto",
            "bind_port",
            "connect_timeout",
            "retry",
            "delay_before_retry",
            "delay_loop",
            "warmup",
            "url",
            "path",
            "digest",
            "status_code",
            "regex",
            "misc_path",
            "misc_timeout",
            "misc_dynamic",
            "track_file",
            "lvsd_rise",
        ],
    ),
];

/// The manual's sections after the options.
pub const MAN_SECTIONS: &[ManSection] = &[
    ManSection {
        title: "SIGNALS",
        paragraphs: &[
            "- SIGHUP: reload. The file is parsed and validated completely (configuration, script users, every check) before anything changes; a refused reload changes nothing and lvsd goes on with the old configuration. Checks whose specification did not change keep their state. Real servers removed from the configuration are drained (weight 0, deleted when no connection is left or after lvsd_drain_timeout). While the reload runs, the checks' thread runs at a nice value 10 higher (given back after; only when lvsd may give it back: CAP_SYS_NICE, or an RLIMIT_NICE that allows it): checks go on, but on a saturated machine they no longer take half the CPU from the reload. Under systemd: RELOADING=1 first, READY=1 when the reload ends (taken or refused).",
            "- SIGTERM, SIGINT: stop. omega scripts run; the table stays as it is unless lvs_flush_on_stop asks for a flush (or, with lvs_flush_on_stop VS, for the configured services to be deleted). Under systemd: STOPPING=1.",
        ],
    },
    ManSection {
        title: "SYSTEMD",
        paragraphs: &[
            "With $NOTIFY_SOCKET set (Type=notify or Type=notify-reload), lvsd sends READY=1 after its first reconcile, RELOADING=1 with MONOTONIC_USEC= and then READY=1 around every reload, STOPPING=1 at the stop, and STATUS= lines (services and real servers configured, the last reload, the last state change). With $WATCHDOG_USEC (WatchdogSec=), WATCHDOG=1 is sent at least every half of it while the daemon's loop reads the kernel (an idle loop is asked for a reconcile); a hung loop stops the pings and systemd restarts lvsd. The three variables are removed from the environment of the scripts lvsd runs.",
            "When standard error is the journal ($JOURNAL_STREAM names it), each line starts with its priority instead of \"lvsd: \": <3> errors, <4> warnings, <5> state changes (start, stop, health transitions, drains, reloads), <6> information (kernel changes written, scripts started).",
        ],
    },
    ManSection {
        title: "FILES",
        paragraphs: &[
            "- /etc/keepalived/keepalived.conf: the default configuration (-f names another). Its include directives are followed.",
            "- lvsd.service (contrib/systemd/ in the source): a unit running lvsd as Type=notify with a watchdog, the configuration checked before the start.",
        ],
    },
    ManSection {
        title: "EXIT STATUS",
        paragraphs: &[
            "- 0: stopped by a signal; with -t, the configuration is valid; -h and -v.",
            "- 1: the configuration is refused (each error as FILE:LINE: KEYWORD: MESSAGE), IPVS cannot be opened, or the runtime cannot start.",
            "- 2: a usage error, -D included.",
        ],
    },
    ManSection {
        title: "CONFIGURATION",
        paragraphs: &[
            "lvsd reads the virtual_server side of keepalived.conf as keepalived 2.2.7 reads it (blocks of other processes, vrrp_instance and the like, are skipped with one notice). Keywords it reads:",
        ],
    },
    ManSection {
        title: "EXTENSIONS",
        paragraphs: &[
            "- lvsd_drain_timeout SECONDS (global_defs, default 300): how long a real server removed by a reload is drained at weight 0 before it is deleted; 0 deletes at once. keepalived reports the keyword as unknown.",
            "- lvsd_rise N (virtual server, real server or checker): successes in a row that bring a failed check back up (default 1, keepalived's behaviour).",
        ],
    },
    ManSection {
        title: "DIFFERENCES FROM KEEPALIVED",
        paragraphs: &[
            "- Drain instead of cut: a real server removed by a reload is drained (see lvsd_drain_timeout); UDP real servers are deleted at once.",
            "- Drift is repaired: every reconcile (after events, after a reload, every 10 s or, for a large table, 100 times as long as a read of it takes) reads the kernel and puts back what ipvsadm changed behind lvsd's back.",
            "- A stop leaves the table (keepalived 2.2.7 deletes the services it configured), so a restart interrupts no traffic; a restart on a matching table writes nothing.",
            "- No fork (-D is refused), no VRRP, no SNMP; lvs_sync_daemon, the SSL block's client certificate, checker bind_if and fwmark, regex_options and regex offsets are accepted and not acted on (said once at start).",
        ],
    },
    ManSection {
        title: "EXAMPLES",
        paragraphs: &[
            "$ lvsd -t -f /etc/keepalived/keepalived.conf",
            "$ lvsd --dry-run -f ./keepalived.conf",
            "$ systemctl reload lvsd",
        ],
    },
    ManSection {
        title: "SEE ALSO",
        paragraphs: &["lvsctl(8), ipvsadm(8), keepalived.conf(5), systemd.service(5), sd_notify(3)"],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Args {
        match parse(args.iter().copied()).unwrap() {
            Invocation::Run(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_command_line_keeps_its_behaviour() {
        command().debug_assert();
        let a = run(&[]);
        assert_eq!(a.file, PathBuf::from(DEFAULT_CONFIG));
        assert!(!a.test && !a.dry_run);
        for args in [
            &["-f", "x.conf"][..],
            &["-fx.conf"],
            &["--use-file", "x.conf"],
            &["--use-file=x.conf"],
        ] {
            assert_eq!(run(args).file, PathBuf::from("x.conf"), "{args:?}");
        }
        let a = run(&[
            "-t",
            "-n",
            "-l",
            "--dry-run",
            "--dont-fork",
            "--log-console",
        ]);
        assert!(a.test && a.dry_run);
        assert!(run(&["--config-test"]).test);
        assert_eq!(
            run(&["-f", "a", "-t", "-f", "b", "-t"]).file,
            PathBuf::from("b")
        );
        assert_eq!(parse(["-D"]), Err(DAEMONIZE_REFUSED.into()));
        assert!(parse(["--daemonize"]).is_err());
        assert!(parse(["-x"]).is_err());
        assert!(parse(["-f"]).is_err());
        assert!(parse(["stray"]).is_err());
        assert_eq!(
            parse(["-v"]),
            Ok(Invocation::Print(format!(
                "lvsd {}\n",
                env!("CARGO_PKG_VERSION")
            )))
        );
        let Ok(Invocation::Print(help)) = parse(["-h"]) else {
            panic!()
        };
        assert!(help.contains("--use-file <FILE>") && help.contains("SIGHUP"));
    }
}
