//! The ldirectord front end on the daemon's engine: an `ldirectord.cf`
//! [`Config`] turned into the daemon's [`crate::desired::Model`], the same model the
//! keepalived front end builds, so that checks, health, drain and reconcile
//! are [`crate::director::Director`]'s.
//!
//! How ldirectord's semantics map onto the model:
//!
//! - every `virtual` is a virtual server of one service; its real servers
//!   keep their ipvsadm destination (weight, thresholds, forwarding);
//! - `quiescent=yes`: a failed real server stays at weight 0
//!   (`inhibit_on_failure`); `quiescent=no`: it is deleted;
//! - `fallback`: the sorry server (weight 1, as ldirectord adds it), in the
//!   table while no real server of the virtual is alive (quorum 1);
//! - `maintenancedir`: one more check per real server, down while a file
//!   `DIR/RIP:RPORT` or `DIR/RIP` exists;
//! - `checkinterval`, `checktimeout`/`negotiatetimeout`, `failurecount`: the
//!   checks' period, timeout and `retry` (see [`Check::engine_check`]); real
//!   servers start down until their first check (`alpha`), as ldirectord
//!   adds them only once checked;
//! - `checktype=on` / `service=none`: no check (always alive);
//!   `checktype=off`: a check that is never up;
//! - `cleanstop=yes` (the default): the virtual services are deleted at stop;
//!   `cleanstop=no` keeps them (per virtual).
//!
//! Refused with a message naming the service: what the engine cannot run
//! yet ([`Check::engine_check`]'s errors).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ipvs::ServiceKey;

use crate::check::{CheckKind, CheckSpec, Timing};
use crate::desired::{CheckName, Checks, Model, RsId, RsModel, VsId, VsModel};
use crate::keepalived::{self, FlushOnStop, Origin, SorryServer};

use super::{Check, Config, EngineCheck, Fallback, Forward, Real, Virtual};

fn host(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

/// The files of `maintenancedir` that put a real server in maintenance,
/// in ldirectord's order: `RIP:RPORT`, then `RIP` (host names are not
/// looked up).
pub fn maintenance_files(dir: &Path, r: &Real) -> Vec<PathBuf> {
    let port = if r.configured_port != 0 {
        r.configured_port
    } else {
        r.destination.port
    };
    let ip = host(r.destination.addr);
    vec![dir.join(format!("{ip}:{port}")), dir.join(ip)]
}

/// The fallback server's destination in a virtual service: weight 1; the
/// port of the virtual service for gate and ipip (ipvsadm forces it).
fn fallback_destination(f: &Fallback, v: &Virtual) -> ipvs::Destination {
    let vport = match v.service.key {
        ServiceKey::Addr { port, .. } => port,
        ServiceKey::Fwmark { .. } => 0,
    };
    let port = match (f.forward, v.service.key) {
        (Forward::Masq, _) => f.port.unwrap_or(vport),
        (_, ServiceKey::Addr { .. }) => vport,
        (_, ServiceKey::Fwmark { .. }) => f.port.unwrap_or(0),
    };
    ipvs::Destination::new(f.addr, port, f.forward.method()).with_weight(1)
}

/// Builds the daemon's model of an ldirectord configuration read from
/// `file`. Errors name the line and what lvsd cannot do.
pub fn build_model(config: &Config, file: &Path) -> Result<Model, Vec<String>> {
    let origin_file: Arc<Path> = Arc::from(file);
    let mut errors = Vec::new();
    let mut notes = Vec::new();
    let mut vss: Vec<VsModel> = Vec::new();
    // Equal checks share their parameters (see CheckSpec::share_params).
    let mut params = std::collections::HashSet::new();
    let g = &config.global;
    for v in &config.virtuals {
        let id = VsId::Service(v.service.key);
        if vss.iter().any(|x| x.id == id) {
            errors.push(format!(
                "{}:{}: virtual: {} is defined twice",
                file.display(),
                v.line,
                v.service.key
            ));
            continue;
        }
        let mut rss: Vec<RsModel> = Vec::new();
        let shared_id = Arc::new(id.clone());
        for r in &v.reals {
            let rid = RsId {
                vs: shared_id.clone(),
                addr: r.destination.addr,
                port: r.destination.port,
            };
            if rss.iter().any(|x| x.id == rid) {
                // ldirectord warns and keeps one; so does lvsd.
                continue;
            }
            let mut checks = Checks::new();
            let name = match &r.check {
                Check::Negotiate(n) => {
                    format!("negotiate {} (line {})", n.probe_name(), r.line).into()
                }
                other => CheckName::Line {
                    keyword: other.kind_name(),
                    line: r.line,
                },
            };
            match r.check.engine_check(v) {
                Ok(EngineCheck::Probe(mut spec)) => {
                    spec.share_params(&mut params);
                    checks.push((name, Arc::new(*spec)))
                }
                Ok(EngineCheck::AlwaysUp) => {}
                Ok(EngineCheck::NeverUp) => {
                    let mut s = CheckSpec::new(
                        std::net::SocketAddr::new(r.destination.addr, 0),
                        CheckKind::Off,
                    );
                    s.timing = ld_timing(v, Duration::from_secs(1));
                    s.timing.retry = 0;
                    s.share_params(&mut params);
                    checks.push((name, Arc::new(s)));
                }
                Err(e) => errors.push(format!(
                    "{}:{}: real: {}: {e}",
                    file.display(),
                    r.line,
                    r.destination.addr
                )),
            }
            if let Some(dir) = &g.maintenance_dir {
                let mut s = CheckSpec::new(
                    std::net::SocketAddr::new(r.destination.addr, r.destination.port),
                    CheckKind::Maintenance(maintenance_files(dir, r)),
                );
                s.timing = ld_timing(v, Duration::from_secs(1));
                s.timing.retry = 0;
                checks.push((
                    format!("maintenancedir {}", dir.display()).into(),
                    Arc::new(s),
                ));
            }
            rss.push(RsModel {
                id: rid,
                server: keepalived::RealServer {
                    origin: Origin {
                        file: origin_file.clone(),
                        line: r.line,
                    },
                    destination: r.destination.clone(),
                    inhibit_on_failure: v.quiescent,
                    alpha: true,
                    notify_up: None,
                    notify_down: None,
                    checkers: Vec::new(),
                },
                checks,
            });
        }
        let sorry = v.fallback.as_ref().map(|f| SorryServer {
            destination: fallback_destination(f, v),
            inhibit: false,
        });
        if v.fallback_command.is_some() {
            notes.push("fallbackcommand: not run by lvsd".to_string());
        }
        if v.email_alert.is_some() {
            notes.push("emailalert: no mail is sent by lvsd (the alerts are logged)".to_string());
        }
        if v.monitor_file.is_some() {
            notes.push("monitorfile: not written by lvsd".to_string());
        }
        vss.push(VsModel {
            id,
            services: vec![v.service.clone()],
            real_servers: rss,
            sorry,
            quorum: 1,
            hysteresis: 0,
            quorum_up: None,
            quorum_down: None,
            omega: false,
            keep_on_stop: !v.clean_stop,
        });
    }
    if g.callback.is_some() {
        notes.push("callback: not run by lvsd".to_string());
    }
    if !g.execute.is_empty() {
        notes.push(
            "execute: the other configurations are started and stopped with this one, not reloaded"
                .to_string(),
        );
    }
    if g.fork {
        notes.push(
            "fork: lvsd checks every real server concurrently on one event loop anyway".into(),
        );
    }
    let mut seen = std::collections::HashSet::new();
    notes.retain(|n| seen.insert(n.clone()));
    if !errors.is_empty() {
        return Err(errors);
    }
    let global = keepalived::Global {
        lvs_flush_on_stop: if vss.iter().any(|v| !v.keep_on_stop) {
            FlushOnStop::VirtualServers
        } else {
            FlushOnStop::No
        },
        ..keepalived::Global::default()
    };
    Ok(Model {
        global,
        virtual_servers: vss,
        drain_timeout: crate::desired::DEFAULT_DRAIN_TIMEOUT,
        notes,
    })
}

/// ldirectord's timing for a check of `v` bounded by `timeout`.
fn ld_timing(v: &Virtual, timeout: Duration) -> Timing {
    Timing {
        delay_loop: Duration::from_secs(v.check_interval.max(1).into()),
        connect_timeout: timeout,
        retry: v.failure_count.saturating_sub(1),
        delay_before_retry: Duration::from_secs(v.check_interval.max(1).into()),
        warmup: Duration::ZERO,
        rise: 1,
        alpha: true,
    }
}

impl Check {
    /// A short name for log lines (`connect`, `ping`, ...).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Check::Off => "checktype=off",
            Check::On => "checktype=on",
            Check::Connect { .. } => "connect",
            Check::Ping { .. } => "ping",
            Check::External { .. } => "external",
            Check::Negotiate(_) => "negotiate",
            Check::Combined { .. } => "combined",
        }
    }
}

impl super::Negotiate {
    /// The service's name for log lines (`http`, `smtp`, ...).
    pub fn probe_name(&self) -> &'static str {
        use super::Probe;
        match &self.probe {
            Probe::None => "none",
            Probe::Http { tls: true, .. } => "https",
            Probe::Http { proxy: true, .. } => "http_proxy",
            Probe::Http { .. } => "http",
            Probe::Dns { .. } => "dns",
            Probe::Smtp => "smtp",
            Probe::SimpleTcp { .. } => "simpletcp",
            Probe::Banner(b) => b.service.name(),
            Probe::Sql { service, .. } => service.name(),
            Probe::Radius { .. } => "radius",
        }
    }
}
