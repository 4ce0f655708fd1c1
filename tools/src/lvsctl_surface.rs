//! `lvsctl`'s command line as a clap command: the source of `lvsctl(8)`
//! (`man/lvsctl.8`) and its shell completions (`completions/`), which
//! `tools/tests/lvsctl_generated.rs` regenerates and checks, together with
//! the agreement of this command and [`crate::lvsctl::USAGE`] (every
//! subcommand and option named in one is in the other).
//!
//! This command is **not** the parser: `lvsctl` reads its arguments as
//! bytes (any file name works) in [`crate::lvsctl`]; clap documents what
//! that parser accepts.

use clap::{Arg, ArgAction, Command};

const LONG_ABOUT: &str = "\
lvsctl operates the kernel's IPVS table (Linux Virtual Server) without \
breaking traffic. `lvsctl apply` makes the table match a rules file in the \
format ipvsadm -S writes, changing only what differs (no flush, so \
established connections and new ones go on while it runs); `lvsctl status` \
prints the table, with the health lvsd sees when it runs; drain, enable, \
weight, maintenance and reload talk to lvsd over its control socket.";

const AFTER_LONG_HELP: &str = "\
Exit status: 0 done; 1 failed (errors in the rules file, each with its line \
number, and then nothing is changed; a change the kernel refused; the kernel \
cannot be read); 2 usage error.

Examples:
  ipvsadm-save -n > rules; $EDITOR rules
  lvsctl apply --dry-run rules     (the changes, one ipvsadm line each)
  lvsctl apply rules               (exactly those writes; none if the table matches)
  lvsctl apply --dry-run rules | ipvsadm -R   (the same change)
  lvsctl status --json
  lvsctl drain tcp:192.0.2.1:80 198.51.100.2:8080
  lvsctl enable tcp:192.0.2.1:80 198.51.100.2:8080

See also: lvsd(8), ipvsadm(8), ipvsadm-save(8).";

/// The clap description of `lvsctl`.
pub fn command() -> Command {
    Command::new("lvsctl")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Operate an LVS (IPVS) table without breaking traffic")
        .long_about(LONG_ABOUT)
        .after_long_help(AFTER_LONG_HELP)
        .disable_version_flag(true)
        .subcommand_required(true)
        .disable_help_subcommand(true)
        .subcommand(
            Command::new("apply")
                .about("Make the kernel's IPVS table match FILE, changing only what differs")
                .long_about(
                    "Make the kernel's IPVS table match FILE (rules as ipvsadm -S writes them: \
                     -A and -a lines; blank lines and # comments are skipped; - for standard \
                     input), changing only what differs. A table that already matches gets no \
                     write; otherwise every change is sent (pipelined) and each failure is \
                     reported. The whole table is compared: a service FILE does not name is \
                     deleted, so the result is the table ipvsadm -C; ipvsadm -R would leave, \
                     without the moment with no service in between.",
                )
                .arg(
                    Arg::new("dry-run")
                        .short('n')
                        .long("dry-run")
                        .action(ArgAction::SetTrue)
                        .help("Print the changes in ipvsadm syntax, change nothing"),
                )
                .arg(
                    Arg::new("json")
                        .long("json")
                        .action(ArgAction::SetTrue)
                        .requires("dry-run")
                        .help("With --dry-run: print the plan as JSON"),
                )
                .arg(
                    Arg::new("verbose")
                        .short('v')
                        .long("verbose")
                        .action(ArgAction::SetTrue)
                        .help("Say on standard error how many changes the plan has and how many write requests went to the kernel"),
                )
                .arg(
                    Arg::new("FILE")
                        .required(true)
                        .value_hint(clap::ValueHint::FilePath)
                        .help("The rules file, or - for standard input"),
                ),
        )
        .arg(
            Arg::new("socket")
                .long("socket")
                .value_name("PATH")
                .global(true)
                .value_hint(clap::ValueHint::FilePath)
                .help("lvsd's control socket (default /run/lvsd/control.sock; lvsd --control)"),
        )
        .subcommand(
            Command::new("status")
                .about("Print the live table with the health of every real server")
                .long_about(
                    "With a running lvsd: the live table with the health of every real server \
                     (alive, failed: CHECK: reason, inhibited, draining N conns left, drained, \
                     maintenance, sorry server in), weights and connections: the daemon's view \
                     joined with a fresh kernel dump. Without one (it says 'no daemon' on \
                     standard error): the kernel's table. --json prints the same as a versioned \
                     JSON document (schema 1, documented in director/README.md).",
                )
                .arg(
                    Arg::new("json")
                        .long("json")
                        .action(ArgAction::SetTrue)
                        .help("Print the table as a versioned JSON document"),
                ),
        )
        .subcommand(real_server_command(
            "drain",
            "Weight 0 for a real server until `lvsctl enable` (established connections go on, no new ones); kept across reloads",
        ))
        .subcommand(real_server_command(
            "enable",
            "Undo drain, maintenance or a weight override",
        ))
        .subcommand(
            real_server_command(
                "weight",
                "Weight N (0-65535) in place of the configured one until enabled",
            )
            .arg(Arg::new("N").required(true).help("The weight")),
        )
        .subcommand(
            real_server_command(
                "maintenance",
                "Take a real server out of the table (on) or put it back (off)",
            )
            .arg(
                Arg::new("STATE")
                    .required(true)
                    .value_parser(["on", "off"])
                    .help("on or off"),
            ),
        )
        .subcommand(
            Command::new("reload")
                .about("Reload lvsd's configuration (as SIGHUP); says whether it was taken"),
        )
}

/// A control command on one real server of one service.
fn real_server_command(name: &'static str, about: &'static str) -> Command {
    Command::new(name)
        .about(about)
        .arg(
            Arg::new("SERVICE")
                .required(true)
                .help("tcp:ADDR:PORT, udp:ADDR:PORT, sctp:ADDR:PORT, fwm:N or fwm6:N"),
        )
        .arg(
            Arg::new("REALSERVER")
                .required(true)
                .help("ADDR:PORT ([ADDR]:PORT for IPv6)"),
        )
}
