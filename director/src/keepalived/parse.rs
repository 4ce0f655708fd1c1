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

/// lvsd's own keyword (virtual server, real server, checker): successes in
/// a row that bring a failed checker back up. keepalived has no such setting
/// (one success is enough) and would report the keyword as unknown.
const RISE: &str = "lvsd_rise";

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

pub(crate) fn parse_tree(nodes: Vec<Node>, diag: &mut Diag) -> Config {
    let mut p = P { diag };
    let mut global = Global::default();
    // `None`: defined, but refused (its error is already reported).
    let mut groups: HashMap<String, Option<Group>> = HashMap::new();
    let mut track_files: HashMap<String, TrackFile> = HashMap::new();
    let mut raw_vs: Vec<RawVs> = Vec::new();
    let mut skipped: Vec<(Loc, String)> = Vec::new();

    for n in &nodes {
        match n.keyword() {
            "global_defs" => {
                if let Some(b) = p.block(n) {
                    global_defs(&mut p, b, &mut global);
                }
            }
            "virtual_server_group" => {
                let Some(name) = p.arg(n, 1).map(str::to_string) else {
                    continue;
                };
                if let Some(b) = p.block(n) {
                    let g = vs_group(&mut p, n, &name, b);
                    groups.insert(name, g);
                }
            }
            "virtual_server" => {
                if let Some(vs) = virtual_server(&mut p, n) {
                    raw_vs.push(vs);
                }
            }
            "track_file" => {
                let Some(name) = p.arg(n, 1).map(str::to_string) else {
                    continue;
                };
                if let Some(b) = p.block(n) {
                    if let Some(tf) = track_file(&mut p, n, b) {
                        track_files.insert(name, tf);
                    }
                }
            }
            "SSL" => {
                if let Some(b) = p.block(n) {
                    global.ssl = Some(ssl_block(&mut p, b));
                }
            }
            kw @ ("net_namespace" | "net_namespace_ipvs") => p.warn(
                n,
                WarningKind::Ignored,
                format!("{kw} concerns the checker but lvsd does not act on it"),
            ),
            kw if OTHER_ROOTS.contains(&kw) => skipped.push((n.loc.clone(), kw.to_string())),
            _ => p.unknown(n),
        }
    }
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

    let mut virtual_servers = Vec::new();
    let mut uses_scripts: Option<Loc> = None;
    for vs in raw_vs {
        let vloc = vs.loc.clone();
        if let Some(v) = resolve_vs(&mut p, vs, &groups, &track_files) {
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
    if let (Some(loc), false) = (&uses_scripts, global.enable_script_security) {
        p.diag.error(
            loc,
            "virtual_server",
            ErrorKind::Invalid,
            "scripts are configured (MISC_CHECK, notify_up/down, quorum_up/down) but \
             global_defs has no enable_script_security; keepalived refuses this (SECURITY VIOLATION)"
                .to_string(),
        );
    }
    Config {
        global,
        virtual_servers,
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

// ------------------------------------------------------------------ virtual_server

fn forwarding(p: &mut P, n: &Node) -> Option<Fwd> {
    let m = p.arg(n, 1)?;
    let method = match m {
        "NAT" => ForwardMethod::Masquerade,
        "DR" => ForwardMethod::DirectRoute,
        "TUN" => ForwardMethod::Tunnel,
        _ => {
            p.err(
                n,
                format!("unknown forwarding method '{m}' (NAT, DR or TUN)"),
            );
            return None;
        }
    };
    // Every forwarding statement sets all the tunnel settings: the ones it
    // does not name take their defaults (ipip, no port, nocsum), as in
    // keepalived's svr_forwarding_handler.
    let mut tun_type = TunnelType::Ipip;
    let mut port = 0u16;
    let mut csum = TunnelChecksum::NoCsum;
    let mut i = 2;
    while i < n.words.len() {
        match n.words[i].as_str() {
            "type" => {
                match n.words.get(i + 1).map(String::as_str) {
                    Some("ipip") => tun_type = TunnelType::Ipip,
                    Some("gue") => tun_type = TunnelType::Gue,
                    Some("gre") => tun_type = TunnelType::Gre,
                    Some(t) => {
                        p.err(n, format!("unknown tunnel type '{t}' (ipip, gue or gre)"));
                        return None;
                    }
                    None => {
                        p.err(n, "missing tunnel type");
                        return None;
                    }
                }
                i += 1;
            }
            "port" => {
                match n
                    .words
                    .get(i + 1)
                    .and_then(|s| parse_uint(s))
                    .filter(|v| (1..=65535).contains(v))
                {
                    Some(v) => port = v as u16,
                    None => {
                        p.err(n, "missing or invalid gue tunnel port");
                        return None;
                    }
                }
                i += 1;
            }
            "nocsum" => csum = TunnelChecksum::NoCsum,
            "csum" => csum = TunnelChecksum::Csum,
            "remcsum" => csum = TunnelChecksum::RemCsum,
            o => {
                p.err(n, format!("invalid tunnel option '{o}'"));
                return None;
            }
        }
        i += 1;
    }
    if (tun_type == TunnelType::Gue) != (port != 0) {
        p.err(
            n,
            "gue tunnels require a port, and other tunnels cannot have one",
        );
        return None;
    }
    if tun_type == TunnelType::Ipip && csum != TunnelChecksum::NoCsum {
        p.err(n, "ipip tunnels do not support checksum options");
        return None;
    }
    if tun_type == TunnelType::Gre && csum == TunnelChecksum::RemCsum {
        p.err(n, "gre tunnels do not support the remote checksum option");
        return None;
    }
    Some(Fwd {
        method,
        tun_type,
        tun_port: port,
        csum,
    })
}

fn virtual_server(p: &mut P, n: &Node) -> Option<RawVs> {
    let first = p.arg(n, 1)?;
    let name = match first {
        "group" => RawName::Group(p.arg(n, 2)?.to_string()),
        "fwmark" => RawName::Fwmark(p.uint(n, 2, 0, u32::MAX as u64)? as u32),
        _ => {
            let (ip, port) = addr_port(p, n, 1)?;
            RawName::Addr(ip, port)
        }
    };
    let block = p.block(n)?;
    let af = match &name {
        RawName::Addr(ip, _) => Some(AddressFamily::of(ip)),
        _ => None,
    };
    let mut vs = RawVs {
        loc: n.loc.clone(),
        name,
        af,
        protocol: None,
        sched: None,
        flags: ServiceFlags::default(),
        fwd: None,
        persistence: 0,
        granularity: None,
        pe_name: None,
        virtualhost: None,
        alpha: false,
        omega: false,
        quorum: 1,
        hysteresis: 0,
        quorum_up: None,
        quorum_down: None,
        weight: 1,
        connect_timeout: Duration::from_secs(5),
        delay_loop: Duration::from_secs(60),
        warmup: None,
        retry: None,
        rise: None,
        delay_before_retry: None,
        inhibit: false,
        sorry: None,
        rs: Vec::new(),
    };
    for c in block {
        let kw = c.keyword();
        if kw != "real_server" {
            p.no_block(c);
        }
        match kw {
            "ip_family" => {
                let af = match c.words.get(1).map(String::as_str) {
                    Some("inet") => AddressFamily::Inet,
                    Some("inet6") => AddressFamily::Inet6,
                    o => {
                        p.err(c, format!("unknown address family '{}'", o.unwrap_or("")));
                        continue;
                    }
                };
                if vs.af.is_some_and(|a| a != af) {
                    p.err(c, "ip_family conflicts with the virtual server's addresses");
                    continue;
                }
                vs.af = Some(af);
            }
            "retry" => {
                vs.retry = p
                    .uint(c, 1, 1, u32::MAX as u64)
                    .map(|v| v as u32)
                    .or(vs.retry)
            }
            "delay_before_retry" => {
                vs.delay_before_retry = p.timer(c, 0, u64::MAX).or(vs.delay_before_retry)
            }
            "warmup" => vs.warmup = p.timer(c, 0, u64::MAX).or(vs.warmup),
            "connect_timeout" => {
                if let Some(t) = p.timer(c, 1, u32::MAX as u64) {
                    vs.connect_timeout = t;
                }
            }
            "delay_loop" => {
                if let Some(t) = p.timer(c, 1, u64::MAX) {
                    vs.delay_loop = t;
                }
            }
            "inhibit_on_failure" => vs.inhibit = true,
            RISE => {
                vs.rise = p
                    .uint(c, 1, 1, u32::MAX as u64)
                    .map(|v| v as u32)
                    .or(vs.rise)
            }
            "lb_algo" | "lvs_sched" => {
                let Some(s) = p.arg(c, 1) else { continue };
                if SCHEDULERS.contains(&s) {
                    vs.sched = Some(s.to_string());
                } else {
                    p.err(
                        c,
                        format!("invalid scheduler '{s}' (one of {})", SCHEDULERS.join(", ")),
                    );
                }
            }
            "hashed" => vs.flags |= ServiceFlags::HASHED,
            "ops" => vs.flags |= ServiceFlags::ONE_PACKET,
            "flag-1" => vs.flags |= ServiceFlags::SCHED_1,
            "flag-2" => vs.flags |= ServiceFlags::SCHED_2,
            "flag-3" => vs.flags |= ServiceFlags::SCHED_3,
            "sh-port" | "sh-fallback" | "mh-port" | "mh-fallback" => {
                let sched = vs.sched.as_deref().unwrap_or("");
                let (want, flag) = match kw {
                    "sh-port" => ("sh", ServiceFlags::SH_PORT),
                    "sh-fallback" => ("sh", ServiceFlags::SH_FALLBACK),
                    "mh-port" => ("mh", ServiceFlags::MH_PORT),
                    _ => ("mh", ServiceFlags::MH_FALLBACK),
                };
                if sched == want {
                    vs.flags |= flag;
                } else if sched == "sh" || sched == "mh" {
                    p.warn(
                        c,
                        WarningKind::Ignored,
                        format!("{kw} does not apply to scheduler {sched} - ignored"),
                    );
                } else {
                    p.err(c, format!("{kw} only applies to the {want} scheduler (give lvs_sched {want} before it)"));
                }
            }
            "lb_kind" | "lvs_method" => {
                if let Some(f) = forwarding(p, c) {
                    vs.fwd = Some(f);
                }
            }
            "persistence_engine" => {
                let Some(s) = p.arg(c, 1) else { continue };
                if s.len() > ipvs::service::PE_NAME_MAX {
                    p.err(c, format!("persistence engine name '{s}' is too long"));
                } else {
                    vs.pe_name = Some(s.to_string());
                }
            }
            "persistence_timeout" => {
                if c.words.len() < 2 {
                    vs.persistence = DEFAULT_PERSISTENCE;
                } else if let Some(t) = p.uint(c, 1, 1, LVS_MAX_TIMEOUT) {
                    vs.persistence = t as u32;
                }
            }
            "persistence_granularity" => {
                let Some(s) = p.arg(c, 1) else { continue };
                let af = vs.af.unwrap_or(if s.contains('.') {
                    AddressFamily::Inet
                } else {
                    AddressFamily::Inet6
                });
                let mask = match af {
                    AddressFamily::Inet6 => parse_uint(s)
                        .filter(|v| (1..=128).contains(v))
                        .map(|v| Netmask::Ipv6Prefix(v as u32)),
                    AddressFamily::Inet => inet_aton(s).map(Netmask::Ipv4),
                };
                match mask {
                    Some(m) => {
                        vs.granularity = Some(m);
                        vs.af.get_or_insert(af);
                        if vs.persistence == 0 {
                            vs.persistence = DEFAULT_PERSISTENCE;
                        }
                    }
                    None => p.err(c, format!("invalid persistence_granularity '{s}'")),
                }
            }
            "protocol" => {
                let Some(s) = p.arg(c, 1) else { continue };
                match s.to_ascii_uppercase().as_str() {
                    "TCP" => vs.protocol = Some(Protocol::Tcp),
                    "UDP" => vs.protocol = Some(Protocol::Udp),
                    "SCTP" => vs.protocol = Some(Protocol::Sctp),
                    _ => p.err(c, format!("unknown protocol '{s}' (TCP, UDP or SCTP)")),
                }
            }
            "ha_suspend" => p.diag.error(
                &c.loc,
                kw,
                ErrorKind::Unsupported,
                "ha_suspend is not supported by lvsd (checks always run); remove it".to_string(),
            ),
            "virtualhost" => {
                if let Some(v) = p.arg(c, 1) {
                    vs.virtualhost = Some(v.to_string());
                }
            }
            "smtp_alert" | "snmp_name" => {
                p.warn(c, WarningKind::Ignored, format!("{kw} is not used by lvsd"))
            }
            "alpha" => vs.alpha = true,
            "omega" => vs.omega = true,
            "quorum_up" | "quorum_down" => {
                let slot = if kw == "quorum_up" {
                    &vs.quorum_up
                } else {
                    &vs.quorum_down
                };
                if slot.is_some() {
                    p.err(c, format!("{kw} script already specified"));
                    continue;
                }
                let s = p.script(c);
                if kw == "quorum_up" {
                    vs.quorum_up = s;
                } else {
                    vs.quorum_down = s;
                }
            }
            "quorum" => match p.uint(c, 1, 1, u32::MAX as u64) {
                Some(q) => vs.quorum = q as u32,
                None => vs.quorum = 1,
            },
            "hysteresis" => {
                if let Some(h) = p.uint(c, 1, 0, u32::MAX as u64) {
                    vs.hysteresis = h as u32;
                }
            }
            "weight" => {
                if let Some(w) = p.uint(c, 1, 1, i32::MAX as u64) {
                    vs.weight = w as u32;
                }
            }
            "sorry_server" => {
                if let Some((addr, port)) = addr_port(p, c, 1) {
                    vs.sorry = Some(RawSorry {
                        addr,
                        port,
                        fwd: vs.fwd,
                        inhibit: false,
                    });
                }
            }
            "sorry_server_inhibit" => match vs.sorry.as_mut() {
                Some(s) => s.inhibit = true,
                None => {
                    p.err(
                        c,
                        "sorry_server_inhibit used before or without sorry_server",
                    );
                }
            },
            "sorry_server_lvs_method" => match vs.sorry.is_some() {
                true => {
                    if let Some(f) = forwarding(p, c) {
                        if let Some(s) = vs.sorry.as_mut() {
                            s.fwd = Some(f);
                        }
                    }
                }
                false => p.err(c, "sorry_server_lvs_method used without sorry_server"),
            },
            "real_server" => {
                if let Some(rs) = real_server(p, c, &vs) {
                    // keepalived's rs_end_handler: the family of a non-tunnelled
                    // real server must be the virtual server's.
                    let tunnel = rs.fwd.is_some_and(|f| f.method == ForwardMethod::Tunnel);
                    let fam = AddressFamily::of(&rs.addr);
                    if !tunnel {
                        match vs.af {
                            None => vs.af = Some(fam),
                            Some(a) if a != fam => {
                                p.err(
                                    c,
                                    "address family of virtual server and real server don't match",
                                );
                                continue;
                            }
                            _ => {}
                        }
                    }
                    vs.rs.push(rs);
                }
            }
            _ => p.unknown(c),
        }
    }
    // keepalived's vs_end_handler: the sorry server's family.
    if let Some(s) = &vs.sorry {
        let tunnel = s.fwd.is_some_and(|f| f.method == ForwardMethod::Tunnel);
        let fam = AddressFamily::of(&s.addr);
        if !tunnel {
            match vs.af {
                None => vs.af = Some(fam),
                Some(a) if a != fam => {
                    p.err(
                        n,
                        "address family of virtual server and sorry server don't match",
                    );
                    vs.sorry = None;
                }
                _ => {}
            }
        }
    }
    if vs.af.is_none() && !matches!(vs.name, RawName::Group(_)) {
        // fwmark with only tunnelled servers: their common family, else IPv4.
        let mut fams = vs.rs.iter().map(|r| AddressFamily::of(&r.addr));
        let first = vs
            .sorry
            .as_ref()
            .map(|s| AddressFamily::of(&s.addr))
            .or_else(|| fams.next());
        let mixed = first.is_some_and(|f| vs.rs.iter().any(|r| AddressFamily::of(&r.addr) != f));
        vs.af = Some(if mixed {
            AddressFamily::Inet
        } else {
            first.unwrap_or(AddressFamily::Inet)
        });
    }
    Some(vs)
}

fn real_server(p: &mut P, n: &Node, vs: &RawVs) -> Option<RawRs> {
    let (addr, port) = addr_port(p, n, 1)?;
    let block = p.block(n)?;
    let mut rs = RawRs {
        loc: n.loc.clone(),
        addr,
        port,
        fwd: vs.fwd,
        weight: None,
        uthreshold: 0,
        lthreshold: 0,
        inhibit: None,
        alpha: None,
        notify_up: None,
        notify_down: None,
        retry: None,
        rise: None,
        delay_before_retry: None,
        warmup: None,
        connect_timeout: None,
        delay_loop: None,
        virtualhost: None,
        checkers: Vec::new(),
    };
    for c in block {
        let kw = c.keyword();
        if !kw.ends_with("_CHECK") && kw != "HTTP_GET" && kw != "SSL_GET" {
            p.no_block(c);
        }
        match kw {
            "weight" => {
                rs.weight = p
                    .uint(c, 1, 0, i32::MAX as u64)
                    .map(|w| w as u32)
                    .or(rs.weight)
            }
            "lvs_method" => {
                if let Some(f) = forwarding(p, c) {
                    rs.fwd = Some(f);
                }
            }
            "uthreshold" => {
                rs.uthreshold = p
                    .uint(c, 1, 0, u32::MAX as u64)
                    .map(|v| v as u32)
                    .unwrap_or(rs.uthreshold)
            }
            "lthreshold" => {
                rs.lthreshold = p
                    .uint(c, 1, 0, u32::MAX as u64)
                    .map(|v| v as u32)
                    .unwrap_or(rs.lthreshold)
            }
            "inhibit_on_failure" => rs.inhibit = p.opt_bool(c).or(rs.inhibit),
            "alpha" => rs.alpha = p.opt_bool(c).or(rs.alpha),
            "notify_up" | "notify_down" => {
                let taken = if kw == "notify_up" {
                    rs.notify_up.is_some()
                } else {
                    rs.notify_down.is_some()
                };
                if taken {
                    p.err(c, format!("{kw} script already specified"));
                    continue;
                }
                let s = p.script(c);
                if kw == "notify_up" {
                    rs.notify_up = s;
                } else {
                    rs.notify_down = s;
                }
            }
            RISE => {
                rs.rise = p
                    .uint(c, 1, 1, u32::MAX as u64)
                    .map(|v| v as u32)
                    .or(rs.rise)
            }
            "retry" => {
                rs.retry = p
                    .uint(c, 1, 1, u32::MAX as u64)
                    .map(|v| v as u32)
                    .or(rs.retry)
            }
            "delay_before_retry" => {
                rs.delay_before_retry = p.timer(c, 0, u64::MAX).or(rs.delay_before_retry)
            }
            "warmup" => rs.warmup = p.timer(c, 0, u64::MAX).or(rs.warmup),
            "connect_timeout" => {
                rs.connect_timeout = p.timer(c, 1, u32::MAX as u64).or(rs.connect_timeout)
            }
            "delay_loop" => rs.delay_loop = p.timer(c, 1, u64::MAX).or(rs.delay_loop),
            "virtualhost" => {
                if let Some(v) = p.arg(c, 1) {
                    rs.virtualhost = Some(v.to_string());
                }
            }
            "smtp_alert" | "snmp_name" => {
                p.warn(c, WarningKind::Ignored, format!("{kw} is not used by lvsd"))
            }
            "TCP_CHECK" | "HTTP_GET" | "SSL_GET" | "SMTP_CHECK" | "DNS_CHECK" | "UDP_CHECK"
            | "PING_CHECK" | "MISC_CHECK" | "FILE_CHECK" => {
                if let Some(ch) = checker(p, c) {
                    rs.checkers.push(ch);
                }
            }
            "BFD_CHECK" => p.diag.error(
                &c.loc,
                kw,
                ErrorKind::Unsupported,
                "BFD_CHECK is not supported by lvsd (BFD is keepalived's own process)".to_string(),
            ),
            _ => p.unknown(c),
        }
    }
    Some(rs)
}

// ------------------------------------------------------------------ checkers

/// A common connection keyword; true when `c` was one.
fn conn_keyword(p: &mut P, c: &Node, co: &mut RawConn) -> bool {
    match c.keyword() {
        "connect_ip" => {
            if let Some(s) = p.arg(c, 1) {
                match parse_ip(s) {
                    Some(ip) if co.bindto.is_some_and(|b| b.is_ipv4() != ip.is_ipv4()) => p.err(
                        c,
                        format!("connect_ip {s} does not match the family of bindto"),
                    ),
                    Some(ip) => co.ip = Some(ip),
                    None => p.err(c, format!("invalid connect_ip address '{s}'")),
                }
            }
        }
        "connect_port" => co.port = p.uint(c, 1, 1, 65535).map(|v| v as u16).or(co.port),
        "bindto" => {
            if let Some(s) = p.arg(c, 1) {
                match parse_ip(s) {
                    Some(ip) if co.ip.is_some_and(|d| d.is_ipv4() != ip.is_ipv4()) => p.err(
                        c,
                        format!("bindto {s} does not match the family of connect_ip"),
                    ),
                    Some(ip) => co.bindto = Some(ip),
                    None => p.err(c, format!("invalid bindto address '{s}'")),
                }
            }
        }
        "bind_port" => co.bind_port = p.uint(c, 1, 1, 65535).map(|v| v as u16).or(co.bind_port),
        "bind_if" => {
            if let Some(s) = p.arg(c, 1) {
                if s.len() > 15 {
                    p.err(c, format!("interface name '{s}' is too long"));
                } else {
                    co.bind_if = Some(s.to_string());
                }
            }
        }
        "connect_timeout" => {
            co.connect_timeout = p.timer(c, 1, u32::MAX as u64).or(co.connect_timeout)
        }
        "fwmark" => {
            co.fwmark = p
                .uint(c, 1, 0, u32::MAX as u64)
                .map(|v| v as u32)
                .or(co.fwmark)
        }
        _ => return false,
    }
    true
}

/// A common timing keyword; true when `c` was one.
fn timing_keyword(p: &mut P, c: &Node, t: &mut RawTiming) -> bool {
    match c.keyword() {
        RISE => {
            t.rise = p
                .uint(c, 1, 1, u32::MAX as u64)
                .map(|v| v as u32)
                .or(t.rise)
        }
        "retry" => {
            t.retry = p
                .uint(c, 1, 0, u32::MAX as u64)
                .map(|v| v as u32)
                .or(t.retry)
        }
        "delay_before_retry" => {
            t.delay_before_retry = p.timer(c, 0, u64::MAX).or(t.delay_before_retry)
        }
        "warmup" => t.warmup = p.timer(c, 0, u64::MAX).or(t.warmup),
        "delay_loop" => t.delay_loop = p.timer(c, 1, u64::MAX).or(t.delay_loop),
        "alpha" => t.alpha = p.opt_bool(c).or(t.alpha),
        "log_all_failures" => {
            if let Some(b) = p.opt_bool(c) {
                t.log_all_failures = b;
            }
        }
        _ => return false,
    }
    true
}

fn checker(p: &mut P, n: &Node) -> Option<RawChecker> {
    let kw = n.keyword();
    let block = p.block(n)?;
    let mut conn = RawConn::default();
    let mut timing = RawTiming::default();
    let mut kind = match kw {
        "TCP_CHECK" => RawKind::Tcp,
        "HTTP_GET" | "SSL_GET" => RawKind::Http {
            ssl: kw == "SSL_GET",
            urls: Vec::new(),
            virtualhost: None,
            protocol: HttpProtocol::Http10,
            sni: false,
            fast_recovery: false,
        },
        "SMTP_CHECK" => RawKind::Smtp {
            helo: None,
            hosts: Vec::new(),
        },
        "DNS_CHECK" => RawKind::Dns {
            qtype: "SOA".to_string(),
            name: None,
        },
        "UDP_CHECK" => RawKind::Udp {
            payload: Vec::new(),
            reply: None,
            min: 0,
            max: 255,
        },
        "PING_CHECK" => RawKind::Ping,
        "MISC_CHECK" => RawKind::Misc {
            argv: Vec::new(),
            timeout: None,
            dynamic: false,
            user: None,
        },
        _ => RawKind::File {
            name: None,
            weight: None,
        },
    };
    let has_conn = !matches!(kind, RawKind::Misc { .. } | RawKind::File { .. });
    let has_timing = !matches!(kind, RawKind::File { .. });
    for c in block {
        let ck = c.keyword();
        if !(ck == "url" || ck == "host") {
            p.no_block(c);
        }
        if has_conn && conn_keyword(p, c, &mut conn) {
            continue;
        }
        if has_timing && timing_keyword(p, c, &mut timing) {
            continue;
        }
        match (&mut kind, ck) {
            (RawKind::Http { .. }, "nb_get_retry") => {
                p.warn(
                    c,
                    WarningKind::Deprecated,
                    "nb_get_retry is deprecated - please use 'retry'",
                );
                timing.retry = p
                    .uint(c, 1, 0, u32::MAX as u64)
                    .map(|v| v as u32)
                    .or(timing.retry);
            }
            (RawKind::Http { virtualhost, .. }, "virtualhost") => {
                if let Some(v) = p.arg(c, 1) {
                    *virtualhost = Some(v.to_string());
                }
            }
            (RawKind::Http { protocol, .. }, "http_protocol") => match p.arg(c, 1) {
                Some("1.0") => *protocol = HttpProtocol::Http10,
                Some("1.1") => *protocol = HttpProtocol::Http11,
                Some("1.0C" | "1.0c") => *protocol = HttpProtocol::Http10Close,
                Some(o) => p.err(c, format!("invalid http_protocol '{o}' (1.0, 1.0C or 1.1)")),
                None => {}
            },
            (RawKind::Http { sni, .. }, "enable_sni") => {
                if let Some(b) = p.opt_bool(c) {
                    *sni = b;
                }
            }
            (RawKind::Http { fast_recovery, .. }, "fast_recovery") => {
                if let Some(b) = p.opt_bool(c) {
                    *fast_recovery = b;
                }
            }
            (RawKind::Http { urls, .. }, "url") => {
                if let Some(b) = p.block(c) {
                    if let Some(u) = url(p, c, b) {
                        urls.push(u);
                    }
                }
            }
            (RawKind::Smtp { helo, .. }, "helo_name") => {
                if let Some(v) = p.arg(c, 1) {
                    *helo = Some(v.to_string());
                }
            }
            (RawKind::Smtp { hosts, .. }, "host") => {
                let Some(b) = p.block(c) else { continue };
                let mut hc = RawConn::default();
                for h in b {
                    p.no_block(h);
                    if !conn_keyword(p, h, &mut hc) {
                        p.unknown(h);
                    }
                }
                hosts.push((c.loc.clone(), hc));
            }
            (RawKind::Dns { qtype, .. }, "type") => {
                let Some(t) = p.arg(c, 1) else { continue };
                let up = t.to_ascii_uppercase();
                if [
                    "A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA", "RRSIG", "DNSKEY",
                ]
                .contains(&up.as_str())
                {
                    *qtype = up;
                } else {
                    p.err(c, format!("unknown DNS check type '{t}'"));
                }
            }
            (RawKind::Dns { name, .. }, "name") => {
                let Some(v) = p.arg(c, 1) else { continue };
                if name.is_some() {
                    p.err(c, "DNS_CHECK name already specified");
                } else if (v.starts_with('.') && v.len() > 1) || v.contains("..") {
                    p.err(c, format!("DNS_CHECK name '{v}' has an empty label"));
                } else {
                    *name = Some(v.to_string());
                }
            }
            (RawKind::Udp { payload, .. }, "payload") => {
                if c.words.len() < 2 {
                    p.err(c, "UDP_CHECK payload requires a payload");
                    continue;
                }
                match read_hex(&c.words[1..].join(" "), false) {
                    Some((d, _)) => *payload = d,
                    None => p.err(c, "invalid hex string for UDP_CHECK payload"),
                }
            }
            (RawKind::Udp { reply, .. }, "require_reply") => {
                if c.words.len() < 2 {
                    *reply = Some(ReplyPattern::default());
                    continue;
                }
                match read_hex(&c.words[1..].join(" "), true) {
                    Some((data, mask)) => *reply = Some(ReplyPattern { data, mask }),
                    None => p.err(c, "invalid hex string for UDP_CHECK reply"),
                }
            }
            (RawKind::Udp { min, .. }, "min_reply_length") => {
                if let Some(v) = p.uint(c, 1, 0, u16::MAX as u64) {
                    *min = v as u16;
                }
            }
            (RawKind::Udp { max, .. }, "max_reply_length") => {
                if let Some(v) = p.uint(c, 1, 0, u16::MAX as u64) {
                    *max = v as u16;
                }
            }
            (RawKind::Misc { argv, .. }, "misc_path") => {
                *argv = c.words[1..]
                    .iter()
                    .flat_map(|w| w.split_whitespace())
                    .map(str::to_string)
                    .collect();
            }
            (RawKind::Misc { timeout, .. }, "misc_timeout") => {
                if let Some(v) = p.uint(c, 1, 0, (u32::MAX / 1_000_000) as u64) {
                    *timeout = Some(Duration::from_secs(v));
                }
            }
            (RawKind::Misc { dynamic, .. }, "misc_dynamic") => *dynamic = true,
            (RawKind::Misc { user, .. }, "user") => {
                if let Some(u) = p.arg(c, 1) {
                    *user = Some(ScriptUser {
                        user: u.to_string(),
                        group: c.words.get(2).cloned(),
                    });
                }
            }
            (RawKind::File { name, .. }, "track_file") => {
                if let Some(v) = p.arg(c, 1) {
                    *name = Some(v.to_string());
                }
            }
            (RawKind::File { weight, .. }, "weight") => {
                let Some(w) = p.arg(c, 1) else { continue };
                let Some(w) = w.parse::<i32>().ok().filter(|w| *w != i32::MIN) else {
                    p.err(
                        c,
                        format!("track file weight '{w}' must be in -{0}..={0}", i32::MAX),
                    );
                    continue;
                };
                let reverse = match c.words.get(2).map(String::as_str) {
                    None | Some("noreverse") => false,
                    Some("reverse") => true,
                    Some(o) => {
                        p.err(c, format!("unknown track file weight option '{o}'"));
                        continue;
                    }
                };
                *weight = Some((w, reverse));
            }
            _ => p.unknown(c),
        }
    }
    // End-of-block checks.
    match &kind {
        RawKind::Http { urls, .. } if urls.is_empty() => {
            p.err(n, format!("{kw} checker has no url"));
            return None;
        }
        RawKind::Udp { min, max, .. } if min > max => {
            p.warn(
                n,
                WarningKind::Adjusted,
                format!(
                    "min_reply_length {min} > max_reply_length {max} - the check will always fail"
                ),
            );
        }
        RawKind::Misc { argv, .. } if argv.is_empty() => {
            p.err(n, "no misc_path has been specified for MISC_CHECK");
            return None;
        }
        RawKind::File { name: None, .. } => {
            p.err(n, "FILE_CHECK has no track_file specified");
            return None;
        }
        _ => {}
    }
    Some(RawChecker {
        loc: n.loc.clone(),
        kind,
        conn,
        timing,
    })
}

fn url(p: &mut P, n: &Node, block: &[Node]) -> Option<RawUrl> {
    let mut u = RawUrl {
        path: None,
        digest: None,
        status: Vec::new(),
        virtualhost: None,
        regex: None,
        no_match: false,
        options: Vec::new(),
        min_offset: 0,
        max_offset: None,
    };
    for c in block {
        p.no_block(c);
        match c.keyword() {
            "path" => {
                if let Some(v) = p.arg(c, 1) {
                    u.path = Some(v.to_string());
                }
            }
            "digest" => {
                let Some(v) = p.arg(c, 1) else { continue };
                if u.digest.is_some() {
                    p.err(c, format!("digest '{v}' is a duplicate"));
                    continue;
                }
                match read_hex(v, false).filter(|(d, _)| d.len() == 16 && v.len() == 32) {
                    Some((d, _)) => {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(&d);
                        u.digest = Some(a);
                    }
                    None => p.err(
                        c,
                        format!("digest '{v}' must be 32 hexadecimal digits (an MD5)"),
                    ),
                }
            }
            "status_code" => {
                for s in &c.words[1..] {
                    let r = match s.split_once('-') {
                        Some((a, b)) => parse_uint(a).zip(parse_uint(b)),
                        None => parse_uint(s).map(|v| (v, v)),
                    };
                    match r.filter(|(a, b)| {
                        (100..=599).contains(a) && (100..=599).contains(b) && a <= b
                    }) {
                        Some((a, b)) => u.status.push((a as u16, b as u16)),
                        None => p.err(
                            c,
                            format!("invalid HTTP status code '{s}' (100-599, or a range)"),
                        ),
                    }
                }
            }
            "virtualhost" => {
                if let Some(v) = p.arg(c, 1) {
                    u.virtualhost = Some(v.to_string());
                }
            }
            "regex" => {
                if c.words.len() != 2 {
                    p.err(c, "regex needs exactly one pattern (quote it)");
                } else {
                    u.regex = Some(c.words[1].clone());
                }
            }
            "regex_no_match" => u.no_match = true,
            "regex_options" => u.options.extend(c.words[1..].iter().cloned()),
            "regex_min_offset" => {
                if let Some(v) = p.uint(c, 1, 0, u32::MAX as u64) {
                    u.min_offset = v as usize;
                }
            }
            "regex_max_offset" => {
                if let Some(v) = p.uint(c, 1, 0, u32::MAX as u64) {
                    u.max_offset = Some(v as usize);
                }
            }
            "regex_stack" => {}
            _ => p.unknown(c),
        }
    }
    if u.path.is_none() {
        p.err(n, "url has no path");
        return None;
    }
    Some(u)
}

// ------------------------------------------------------------------ resolution

fn resolve_vs(
    p: &mut P,
    vs: RawVs,
    groups: &HashMap<String, Option<Group>>,
    track_files: &HashMap<String, TrackFile>,
) -> Option<VirtualServer> {
    let loc = vs.loc.clone();
    let at = |p: &mut P, kind: WarningKind, msg: String| {
        p.diag.warn(&loc, "virtual_server", kind, msg);
    };
    let label = match &vs.name {
        RawName::Addr(ip, port) => format!("{}", SocketAddr::new(*ip, *port)),
        RawName::Fwmark(m) => format!("fwmark {m}"),
        RawName::Group(g) => format!("group {g}"),
    };
    if vs.rs.is_empty() {
        at(
            p,
            WarningKind::Adjusted,
            format!("virtual server {label} has no real servers - ignoring it"),
        );
        return None;
    }
    let group = match &vs.name {
        RawName::Group(g) => {
            match groups.get(g) {
                Some(Some(grp)) => Some(grp),
                Some(None) => return None,
                None => {
                    // keepalived logs this (no configuration error) and drops it.
                    at(
                    p,
                    WarningKind::Dropped,
                    format!("virtual_server_group {g} is not defined - ignoring this virtual server"),
                );
                    return None;
                }
            }
        }
        _ => None,
    };
    // keepalived's link_vsg_to_vs: a group's families must fit the virtual
    // server's (set by ip_family or a non-tunnelled real server); if not,
    // keepalived logs it and drops the virtual server.
    if let (Some(g), Some(af)) = (group, vs.af) {
        let has = |want: AddressFamily| {
            g.entries.iter().any(|e| match e {
                GroupEntry::Range { start, .. } => AddressFamily::of(start) == want,
                GroupEntry::Fwmark { family, .. } => *family == Some(want),
            })
        };
        let (v4, v6) = (has(AddressFamily::Inet), has(AddressFamily::Inet6));
        // (Both families in the group cannot fit either.)
        let wrong = match af {
            AddressFamily::Inet => v6,
            AddressFamily::Inet6 => v4,
        };
        if wrong {
            at(
                p,
                WarningKind::Dropped,
                format!("{label}: the group's address family doesn't match the virtual server's - ignoring it"),
            );
            return None;
        }
    }
    // A group's family: ip_family or the real servers', else its addresses'.
    let group_family = group.and_then(|g| {
        g.entries.iter().find_map(|e| match e {
            GroupEntry::Range { start, .. } => Some(AddressFamily::of(start)),
            GroupEntry::Fwmark { family, .. } => *family,
        })
    });
    let family = vs.af.or(group_family).unwrap_or(AddressFamily::Inet);
    let has_addr = match (&vs.name, group) {
        (RawName::Addr(..), _) => true,
        (_, Some(g)) => g
            .entries
            .iter()
            .any(|e| matches!(e, GroupEntry::Range { .. })),
        _ => false,
    };
    let fwmark_only = match (&vs.name, group) {
        (RawName::Fwmark(_), _) => true,
        (_, Some(g)) => !has_addr && !g.entries.is_empty(),
        _ => false,
    };
    let mut protocol = vs.protocol;
    let mut flags = vs.flags;
    let mut persistence = vs.persistence;
    if has_addr {
        if protocol.is_none() {
            at(
                p,
                WarningKind::Adjusted,
                format!("virtual server {label}: no protocol set - defaulting to UDP"),
            );
            protocol = Some(Protocol::Udp);
        }
        if flags.contains(ServiceFlags::ONE_PACKET) && protocol != Some(Protocol::Udp) {
            at(
                p,
                WarningKind::Adjusted,
                format!(
                    "virtual server {label}: one packet scheduling (ops) requires UDP - resetting"
                ),
            );
            flags = ServiceFlags(flags.0 & !ServiceFlags::ONE_PACKET.0);
        }
        if persistence == 0 && matches!(vs.name, RawName::Addr(_, 0)) {
            at(p, WarningKind::Adjusted, format!("virtual server {label}: zero port only valid for persistent services - setting persistence"));
            persistence = DEFAULT_PERSISTENCE;
        }
    }
    if persistence == 0 {
        if let Some(g) = group {
            if g.entries
                .iter()
                .any(|e| matches!(e, GroupEntry::Range { port: 0, .. }))
            {
                at(p, WarningKind::Adjusted, format!("virtual server {label}: zero port only valid for persistent services - setting persistence"));
                persistence = DEFAULT_PERSISTENCE;
            }
        }
    }
    if protocol.is_some() && fwmark_only {
        at(
            p,
            WarningKind::Adjusted,
            format!(
                "virtual server {label}: protocol specified for fwmark - protocol will be ignored"
            ),
        );
        protocol = None;
    }
    let sched = match vs.sched.clone() {
        Some(s) => s,
        None => {
            at(
                p,
                WarningKind::Adjusted,
                format!("virtual server {label}: no scheduler set, setting default 'wlc'"),
            );
            "wlc".to_string()
        }
    };
    let proto = protocol.unwrap_or(Protocol::Tcp);

    // Services.
    let mut keys: Vec<ServiceKey> = Vec::new();
    match (&vs.name, group) {
        (RawName::Addr(ip, port), _) => keys.push(ServiceKey::Addr {
            protocol: proto,
            addr: *ip,
            port: *port,
        }),
        (RawName::Fwmark(m), _) => keys.push(ServiceKey::Fwmark { mark: *m, family }),
        (RawName::Group(gname), Some(g)) => {
            for e in &g.entries {
                match e {
                    GroupEntry::Range { start, end, port } => {
                        let (a, b) = (ip_to_u128(*start), ip_to_u128(*end));
                        if b - a >= MAX_GROUP_RANGE {
                            p.diag.error(&loc, "virtual_server", ErrorKind::Unsupported,
                                format!("group {gname}: a range of more than {MAX_GROUP_RANGE} addresses"));
                            return None;
                        }
                        for v in a..=b {
                            keys.push(ServiceKey::Addr {
                                protocol: proto,
                                addr: u128_to_ip(v, start.is_ipv4()),
                                port: *port,
                            });
                        }
                    }
                    GroupEntry::Fwmark { mark, family: f } => keys.push(ServiceKey::Fwmark {
                        mark: *mark,
                        family: f.unwrap_or(family),
                    }),
                }
            }
        }
        (RawName::Group(_), None) => {}
    }
    let services: Vec<Service> = keys
        .iter()
        .map(|k| {
            let mut s = Service::new(*k).with_scheduler(&sched);
            if persistence > 0 {
                s = s.with_persistence(persistence);
            }
            s.flags |= flags;
            if let Some(m) = vs.granularity {
                s.netmask = m;
            }
            s.pe_name = vs.pe_name.clone();
            s
        })
        .collect();

    // Real servers: duplicates, forwarding, inheritance.
    let mut vs_fwd = vs.fwd;
    let mut nat_warned = false;
    let mut fwd_default = |p: &mut P, vs_fwd: &mut Option<Fwd>| -> Fwd {
        if vs_fwd.is_none() {
            if !nat_warned {
                at(
                    p,
                    WarningKind::Adjusted,
                    format!(
                        "virtual server {label}: no forwarding method set, setting default NAT"
                    ),
                );
                nat_warned = true;
            }
            *vs_fwd = Some(Fwd::nat());
        }
        *vs_fwd.get_or_insert_with(Fwd::nat)
    };
    let vs_port = match &vs.name {
        RawName::Addr(_, port) => Some(*port),
        _ => None,
    };
    let is_fwmark = matches!(vs.name, RawName::Fwmark(_));
    let mut real_servers = Vec::new();
    let mut seen: Vec<(IpAddr, u16)> = Vec::new();
    let mut weight_sum: u64 = 0;
    let sorry_inhibit = vs.sorry.as_ref().map(|s| s.inhibit);
    let mut sorry_inhibit_fixed = sorry_inhibit;
    for rs in &vs.rs {
        let rloc = &rs.loc;
        if seen.contains(&(rs.addr, rs.port)) {
            p.diag.warn(rloc, "real_server", WarningKind::Adjusted,
                format!("virtual server {label}: real server {} is duplicated - removing the second one", SocketAddr::new(rs.addr, rs.port)));
            continue;
        }
        seen.push((rs.addr, rs.port));
        let fwd = match rs.fwd {
            Some(f) => f,
            None => fwd_default(p, &mut vs_fwd),
        };
        let inhibit = rs.inhibit.unwrap_or(vs.inhibit);
        let weight = rs.weight.unwrap_or(vs.weight);
        weight_sum += weight as u64;
        // Ports (keepalived corrects them for non-group virtual servers).
        let mut port = rs.port;
        if group.is_none() {
            if fwd.method == ForwardMethod::Masquerade {
                if !is_fwmark && port == 0 {
                    port = vs_port.unwrap_or(0);
                }
            } else if is_fwmark {
                if port != 0 {
                    p.diag.warn(rloc, "real_server", WarningKind::Adjusted,
                        format!("fwmark virtual server {label}, real server {}: port specified - clearing", SocketAddr::new(rs.addr, rs.port)));
                    port = 0;
                }
            } else if port == 0 {
                port = vs_port.unwrap_or(0);
            } else if Some(port) != vs_port {
                p.diag.warn(
                    rloc,
                    "real_server",
                    WarningKind::Adjusted,
                    format!(
                        "virtual server {label} and real server {} ports don't match - resetting",
                        SocketAddr::new(rs.addr, rs.port)
                    ),
                );
                port = vs_port.unwrap_or(0);
            }
        } else if fwd.method != ForwardMethod::Masquerade && port != 0 {
            if let Some(g) = group {
                if g.entries
                    .iter()
                    .any(|e| matches!(e, GroupEntry::Fwmark { .. }))
                {
                    p.diag.warn(rloc, "real_server", WarningKind::Adjusted,
                        format!("fwmark virtual server {label}, real server {}: port specified - port will be ignored", SocketAddr::new(rs.addr, rs.port)));
                }
                for e in &g.entries {
                    if let GroupEntry::Range { port: gp, .. } = e {
                        if *gp != port {
                            p.diag.warn(
                                rloc,
                                "real_server",
                                WarningKind::Adjusted,
                                format!(
                                    "virtual server {label} and real server {} ports don't match",
                                    SocketAddr::new(rs.addr, rs.port)
                                ),
                            );
                            break;
                        }
                    }
                }
            }
        }
        if let (Some(s), Some(si)) = (&vs.sorry, sorry_inhibit) {
            if s.addr == rs.addr && s.port == rs.port && si != inhibit {
                p.diag.warn(rloc, "real_server", WarningKind::Adjusted,
                    format!("virtual server {label}: real server matches the sorry server, but inhibit setting differs - using the real server's"));
                sorry_inhibit_fixed = Some(inhibit);
            }
        }
        let mut d = Destination::new(rs.addr, port, fwd.method).with_weight(weight as i32);
        d.upper_threshold = rs.uthreshold;
        d.lower_threshold = rs.lthreshold;
        d.tunnel_type = fwd.tun_type;
        d.tunnel_port = fwd.tun_port;
        d.tunnel_flags = fwd.csum;

        let alpha = rs.alpha.unwrap_or(vs.alpha);
        let ctx = RsCtx {
            addr: rs.addr,
            check_port: if rs.port != 0 { rs.port } else { port },
            alpha,
            retry: rs.retry.or(vs.retry),
            rise: rs.rise.or(vs.rise).unwrap_or(1),
            connect_timeout: rs.connect_timeout.unwrap_or(vs.connect_timeout),
            delay_loop: rs.delay_loop.unwrap_or(vs.delay_loop),
            warmup: rs.warmup.or(vs.warmup),
            delay_before_retry: rs.delay_before_retry.or(vs.delay_before_retry),
            virtualhost: rs.virtualhost.clone().or_else(|| vs.virtualhost.clone()),
        };
        let mut checkers = Vec::new();
        for ch in &rs.checkers {
            resolve_checker(p, ch, &ctx, track_files, &mut checkers);
        }
        real_servers.push(RealServer {
            origin: origin(rloc),
            destination: d,
            inhibit_on_failure: inhibit,
            alpha,
            notify_up: rs.notify_up.clone(),
            notify_down: rs.notify_down.clone(),
            checkers,
        });
    }
    let sorry_server = vs.sorry.as_ref().map(|s| {
        let fwd = match s.fwd {
            Some(f) => f,
            None => fwd_default(p, &mut vs_fwd),
        };
        let mut port = s.port;
        if fwd.method != ForwardMethod::Masquerade && group.is_none() {
            if is_fwmark {
                if port != 0 {
                    at(
                        p,
                        WarningKind::Adjusted,
                        format!(
                            "virtual server {label}: sorry server has a port specified - clearing"
                        ),
                    );
                    port = 0;
                }
            } else if port == 0 {
                port = vs_port.unwrap_or(0);
            } else if Some(port) != vs_port {
                at(
                    p,
                    WarningKind::Adjusted,
                    format!(
                        "virtual server {label} and sorry server ports don't match - resetting"
                    ),
                );
                port = vs_port.unwrap_or(0);
            }
        }
        let mut d = Destination::new(s.addr, port, fwd.method).with_weight(1);
        d.tunnel_type = fwd.tun_type;
        d.tunnel_port = fwd.tun_port;
        d.tunnel_flags = fwd.csum;
        SorryServer {
            destination: d,
            inhibit: sorry_inhibit_fixed.unwrap_or(false),
        }
    });
    let mut quorum = vs.quorum;
    if quorum as u64 > weight_sum {
        at(p, WarningKind::Adjusted, format!("quorum {quorum} for {label} exceeds the total weight of the real servers {weight_sum}, reducing quorum to {weight_sum}"));
        quorum = weight_sum as u32;
    }
    let mut hysteresis = vs.hysteresis;
    if hysteresis >= quorum && !(hysteresis == 0 && quorum == 0) {
        let h = quorum.saturating_sub(1);
        at(p, WarningKind::Adjusted, format!("virtual server {label}: hysteresis {hysteresis} >= quorum {quorum}; setting hysteresis to {h}"));
        hysteresis = h;
    }
    let name = match &vs.name {
        RawName::Addr(..) => VirtualServerName::Addr(keys[0]),
        RawName::Fwmark(_) => VirtualServerName::Fwmark(keys[0]),
        RawName::Group(g) => VirtualServerName::Group(g.clone()),
    };
    Some(VirtualServer {
        origin: origin(&loc),
        name,
        services,
        family,
        real_servers,
        sorry_server,
        quorum,
        hysteresis,
        quorum_up: vs.quorum_up,
        quorum_down: vs.quorum_down,
        omega: vs.omega,
    })
}

fn origin(loc: &Loc) -> Origin {
    Origin {
        file: loc.file.to_path_buf(),
        line: loc.line,
    }
}

/// What a real server hands down to its checkers.
struct RsCtx {
    addr: IpAddr,
    /// The port checkers connect to by default: the real server's port as
    /// written (keepalived copies it before clearing it for fwmark
    /// services), else the resolved one.
    check_port: u16,
    alpha: bool,
    retry: Option<u32>,
    rise: u32,
    connect_timeout: Duration,
    delay_loop: Duration,
    warmup: Option<Duration>,
    delay_before_retry: Option<Duration>,
    virtualhost: Option<String>,
}

fn connection(co: &RawConn, rs: &RsCtx) -> Connection {
    Connection {
        target: SocketAddr::new(co.ip.unwrap_or(rs.addr), co.port.unwrap_or(rs.check_port)),
        bind_addr: co.bindto,
        bind_port: co.bind_port,
        bind_if: co.bind_if.clone(),
        fwmark: co.fwmark,
        connect_timeout: co.connect_timeout.unwrap_or(rs.connect_timeout),
    }
}

fn resolve_checker(
    p: &mut P,
    ch: &RawChecker,
    rs: &RsCtx,
    track_files: &HashMap<String, TrackFile>,
    out: &mut Vec<Checker>,
) {
    let (default_retry, default_dbr) = match ch.kind {
        RawKind::Http { .. } => (1, Some(Duration::from_secs(3))),
        RawKind::Dns { .. } => (3, None),
        RawKind::Misc { .. } => (0, Some(Duration::from_secs(1))),
        _ => (1, Some(Duration::from_secs(1))),
    };
    let t = &ch.timing;
    let delay_loop = t.delay_loop.unwrap_or(rs.delay_loop);
    let timing = CheckTiming {
        delay_loop,
        warmup: t.warmup.or(rs.warmup).unwrap_or(delay_loop),
        retry: t.retry.or(rs.retry).unwrap_or(default_retry),
        rise: t.rise.unwrap_or(rs.rise),
        delay_before_retry: t
            .delay_before_retry
            .or(rs.delay_before_retry)
            .or(default_dbr)
            .unwrap_or(delay_loop),
        alpha: t.alpha.unwrap_or(rs.alpha),
        log_all_failures: t.log_all_failures,
    };
    let conn = connection(&ch.conn, rs);
    if let IpAddr::V6(v6) = conn.target.ip() {
        if (v6.segments()[0] & 0xffc0) == 0xfe80 && conn.bind_if.is_none() {
            p.diag.error(
                &ch.loc,
                checker_kw(&ch.kind),
                ErrorKind::Invalid,
                format!("checker link-local address {} requires a bind_if", v6),
            );
            return;
        }
    }
    let origin = origin(&ch.loc);
    let kind = match &ch.kind {
        RawKind::Tcp => CheckKind::Tcp(conn),
        RawKind::Ping => CheckKind::Ping(conn),
        RawKind::Http {
            ssl,
            urls,
            virtualhost,
            protocol,
            sni,
            fast_recovery,
        } => {
            let vh = virtualhost.clone().or_else(|| rs.virtualhost.clone());
            let urls = urls
                .iter()
                .map(|u| Url {
                    path: u.path.clone().unwrap_or_default(),
                    digest: u.digest,
                    status_codes: merge_ranges(&u.status),
                    virtualhost: u.virtualhost.clone().or_else(|| vh.clone()),
                    regex: u.regex.as_ref().map(|pat| UrlRegex {
                        pattern: pat.clone(),
                        no_match: u.no_match,
                        options: u.options.clone(),
                        min_offset: u.min_offset,
                        max_offset: u.max_offset,
                    }),
                })
                .collect();
            let h = HttpCheck {
                connection: conn,
                urls,
                http_protocol: *protocol,
                enable_sni: *sni,
                fast_recovery: *fast_recovery,
            };
            if *ssl {
                CheckKind::Ssl(h)
            } else {
                CheckKind::Http(h)
            }
        }
        RawKind::Smtp { helo, hosts } => {
            let helo = helo
                .clone()
                .unwrap_or_else(|| "smtpchecker.keepalived.org".to_string());
            let main_set = ch.conn.ip.is_some()
                || ch.conn.port.is_some()
                || ch.conn.bindto.is_some()
                || ch.conn.bind_port.is_some()
                || ch.conn.bind_if.is_some()
                || ch.conn.fwmark.is_some()
                || ch.conn.connect_timeout.is_some();
            if main_set || hosts.is_empty() {
                out.push(Checker {
                    origin: origin.clone(),
                    kind: CheckKind::Smtp(SmtpCheck {
                        connection: conn,
                        helo_name: helo.clone(),
                    }),
                    timing: Some(timing),
                });
            }
            if !hosts.is_empty() {
                // keepalived only logs this one.
                p.diag.warn_as(
                    &ch.loc,
                    "SMTP_CHECK",
                    WarningKind::Deprecated,
                    "the SMTP_CHECK host block is deprecated (one checker is made per host); \
                     define several SMTP_CHECKs instead"
                        .to_string(),
                    false,
                );
            }
            for (hloc, hc) in hosts {
                let mut c = connection(hc, rs);
                if hc.connect_timeout.is_none() {
                    c.connect_timeout = ch.conn.connect_timeout.unwrap_or(rs.connect_timeout);
                }
                out.push(Checker {
                    origin: self::origin(hloc),
                    kind: CheckKind::Smtp(SmtpCheck {
                        connection: c,
                        helo_name: helo.clone(),
                    }),
                    timing: Some(timing),
                });
            }
            return;
        }
        RawKind::Dns { qtype, name } => CheckKind::Dns(DnsCheck {
            connection: conn,
            query_type: qtype.clone(),
            name: name.clone().unwrap_or_default(),
        }),
        RawKind::Udp {
            payload,
            reply,
            min,
            max,
        } => CheckKind::Udp(UdpCheck {
            connection: conn,
            payload: payload.clone(),
            require_reply: reply.clone(),
            min_reply_length: *min,
            max_reply_length: *max,
        }),
        RawKind::Misc {
            argv,
            timeout,
            dynamic,
            user,
        } => CheckKind::Misc(MiscCheck {
            script: Script {
                argv: argv.clone(),
                user: user.clone(),
            },
            timeout: timeout.filter(|t| !t.is_zero()).unwrap_or(delay_loop),
            dynamic: *dynamic,
        }),
        RawKind::File { name, weight } => {
            let name = name.clone().unwrap_or_default();
            let Some(tf) = track_files.get(&name).filter(|tf| tf.seq < ch.loc.seq) else {
                let later = if track_files.contains_key(&name) {
                    " before this FILE_CHECK (it is defined after it)"
                } else {
                    ""
                };
                p.diag.error(
                    &ch.loc,
                    "FILE_CHECK",
                    ErrorKind::Invalid,
                    format!("track_file {name} is not defined{later}"),
                );
                return;
            };
            let (w, rev) = weight.unwrap_or((tf.weight, tf.reverse));
            out.push(Checker {
                origin,
                kind: CheckKind::File(FileCheck {
                    name,
                    path: tf.path.clone().unwrap_or_default(),
                    weight: w,
                    reverse: rev,
                }),
                timing: None,
            });
            return;
        }
    };
    out.push(Checker {
        origin,
        kind,
        timing: Some(timing),
    });
}

fn checker_kw(k: &RawKind) -> &'static str {
    match k {
        RawKind::Tcp => "TCP_CHECK",
        RawKind::Http { ssl: true, .. } => "SSL_GET",
        RawKind::Http { .. } => "HTTP_GET",
        RawKind::Smtp { .. } => "SMTP_CHECK",
        RawKind::Dns { .. } => "DNS_CHECK",
        RawKind::Udp { .. } => "UDP_CHECK",
        RawKind::Ping => "PING_CHECK",
        RawKind::Misc { .. } => "MISC_CHECK",
        RawKind::File { .. } => "FILE_CHECK",
    }
}

/// Sorted, merged inclusive ranges; 200-299 when none.
fn merge_ranges(r: &[(u16, u16)]) -> Vec<(u16, u16)> {
    if r.is_empty() {
        return vec![(200, 299)];
    }
    let mut v = r.to_vec();
    v.sort();
    let mut out: Vec<(u16, u16)> = Vec::new();
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
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
