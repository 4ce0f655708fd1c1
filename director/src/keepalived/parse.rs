//! From the statement tree to the resolved [`Config`]: keyword handlers
//! (keepalived's `check_parser.c`, `check_*.c`, `global_parser.c`), then
//! keepalived's `validate_check_config` corrections and inheritance.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use ipvs::{
    AddressFamily, Destination, ForwardMethod, Netmask, Protocol, Service, ServiceFlags,
    ServiceKey, Timeouts, TunnelChecksum, TunnelType,
};

use super::lexer::{Diag, Loc, Node};
use super::model::*;
use super::{ErrorKind, WarningKind};

mod checker;
mod resolve;
mod server;

/// lvsd's own keyword (virtual server, real server, checker): successes in
/// a row that bring a failed checker back up. keepalived has no such setting
/// (one success is enough) and would report the keyword as unknown.
const RISE: &str = "lvsd_rise";
/// lvsd's extension in `global_defs`: how long a real server removed by a
/// reload is drained before it is deleted.
const DRAIN_TIMEOUT: &str = "lvsd_drain_timeout";
/// lvsd's extension in `global_defs`: this director is one of several that
/// share the virtual addresses behind a router's ECMP (see
/// [`crate::active_active`]).
const ACTIVE_ACTIVE: &str = "lvsd_active_active";

/// keepalived's scheduler list (`lvs_schedulers`).
const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos",
];
/// `IPVS_SVC_PERSISTENT_TIMEOUT`.
const DEFAULT_PERSISTENCE: u32 = 360;
/// `LVS_MAX_TIMEOUT`: 31 days.
const LVS_MAX_TIMEOUT: u64 = 86400 * 31;
/// A group entry may expand to at most this many addresses.
const MAX_GROUP_RANGE: u128 = 65536;

/// Root blocks of keepalived's other processes: skipped with one notice.
const OTHER_ROOTS: &[&str] = &[
    "vrrp_instance",
    "vrrp_sync_group",
    "vrrp_script",
    "vrrp_track_file",
    "vrrp_track_process",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "bfd_instance",
    "garp_group",
    "linkbeat_interfaces",
    "interface_up_down_delays",
    "track_group",
    "track_process",
    "linkbeat_use_polling",
    "net_namespace",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "use_pid_dir",
    "instance",
    "child_wait_time",
];

/// `global_defs` keys that change what keepalived's checker does, which lvsd
/// does not implement: each gives an [`WarningKind::Ignored`] warning.
const UNUSED_GLOBALS: &[&str] = &[
    "net_namespace",
    "net_namespace_ipvs",
    "nftables_ipvs",
    "lvs_notify_fifo",
    "lvs_notify_fifo_script",
    "notify_fifo",
    "notify_fifo_script",
    "rs_init_notifies",
    "smtp_alert_checker",
];

/// `global_defs` keys keepalived knows that lvsd has no use for (the other
/// processes' settings, mail, SNMP, D-Bus, scheduling of the processes).
const OTHER_GLOBALS: &[&str] = &[
    "linkbeat_use_polling",
    "net_namespace",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "use_pid_dir",
    "instance",
    "child_wait_time",
    "process_names",
    "process_name",
    "vrrp_process_name",
    "checker_process_name",
    "lvs_process_name",
    "bfd_process_name",
    "router_id",
    "notification_email_from",
    "smtp_server",
    "smtp_helo_name",
    "smtp_connect_timeout",
    "notification_email",
    "smtp_alert",
    "startup_script",
    "startup_script_timeout",
    "shutdown_script",
    "shutdown_script_timeout",
    "max_auto_priority",
    "min_auto_priority_delay",
    "smtp_alert_vrrp",
    "smtp_alert_checker",
    "checker_log_all_failures",
    "dynamic_interfaces",
    "no_email_faults",
    "default_interface",
    "disable_local_igmp",
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "vrrp_garp_master_delay",
    "vrrp_garp_master_repeat",
    "vrrp_garp_master_refresh",
    "vrrp_garp_master_refresh_repeat",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_down_timer_adverts",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "vrrp_min_garp",
    "vrrp_garp_extra_if",
    "vrrp_vmac_garp_intvl",
    "vrrp_lower_prio_no_advert",
    "vrrp_higher_prio_send_advert",
    "vrrp_version",
    "vrrp_iptables",
    "vrrp_ipsets",
    "nftables",
    "nftables_priority",
    "nftables_ifindex",
    "nftables_ipvs",
    "nftables_ipvs_priority",
    "nftables_ipvs_start_fwmark",
    "nftables_counters",
    "vrrp_check_unicast_src",
    "vrrp_skip_check_adv_addr",
    "vrrp_strict",
    "vrrp_priority",
    "vrrp_no_swap",
    "vrrp_rt_priority",
    "vrrp_cpu_affinity",
    "vrrp_rlimit_rttime",
    "vrrp_rlimit_rtime",
    "notify_fifo",
    "notify_fifo_script",
    "vrrp_notify_fifo",
    "vrrp_notify_fifo_script",
    "vrrp_notify_priority_changes",
    "fifo_write_vrrp_states_on_reload",
    "lvs_notify_fifo",
    "lvs_notify_fifo_script",
    "checker_priority",
    "checker_no_swap",
    "checker_rt_priority",
    "checker_cpu_affinity",
    "checker_rlimit_rttime",
    "checker_rlimit_rtime",
    "bfd_priority",
    "bfd_no_swap",
    "bfd_rt_priority",
    "bfd_cpu_affinity",
    "bfd_rlimit_rttime",
    "bfd_rlimit_rtime",
    "snmp_socket",
    "enable_traps",
    "enable_snmp_vrrp",
    "enable_snmp_keepalived",
    "enable_snmp_rfc",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_snmp_checker",
    "enable_dbus",
    "dbus_service_name",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force",
    "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force",
    "process_monitor_rcv_bufs",
    "process_monitor_rcv_bufs_force",
    "lvs_netlink_cmd_rcv_bufs",
    "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs",
    "lvs_netlink_monitor_rcv_bufs_force",
    "rs_init_notifies",
    "no_checker_emails",
    "vrrp_rx_bufs_policy",
    "vrrp_rx_bufs_multiplier",
    "vrrp_startup_delay",
    "log_unknown_vrids",
    "vmac_prefix",
    "vmac_addr_prefix",
    "umask",
    "random_seed",
    "reload_check_config",
    "reload_time_file",
    "reload_repeat",
    "reload_file",
    "include_check",
    "config_save_dir",
    "tmp_config_directory",
    "data_use_instance",
];

// ------------------------------------------------------------------ raw model

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fwd {
    method: ForwardMethod,
    tun_type: TunnelType,
    tun_port: u16,
    csum: TunnelChecksum,
}

impl Fwd {
    fn nat() -> Self {
        Fwd {
            method: ForwardMethod::Masquerade,
            tun_type: TunnelType::Ipip,
            tun_port: 0,
            csum: TunnelChecksum::NoCsum,
        }
    }
}

enum RawName {
    Addr(IpAddr, u16),
    Fwmark(u32),
    Group(String),
}

#[derive(Default, Clone)]
struct RawConn {
    ip: Option<IpAddr>,
    port: Option<u16>,
    bindto: Option<IpAddr>,
    bind_port: Option<u16>,
    bind_if: Option<String>,
    fwmark: Option<u32>,
    connect_timeout: Option<Duration>,
}

#[derive(Default, Clone)]
struct RawTiming {
    retry: Option<u32>,
    rise: Option<u32>,
    delay_before_retry: Option<Duration>,
    warmup: Option<Duration>,
    delay_loop: Option<Duration>,
    alpha: Option<bool>,
    log_all_failures: bool,
}

struct RawUrl {
    path: Option<String>,
    digest: Option<[u8; 16]>,
    status: Vec<(u16, u16)>,
    virtualhost: Option<String>,
    regex: Option<String>,
    no_match: bool,
    options: Vec<String>,
    min_offset: usize,
    max_offset: Option<usize>,
}

enum RawKind {
    Tcp,
    Http {
        ssl: bool,
        urls: Vec<RawUrl>,
        virtualhost: Option<String>,
        protocol: HttpProtocol,
        sni: bool,
        fast_recovery: bool,
    },
    Smtp {
        helo: Option<String>,
        hosts: Vec<(Loc, RawConn)>,
    },
    Dns {
        qtype: String,
        name: Option<String>,
    },
    Udp {
        payload: Vec<u8>,
        reply: Option<ReplyPattern>,
        min: u16,
        max: u16,
    },
    Ping,
    Misc {
        argv: Vec<String>,
        timeout: Option<Duration>,
        dynamic: bool,
        user: Option<ScriptUser>,
    },
    File {
        name: Option<String>,
        weight: Option<(i32, bool)>,
    },
}

struct RawChecker {
    loc: Loc,
    kind: RawKind,
    conn: RawConn,
    timing: RawTiming,
}

struct RawRs {
    loc: Loc,
    addr: IpAddr,
    port: u16,
    fwd: Option<Fwd>,
    weight: Option<u32>,
    uthreshold: u32,
    lthreshold: u32,
    inhibit: Option<bool>,
    alpha: Option<bool>,
    notify_up: Option<Script>,
    notify_down: Option<Script>,
    retry: Option<u32>,
    rise: Option<u32>,
    delay_before_retry: Option<Duration>,
    warmup: Option<Duration>,
    connect_timeout: Option<Duration>,
    delay_loop: Option<Duration>,
    virtualhost: Option<String>,
    checkers: Vec<RawChecker>,
}

struct RawSorry {
    addr: IpAddr,
    port: u16,
    fwd: Option<Fwd>,
    inhibit: bool,
}

struct RawVs {
    loc: Loc,
    name: RawName,
    af: Option<AddressFamily>,
    protocol: Option<Protocol>,
    sched: Option<String>,
    flags: ServiceFlags,
    fwd: Option<Fwd>,
    persistence: u32,
    granularity: Option<Netmask>,
    pe_name: Option<String>,
    virtualhost: Option<String>,
    alpha: bool,
    omega: bool,
    quorum: u32,
    hysteresis: u32,
    quorum_up: Option<Script>,
    quorum_down: Option<Script>,
    weight: u32,
    connect_timeout: Duration,
    delay_loop: Duration,
    warmup: Option<Duration>,
    retry: Option<u32>,
    rise: Option<u32>,
    delay_before_retry: Option<Duration>,
    inhibit: bool,
    sorry: Option<RawSorry>,
    rs: Vec<RawRs>,
}

enum GroupEntry {
    Range {
        start: IpAddr,
        end: IpAddr,
        port: u16,
    },
    Fwmark {
        mark: u32,
        family: Option<AddressFamily>,
    },
}

struct Group {
    entries: Vec<GroupEntry>,
}

struct TrackFile {
    /// Reading position of its definition: keepalived finds only the ones
    /// defined before a FILE_CHECK names them.
    seq: u64,
    path: Option<String>,
    weight: i32,
    reverse: bool,
}

// ------------------------------------------------------------------ helpers

struct P<'a> {
    diag: &'a mut Diag,
}

impl P<'_> {
    fn err(&mut self, n: &Node, msg: impl Into<String>) {
        self.diag
            .error(&n.loc, n.keyword(), ErrorKind::Invalid, msg.into());
    }

    fn warn(&mut self, n: &Node, kind: WarningKind, msg: impl Into<String>) {
        self.diag.warn(&n.loc, n.keyword(), kind, msg.into());
    }

    /// The value after the keyword, or an error.
    fn arg<'n>(&mut self, n: &'n Node, i: usize) -> Option<&'n str> {
        let v = n.words.get(i).map(String::as_str);
        if v.is_none() {
            let what = if i == 1 { "a value" } else { "more values" };
            self.err(n, format!("{} needs {what}", n.keyword()));
        }
        v
    }

    fn uint(&mut self, n: &Node, i: usize, min: u64, max: u64) -> Option<u64> {
        let s = self.arg(n, i)?;
        match parse_uint(s).filter(|v| (min..=max).contains(v)) {
            Some(v) => Some(v),
            None => {
                self.err(
                    n,
                    format!("invalid value '{s}' (must be an integer in {min}..={max})"),
                );
                None
            }
        }
    }

    /// keepalived's `read_timer`: seconds with up to 6 decimals, min and
    /// max in microseconds.
    fn timer(&mut self, n: &Node, min_us: u64, max_us: u64) -> Option<Duration> {
        let s = self.arg(n, 1)?;
        match parse_timer(s).filter(|d| (min_us..=max_us).contains(&(d.as_micros() as u64))) {
            Some(d) => Some(d),
            None => {
                self.err(
                    n,
                    format!(
                        "invalid time '{s}' (seconds, up to 6 decimals{})",
                        if min_us > 0 { ", more than 0" } else { "" }
                    ),
                );
                None
            }
        }
    }

    /// An optional `true/on/yes|false/off/no` argument, `true` when absent.
    fn opt_bool(&mut self, n: &Node) -> Option<bool> {
        match n.words.get(1) {
            None => Some(true),
            Some(s) => match s.as_str() {
                "true" | "on" | "yes" => Some(true),
                "false" | "off" | "no" => Some(false),
                _ => {
                    self.err(
                        n,
                        format!(
                            "invalid {} parameter '{s}' (true/on/yes or false/off/no)",
                            n.keyword()
                        ),
                    );
                    None
                }
            },
        }
    }

    /// keepalived's notify scripts: `KEYWORD "SCRIPT ARGS" [USER [GROUP]]`.
    fn script(&mut self, n: &Node) -> Option<Script> {
        let cmd = self.arg(n, 1)?;
        let argv: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
        if argv.is_empty() {
            self.err(n, "empty script");
            return None;
        }
        let user = n.words.get(2).map(|u| ScriptUser {
            user: u.clone(),
            group: n.words.get(3).cloned(),
        });
        Some(Script { argv, user })
    }

    /// Warns about a block after a keyword that takes none, and skips it.
    fn no_block(&mut self, n: &Node) {
        if n.block.is_some() {
            self.err(n, format!("unexpected '{{' after {}", n.keyword()));
        }
    }

    /// The block of a keyword that needs one.
    fn block<'n>(&mut self, n: &'n Node) -> Option<&'n [Node]> {
        match &n.block {
            Some(b) => Some(b),
            None => {
                self.err(n, format!("missing '{{' after {}", n.keyword()));
                None
            }
        }
    }

    fn unknown(&mut self, n: &Node) {
        // The loops check for a stray block before they know the keyword;
        // an unknown keyword's block is skipped, not an error.
        if n.block.is_some() {
            let e = self.diag.errors.last().map(|(_, e)| e);
            if e.is_some_and(|e| {
                e.line == n.loc.line
                    && e.keyword == n.keyword()
                    && e.message.starts_with("unexpected '{'")
            }) {
                self.diag.errors.pop();
            }
        }
        let what = if n.block.is_some() {
            " (its block is skipped)"
        } else {
            ""
        };
        self.warn(
            n,
            WarningKind::UnknownKeyword,
            format!("unknown keyword '{}'{what}", n.keyword()),
        );
    }
}

/// A decimal unsigned number; like strtoul, a leading `+` is allowed.
fn parse_uint(s: &str) -> Option<u64> {
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_timer(s: &str) -> Option<Duration> {
    let s = s.strip_prefix('+').unwrap_or(s);
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 6
    {
        return None;
    }
    let secs: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut micros: u32 = 0;
    for (i, b) in frac.bytes().enumerate() {
        micros += (b - b'0') as u32 * 10u32.pow(5 - i as u32);
    }
    Some(Duration::new(secs, micros * 1000))
}

/// The C library's `inet_aton` forms (what keepalived's getaddrinfo
/// accepts for an IPv4 mask): `a.b.c.d`, `a.b.c`, `a.b` or `a`, each part
/// decimal, octal (`0...`) or hexadecimal (`0x...`), the last one filling
/// the remaining bytes.
fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::new();
    for p in &parts {
        let v = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            u32::from_str_radix(h, 16).ok()?
        } else if p.len() > 1 && p.starts_with('0') {
            u32::from_str_radix(&p[1..], 8).ok()?
        } else if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
            p.parse().ok()?
        } else {
            return None;
        };
        nums.push(v);
    }
    let last = nums.pop()?;
    let mut addr: u32 = 0;
    for (i, v) in nums.iter().enumerate() {
        if *v > 255 {
            return None;
        }
        addr |= v << (24 - 8 * i);
    }
    let rest_bits = 32 - 8 * nums.len() as u32;
    if rest_bits < 32 && last >= 1 << rest_bits {
        return None;
    }
    Some(Ipv4Addr::from(addr | last))
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

/// `IP [PORT]` where a port of 0 or none means "no port".
fn addr_port(p: &mut P, n: &Node, ip_i: usize) -> Option<(IpAddr, u16)> {
    let ip_s = p.arg(n, ip_i)?;
    let Some(ip) = parse_ip(ip_s) else {
        p.err(n, format!("invalid IP address '{ip_s}'"));
        return None;
    };
    let port = match n.words.get(ip_i + 1) {
        None => 0,
        Some(s) if s.bytes().all(|b| b == b'0') && !s.is_empty() => 0,
        Some(s) => match parse_uint(s).filter(|v| (1..=65535).contains(v)) {
            Some(v) => v as u16,
            None => {
                p.err(n, format!("invalid port '{s}'"));
                return None;
            }
        },
    };
    Some((ip, port))
}

/// keepalived's `read_hex_str` on the words joined by spaces: each byte
/// is two hex digits, or one digit standing alone; `X`/`x` digits are
/// wildcards (their mask nibble set) when `allow_wild`.
fn read_hex(s: &str, allow_wild: bool) -> Option<(Vec<u8>, Vec<u8>)> {
    let nibble = |c: char| -> Option<(u8, u8)> {
        if allow_wild && (c == 'x' || c == 'X') {
            Some((0, 0xf))
        } else {
            c.to_digit(16).map(|d| (d as u8, 0))
        }
    };
    let chars: Vec<char> = s.chars().collect();
    let (mut data, mut mask) = (Vec::new(), Vec::new());
    let mut i = 0;
    loop {
        while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let (mut b, mut m) = nibble(chars[i])?;
        i += 1;
        if i < chars.len() && chars[i] != ' ' {
            let (b2, m2) = nibble(chars[i])?;
            i += 1;
            b = b << 4 | b2;
            m = m << 4 | m2;
        }
        data.push(b);
        mask.push(m);
    }
    if data.is_empty() {
        return None;
    }
    Some((data, mask))
}

// ------------------------------------------------------------------ top level

/// The top-level statements read so far, as the lexer completes them (see
/// [`crate::keepalived::lexer::read_statements`]): each statement is dropped once read, so
/// that the syntax tree and what is read from it are never both held whole. A virtual
/// server is resolved (defaults, inheritance, corrections) as soon as it is read, unless
/// it names what may be defined further on (a group, a track file): those are resolved by
/// [`Statements::finish`], once every statement is known. (The raw form of a real server
/// with its checker is several times the size of the resolved one.)
#[derive(Default)]
pub(crate) struct Statements {
    global: Global,
    /// `None`: defined, but refused (its error is already reported).
    groups: HashMap<String, Option<Group>>,
    track_files: HashMap<String, TrackFile>,
    pending_vs: Vec<PendingVs>,
    skipped: Vec<(Loc, String)>,
}

/// A virtual server read, in configuration order.
enum PendingVs {
    /// Waits for the groups and track files (see [`Statements`]).
    Raw(RawVs),
    /// Resolved as it was read: where it starts, and what resolving it gave.
    Resolved(Loc, Option<VirtualServer>),
}

impl PendingVs {
    /// The virtual server, resolved now if it was not yet.
    fn resolve(
        self,
        p: &mut P,
        groups: &HashMap<String, Option<Group>>,
        track_files: &HashMap<String, TrackFile>,
    ) -> (Loc, Option<VirtualServer>) {
        match self {
            PendingVs::Raw(vs) => (
                vs.loc.clone(),
                resolve::resolve_vs(p, vs, groups, track_files),
            ),
            PendingVs::Resolved(loc, v) => (loc, v),
        }
    }
}

/// Whether a virtual server names something its resolution looks up, which may be
/// defined after it: a `virtual_server_group`, or a `track_file` (FILE_CHECK).
fn needs_later_statements(vs: &RawVs) -> bool {
    matches!(vs.name, RawName::Group(_))
        || vs
            .rs
            .iter()
            .flat_map(|r| &r.checkers)
            .any(|c| matches!(c.kind, RawKind::File { .. }))
}

impl Statements {
    /// Reads one top-level statement.
    pub(crate) fn read(&mut self, n: Node, diag: &mut Diag) {
        let mut p = P { diag };
        let n = &n;
        match n.keyword() {
            "global_defs" => {
                if let Some(b) = p.block(n) {
                    global_defs(&mut p, b, &mut self.global);
                }
            }
            "virtual_server_group" => {
                let Some(name) = p.arg(n, 1).map(str::to_string) else {
                    return;
                };
                if let Some(b) = p.block(n) {
                    let g = vs_group(&mut p, n, &name, b);
                    self.groups.insert(name, g);
                }
            }
            "virtual_server" => {
                if let Some(vs) = server::virtual_server(&mut p, n) {
                    self.pending_vs.push(if needs_later_statements(&vs) {
                        PendingVs::Raw(vs)
                    } else {
                        let loc = vs.loc.clone();
                        // Neither a group nor a track file is looked up for this one.
                        PendingVs::Resolved(
                            loc,
                            resolve::resolve_vs(&mut p, vs, &self.groups, &self.track_files),
                        )
                    });
                }
            }
            "track_file" => {
                let Some(name) = p.arg(n, 1).map(str::to_string) else {
                    return;
                };
                if let Some(b) = p.block(n) {
                    if let Some(tf) = track_file(&mut p, n, b) {
                        self.track_files.insert(name, tf);
                    }
                }
            }
            "SSL" => {
                if let Some(b) = p.block(n) {
                    self.global.ssl = Some(ssl_block(&mut p, b));
                }
            }
            kw @ ("net_namespace" | "net_namespace_ipvs") => p.warn(
                n,
                WarningKind::Ignored,
                format!("{kw} concerns the checker but lvsd does not act on it"),
            ),
            kw if OTHER_ROOTS.contains(&kw) => self.skipped.push((n.loc.clone(), kw.to_string())),
            _ => p.unknown(n),
        }
    }

    /// The configuration, once every statement is read.
    pub(crate) fn finish(self, diag: &mut Diag) -> Config {
        let mut p = P { diag };
        let Statements {
            global,
            groups,
            track_files,
            pending_vs,
            skipped,
        } = self;
        if let Some((loc, first)) = skipped.first() {
            let mut counts: Vec<(String, usize)> = Vec::new();
            for (_, kw) in &skipped {
                match counts.iter_mut().find(|(k, _)| k == kw) {
                    Some(c) => c.1 += 1,
                    None => counts.push((kw.clone(), 1)),
                }
            }
            let list: Vec<String> = counts.iter().map(|(k, c)| format!("{k} x{c}")).collect();
            p.diag.warn(
                loc,
                first,
                WarningKind::Skipped,
                format!(
                    "skipped {} block(s) for keepalived's other processes (VRRP, BFD, addresses): {}",
                    skipped.len(),
                    list.join(", ")
                ),
            );
        }

        let mut virtual_servers = Vec::with_capacity(pending_vs.len());
        let mut uses_scripts: Option<Loc> = None;
        for vs in pending_vs {
            let (vloc, resolved) = vs.resolve(&mut p, &groups, &track_files);
            if let Some(v) = resolved {
                if uses_scripts.is_none() {
                    let script_seen = v.quorum_up.is_some()
                        || v.quorum_down.is_some()
                        || v.real_servers.iter().any(|r| {
                            r.notify_up.is_some()
                                || r.notify_down.is_some()
                                || r.checkers
                                    .iter()
                                    .any(|c| matches!(c.kind, CheckKind::Misc(_)))
                        });
                    if script_seen {
                        uses_scripts = Some(vloc);
                    }
                }
                virtual_servers.push(v);
            }
        }
        // keepalived 2.2.7 logs "SECURITY VIOLATION - check scripts are being executed but
        // script_security not enabled" and runs the scripts all the same (the lab's director
        // suite, misc-check): a warning, not a refusal; `keepalived --config-test` counts it
        // as a configuration error (exit 6), so the warning says keepalived reports it.
        if let (Some(loc), false) = (&uses_scripts, global.enable_script_security) {
            p.diag.warn_as(
                loc,
                "virtual_server",
                WarningKind::Security,
                "scripts are configured (MISC_CHECK, notify_up/down, quorum_up/down) but \
                 global_defs has no enable_script_security; keepalived logs a SECURITY VIOLATION \
                 and runs them all the same, and so does lvsd"
                    .to_string(),
                true,
            );
        }
        Config {
            global,
            virtual_servers,
        }
    }
}

fn global_defs(p: &mut P, block: &[Node], g: &mut Global) {
    for n in block {
        match n.keyword() {
            "lvs_flush" => g.lvs_flush = true,
            "lvs_flush_on_stop" | "lvs_flush_onstop" => match n.words.get(1).map(String::as_str) {
                None => g.lvs_flush_on_stop = FlushOnStop::Full,
                Some("VS") => g.lvs_flush_on_stop = FlushOnStop::VirtualServers,
                Some(o) => p.err(
                    n,
                    format!("unknown lvs_flush_on_stop type '{o}' (VS or nothing)"),
                ),
            },
            "lvs_timeouts" => lvs_timeouts(p, n, g),
            "lvs_sync_daemon" => lvs_sync_daemon(p, n, g),
            "script_user" => {
                if let Some(u) = p.arg(n, 1) {
                    g.script_user = Some(ScriptUser {
                        user: u.to_string(),
                        group: n.words.get(2).cloned(),
                    });
                }
            }
            "enable_script_security" => g.enable_script_security = true,
            ACTIVE_ACTIVE => {
                if n.words.len() > 1 {
                    p.err(n, format!("{ACTIVE_ACTIVE} takes no argument"));
                } else {
                    g.lvsd_active_active = true;
                }
            }
            DRAIN_TIMEOUT => {
                if let Some(t) = p.timer(n, 0, u64::MAX) {
                    g.lvsd_drain_timeout = Some(t);
                }
            }
            "checker_log_all_failures" => {
                if let Some(b) = p.opt_bool(n) {
                    g.checker_log_all_failures = b;
                }
            }
            kw if UNUSED_GLOBALS.contains(&kw) => p.warn(
                n,
                WarningKind::Ignored,
                format!("{kw} concerns the checker but lvsd does not act on it"),
            ),
            kw if OTHER_GLOBALS.contains(&kw) => {}
            _ => p.unknown(n),
        }
        if !matches!(n.keyword(), "notification_email" | "process_names") {
            p.no_block(n);
        }
    }
}

fn lvs_timeouts(p: &mut P, n: &Node, g: &mut Global) {
    if n.words.len() < 3 {
        p.err(
            n,
            "lvs_timeouts requires at least one option (tcp N, tcpfin N, udp N)",
        );
        return;
    }
    let mut t = g.lvs_timeouts.unwrap_or(Timeouts {
        tcp: 0,
        tcp_fin: 0,
        udp: 0,
    });
    let mut i = 1;
    while i < n.words.len() {
        let key = n.words[i].as_str();
        let slot = match key {
            "tcp" => &mut t.tcp,
            "tcpfin" => &mut t.tcp_fin,
            "udp" => &mut t.udp,
            _ => {
                p.err(n, format!("unknown option '{key}' for lvs_timeouts"));
                i += 1;
                continue;
            }
        };
        match n.words.get(i + 1) {
            None => p.err(n, format!("no value for lvs_timeouts {key}")),
            Some(v) => match parse_uint(v).filter(|v| *v <= LVS_MAX_TIMEOUT) {
                Some(v) => *slot = v as u32,
                None => p.err(n, format!("invalid lvs_timeouts {key} value '{v}'")),
            },
        }
        i += 2;
    }
    g.lvs_timeouts = Some(t);
}

fn lvs_sync_daemon(p: &mut P, n: &Node, g: &mut Global) {
    if g.lvs_sync_daemon.is_some() {
        p.err(n, "lvs_sync_daemon has already been specified");
        return;
    }
    let Some(ifname) = p.arg(n, 1) else { return };
    if ifname.len() >= 16 {
        p.err(n, format!("interface name '{ifname}' too long"));
        return;
    }
    let mut d = SyncDaemonConfig {
        interface: ifname.to_string(),
        vrrp_instance: None,
        sync_id: None,
        maxlen: None,
        port: None,
        ttl: None,
        group: None,
    };
    let mut i = 2;
    while i < n.words.len() {
        let key = n.words[i].as_str();
        let val = n.words.get(i + 1).map(String::as_str);
        let num = |max: u64, min: u64| val.and_then(parse_uint).filter(|v| (min..=max).contains(v));
        match key {
            "inst" => d.vrrp_instance = val.map(str::to_string),
            "id" => match num(255, 0) {
                Some(v) => d.sync_id = Some(v as u8),
                None => p.err(
                    n,
                    format!("invalid lvs_sync_daemon id '{}'", val.unwrap_or("")),
                ),
            },
            "maxlen" => match num(65535 - 20 - 8, 1) {
                Some(v) => d.maxlen = Some(v as u16),
                None => p.err(
                    n,
                    format!("invalid lvs_sync_daemon maxlen '{}'", val.unwrap_or("")),
                ),
            },
            "port" => match num(65535, 1) {
                Some(v) => d.port = Some(v as u16),
                None => p.err(
                    n,
                    format!("invalid lvs_sync_daemon port '{}'", val.unwrap_or("")),
                ),
            },
            "ttl" => match num(255, 1) {
                Some(v) => d.ttl = Some(v as u8),
                None => p.err(
                    n,
                    format!("invalid lvs_sync_daemon ttl '{}'", val.unwrap_or("")),
                ),
            },
            "group" => match val.and_then(parse_ip) {
                Some(a) if a.is_multicast() => d.group = Some(a),
                _ => p.err(
                    n,
                    format!(
                        "lvs_sync_daemon group '{}' is not a multicast address",
                        val.unwrap_or("")
                    ),
                ),
            },
            _ if i == 2 => {
                // Old form: lvs_sync_daemon IFACE VRRP_INSTANCE [SYNC_ID].
                d.vrrp_instance = Some(key.to_string());
                i += 1;
                continue;
            }
            _ if i == 3 => {
                match parse_uint(key).filter(|v| *v <= 255) {
                    Some(v) => {
                        d.sync_id = Some(v as u8);
                        p.warn(
                            n,
                            WarningKind::Deprecated,
                            "please use keyword \"id\" before the sync id",
                        );
                    }
                    None => p.err(n, format!("invalid sync id '{key}'")),
                }
                i += 1;
                continue;
            }
            _ => {
                p.err(n, format!("unknown option '{key}' for lvs_sync_daemon"));
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    g.lvs_sync_daemon = Some(d);
}

fn ssl_block(p: &mut P, block: &[Node]) -> SslConfig {
    let mut s = SslConfig::default();
    for n in block {
        let slot = match n.keyword() {
            "password" => &mut s.password,
            "ca" => &mut s.ca,
            "certificate" => &mut s.certificate,
            "key" => &mut s.key,
            _ => {
                p.unknown(n);
                continue;
            }
        };
        if let Some(v) = p.arg(n, 1) {
            *slot = Some(v.to_string());
        }
    }
    s
}

fn track_file(p: &mut P, n: &Node, block: &[Node]) -> Option<TrackFile> {
    let mut tf = TrackFile {
        seq: n.loc.seq,
        path: None,
        weight: 1,
        reverse: false,
    };
    for c in block {
        match c.keyword() {
            "file" => {
                if let Some(v) = p.arg(c, 1) {
                    if tf.path.is_some() {
                        p.err(c, "file already set for this track_file");
                    } else {
                        tf.path = Some(v.to_string());
                    }
                }
            }
            "weight" => {
                let Some(w) = p.arg(c, 1) else { continue };
                match w.parse::<i32>().ok().filter(|w| (-254..=254).contains(w)) {
                    Some(w) => tf.weight = w,
                    None => p.err(c, format!("track_file weight '{w}' must be in -254..=254")),
                }
                match c.words.get(2).map(String::as_str) {
                    None => {}
                    Some("reverse") => tf.reverse = true,
                    Some(o) => p.err(c, format!("unknown weight option '{o}'")),
                }
            }
            "init_file" => {}
            _ => p.unknown(c),
        }
    }
    if tf.path.is_none() {
        p.err(n, "no file set for track_file");
        return None;
    }
    Some(tf)
}

fn vs_group(p: &mut P, n: &Node, name: &str, block: &[Node]) -> Option<Group> {
    let mut entries = Vec::new();
    let (mut v4, mut v6, mut fw_nofamily) = (false, false, false);
    for e in block {
        p.no_block(e);
        if e.keyword() == "fwmark" {
            let Some(mark) = p.uint(e, 1, 0, u32::MAX as u64) else {
                continue;
            };
            let family = match e.words.get(2).map(String::as_str) {
                None => {
                    fw_nofamily = true;
                    None
                }
                Some("inet") => {
                    v4 = true;
                    Some(AddressFamily::Inet)
                }
                Some("inet6") => {
                    v6 = true;
                    Some(AddressFamily::Inet6)
                }
                Some(o) => {
                    p.err(
                        e,
                        format!("fwmark {mark}: unknown family '{o}' (inet or inet6)"),
                    );
                    continue;
                }
            };
            entries.push(GroupEntry::Fwmark {
                mark: mark as u32,
                family,
            });
            continue;
        }
        if let Some(r) = group_range(p, e) {
            match r.0 {
                IpAddr::V4(_) => v4 = true,
                IpAddr::V6(_) => v6 = true,
            }
            entries.push(GroupEntry::Range {
                start: r.0,
                end: r.1,
                port: r.2,
            });
        }
    }
    if entries.is_empty() {
        p.warn(
            n,
            WarningKind::Adjusted,
            format!("virtual server group {name} has no entries - removing"),
        );
        return None;
    }
    if v4 && v6 && fw_nofamily {
        p.err(
            n,
            format!("virtual server group {name} cannot have IPv4, IPv6 and fwmark without family"),
        );
        return None;
    }
    Some(Group { entries })
}

/// A group entry `ADDR[-END|/LEN] [PORT]` as (first, last, port).
fn group_range(p: &mut P, e: &Node) -> Option<(IpAddr, IpAddr, u16)> {
    let spec = e.keyword();
    let port = match e.words.get(1) {
        None => 0,
        Some(s) if !s.is_empty() && s.bytes().all(|b| b == b'0') => 0,
        Some(s) => match parse_uint(s).filter(|v| (1..=65535).contains(v)) {
            Some(v) => v as u16,
            None => {
                p.err(e, format!("invalid port '{s}' in virtual server group"));
                return None;
            }
        },
    };
    let bad = |p: &mut P, why: &str| {
        p.err(
            e,
            format!("invalid virtual server group address '{spec}': {why}"),
        );
        None
    };
    if let Some((a, len)) = spec.split_once('/') {
        let Some(addr) = parse_ip(a) else {
            return bad(p, "not an address");
        };
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let Some(len) = parse_uint(len).filter(|l| (1..=bits).contains(l)) else {
            return bad(p, "invalid prefix length");
        };
        let host_bits = (bits - len) as u32;
        let v = ip_to_u128(addr);
        let host_mask: u128 = if host_bits == 0 {
            0
        } else {
            (1u128 << host_bits) - 1
        };
        if v & host_mask != 0 {
            return bad(p, "address has bits set beyond the prefix");
        }
        return Some((addr, u128_to_ip(v | host_mask, addr.is_ipv4()), port));
    }
    if let Some((a, end)) = spec.split_once('-') {
        let Some(start) = parse_ip(a) else {
            return bad(p, "not an address");
        };
        let full_end = if start.is_ipv4() {
            end.contains('.')
        } else {
            end.contains(':')
        };
        if full_end {
            let Some(last) = parse_ip(end) else {
                return bad(p, "invalid range end");
            };
            if last.is_ipv4() != start.is_ipv4() {
                return bad(p, "range address families do not match");
            }
            if ip_to_u128(last) < ip_to_u128(start) {
                return bad(p, "range end is less than range start");
            }
            return Some((start, last, port));
        }
        let (radix, max) = if start.is_ipv4() {
            (10, 255)
        } else {
            (16, 0xffff)
        };
        let Some(last) = u32::from_str_radix(end, radix).ok().filter(|v| *v <= max) else {
            return bad(p, "invalid range end");
        };
        let v = ip_to_u128(start);
        let (low, base) = if start.is_ipv4() {
            ((v & 0xff) as u32, v & !0xff)
        } else {
            ((v & 0xffff) as u32, v & !0xffff)
        };
        if low >= last {
            return bad(p, "range end is not greater than range start");
        }
        return Some((
            start,
            u128_to_ip(base | last as u128, start.is_ipv4()),
            port,
        ));
    }
    let Some(addr) = parse_ip(spec) else {
        return bad(p, "not an address");
    };
    Some((addr, addr, port))
}

fn ip_to_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u32::from(v) as u128,
        IpAddr::V6(v) => u128::from(v),
    }
}

fn u128_to_ip(v: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(v as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(v))
    }
}

#[cfg(test)]
mod tests {
    use super::resolve::merge_ranges;
    use super::*;

    #[test]
    fn numbers_as_strtoul_reads_them() {
        assert_eq!(parse_uint("+3"), Some(3));
        assert_eq!(parse_uint("080"), Some(80));
        assert_eq!(parse_uint("-1"), None);
        assert_eq!(parse_uint("0x50"), None);
        assert_eq!(parse_uint("+"), None);
        assert_eq!(parse_timer("+5"), Some(Duration::from_secs(5)));
    }

    #[test]
    fn timers_are_seconds_with_microseconds() {
        assert_eq!(parse_timer("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_timer("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_timer("0.000001"), Some(Duration::from_micros(1)));
        assert_eq!(parse_timer("0.0000001"), None);
        assert_eq!(parse_timer("-1"), None);
        assert_eq!(parse_timer("1s"), None);
    }

    #[test]
    fn ipv4_masks_in_inet_aton_forms() {
        assert_eq!(
            inet_aton("255.255.255.0"),
            Some(Ipv4Addr::new(255, 255, 255, 0))
        );
        assert_eq!(inet_aton("64"), Some(Ipv4Addr::new(0, 0, 0, 64)));
        assert_eq!(inet_aton("255.0xff00"), Some(Ipv4Addr::new(255, 0, 255, 0)));
        assert_eq!(inet_aton("0377.0.0.0"), Some(Ipv4Addr::new(255, 0, 0, 0)));
        assert_eq!(inet_aton("256.0.0.0"), None);
        assert_eq!(inet_aton("1.2.3.4.5"), None);
        assert_eq!(inet_aton("x"), None);
    }

    #[test]
    fn hex_with_wildcards() {
        assert_eq!(
            read_hex("0a ff", false),
            Some((vec![0x0a, 0xff], vec![0, 0]))
        );
        assert_eq!(read_hex("0X", true), Some((vec![0x00], vec![0x0f])));
        assert_eq!(read_hex("0X", false), None);
        // A digit alone is a byte; two digits together are one.
        assert_eq!(
            read_hex("4 8 a", false),
            Some((vec![4, 8, 10], vec![0, 0, 0]))
        );
        assert_eq!(read_hex("abc", false), Some((vec![0xab, 0x0c], vec![0, 0])));
        assert_eq!(read_hex("4g", false), None);
        assert_eq!(read_hex(" ", false), None);
    }

    #[test]
    fn status_ranges_merge() {
        assert_eq!(
            merge_ranges(&[(300, 301), (200, 200), (201, 204)]),
            vec![(200, 204), (300, 301)]
        );
        assert_eq!(merge_ranges(&[]), vec![(200, 299)]);
    }
}
