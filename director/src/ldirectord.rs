//! The ldirectord front end: `ldirectord.cf` read as ldirectord 4.12 (the
//! Debian package `ldirectord` 1:4.12.0, "Linux Director v1.186-ha") reads
//! it, into a typed model with every default and global setting resolved,
//! the IPVS services and destinations as the library's types, and each real
//! server's check as ldirectord means it; plus the `ldirectord` command line
//! ([`cli`]) and the daemon's model of a configuration ([`daemon`]: the same
//! [`crate::desired::Model`] the keepalived front end builds, run by the same
//! [`crate::director::Director`]; the binary is `ldirectord`).
//!
//! ```
//! use ipvs_director::ldirectord::{self, Check, Probe};
//! let text = "\
//! checktimeout=3
//! virtual=192.0.2.10:80
//! \treal=198.51.100.1->198.51.100.2:80 gate
//! \trequest=\"health\"
//! \treceive=\"OK\"
//! \tpersistent=600
//! ";
//! let parsed = ldirectord::parse_str(text, "/etc/ha.d/ldirectord.cf").unwrap();
//! let v = &parsed.config.virtuals[0];
//! assert_eq!(v.service.scheduler, "wrr"); // ldirectord's default
//! assert_eq!((v.service.timeout, v.reals.len()), (600, 2));
//! let Check::Negotiate(n) = &v.reals[1].check else { panic!() };
//! let Probe::Http { url, .. } = &n.probe else { panic!() };
//! assert_eq!(url, "http://198.51.100.2:80/health"); // service inferred from port 80
//! assert_eq!(n.timeout.as_secs(), 3); // negotiatetimeout falls back on checktimeout
//! ```
//!
//! Where ldirectord 4.12 stops at the first configuration error (exit
//! status 2, "reading file F at line N"), lvsd collects every error of the
//! file; the first one, in ldirectord's order, is the one ldirectord reports.
//! Warnings are ldirectord's own (deprecated `checkcount`, bare `supervised`,
//! `checkinterval` in a virtual without `fork`, a missing `maintenancedir`)
//! plus lvsd's notes on settings ldirectord silently ignores.
//!
//! Deliberate differences:
//!
//! - `checktype=external-perl` is refused ([`ErrorKind::Unsupported`]): it
//!   evaluates Perl inside ldirectord;
//! - host and service names: addresses are resolved through
//!   [`ParseOptions::resolve`] (by default numeric addresses and
//!   `localhost` only, no DNS at parse time); port names through a built-in
//!   copy of Debian's `/etc/services` entries for the usual services;
//! - `logfile` and `monitorfile` are not opened while parsing (ldirectord
//!   creates them; the daemon opens them when it starts);
//! - a `real` range of more than 65536 addresses is refused;
//! - `schedflags` are checked as ipvsadm checks them, and a persistence
//!   netmask ipvsadm would refuse (`300.0.0.0`) is refused here.
//!
//! ldirectord 4.12's own behaviour kept on purpose, with a warning where it
//! surprises:
//!
//! - its code defaults `quiescent` and `readdquiescent` to **no**, although
//!   its manual says yes;
//! - `connecttimeout` and `timeout` are configuration errors (deprecated);
//! - a real server's `"request", "receive"` pair whose request starts with
//!   `/` loses the receive string and the rest of the line, thresholds
//!   included ([`WarningKind::Adjusted`]);
//! - the global `fallback` does not apply to fwmark services (ldirectord asks
//!   ipvsadm for a server `:0`);
//! - a blank line ends a virtual block; global lines must start in column 0
//!   and keep any `# comment` in their value; `logfile` and `callback` take
//!   quoted values only.
//!
//! ldirectord has no "check the configuration" option (no `-t`); the tests
//! use `ldirectord -d CONF stop`, which reads the configuration and exits
//! without touching IPVS when no daemon runs, as the oracle of accept/reject
//! and of the first error's line and message, and `ldirectord -d CONF start`
//! with checks off and a fake `./ipvsadm` as the oracle of the IPVS
//! commands the model implies (director/tests/ldirectord_*.rs).

pub mod check;
pub mod cli;
pub mod daemon;
pub mod model;
mod parse;
mod render;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipvs::AddressFamily;

pub use check::EngineCheck;
pub use model::*;
pub use render::render;

/// What kind of error a [`ConfigError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A configuration error ldirectord reports (it exits with status 2).
    Invalid,
    /// Something ldirectord accepts that lvsd does not implement.
    Unsupported,
    /// The file cannot be read.
    Io,
}

/// One error, located at its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (0 when the file itself is at fault).
    pub line: u32,
    /// The directive (empty when unknown).
    pub keyword: String,
    /// The kind of error.
    pub kind: ErrorKind,
    /// ldirectord's message where it has one.
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
    /// A deprecated directive or spelling, accepted (ldirectord warns too).
    Deprecated,
    /// A setting ldirectord accepts and does not act on.
    Ignored,
    /// Something ldirectord accepts that will not work as written (a missing
    /// maintenance directory, a real server listed twice).
    Adjusted,
}

/// A warning: the configuration is used, but the caller should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: u32,
    /// The directive.
    pub keyword: String,
    /// The kind of warning.
    pub kind: WarningKind,
    /// What happened.
    pub message: String,
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

/// A configuration that was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The errors (at least one), the first being the one ldirectord reports.
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

/// How names are resolved while parsing.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Resolves a host name (brackets removed) for a family; `None` when it
    /// does not resolve. Default: numeric addresses and `localhost`.
    pub resolve: fn(&str, AddressFamily) -> Option<IpAddr>,
    /// The host name in ldirectord's default ftp password and sip login
    /// (`ldirectord@HOST`); ldirectord takes `$HOSTNAME`, else uname's.
    pub hostname: String,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            resolve: parse::default_resolve,
            hostname: std::env::var("HOSTNAME")
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(uname_nodename),
        }
    }
}

fn uname_nodename() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Reads a configuration file with the default options.
pub fn parse_file(path: impl AsRef<Path>) -> Result<Parsed, Refused> {
    parse_file_with(path, &ParseOptions::default())
}

/// Reads a configuration file.
pub fn parse_file_with(path: impl AsRef<Path>, opts: &ParseOptions) -> Result<Parsed, Refused> {
    let path = path.as_ref();
    match std::fs::read(path) {
        Ok(bytes) => parse_str_with(&String::from_utf8_lossy(&bytes), path, opts),
        Err(e) => Err(Refused {
            errors: vec![ConfigError {
                file: path.to_path_buf(),
                line: 0,
                keyword: String::new(),
                kind: ErrorKind::Io,
                message: format!("can not open file {}: {e}", path.display()),
            }],
            warnings: Vec::new(),
        }),
    }
}

/// Reads configuration text with the default options; `name` is the file
/// name used in messages.
pub fn parse_str(text: &str, name: impl AsRef<Path>) -> Result<Parsed, Refused> {
    parse_str_with(text, name, &ParseOptions::default())
}

/// Reads configuration text.
pub fn parse_str_with(
    text: &str,
    name: impl AsRef<Path>,
    opts: &ParseOptions,
) -> Result<Parsed, Refused> {
    let (config, errors, warnings) = parse::parse(text, name.as_ref(), opts);
    if errors.is_empty() {
        Ok(Parsed { config, warnings })
    } else {
        Err(Refused { errors, warnings })
    }
}
