//! Desired state, first half: what the configuration asks for, before
//! health. [`Model::build`] turns the keepalived front end's resolved
//! [`Config`] into virtual servers with stable identities ([`VsId`],
//! [`RsId`]) and, per real server, the [`CheckSpec`]s the check engine runs;
//! [`Model::table`] computes the kernel table wanted for a given health view
//! ([`crate::health::Health`]).
//!
//! The desired table, per service of a virtual server:
//!
//! - quorum held, or no sorry server: every alive real server at its
//!   effective weight (configured weight, replaced by a MISC_CHECK
//!   `misc_dynamic` weight, plus FILE_CHECK contributions, at least 0); a
//!   failed one absent, or at weight 0 with `inhibit_on_failure`; the sorry
//!   server absent, or at weight 0 with `sorry_server_inhibit`;
//! - quorum lost with a sorry server: the sorry server at its weight; the
//!   real servers absent (at weight 0 with `inhibit_on_failure`).

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipvs::plan::Table;
use ipvs::{Destination, Service, ServiceKey};

use crate::check::{self, CheckSpec, ConnectOptions, Timing, Weight};
use crate::health::Health;
use crate::keepalived::{
    self, CheckKind, Checker, Config, Global, RealServer, Script, ScriptUser, SorryServer,
    VirtualServerName,
};
use crate::one_or_many::OneOrMany;

/// How long a removed real server is drained when `lvsd_drain_timeout` is
/// not given.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(300);

/// A virtual server's identity across reloads: its service key, or its
/// group's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VsId {
    /// `virtual_server IP PORT` or `virtual_server fwmark N`.
    Service(ServiceKey),
    /// `virtual_server group NAME`.
    Group(String),
}

impl fmt::Display for VsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VsId::Service(k) => write!(f, "{k}"),
            VsId::Group(g) => write!(f, "group {g}"),
        }
    }
}

/// A real server's identity across reloads: its virtual server, address and
/// configured port (0 in a group means each service's port).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RsId {
    /// The virtual server (shared by its real servers' identities: an identity is a key of
    /// several per-real-server maps).
    pub vs: Arc<VsId>,
    /// The real server's address.
    pub addr: IpAddr,
    /// The configured port.
    pub port: u16,
}

impl fmt::Display for RsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {}",
            SocketAddr::new(self.addr, self.port),
            self.vs
        )
    }
}

/// One check of one real server: the key of the check engine's subscribers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckId {
    /// The real server.
    pub rs: RsId,
    /// The checker's position among the real server's checkers.
    pub index: usize,
}

/// A real server with its checks.
#[derive(Debug, Clone, PartialEq)]
pub struct RsModel {
    /// Its identity.
    pub id: RsId,
    /// The front end's resolved real server (destination, inhibit, scripts;
    /// its `checkers` are left empty: they are in `checks`).
    pub server: RealServer,
    /// Its checks: the checker's name for messages, and the spec (shared
    /// with the check engine).
    pub checks: Checks,
}

/// A check's name in messages and in the status: a checker's keyword and the line of its
/// block (`TCP_CHECK (line 12)`), or a front end's own text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckName {
    /// A keyword and its line (held without an allocation: there is one per real server).
    Line {
        /// The checker's keyword.
        keyword: &'static str,
        /// The line of its block.
        line: u32,
    },
    /// Any other text.
    Text(Box<str>),
}

impl fmt::Display for CheckName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckName::Line { keyword, line } => write!(f, "{keyword} (line {line})"),
            CheckName::Text(t) => f.write_str(t),
        }
    }
}

impl From<String> for CheckName {
    fn from(text: String) -> Self {
        CheckName::Text(text.into_boxed_str())
    }
}

/// One check of a real server: its name and its spec.
pub type RsCheck = (CheckName, Arc<CheckSpec>);

/// A real server's checks, in configuration order; a slice to read. One check (the usual
/// case) is held in place: tens of thousands of real servers then cost no allocation each
/// for their checks.
pub type Checks = OneOrMany<RsCheck>;

/// A virtual server: one or more IPVS services with the same real servers.
#[derive(Debug, Clone, PartialEq)]
pub struct VsModel {
    /// Its identity.
    pub id: VsId,
    /// The services it stands for.
    pub services: Vec<Service>,
    /// Its real servers.
    pub real_servers: Vec<RsModel>,
    /// The sorry server.
    pub sorry: Option<SorryServer>,
    /// `quorum`.
    pub quorum: u32,
    /// `hysteresis`.
    pub hysteresis: u32,
    /// `quorum_up` script.
    pub quorum_up: Option<Script>,
    /// `quorum_down` script.
    pub quorum_down: Option<Script>,
    /// `omega`.
    pub omega: bool,
    /// Kept when the daemon stops even under `lvs_flush_on_stop VS`
    /// (ldirectord's per-virtual `cleanstop=no`); false for keepalived.
    pub keep_on_stop: bool,
}

/// The configuration as the daemon acts on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// `global_defs`.
    pub global: Global,
    /// Virtual servers in configuration order.
    pub virtual_servers: Vec<VsModel>,
    /// How long a removed real server is drained (`lvsd_drain_timeout`).
    pub drain_timeout: Duration,
    /// Settings that are accepted but not acted on, one message each.
    pub notes: Vec<String>,
}

impl Model {
    /// Builds the model; errors (a script user that does not exist, a
    /// service of two virtual servers) refuse the configuration. See
    /// [`Model::from_config`], which takes the configuration by value.
    pub fn build(config: &Config) -> Result<Model, Vec<String>> {
        Model::from_config(config.clone())
    }

    /// [`Model::build`], consuming the configuration: its real servers move
    /// into the model instead of being copied, so that a large configuration
    /// is not held twice while the model is built.
    pub fn from_config(config: Config) -> Result<Model, Vec<String>> {
        let mut errors = Vec::new();
        let mut notes = Vec::new();
        // What is said about the whole configuration, before it is taken apart.
        let mut late_notes = Vec::new();
        if config.global.ssl.is_some() {
            late_notes.push("SSL block: not acted on by lvsd (SSL_GET presents no client certificate and, as keepalived, verifies no server certificate)".into());
        }
        if let Some(inst) = config
            .global
            .lvs_sync_daemon
            .as_ref()
            .and_then(|d| d.vrrp_instance.as_ref())
        {
            late_notes.push(format!("lvs_sync_daemon follows VRRP instance {inst}: lvsd runs no VRRP and leaves the sync daemons to the VRRP daemon, as keepalived's checker does (without inst, lvsd runs both the master and the backup daemon)"));
        }
        late_notes.extend(crate::active_active::config_warnings(&config));
        late_notes.extend(crate::active_active::quiesce_warnings(&config));
        let Config {
            global,
            virtual_servers,
        } = config;
        let mut seen_services: HashMap<ServiceKey, VsId> = HashMap::new();
        let mut seen_vs: HashSet<VsId> = HashSet::new();
        let mut users = Users::default();
        let mut vss = Vec::with_capacity(virtual_servers.len());
        // Equal checker blocks share their parameters (see CheckSpec::share_params).
        let mut params = HashSet::new();
        for vs in virtual_servers {
            let id = match &vs.name {
                VirtualServerName::Addr(k) | VirtualServerName::Fwmark(k) => VsId::Service(*k),
                VirtualServerName::Group(g) => VsId::Group(g.clone()),
            };
            if !seen_vs.insert(id.clone()) {
                errors.push(format!(
                    "{}:{}: virtual_server: {id} is defined twice",
                    vs.origin.file.display(),
                    vs.origin.line
                ));
                continue;
            }
            for s in &vs.services {
                if let Some(other) = seen_services.insert(s.key, id.clone()) {
                    errors.push(format!(
                        "{}:{}: virtual_server: service {} belongs to {other} already",
                        vs.origin.file.display(),
                        vs.origin.line,
                        s.key
                    ));
                }
            }
            let mut rss = Vec::with_capacity(vs.real_servers.len());
            let shared_id = Arc::new(id.clone());
            for mut rs in vs.real_servers {
                let rid = RsId {
                    vs: shared_id.clone(),
                    addr: rs.destination.addr,
                    port: rs.destination.port,
                };
                let target_port = match vs.services.first() {
                    Some(s) => rs.destination_for(&s.key).port,
                    None => rs.destination.port,
                };
                let target = SocketAddr::new(rs.destination.addr, target_port);
                // The model keeps the engine's specs, not the parsed checkers.
                let checkers = std::mem::take(&mut rs.checkers);
                let mut checks = Checks::new();
                for c in &checkers {
                    let name = CheckName::Line {
                        keyword: c.kind.keyword(),
                        line: c.origin.line,
                    };
                    match check_spec(c, target, &global, &mut users, &mut notes) {
                        Ok(mut spec) => {
                            spec.share_params(&mut params);
                            checks.push((name, Arc::new(spec)))
                        }
                        Err(e) => errors.push(format!(
                            "{}:{}: {}: {e}",
                            c.origin.file.display(),
                            c.origin.line,
                            c.kind.keyword()
                        )),
                    }
                }
                drop(checkers);
                for s in [&rs.notify_up, &rs.notify_down].into_iter().flatten() {
                    if let Err(e) = users.script(s, &global) {
                        errors.push(format!(
                            "{}:{}: real_server: {e}",
                            rs.origin.file.display(),
                            rs.origin.line
                        ));
                    }
                }
                rss.push(RsModel {
                    id: rid,
                    server: rs,
                    checks,
                });
            }
            for s in [&vs.quorum_up, &vs.quorum_down].into_iter().flatten() {
                if let Err(e) = users.script(s, &global) {
                    errors.push(format!(
                        "{}:{}: virtual_server: {e}",
                        vs.origin.file.display(),
                        vs.origin.line
                    ));
                }
            }
            vss.push(VsModel {
                id,
                services: vs.services,
                real_servers: rss,
                sorry: vs.sorry_server,
                quorum: vs.quorum,
                hysteresis: vs.hysteresis,
                quorum_up: vs.quorum_up,
                quorum_down: vs.quorum_down,
                omega: vs.omega,
                keep_on_stop: false,
            });
        }
        notes.extend(late_notes);
        let mut seen_notes = HashSet::new();
        notes.retain(|n| seen_notes.insert(n.clone()));
        if errors.is_empty() {
            Ok(Model {
                drain_timeout: global.lvsd_drain_timeout.unwrap_or(DEFAULT_DRAIN_TIMEOUT),
                global,
                virtual_servers: vss,
                notes,
            })
        } else {
            Err(errors)
        }
    }

    /// Every check of every real server, keyed for the engine (the specs
    /// shared, not copied).
    pub fn checks(&self) -> Vec<(CheckId, Arc<CheckSpec>)> {
        self.virtual_servers
            .iter()
            .flat_map(|vs| &vs.real_servers)
            .flat_map(|rs| {
                rs.checks.iter().enumerate().map(|(index, (_, spec))| {
                    (
                        CheckId {
                            rs: rs.id.clone(),
                            index,
                        },
                        spec.clone(),
                    )
                })
            })
            .collect()
    }

    /// Replaces the model's specs, in the order of [`Model::checks`], with
    /// equal ones held elsewhere (the engine's, see
    /// [`crate::check::Engine::sync`]), so that one copy of each spec is
    /// kept. Specs that differ, and any beyond `shared`, stay as they are.
    pub fn share_specs(&mut self, shared: impl IntoIterator<Item = Arc<CheckSpec>>) {
        let mut shared = shared.into_iter();
        let specs = self
            .virtual_servers
            .iter_mut()
            .flat_map(|vs| &mut vs.real_servers)
            .flat_map(|rs| rs.checks.iter_mut().map(|(_, spec)| spec));
        for spec in specs {
            let Some(other) = shared.next() else { return };
            if !Arc::ptr_eq(spec, &other) && **spec == *other {
                *spec = other;
            }
        }
    }

    /// Every service of the configuration.
    pub fn services(&self) -> impl Iterator<Item = &Service> {
        self.virtual_servers.iter().flat_map(|vs| &vs.services)
    }

    /// The virtual server with this identity.
    pub fn vs(&self, id: &VsId) -> Option<&VsModel> {
        self.virtual_servers.iter().find(|v| &v.id == id)
    }

    /// The real server with this identity.
    pub fn rs(&self, id: &RsId) -> Option<&RsModel> {
        self.vs(&id.vs)?.real_servers.iter().find(|r| &r.id == id)
    }

    /// The kernel table wanted for this health view (see the module's
    /// documentation).
    pub fn table(&self, health: &Health) -> Table {
        let mut t = Table::new();
        for vs in &self.virtual_servers {
            let sorry_in = vs.sorry.is_some() && !health.quorum_up(&vs.id);
            for s in &vs.services {
                if t.add_service(s.clone()).is_err() {
                    continue;
                }
                for rs in &vs.real_servers {
                    let d = rs.server.destination_for(&s.key);
                    let weight = match health.rs(&rs.id) {
                        Some(h) if h.alive && !sorry_in => Some(h.weight),
                        _ if rs.server.inhibit_on_failure => Some(0),
                        _ => None,
                    };
                    if let Some(w) = weight {
                        let _ = t.add_destination(&s.key, d.with_weight(w));
                    }
                }
                if let Some(sorry) = &vs.sorry {
                    let d = sorry_destination(sorry, &s.key);
                    let weight = if sorry_in {
                        Some(d.weight)
                    } else if sorry.inhibit {
                        Some(0)
                    } else {
                        None
                    };
                    if let Some(w) = weight {
                        // A sorry server that is also a real server of the
                        // service: the real server's entry wins.
                        let _ = t.add_destination(&s.key, d.with_weight(w));
                    }
                }
            }
        }
        t
    }
}

/// The sorry server's destination in one service (a sorry server without
/// port takes the service's).
pub fn sorry_destination(sorry: &SorryServer, key: &ServiceKey) -> Destination {
    let mut d = sorry.destination.clone();
    if d.port == 0 {
        if let ServiceKey::Addr { port, .. } = key {
            d.port = *port;
        }
    }
    d
}

/// A real server's weight from its configured weight and the weights its
/// dynamic checks reported: a MISC_CHECK `misc_dynamic` weight replaces the
/// configured one, FILE_CHECK values are added; never below 0.
pub fn effective_weight(configured: i32, reported: impl IntoIterator<Item = Weight>) -> i32 {
    let mut base = i64::from(configured);
    let mut add = 0i64;
    for w in reported {
        match w {
            Weight::Configured => {}
            Weight::Set(n) => base = i64::from(n),
            Weight::Add(n) => add = add.saturating_add(n),
        }
    }
    base.saturating_add(add).clamp(0, i64::from(i32::MAX)) as i32
}

/// Resolves user and group names once per build.
#[derive(Default)]
struct Users {
    cache: HashMap<(String, Option<String>), (u32, u32)>,
}

impl Users {
    fn resolve(&mut self, u: &ScriptUser) -> Result<(u32, u32), String> {
        let key = (u.user.clone(), u.group.clone());
        if let Some(v) = self.cache.get(&key) {
            return Ok(*v);
        }
        let v = resolve_user(u)?;
        self.cache.insert(key, v);
        Ok(v)
    }

    /// Checks that a script's user exists.
    fn script(&mut self, s: &Script, g: &Global) -> Result<Option<(u32, u32)>, String> {
        match s.user.as_ref().or(g.script_user.as_ref()) {
            Some(u) => self.resolve(u).map(Some),
            None => Ok(None),
        }
    }
}

/// The uid and gid of a script user (the user's primary group unless a
/// group is named).
pub fn resolve_user(u: &ScriptUser) -> Result<(u32, u32), String> {
    let name = CString::new(u.user.as_str()).map_err(|_| format!("invalid user {:?}", u.user))?;
    let mut buf = vec![0u8; 16384];
    // SAFETY: getpwnam_r writes into pwd and buf (whose length is given) and
    // sets result to null or to &pwd; nothing is kept past the call.
    let (uid, gid) = unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(
            name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            return Err(format!("user {} does not exist", u.user));
        }
        (pwd.pw_uid, pwd.pw_gid)
    };
    let gid = match &u.group {
        None => gid,
        Some(g) => {
            let gname = CString::new(g.as_str()).map_err(|_| format!("invalid group {g:?}"))?;
            // SAFETY: as above, for getgrnam_r.
            unsafe {
                let mut grp: libc::group = std::mem::zeroed();
                let mut result: *mut libc::group = std::ptr::null_mut();
                let rc = libc::getgrnam_r(
                    gname.as_ptr(),
                    &mut grp,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    &mut result,
                );
                if rc != 0 || result.is_null() {
                    return Err(format!("group {g} does not exist"));
                }
                grp.gr_gid
            }
        }
    };
    Ok((uid, gid))
}

fn dns_type(name: &str) -> Option<u16> {
    check::DnsCheck::type_from_name(name).or(match name {
        "RRSIG" => Some(46),
        "DNSKEY" => Some(48),
        _ => None,
    })
}

fn connect(
    c: &keepalived::Connection,
    target: SocketAddr,
    kind: &str,
    notes: &mut Vec<String>,
) -> ConnectOptions {
    if c.bind_if.is_some() {
        notes.push(format!("{kind}: bind_if is not acted on by lvsd"));
    }
    if c.fwmark.is_some() {
        notes.push(format!("{kind}: fwmark is not acted on by lvsd"));
    }
    ConnectOptions {
        connect_ip: (c.target.ip() != target.ip()).then_some(c.target.ip()),
        connect_port: (c.target.port() != target.port()).then_some(c.target.port()),
        bind_ip: c.bind_addr,
        bind_port: c.bind_port,
    }
}

fn http(h: &keepalived::HttpCheck) -> check::HttpCheck {
    let urls = h
        .urls
        .iter()
        .map(|u| check::UrlCheck {
            path: u.path.clone(),
            status: u.status_codes.clone(),
            digest: u
                .digest
                .map(|d| d.iter().map(|b| format!("{b:02x}")).collect()),
            regex: u.regex.as_ref().map(|r| r.pattern.clone()),
            regex_no_match: u.regex.as_ref().is_some_and(|r| r.no_match),
            virtualhost: u.virtualhost.clone(),
        })
        .collect();
    let mut out = check::HttpCheck::new(check::UrlCheck::new("/"));
    out.urls = urls;
    out.protocol = match h.http_protocol {
        keepalived::HttpProtocol::Http10 => check::HttpProtocol::Http10,
        keepalived::HttpProtocol::Http10Close => check::HttpProtocol::Http10Close,
        keepalived::HttpProtocol::Http11 => check::HttpProtocol::Http11,
    };
    out.enable_sni = h.enable_sni;
    // keepalived loads the SSL block's CA but never rejects a peer: no
    // verification here either.
    out
}

/// The engine's spec of one checker of a real server at `target`.
fn check_spec(
    c: &Checker,
    target: SocketAddr,
    global: &Global,
    users: &mut Users,
    notes: &mut Vec<String>,
) -> Result<CheckSpec, String> {
    let kw = c.kind.keyword();
    let (kind, conn) = match &c.kind {
        CheckKind::Tcp(conn) => (check::CheckKind::Tcp, Some(conn)),
        CheckKind::Ping(conn) => (check::CheckKind::Ping, Some(conn)),
        CheckKind::Http(h) => (check::CheckKind::Http(http(h)), Some(&h.connection)),
        CheckKind::Ssl(h) => (check::CheckKind::Ssl(http(h)), Some(&h.connection)),
        CheckKind::Smtp(s) => (
            check::CheckKind::Smtp(check::SmtpCheck {
                helo_name: s.helo_name.clone(),
                ehlo: false,
            }),
            Some(&s.connection),
        ),
        CheckKind::Dns(d) => (
            check::CheckKind::Dns(check::DnsCheck {
                qtype: dns_type(&d.query_type)
                    .ok_or_else(|| format!("unknown DNS query type {}", d.query_type))?,
                name: if d.name.is_empty() {
                    ".".into()
                } else {
                    d.name.clone()
                },
            }),
            Some(&d.connection),
        ),
        CheckKind::Udp(u) => (
            check::CheckKind::Udp(check::UdpCheck {
                payload: u.payload.clone(),
                require_reply: u.require_reply.as_ref().map(|p| check::ReplyPattern {
                    data: p.data.clone(),
                    mask: p.mask.clone(),
                }),
                min_reply_len: usize::from(u.min_reply_length),
                max_reply_len: usize::from(u.max_reply_length),
            }),
            Some(&u.connection),
        ),
        CheckKind::Misc(m) => (
            check::CheckKind::Misc(check::MiscCheck {
                argv: m.script.argv.clone(),
                timeout: Some(m.timeout),
                dynamic: m.dynamic,
                user: users.script(&m.script, global)?,
            }),
            None,
        ),
        CheckKind::File(f) => (
            check::CheckKind::File(check::FileCheck {
                path: f.path.clone().into(),
                weight: f.weight,
                reverse: f.reverse,
            }),
            None,
        ),
    };
    let mut spec = CheckSpec::new(target, kind);
    if let Some(conn) = conn {
        spec.connect = connect(conn, target, kw, notes);
        spec.timing.connect_timeout = conn.connect_timeout;
    }
    match c.timing {
        Some(t) => {
            spec.timing = Timing {
                delay_loop: t.delay_loop,
                connect_timeout: spec.timing.connect_timeout,
                retry: t.retry,
                delay_before_retry: t.delay_before_retry,
                warmup: t.warmup,
                rise: t.rise.max(1),
                alpha: t.alpha,
            };
        }
        None => {
            // FILE_CHECK: keepalived watches the file; the engine reads it
            // every second, at once at start.
            spec.timing = Timing {
                delay_loop: Duration::from_secs(1),
                connect_timeout: spec.timing.connect_timeout,
                retry: 0,
                delay_before_retry: Duration::from_secs(1),
                warmup: Duration::ZERO,
                rise: 1,
                alpha: false,
            };
        }
    }
    if let CheckKind::Http(h) | CheckKind::Ssl(h) = &c.kind {
        if h.urls.iter().any(|u| {
            u.regex.as_ref().is_some_and(|r| {
                !r.options.is_empty() || r.min_offset != 0 || r.max_offset.is_some()
            })
        }) {
            notes.push(format!(
                "{kw}: regex_options and regex offsets are not acted on by lvsd"
            ));
        }
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_without_a_string_and_checks_as_a_slice() {
        let spec = |port| {
            Arc::new(CheckSpec::new(
                SocketAddr::from(([192, 0, 2, 1], port)),
                check::CheckKind::Tcp,
            ))
        };
        let mut checks = Checks::new();
        let name = CheckName::Line {
            keyword: "TCP_CHECK",
            line: 12,
        };
        checks.push((name.clone(), spec(80)));
        assert!(checks.is_inline(), "one check: no vector");
        assert_eq!(checks[0].0.to_string(), "TCP_CHECK (line 12)");
        checks.push((String::from("maintenancedir /m").into(), spec(81)));
        checks[1].1 = spec(82);
        let names: Vec<String> = checks.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(names, ["TCP_CHECK (line 12)", "maintenancedir /m"]);
        assert_eq!(checks[1].1.target.port(), 82);
        assert_eq!(Checks::from(vec![(name, spec(80))]).len(), 1);
    }

    #[test]
    fn weights_from_dynamic_checks() {
        assert_eq!(effective_weight(3, []), 3);
        assert_eq!(effective_weight(3, [Weight::Configured]), 3);
        assert_eq!(effective_weight(3, [Weight::Set(7)]), 7);
        assert_eq!(effective_weight(3, [Weight::Set(7), Weight::Add(-2)]), 5);
        assert_eq!(effective_weight(3, [Weight::Add(-10)]), 0);
        assert_eq!(effective_weight(1, [Weight::Add(i64::MAX)]), i32::MAX);
    }

    #[test]
    fn root_resolves_and_nobody_exists_or_not() {
        let root = ScriptUser {
            user: "root".into(),
            group: None,
        };
        assert_eq!(resolve_user(&root), Ok((0, 0)));
        let ghost = ScriptUser {
            user: "no-such-user-lvsd".into(),
            group: None,
        };
        assert!(resolve_user(&ghost).unwrap_err().contains("does not exist"));
    }
}
