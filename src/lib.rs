//! Linux IPVS (IP Virtual Server, the kernel half of LVS) over generic
//! netlink: a typed model, a complete codec for the "IPVS" family, and a
//! blocking client.
//!
//! | module | IPVS object | ipvsadm |
//! |---|---|---|
//! | [`service`] | virtual services (`IPVS_SVC_ATTR_*`) | `-A -E -D`, service lines of `-L` |
//! | [`destination`] | real servers (`IPVS_DEST_ATTR_*`) | `-a -e -d`, `->` lines of `-L` |
//! | [`daemon`] | sync daemons (`IPVS_DAEMON_ATTR_*`) | `--start-daemon --stop-daemon`, `-L --daemon` |
//! | [`stats`] | counters and rates (`IPVS_STATS_ATTR_*`) | `-L --stats/--rate`, `-Z` |
//! | [`config`] | timeouts and info (`IPVS_CMD_ATTR_TIMEOUT_*`, `IPVS_INFO_ATTR_*`) | `--set`, `-L --timeout`, header of `-L` |
//! | [`change`] | one write to the table ([`Change`]) | `-A -E -D -a -e -d -Z -C --set` |
//! | [`message`] | commands and top-level attributes (`IPVS_CMD_*`) | |
//! | [`conn`] | the connection table in `/proc/net/ip_vs_conn` | `-L -c` |
//! | [`plan`](mod@plan) | desired [`Table`] vs. the kernel's: the minimal [`Plan`] | |
//! | [`drain`] | weight 0, wait for connections to end, delete | |
//!
//! The [`Ipvs`] handle owns its netlink sockets (one for requests, one with
//! a large buffer for the service dump) and resolves the family once;
//! every method waits at most the handle's timeout. [`Ipvs::apply`] sends
//! many changes per `sendmsg` (the way a bulk restore becomes fast).
//!
//! ```no_run
//! use ipvs::{Destination, ForwardMethod, Ipvs, Service, ServiceKey};
//!
//! let mut ipvs = Ipvs::open()?;
//! let key = ServiceKey::tcp("192.0.2.1".parse().unwrap(), 80);
//! ipvs.add_service(&Service::new(key).with_scheduler("wrr"))?;
//! let rs = Destination::new("198.51.100.2".parse().unwrap(), 8080, ForwardMethod::Masquerade)
//!     .with_weight(3);
//! ipvs.add_destination(&key, &rs)?;
//! for entry in ipvs.snapshot()? {
//!     let service = &entry.service.config;
//!     println!("{} {} ({} real servers)", service.key, service.scheduler,
//!              entry.destinations.len());
//! }
//! # Ok::<(), ipvs::Error>(())
//! ```
//!
//! The library never prints, never exits and never panics on what the
//! kernel, a caller or a file gives it; failures are [`Error`] values that
//! name the operation and the service or real server concerned.
#![warn(missing_docs)]

pub mod change;
mod client;
pub mod config;
pub mod conn;
pub mod daemon;
pub mod destination;
pub mod drain;
mod error;
#[cfg(test)]
mod fake_kernel;
pub mod message;
mod netns;
pub mod plan;
pub mod service;
mod socket;
pub mod stats;
mod text;
mod wire;

pub use change::Change;
pub use client::{
    modprobe_ip_vs, BatchAcks, BatchLimits, BatchMode, Ipvs, OpenOptions, ServiceEntry,
};
pub use config::{Info, Timeouts};
pub use daemon::{DaemonState, SyncDaemon};
pub use destination::{Destination, DestinationStatus, ForwardMethod, TunnelChecksum, TunnelType};
pub use error::{errno, ipvsadm_strerror, strerror, Error, Operation, Target};
pub use message::{IpvsAttribute, IpvsCmd, IpvsMessage};
pub use netns::Namespace;
pub use plan::{plan, Plan, Table};
pub use service::{
    AddressFamily, Netmask, Protocol, Service, ServiceFlags, ServiceKey, ServiceStatus,
};
pub use socket::{Direction, Tracer};
pub use stats::Stats;
pub use text::ParseError;
pub use wire::InetAddr;
