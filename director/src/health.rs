//! Health state: per real server, whether it is alive (every check up) and
//! its effective weight; per virtual server, whether the quorum holds.
//! Fed with the check engine's events; says which transitions happened, for
//! the log and the notify scripts.
//!
//! Quorum (keepalived's): the sum of the effective weights of the alive real
//! servers. Held at start when the sum reaches `quorum`; lost when the sum
//! is 0 or below `quorum - hysteresis`; regained when it reaches
//! `quorum + hysteresis`.

use std::fmt;

use crate::check::{CheckState, EventKind, Weight};
use crate::desired::{effective_weight, CheckId, Model, RsId, VsId, VsModel};
use crate::sorted_map::SortedMap;

/// One check's last known state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckStatus {
    /// Up.
    pub up: bool,
    /// The weight it reported, if dynamic.
    pub weight: Option<Weight>,
    /// Why it is down, when it is.
    pub reason: Option<String>,
}

/// A real server's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsHealth {
    /// Every check is up.
    pub alive: bool,
    /// The effective weight (configured, or from dynamic checks).
    pub weight: i32,
    /// Its checks, in configuration order; empty while every check is up
    /// with no weight of its own (the usual case, kept without an
    /// allocation per real server).
    pub checks: Vec<CheckStatus>,
}

impl CheckStatus {
    /// Up, no weight, no reason: what an empty [`RsHealth::checks`] stands for.
    fn plain_up() -> CheckStatus {
        CheckStatus {
            up: true,
            weight: None,
            reason: None,
        }
    }

    fn is_plain_up(&self) -> bool {
        self.up && self.weight.is_none() && self.reason.is_none()
    }
}

/// `checks` emptied when every status is plain up (see [`RsHealth::checks`]).
fn compact(mut checks: Vec<CheckStatus>) -> Vec<CheckStatus> {
    if checks.iter().all(CheckStatus::is_plain_up) {
        checks = Vec::new();
    }
    checks
}

/// A change worth a log line (and maybe a script).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// A real server became alive.
    Up {
        /// The real server.
        rs: RsId,
        /// Its weight.
        weight: i32,
    },
    /// A real server failed.
    Down {
        /// The real server.
        rs: RsId,
        /// The failing check.
        check: String,
        /// The check's reason.
        reason: String,
    },
    /// An alive real server's effective weight changed.
    Weight {
        /// The real server.
        rs: RsId,
        /// Old weight.
        from: i32,
        /// New weight.
        to: i32,
    },
    /// A virtual server's quorum was regained.
    QuorumUp {
        /// The virtual server.
        vs: VsId,
        /// The live weight.
        weight: u64,
    },
    /// A virtual server's quorum was lost.
    QuorumDown {
        /// The virtual server.
        vs: VsId,
        /// The live weight.
        weight: u64,
    },
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transition::Up { rs, weight } => {
                write!(f, "real server {rs} is up (weight {weight})")
            }
            Transition::Down { rs, check, reason } => {
                write!(f, "real server {rs} is down: {check}: {reason}")
            }
            Transition::Weight { rs, from, to } => {
                write!(f, "real server {rs}: weight {from} -> {to}")
            }
            Transition::QuorumUp { vs, weight } => {
                write!(
                    f,
                    "virtual server {vs}: quorum regained (live weight {weight})"
                )
            }
            Transition::QuorumDown { vs, weight } => {
                write!(f, "virtual server {vs}: quorum lost (live weight {weight})")
            }
        }
    }
}

/// Health of every real server and quorum of every virtual server.
///
/// Kept in maps sorted by identity (one entry per real server, no spare slots): rebuilt
/// whole at each [`Health::sync`], updated in place by the events.
#[derive(Debug, Clone, Default)]
pub struct Health {
    rs: SortedMap<RsId, RsHealth>,
    quorum: SortedMap<VsId, bool>,
}

impl Health {
    /// Nothing known.
    pub fn new() -> Health {
        Health::default()
    }

    /// A real server's health.
    pub fn rs(&self, id: &RsId) -> Option<&RsHealth> {
        self.rs.get(id)
    }

    /// Whether a virtual server's quorum holds (true for an unknown one).
    pub fn quorum_up(&self, vs: &VsId) -> bool {
        self.quorum.get(vs).copied().unwrap_or(true)
    }

    /// Makes the health match `model`, with every check's state read from
    /// `state` (the engine's, which carries equal checks over a reload).
    /// Real servers and virtual servers that were known before report their
    /// transitions; new ones start silently, as keepalived's do.
    pub fn sync(
        &mut self,
        model: &Model,
        state: impl Fn(&CheckId) -> Option<CheckState>,
    ) -> Vec<Transition> {
        let mut out = Vec::new();
        let mut rs_list = Vec::with_capacity(
            model
                .virtual_servers
                .iter()
                .map(|v| v.real_servers.len())
                .sum(),
        );
        let mut quorum = Vec::with_capacity(model.virtual_servers.len());
        for vs in &model.virtual_servers {
            let first = rs_list.len();
            for rs in &vs.real_servers {
                let checks: Vec<CheckStatus> = rs
                    .checks
                    .iter()
                    .enumerate()
                    .map(|(index, (_, spec))| {
                        let id = CheckId {
                            rs: rs.id.clone(),
                            index,
                        };
                        match state(&id) {
                            Some(s) => CheckStatus {
                                up: s.up,
                                weight: s.weight,
                                reason: (!s.up).then(|| match s.last_failure.map(|l| l.outcome) {
                                    Some(Err(f)) => f.to_string(),
                                    _ => "not checked yet".to_string(),
                                }),
                            },
                            None => CheckStatus {
                                up: !spec.timing.alpha,
                                weight: None,
                                reason: spec.timing.alpha.then(|| "alpha: not checked yet".into()),
                            },
                        }
                    })
                    .collect();
                let mut h = RsHealth {
                    alive: true,
                    weight: 0,
                    checks: compact(checks),
                };
                recompute(&mut h, rs.server.destination.weight);
                if let Some(old) = self.rs.get(&rs.id) {
                    transitions(&rs.id, old, &h, rs, &mut out);
                }
                rs_list.push((rs.id.clone(), h));
            }
            let weight = rs_list[first..].iter().map(|(_, h)| alive_weight(h)).sum();
            let up = match self.quorum.get(&vs.id) {
                None => weight >= u64::from(vs.quorum) && weight > 0,
                Some(&was) => {
                    let now = next_quorum(was, weight, vs.quorum, vs.hysteresis);
                    push_quorum(&vs.id, was, now, weight, &mut out);
                    now
                }
            };
            quorum.push((vs.id.clone(), up));
        }
        self.rs = SortedMap::from_entries(rs_list);
        self.quorum = SortedMap::from_entries(quorum);
        out
    }

    /// Applies one engine event; returns the transitions it caused.
    pub fn on_event(&mut self, model: &Model, id: &CheckId, kind: &EventKind) -> Vec<Transition> {
        let mut out = Vec::new();
        let (Some(vs), Some(rs)) = (model.vs(&id.rs.vs), model.rs(&id.rs)) else {
            return out;
        };
        if *kind == EventKind::Result || id.index >= rs.checks.len() {
            return out;
        }
        let Some(h) = self.rs.get_mut(&id.rs) else {
            return out;
        };
        let old = h.clone();
        if h.checks.is_empty() {
            h.checks = vec![CheckStatus::plain_up(); rs.checks.len()];
        }
        let Some(c) = h.checks.get_mut(id.index) else {
            return out;
        };
        match kind {
            EventKind::Up { weight } => {
                c.up = true;
                c.reason = None;
                if weight.is_some() {
                    c.weight = *weight;
                }
            }
            EventKind::Down { reason } => {
                c.up = false;
                c.reason = Some(reason.to_string());
            }
            EventKind::Weight(w) => c.weight = Some(*w),
            EventKind::Result => return out,
        }
        recompute(h, rs.server.destination.weight);
        h.checks = compact(std::mem::take(&mut h.checks));
        let new = h.clone();
        transitions(&id.rs, &old, &new, rs, &mut out);
        let weight = live_weight(&self.rs, vs.real_servers.iter().map(|r| &r.id));
        let was = self.quorum_up(&vs.id);
        let now = next_quorum(was, weight, vs.quorum, vs.hysteresis);
        push_quorum(&vs.id, was, now, weight, &mut out);
        self.quorum.insert(vs.id.clone(), now);
        out
    }

    /// The live weight of a virtual server.
    pub fn live_weight(&self, model: &Model, vs: &VsId) -> u64 {
        model.vs(vs).map(|v| self.live_weight_of(v)).unwrap_or(0)
    }

    /// [`Health::live_weight`] of a virtual server at hand (no search of
    /// the model: the status of thousands of virtual servers stays linear).
    pub fn live_weight_of(&self, vs: &VsModel) -> u64 {
        live_weight(&self.rs, vs.real_servers.iter().map(|r| &r.id))
    }
}

fn recompute(h: &mut RsHealth, configured: i32) {
    h.alive = h.checks.iter().all(|c| c.up);
    h.weight = effective_weight(configured, h.checks.iter().filter_map(|c| c.weight));
}

fn transitions(
    id: &RsId,
    old: &RsHealth,
    new: &RsHealth,
    rs: &crate::desired::RsModel,
    out: &mut Vec<Transition>,
) {
    match (old.alive, new.alive) {
        (false, true) => out.push(Transition::Up {
            rs: id.clone(),
            weight: new.weight,
        }),
        (true, false) => {
            // Not alive: some check is down, so the statuses are kept (see `compact`).
            let (i, c) = new
                .checks
                .iter()
                .enumerate()
                .find(|(_, c)| !c.up)
                .expect("a real server that is not alive has a failed check");
            out.push(Transition::Down {
                rs: id.clone(),
                check: rs
                    .checks
                    .get(i)
                    .map(|(n, _)| n.to_string())
                    .unwrap_or_default(),
                reason: c.reason.clone().unwrap_or_default(),
            })
        }
        (true, true) if old.weight != new.weight => out.push(Transition::Weight {
            rs: id.clone(),
            from: old.weight,
            to: new.weight,
        }),
        _ => {}
    }
}

fn live_weight<'a>(rs: &SortedMap<RsId, RsHealth>, ids: impl Iterator<Item = &'a RsId>) -> u64 {
    ids.filter_map(|id| rs.get(id)).map(alive_weight).sum()
}

/// What a real server adds to its virtual server's live weight.
fn alive_weight(h: &RsHealth) -> u64 {
    if h.alive {
        h.weight.max(0) as u64
    } else {
        0
    }
}

fn next_quorum(was: bool, weight: u64, quorum: u32, hysteresis: u32) -> bool {
    let (q, h) = (u64::from(quorum), u64::from(hysteresis));
    if was {
        !(weight == 0 || weight < q.saturating_sub(h))
    } else {
        weight >= q + h && weight > 0
    }
}

fn push_quorum(vs: &VsId, was: bool, now: bool, weight: u64, out: &mut Vec<Transition>) {
    match (was, now) {
        (true, false) => out.push(Transition::QuorumDown {
            vs: vs.clone(),
            weight,
        }),
        (false, true) => out.push(Transition::QuorumUp {
            vs: vs.clone(),
            weight,
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Failure;
    use crate::desired::Model;

    /// Statuses are kept only while some check is not plain up; transitions and the down
    /// reason are the same either way.
    #[test]
    fn statuses_are_kept_only_while_a_check_is_not_plain_up() {
        let conf = "virtual_server 192.0.2.20 80 {
    real_server 198.51.100.1 80 {
        TCP_CHECK {
        }
        PING_CHECK {
        }
    }
}
";
        let parsed = crate::keepalived::parse_str(conf, "t.conf").unwrap();
        let model = Model::build(&parsed.config).unwrap();
        let rs = model.virtual_servers[0].real_servers[0].id.clone();
        let mut health = Health::new();
        assert!(health.sync(&model, |_| None).is_empty());
        let h = health.rs(&rs).unwrap();
        assert!(h.alive && h.checks.is_empty(), "all up: no statuses kept");
        let ping = CheckId {
            rs: rs.clone(),
            index: 1,
        };
        let down = EventKind::Down {
            reason: Failure::Refused,
        };
        let t = health.on_event(&model, &ping, &down);
        assert!(
            matches!(&t[..], [Transition::Down { reason, check, .. }, Transition::QuorumDown { .. }]
            if *reason == Failure::Refused.to_string() && check.starts_with("PING_CHECK"))
        );
        let h = health.rs(&rs).unwrap();
        assert!(!h.alive);
        assert_eq!(h.checks.len(), 2);
        assert!(h.checks[0].up && !h.checks[1].up);
        let t = health.on_event(&model, &ping, &EventKind::Up { weight: None });
        assert!(matches!(
            &t[..],
            [Transition::Up { .. }, Transition::QuorumUp { .. }]
        ));
        let h = health.rs(&rs).unwrap();
        assert!(
            h.alive && h.checks.is_empty(),
            "back up: statuses dropped again"
        );
        // A result without a transition changes nothing.
        let before = h.clone();
        assert!(health
            .on_event(&model, &ping, &EventKind::Result)
            .is_empty());
        assert_eq!(health.rs(&rs).unwrap(), &before);
    }

    #[test]
    fn quorum_with_hysteresis() {
        // quorum 4, hysteresis 1: lost below 3, regained at 5.
        assert!(next_quorum(true, 3, 4, 1));
        assert!(!next_quorum(true, 2, 4, 1));
        assert!(!next_quorum(false, 4, 4, 1));
        assert!(next_quorum(false, 5, 4, 1));
        // quorum 1, hysteresis 1: 0 loses it all the same.
        assert!(!next_quorum(true, 0, 1, 1));
        assert!(!next_quorum(false, 1, 1, 1));
        assert!(next_quorum(false, 2, 1, 1));
    }
}
