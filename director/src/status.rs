//! What the daemon knows, as one value: the state `lvsctl status`, the
//! control socket and the metrics all read.
//!
//! A [`Status`] is built from the configuration model, the health view and
//! the drains in progress ([`crate::director::Director::status`]). It says
//! nothing of the kernel's counters: readers that need connections,
//! packets or bytes take a fresh kernel dump and join it on
//! (service, real server address) — the daemon's view says what should be
//! and why, the kernel says what is.
//!
//! Its serde form (JSON for `lvsctl status --json` and the control socket)
//! is versioned by [`STATUS_SCHEMA`]: fields may be added within a version;
//! a field removed or changed in meaning bumps it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ipvs::ServiceKey;
use serde::{Deserialize, Serialize};

use crate::admin::{Override, Overrides};
use crate::desired::{sorry_destination, Model};
use crate::health::Health;

/// The version of [`Status`]'s serialized form.
pub const STATUS_SCHEMA: u32 = 1;

/// The daemon's whole view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// [`STATUS_SCHEMA`].
    pub schema: u32,
    /// The daemon itself.
    pub daemon: DaemonStatus,
    /// Virtual servers in configuration order.
    pub virtual_servers: Vec<VirtualServerStatus>,
    /// Real servers removed from the configuration and being drained.
    pub draining: Vec<DrainStatus>,
}

/// The daemon process and its configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// Process id.
    pub pid: u32,
    /// The daemon's version.
    pub version: String,
    /// The configuration file, when there is one.
    pub config: Option<String>,
    /// When the daemon started, seconds since the Unix epoch.
    pub started: f64,
    /// The last reload, if any.
    pub last_reload: Option<ReloadStatus>,
}

/// How a reload ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReloadStatus {
    /// Whether the new configuration was taken.
    pub ok: bool,
    /// When, seconds since the Unix epoch.
    pub at: f64,
    /// Why it was refused (empty when taken).
    pub errors: Vec<String>,
}

/// One virtual server: one or more IPVS services sharing real servers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VirtualServerStatus {
    /// Its name: the service (`tcp:192.0.2.1:80`) or `group NAME`.
    pub name: String,
    /// The IPVS services it stands for.
    pub services: Vec<ServiceKey>,
    /// `quorum` (1 unless configured).
    pub quorum: u32,
    /// The sum of the weights of its alive real servers.
    pub live_weight: u64,
    /// Whether the quorum holds.
    pub quorum_up: bool,
    /// The sorry server, when configured.
    pub sorry_server: Option<SorryServerStatus>,
    /// Real servers in configuration order.
    pub real_servers: Vec<RealServerStatus>,
}

/// A sorry server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SorryServerStatus {
    /// Its address (port 0: each service's port).
    pub addr: SocketAddr,
    /// Whether it is in the table in place of the real servers (quorum lost).
    pub active: bool,
}

/// What the daemon does with a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RealServerState {
    /// Every check passes: in the table at its weight.
    Alive,
    /// A check fails: out of the table.
    Failed,
    /// A check fails and `inhibit_on_failure` keeps it at weight 0.
    Inhibited,
    /// Alive, but the sorry server replaces the real servers (quorum lost).
    Displaced,
}

/// One real server of a virtual server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealServerStatus {
    /// Its address (its configured port; 0 in a group means each service's).
    pub addr: SocketAddr,
    /// The configured weight.
    pub configured_weight: i32,
    /// The weight it has in the table when alive (configured, or set by
    /// dynamic checks).
    pub weight: i32,
    /// What the daemon does with it.
    pub state: RealServerState,
    /// Its checks, in configuration order.
    pub checks: Vec<CheckStatusView>,
    /// Operator overrides ([`crate::admin`]) per service of its virtual
    /// server (`{"tcp:192.0.2.1:80": "drained"}`, `"maintenance"`,
    /// `{"weight": 3}`); empty when none. `state` stays the checks' view:
    /// the override says what the operator asked on top of it.
    #[serde(default)]
    pub admin: BTreeMap<String, Override>,
}

/// One check of a real server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckStatusView {
    /// The checker as the configuration names it (`TCP_CHECK (line 12)`).
    pub checker: String,
    /// Whether it passes.
    pub up: bool,
    /// Why it fails, when it does.
    pub reason: Option<String>,
}

/// A real server removed from the configuration, kept at weight 0 until its
/// connections end or its deadline passes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrainStatus {
    /// Its service.
    pub service: ServiceKey,
    /// The real server.
    pub addr: SocketAddr,
    /// Seconds until it is deleted whatever its connections.
    pub deadline_in: f64,
}

/// Seconds since the Unix epoch.
pub fn unix_time(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

/// The virtual servers' part of a [`Status`], from the model and the
/// health view.
pub fn virtual_servers(model: &Model, health: &Health) -> Vec<VirtualServerStatus> {
    model
        .virtual_servers
        .iter()
        .map(|vs| {
            let quorum_up = health.quorum_up(&vs.id);
            let sorry_in = vs.sorry.is_some() && !quorum_up;
            VirtualServerStatus {
                name: vs.id.to_string(),
                services: vs.services.iter().map(|s| s.key).collect(),
                quorum: vs.quorum,
                live_weight: health.live_weight_of(vs),
                quorum_up,
                sorry_server: vs.sorry.as_ref().map(|s| {
                    let d = match vs.services.first() {
                        Some(first) => sorry_destination(s, &first.key),
                        None => s.destination.clone(),
                    };
                    SorryServerStatus {
                        addr: SocketAddr::new(d.addr, s.destination.port),
                        active: sorry_in,
                    }
                }),
                real_servers: vs
                    .real_servers
                    .iter()
                    .map(|rs| {
                        let h = health.rs(&rs.id);
                        let alive = h.is_some_and(|h| h.alive);
                        let state = if alive && sorry_in {
                            RealServerState::Displaced
                        } else if alive {
                            RealServerState::Alive
                        } else if rs.server.inhibit_on_failure {
                            RealServerState::Inhibited
                        } else {
                            RealServerState::Failed
                        };
                        RealServerStatus {
                            addr: SocketAddr::new(rs.id.addr, rs.id.port),
                            configured_weight: rs.server.destination.weight,
                            weight: h.map_or(rs.server.destination.weight, |h| h.weight),
                            state,
                            checks: rs
                                .checks
                                .iter()
                                .enumerate()
                                .map(|(i, (checker, _))| {
                                    let c = h.and_then(|h| h.checks.get(i));
                                    CheckStatusView {
                                        checker: checker.to_string(),
                                        up: c.is_none_or(|c| c.up),
                                        reason: c.and_then(|c| c.reason.clone()),
                                    }
                                })
                                .collect(),
                            admin: BTreeMap::new(),
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Fills in the operator overrides of each real server
/// ([`RealServerStatus::admin`]).
pub fn with_overrides(
    mut vss: Vec<VirtualServerStatus>,
    model: &Model,
    overrides: &Overrides,
) -> Vec<VirtualServerStatus> {
    if overrides.is_empty() {
        return vss;
    }
    for (view, vs) in vss.iter_mut().zip(&model.virtual_servers) {
        for (rsv, rs) in view.real_servers.iter_mut().zip(&vs.real_servers) {
            for s in &vs.services {
                let d = rs.server.destination_for(&s.key);
                if let Some(o) = overrides.get(&s.key, SocketAddr::new(d.addr, d.port)) {
                    rsv.admin.insert(s.key.to_string(), o);
                }
            }
        }
    }
    vss
}
