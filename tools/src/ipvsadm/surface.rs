//! The option surface as `clap` commands, built from [`table::OPTIONS`]:
//! the source of the man pages (`man/*.8`) and the shell completions
//! (`completions/`), which `tools/tests/cli_generated.rs` regenerates and checks.
//!
//! These commands are **not** the parser. ipvsadm parses with popt, whose
//! rules clap cannot reproduce (see [`super::popt`] for the list: per-option
//! order-dependent processing, "first option must be a command", popt's
//! optional-argument rule, `-t=addr`, hyphen values for mandatory
//! arguments only, `!#:+` expansion, popt's and ipvsadm's exact error texts
//! and exit codes). clap documents what the parser accepts.

use clap::builder::PossibleValuesParser;
use clap::{Arg, ArgAction, Command};

use super::table::{self, ArgKind, OptId, Section};

const SCHEDULERS: [&str; 13] = [
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
];

const ABOUT: &str = "Linux Virtual Server administration (ipvsadm 1.31 compatible)";

const LONG_ABOUT: &str = "\
ipvsadm sets up, maintains and inspects the virtual server table of the \
Linux kernel's IP Virtual Server (IPVS). This is ipvs-rs's drop-in \
replacement for ipvsadm 1.31: the same options, output, messages and exit \
statuses.

The first option must be a command (-A, -E, -D, -C, -L, -Z, -a, -e, -d, -R, \
-S, --set, --start-daemon, --stop-daemon, -h). Without any argument the \
table is listed (like -L). A virtual service is given by -t, -u or \
--sctp-service host[:port] (IPv6 as [addr]:port) or by -f fwmark (with -6 \
after it for IPv6). Short options can be combined (-Ln); arguments may be \
attached (-p600) or follow (-p 600); long options accept --opt=value.";

const AFTER_LONG_HELP: &str = "\
Differences from ipvsadm 1.31 (deliberate): -h, -v and argument errors do \
not need the kernel; firewall marks of 2^31 and above print unsigned in -L \
and -S; real-server 64-bit counters print in full; -b made only of commas \
is an error (exit 2) instead of a crash; -R skips blank lines and lines \
whose first non-blank character is #; -v and the first line of -h name \
this project.

Exit status: 0 on success; 1 when a listing fails; 2 for argument errors \
and when IPVS cannot be reached; 255 for kernel errors, option syntax \
errors and when the first option is not a command. With -R, the status is \
that of the last line, unless a line with an argument error ends the run.

Files: /proc/net/ip_vs_conn (read by -L -c).";

fn heading(section: Section) -> &'static str {
    match section {
        Section::Command => "Commands",
        Section::VirtualService => "Virtual service",
        Section::Option => "Options",
        Section::Daemon => "Daemon options",
    }
}

fn arg_for(spec: &table::OptionSpec) -> Arg {
    let id = match spec.id {
        OptId::ListLower => "list-l".to_string(),
        _ => spec.long.to_string(),
    };
    let mut arg = Arg::new(id)
        .help(spec.help)
        .help_heading(heading(spec.section));
    if spec.id != OptId::ListLower {
        arg = arg.long(spec.long);
    }
    if let Some(s) = spec.short {
        arg = arg.short(s as char);
    }
    arg = match spec.arg {
        ArgKind::None => arg.action(ArgAction::SetTrue),
        ArgKind::Required => arg
            .action(ArgAction::Set)
            .num_args(1)
            .allow_hyphen_values(true),
        ArgKind::Optional => arg.action(ArgAction::Set).num_args(0..=1),
    };
    if let Some(v) = spec.value_name {
        arg = arg.value_name(v);
    }
    arg = match spec.id {
        OptId::Set => arg
            .action(ArgAction::Set)
            .num_args(3)
            .value_names(["tcp", "tcpfin", "udp"]),
        OptId::StartDaemon | OptId::StopDaemon => {
            arg.value_parser(PossibleValuesParser::new(["master", "backup"]))
        }
        OptId::TunType => arg.value_parser(PossibleValuesParser::new(table::TUNNEL_TYPES)),
        OptId::Scheduler => arg.value_parser(PossibleValuesParser::new(SCHEDULERS)),
        OptId::Pe => arg.value_parser(PossibleValuesParser::new(["sip"])),
        OptId::TcpService | OptId::UdpService | OptId::SctpService | OptId::RealServer => {
            arg.value_hint(clap::ValueHint::Hostname)
        }
        _ => arg,
    };
    arg.hide(spec.hidden)
}

/// `ipvsadm`'s option surface.
pub fn command() -> Command {
    let mut cmd = Command::new("ipvsadm")
        .about(ABOUT)
        .long_about(LONG_ABOUT)
        .after_long_help(AFTER_LONG_HELP)
        .version(table::PROJECT_VERSION)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .disable_help_subcommand(true)
        .dont_collapse_args_in_usage(true)
        .override_usage(
            table::USAGE_SYNOPSIS
                .iter()
                .map(|l| format!("ipvsadm{l}"))
                .collect::<Vec<_>>()
                .join("\n       "),
        );
    for spec in table::OPTIONS.iter() {
        cmd = cmd.arg(arg_for(spec));
    }
    cmd
}

/// `ipvsadm-save`'s option surface.
pub fn save_command() -> Command {
    Command::new("ipvsadm-save")
        .about("Save the IPVS table to stdout in ipvsadm -R format")
        .long_about(
            "Prints the IPVS table as ipvsadm commands (ipvsadm -S). With -n, \
             addresses and ports are numeric. Any other argument starting with \
             - prints a usage message and exits 1; other words are ignored.",
        )
        .version(table::PROJECT_VERSION)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(
            Arg::new("numeric")
                .short('n')
                .action(ArgAction::SetTrue)
                .help("Numeric output of addresses and ports."),
        )
}

/// `ipvsadm-restore`'s option surface.
pub fn restore_command() -> Command {
    Command::new("ipvsadm-restore")
        .about("Replace the IPVS table with rules read from stdin")
        .long_about(
            "Reads ipvsadm commands from stdin (lines starting with # are \
             dropped), clears the table (ipvsadm -C) and loads the rules \
             (ipvsadm -R). The exit status is that of ipvsadm -R. It takes \
             no options.",
        )
        .version(table::PROJECT_VERSION)
        .disable_help_flag(true)
        .disable_version_flag(true)
}
