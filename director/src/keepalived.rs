//! The keepalived front end: the checker side of `keepalived.conf`
//! (`virtual_server`, `virtual_server_group`, `real_server`, the checkers,
//! `track_file` and the IPVS keys of `global_defs`), read as keepalived
//! 2.2.7 reads it, into a typed model with every default and inherited
//! setting resolved.
//!
//! ```
//! use ipvs_director::keepalived;
//! let text = "
//! virtual_server 192.0.2.10 80 {
//!     lb_algo wrr
//!     lb_kind NAT
//!     protocol TCP
//!     real_server 198.51.100.2 8080 {
//!         weight 3
//!         TCP_CHECK { connect_timeout 2 }
//!     }
//! }";
//! let parsed = keepalived::parse_str(text, "/etc/keepalived/keepalived.conf").unwrap();
//! let vs = &parsed.config.virtual_servers[0];
//! assert_eq!(vs.services[0].scheduler, "wrr");
//! let rs = &vs.real_servers[0];
//! assert_eq!((rs.destination.port, rs.destination.weight), (8080, 3));
//! let timing = rs.checkers[0].timing.unwrap();
//! assert_eq!(timing.delay_loop.as_secs(), 60); // keepalived's default
//! assert!(parsed.warnings.is_empty());
//! ```
//!
//! Blocks of keepalived's other processes (`vrrp_*`, `static_ipaddress`,
//! `bfd_instance`, ...) are skipped with one [`WarningKind::Skipped`]
//! notice. Where keepalived reports a configuration error and carries on
//! with a corrected value (no `protocol` → UDP, a quorum above the total
//! weight, ...), the same correction is applied and returned as a
//! [`WarningKind::Adjusted`] warning; where keepalived ignores an invalid
//! value or drops an item, lvsd refuses the configuration with a
//! [`ConfigError`], collecting every such error of the file.
//!
//! Not supported (refused with [`ErrorKind::Unsupported`]): `ha_suspend`,
//! `BFD_CHECK`, `$NAME=` parameter definitions, `@ID` conditional lines,
//! `~SEQ`/`~LST`, and group ranges of more than 65536 addresses.
//!
//! Deliberate differences from keepalived 2.2.7, all on the safe side:
//!
//! - a checker of a real server written without a port connects to the
//!   real server's resolved port (keepalived copies the port before filling
//!   it in, and would connect to port 0);
//! - an `SMTP_CHECK` `host` block without `connect_timeout` takes the
//!   checker's timeout (keepalived leaves it at 0);
//! - a `virtual_server_group` range of at most 65536 addresses;
//! - `regex` patterns are kept as written, not compiled (keepalived drops an
//!   invalid pattern with a log message; the check engine must reject it).
//! - script users (`script_user`, MISC_CHECK `user`, notify scripts) are
//!   kept as names and not looked up (keepalived refuses a MISC_CHECK or
//!   `script_user` naming a user that does not exist); whoever runs the
//!   scripts resolves them.
//!
//! Three extensions: `lvsd_rise N` (in a virtual server, real server or
//! checker, inherited like `retry`) asks for N successes in a row before a
//! failed checker is up again ([`CheckTiming::rise`]); keepalived has no
//! such setting and would report the keyword as unknown;
//! `lvsd_drain_timeout SECONDS` in `global_defs`
//! ([`Global::lvsd_drain_timeout`]); and `lvsd_active_active` in
//! `global_defs` ([`Global::lvsd_active_active`], [`crate::active_active`]).
//!
//! [`render`] prints the resolved model one fact per line, for tests and
//! for showing an operator what was understood.

mod lexer;
pub mod model;
mod parse;
mod render;

use std::fmt;
use std::path::{Path, PathBuf};

pub use model::*;
pub use render::render;

/// What kind of error a [`ConfigError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A configuration keepalived reports as wrong (it would ignore the
    /// value or drop the item; lvsd refuses the configuration).
    Invalid,
    /// Something keepalived accepts but lvsd does not implement.
    Unsupported,
    /// The main file cannot be read.
    Io,
}

/// One error, located at the statement that causes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// File holding the statement.
    pub file: PathBuf,
    /// 1-based line of the statement (0 when the file itself is at fault).
    pub line: u32,
    /// The statement's keyword (empty when the file itself is at fault).
    pub keyword: String,
    /// The kind of error.
    pub kind: ErrorKind,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file.display(), self.line)?;
        if !self.keyword.is_empty() {
            write!(f, "{}: ", self.keyword)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// What kind of warning a [`Warning`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WarningKind {
    /// A keyword keepalived does not know; keepalived reports and ignores it.
    UnknownKeyword,
    /// keepalived reports a configuration error and goes on with a
    /// corrected value or without the item; the same is done here.
    Adjusted,
    /// A deprecated spelling or block, accepted.
    Deprecated,
    /// A setting keepalived accepts that lvsd does not act on.
    Ignored,
    /// An item keepalived drops with a log message only (not a configuration
    /// error), e.g. a virtual server naming an undefined group; dropped here too.
    Dropped,
    /// Blocks of keepalived's other processes (VRRP, BFD, static addresses),
    /// skipped: one notice for all of them.
    Skipped,
    /// An `include` that matched nothing or a file that could not be read
    /// (keepalived logs these without failing).
    Include,
    /// Scripts (MISC_CHECK, notify, quorum) without `enable_script_security`:
    /// keepalived logs a "SECURITY VIOLATION" and runs them all the same
    /// (`keepalived --config-test` counts it as a configuration error).
    Security,
}

/// A warning: the configuration is used, but the caller should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// File holding the statement.
    pub file: PathBuf,
    /// 1-based line of the statement.
    pub line: u32,
    /// The statement's keyword.
    pub keyword: String,
    /// The kind of warning.
    pub kind: WarningKind,
    /// What happened.
    pub message: String,
    /// Whether keepalived counts this as a configuration error (so that
    /// `keepalived --config-test` fails on it), rather than only logging it.
    pub keepalived_reports: bool,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.keyword,
            self.message
        )
    }
}

/// A configuration that was read, with its warnings.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The resolved configuration.
    pub config: Config,
    /// Warnings in reading order.
    pub warnings: Vec<Warning>,
}

/// A configuration that was refused: every error found, and the warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The errors in reading order (at least one).
    pub errors: Vec<ConfigError>,
    /// The warnings found on the way.
    pub warnings: Vec<Warning>,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Refused {}

/// Reads a configuration file and the files it includes.
pub fn parse_file(path: impl AsRef<Path>) -> Result<Parsed, Refused> {
    let path = path.as_ref();
    let mut diag = lexer::Diag::default();
    let mut statements = parse::Statements::default();
    lexer::read_statements(path, &mut diag, &mut |n, diag| statements.read(n, diag));
    finish(statements, diag)
}

/// Reads configuration text; `name` is the file name used in messages and
/// the base of relative `include`s.
pub fn parse_str(text: &str, name: impl AsRef<Path>) -> Result<Parsed, Refused> {
    let mut diag = lexer::Diag::default();
    let mut statements = parse::Statements::default();
    lexer::read_statements_str(name.as_ref(), text, &mut diag, &mut |n, diag| {
        statements.read(n, diag)
    });
    finish(statements, diag)
}

fn finish(statements: parse::Statements, mut diag: lexer::Diag) -> Result<Parsed, Refused> {
    let config = statements.finish(&mut diag);
    let (errors, warnings) = diag.into_sorted();
    if errors.is_empty() {
        Ok(Parsed { config, warnings })
    } else {
        Err(Refused { errors, warnings })
    }
}
