//! Operator overrides made through the control socket
//! ([`crate::control`], `lvsctl drain|enable|weight|maintenance`).
//!
//! An override is kept per kernel real server: (service, address, port),
//! the names `lvsctl` takes. One override at a time per real server; a new
//! one replaces the old, `enable` removes it.
//!
//! How overrides and health combine (the rule [`Overrides::apply`] follows):
//!
//! - health first: a failed real server stays out of the table (or at weight
//!   0 with `inhibit_on_failure`) whatever its override; health checks keep
//!   running for overridden servers, so an override on a failed server
//!   takes effect when it comes back;
//! - [`Override::Maintenance`]: out of the table, alive or not (like
//!   ldirectord's `maintenancedir`); its connections are not cut by the
//!   kernel, new ones go elsewhere;
//! - [`Override::Drained`]: an alive real server stays in the table at
//!   weight 0 (established connections go on, no new ones) until enabled;
//! - [`Override::Weight`]: an alive real server's weight, in place of the
//!   configured or dynamic one;
//! - overrides do not change health or quorum (the live weight is the
//!   checks' view), and they do not apply while the sorry server replaces
//!   the real servers (quorum lost).
//!
//! Overrides survive reloads; one whose real server leaves the
//! configuration is dropped ([`Overrides::retain_configured`]).

use std::fmt;
use std::net::SocketAddr;

use ipvs::plan::Table;
use ipvs::ServiceKey;
use serde::{Deserialize, Serialize};

use crate::desired::{sorry_destination, Model, RsModel};
use crate::health::Health;

/// The largest weight an override may set (ipvsadm's limit).
pub const MAX_WEIGHT: u32 = 65535;

/// What the operator asked for one real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Override {
    /// Weight 0 until enabled.
    Drained,
    /// Out of the table until maintenance is turned off.
    Maintenance,
    /// This weight in place of the configured (or dynamic) one.
    Weight(u32),
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Override::Drained => f.write_str("drained"),
            Override::Maintenance => f.write_str("maintenance"),
            Override::Weight(w) => write!(f, "weight {w}"),
        }
    }
}

/// The overrides in force, keyed by service and real server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// In the order they were made.
    list: Vec<(ServiceKey, SocketAddr, Override)>,
}

impl Overrides {
    /// None.
    pub fn new() -> Overrides {
        Overrides::default()
    }

    /// The override of one real server.
    pub fn get(&self, service: &ServiceKey, rs: SocketAddr) -> Option<Override> {
        self.list
            .iter()
            .find(|(k, a, _)| k == service && *a == rs)
            .map(|x| x.2)
    }

    /// Sets one; returns the previous.
    pub fn set(&mut self, service: ServiceKey, rs: SocketAddr, o: Override) -> Option<Override> {
        match self
            .list
            .iter_mut()
            .find(|(k, a, _)| *k == service && *a == rs)
        {
            Some(x) => Some(std::mem::replace(&mut x.2, o)),
            None => {
                self.list.push((service, rs, o));
                None
            }
        }
    }

    /// Removes one; returns it.
    pub fn remove(&mut self, service: &ServiceKey, rs: SocketAddr) -> Option<Override> {
        let i = self
            .list
            .iter()
            .position(|(k, a, _)| k == service && *a == rs)?;
        Some(self.list.remove(i).2)
    }

    /// Every override, in the order they were made.
    pub fn iter(&self) -> impl Iterator<Item = &(ServiceKey, SocketAddr, Override)> {
        self.list.iter()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Drops the overrides of real servers the model no longer has;
    /// returns them.
    pub fn retain_configured(&mut self, model: &Model) -> Vec<(ServiceKey, SocketAddr, Override)> {
        let mut dropped = Vec::new();
        self.list.retain(|(k, a, o)| {
            let keep = find(model, k, *a).is_ok();
            if !keep {
                dropped.push((*k, *a, *o));
            }
            keep
        });
        dropped
    }

    /// Applies the overrides to the table the configuration and health ask
    /// for (see the module's documentation for the rule).
    pub fn apply(&self, table: &mut Table, model: &Model, health: &Health) {
        for (key, addr, o) in &self.list {
            let Ok((vs_sorry_in, rs)) = find(model, key, *addr).map(|rs| {
                let vs = model.vs(&rs.id.vs);
                let sorry_in = vs.is_some_and(|v| v.sorry.is_some() && !health.quorum_up(&v.id));
                (sorry_in, rs)
            }) else {
                continue;
            };
            let Some(present) = table.service(key).and_then(|s| {
                s.destinations
                    .iter()
                    .find(|d| d.addr == addr.ip() && d.port == addr.port())
                    .cloned()
            }) else {
                continue;
            };
            let alive = health.rs(&rs.id).is_some_and(|h| h.alive);
            match o {
                Override::Maintenance => {
                    let _ = table.remove_destination(key, &present);
                }
                Override::Drained if alive && !vs_sorry_in => {
                    let _ = table.edit_destination(key, present.with_weight(0));
                }
                Override::Weight(w) if alive && !vs_sorry_in => {
                    let w = i32::try_from(*w).unwrap_or(i32::MAX);
                    let _ = table.edit_destination(key, present.with_weight(w));
                }
                _ => {}
            }
        }
    }
}

/// The configured real server `addr` of service `key`, or why there is
/// none (a message for the operator).
pub fn find<'a>(
    model: &'a Model,
    key: &ServiceKey,
    addr: SocketAddr,
) -> Result<&'a RsModel, String> {
    let Some(vs) = model
        .virtual_servers
        .iter()
        .find(|v| v.services.iter().any(|s| &s.key == key))
    else {
        return Err(format!("unknown service {key}: not in the configuration"));
    };
    if let Some(rs) = vs.real_servers.iter().find(|r| {
        let d = r.server.destination_for(key);
        d.addr == addr.ip() && d.port == addr.port()
    }) {
        return Ok(rs);
    }
    if vs.sorry.as_ref().is_some_and(|s| {
        let d = sorry_destination(s, key);
        d.addr == addr.ip() && d.port == addr.port()
    }) {
        return Err(format!(
            "{addr} is the sorry server of {key}, not a real server: overrides apply to real servers"
        ));
    }
    let known: Vec<String> = vs
        .real_servers
        .iter()
        .map(|r| {
            let d = r.server.destination_for(key);
            SocketAddr::new(d.addr, d.port).to_string()
        })
        .collect();
    Err(format!(
        "unknown real server {addr} of {key} (configured: {})",
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    ))
}

/// An operator's action on one real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `lvsctl drain`.
    Drain,
    /// `lvsctl enable`: undo any override.
    Enable,
    /// `lvsctl weight N` (checked against 0..=[`MAX_WEIGHT`]).
    Weight(i64),
    /// `lvsctl maintenance on|off`.
    Maintenance(bool),
}

/// What an accepted action does: the override the real server has after
/// it (`None`: none), and a message for the operator and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The override afterwards.
    pub after: Option<Override>,
    /// What happened, one line.
    pub message: String,
}

/// Checks an action against the model (unknown services and real servers,
/// bad weights are refused with a message, and then nothing changes) and
/// says what it does.
pub fn decide(
    model: &Model,
    health: &Health,
    overrides: &Overrides,
    service: &ServiceKey,
    addr: SocketAddr,
    action: Action,
) -> Result<Decision, String> {
    if let Action::Weight(w) = action {
        if !(0..=i64::from(MAX_WEIGHT)).contains(&w) {
            return Err(format!("bad weight {w}: a weight is 0 to {MAX_WEIGHT}"));
        }
    }
    let rs = find(model, service, addr)?;
    let before = overrides.get(service, addr);
    let who = format!("real server {addr} of {service}");
    let was = before.map_or(String::new(), |b| format!(" (was: {b})"));
    let failed = if health.rs(&rs.id).is_some_and(|h| h.alive) {
        ""
    } else {
        "; it is failed: out of the table (or inhibited) until its checks pass"
    };
    let d = match action {
        Action::Drain => Decision {
            after: Some(Override::Drained),
            message: format!("drain: {who}: weight 0 until enabled{was}{failed}"),
        },
        Action::Weight(w) => Decision {
            after: Some(Override::Weight(w as u32)),
            message: format!("weight: {who}: weight {w} until enabled{was}{failed}"),
        },
        Action::Maintenance(true) => Decision {
            after: Some(Override::Maintenance),
            message: format!(
                "maintenance on: {who}: out of the table until maintenance off or enable{was}"
            ),
        },
        Action::Maintenance(false) => match before {
            Some(Override::Maintenance) => Decision {
                after: None,
                message: format!("maintenance off: {who}: back in the table{failed}"),
            },
            other => Decision {
                after: other,
                message: format!(
                    "maintenance off: {who}: not in maintenance{}; nothing changed",
                    other.map_or(String::new(), |o| format!(" (override: {o})"))
                ),
            },
        },
        Action::Enable => Decision {
            after: None,
            message: match before {
                Some(b) => format!("enable: {who}: override {b} removed{failed}"),
                None => format!("enable: {who}: no override; nothing changed"),
            },
        },
    };
    Ok(d)
}
