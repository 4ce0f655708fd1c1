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
prints the table.";

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
        .subcommand(
            Command::new("status")
                .about("Print the kernel's IPVS table")
                .long_about(
                    "Print the kernel's IPVS table: virtual services and their real servers with \
                     weights and connection counts (ActiveConn, InActConn), as a table, or as \
                     JSON (schema 1: the library's serde form of every service with its real \
                     servers).",
                )
                .arg(
                    Arg::new("json")
                        .long("json")
                        .action(ArgAction::SetTrue)
                        .help("Print the table as a versioned JSON document"),
                ),
        )
}
