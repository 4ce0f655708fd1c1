//! Reading `ldirectord.cf` line by line, as ldirectord 4.12's `read_config`
//! and `ld_setup` do.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use ipvs::{AddressFamily, Destination, Netmask, Service, ServiceFlags, ServiceKey};
use regex::Regex;

use super::model::*;
use super::{ConfigError, ErrorKind, ParseOptions, Warning, WarningKind};

fn re(s: &str) -> Regex {
    Regex::new(s).expect("static regex")
}

static VIRTUAL: LazyLock<Regex> = LazyLock::new(|| re(r"^virtual(6)?\s*=\s*(.*)$"));
static V4_PORT: LazyLock<Regex> = LazyLock::new(|| re(r"^(\d+\.\d+\.\d+\.\d+):([0-9A-Za-z_-]+)"));
static HOST_PORT: LazyLock<Regex> = LazyLock::new(|| re(r"^([0-9A-Za-z._+-]+):([0-9A-Za-z_-]+)"));
static FWMARK: LazyLock<Regex> = LazyLock::new(|| re(r"^(\d+)"));
static V6_PORT: LazyLock<Regex> = LazyLock::new(|| re(r"^\[([0-9A-Fa-f:]+)\]:([0-9A-Za-z_-]+)"));
static KEY_VALUE: LazyLock<Regex> = LazyLock::new(|| re(r"^([A-Za-z0-9_-]+)\s*=\s*(.*)$"));
static DIGITS: LazyLock<Regex> = LazyLock::new(|| re(r"\d+"));
static WORD: LazyLock<Regex> = LazyLock::new(|| re(r"\w+"));
static REAL: LazyLock<Regex> = LazyLock::new(|| {
    let host = r"\d+\.\d+\.\d+\.\d+|[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]";
    re(&format!(
        r"({host})(?:->({host}))?(?::(\d+|[A-Za-z0-9_-]+))?\s+(.*)$"
    ))
});
static FORWARD: LazyLock<Regex> = LazyLock::new(|| re(r"(\w+)(.*)$"));
static WEIGHT: LazyLock<Regex> = LazyLock::new(|| re(r"\s+(\d+)(.*)$"));
static REQ_RECV: LazyLock<Regex> = LazyLock::new(|| re(r#"\s+"(.*)"[, ]\s*"(.*)"(.*)$"#));
static LOWER: LazyLock<Regex> = LazyLock::new(|| re(r"\s+l:(\d+)(.*)$"));
static UPPER: LazyLock<Regex> = LazyLock::new(|| re(r"\s+u:(\d+)(.*)$"));
static FALLBACK_PORT: LazyLock<Regex> = LazyLock::new(|| re(r"(:(\d+|[A-Za-z0-9_-]+))?$"));
static SMTP_HOST: LazyLock<Regex> = LazyLock::new(|| re(r"^[0-9A-Za-z._+-]+"));
static SCHED: LazyLock<Regex> = LazyLock::new(|| re(r"[a-z]+"));
static CHECK_WORD: LazyLock<Regex> = LazyLock::new(|| re(r"[\w-]+"));
static DOTTED_QUAD: LazyLock<Regex> = LazyLock::new(|| re(r"^\d+\.\d+\.\d+\.\d+$"));

/// The services of /etc/services ldirectord configurations name (Debian's
/// netbase entries): name, port, tcp, udp.
const SERVICES: &[(&str, u16, bool, bool)] = &[
    ("ftp-data", 20, true, false),
    ("ftp", 21, true, false),
    ("ssh", 22, true, false),
    ("telnet", 23, true, false),
    ("smtp", 25, true, false),
    ("mail", 25, true, false),
    ("domain", 53, true, true),
    ("http", 80, true, false),
    ("www", 80, true, false),
    ("pop3", 110, true, false),
    ("pop-3", 110, true, false),
    ("nntp", 119, true, false),
    ("ntp", 123, false, true),
    ("imap2", 143, true, false),
    ("imap", 143, true, false),
    ("snmp", 161, true, true),
    ("ldap", 389, true, true),
    ("https", 443, true, true),
    ("submission", 587, true, false),
    ("ldaps", 636, true, true),
    ("imaps", 993, true, false),
    ("pop3s", 995, true, false),
    ("radius", 1812, true, true),
    ("mysql", 3306, true, false),
    ("sip", 5060, true, true),
    ("postgresql", 5432, true, false),
    ("postgres", 5432, true, false),
    ("http-alt", 8080, true, false),
    ("webcache", 8080, true, false),
];

/// Which protocol a service-name lookup is for.
#[derive(Clone, Copy, PartialEq)]
enum Proto {
    Tcp,
    Udp,
    Any,
}

/// ldirectord's `ld_getservbyname`: a decimal port below 65536, or a name.
fn port_of(name: &str, proto: Proto) -> Option<u16> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        return name
            .parse::<u32>()
            .ok()
            .filter(|p| *p < 65536)
            .map(|p| p as u16);
    }
    SERVICES
        .iter()
        .find(|(n, _, t, u)| {
            *n == name
                && match proto {
                    Proto::Tcp => *t,
                    Proto::Udp => *u,
                    Proto::Any => true,
                }
        })
        .map(|s| s.1)
}

/// The default resolver: numeric addresses of the family, and `localhost`.
pub(super) fn default_resolve(name: &str, family: AddressFamily) -> Option<IpAddr> {
    match family {
        AddressFamily::Inet => {
            if name == "localhost" {
                return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
            }
            inet_aton(name).map(IpAddr::V4)
        }
        AddressFamily::Inet6 => {
            if name == "localhost" || name == "ip6-localhost" {
                return Some(IpAddr::V6(Ipv6Addr::LOCALHOST));
            }
            name.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
        }
    }
}

/// glibc's numeric IPv4 forms, as getaddrinfo accepts them: `a.b.c.d`,
/// `a.b.c` (c is 16 bits), `a.b` (b is 24 bits), `a` (32 bits); each part
/// decimal, octal (leading 0) or hexadecimal (0x).
fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<u64> = s
        .split('.')
        .map(|p| {
            let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or(p.strip_prefix("0X")) {
                (h, 16)
            } else if p.len() > 1 && p.starts_with('0') {
                (&p[1..], 8)
            } else {
                (p, 10)
            };
            if digits.is_empty() && radix != 8 {
                return None;
            }
            if !digits.chars().all(|c| c.is_digit(radix)) {
                return None;
            }
            u64::from_str_radix(if digits.is_empty() { "0" } else { digits }, radix).ok()
        })
        .collect::<Option<_>>()?;
    let (head, last) = parts.split_last().map(|(l, h)| (h, *l))?;
    if head.len() > 3 || head.iter().any(|p| *p > 255) || last >= 1u64 << (8 * (4 - head.len())) {
        return None;
    }
    let mut v = last;
    for (i, p) in head.iter().enumerate() {
        v |= p << (24 - 8 * i);
    }
    Some(Ipv4Addr::from(v as u32))
}

/// Perl truth of a captured string.
fn perl_true(s: &str) -> bool {
    !s.is_empty() && s != "0"
}

/// The first run of digits (ldirectord's `/(\d+)/`), as a number.
fn first_digits(s: &str) -> Option<(&str, u64)> {
    let m = DIGITS.find(s)?;
    let t = m.as_str();
    Some((t, t.parse::<u64>().unwrap_or(u64::MAX)))
}

/// `"…"`: the text between the first quote and the last one.
fn quoted(v: &str) -> Option<&str> {
    let rest = v.strip_prefix('"')?;
    let end = rest.rfind('"')?;
    Some(&rest[..end])
}

fn yes_no(v: &str) -> Option<bool> {
    match v {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

struct Ctx<'a> {
    file: PathBuf,
    opts: &'a ParseOptions,
    errors: Vec<ConfigError>,
    warnings: Vec<Warning>,
}

impl Ctx<'_> {
    fn error(&mut self, line: u32, keyword: &str, kind: ErrorKind, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line,
            keyword: keyword.to_string(),
            kind,
            message: message.into(),
        });
    }

    fn invalid(&mut self, line: u32, keyword: &str, message: impl Into<String>) {
        self.error(line, keyword, ErrorKind::Invalid, message)
    }

    fn warn(&mut self, line: u32, keyword: &str, kind: WarningKind, message: impl Into<String>) {
        self.warnings.push(Warning {
            file: self.file.clone(),
            line,
            keyword: keyword.to_string(),
            kind,
            message: message.into(),
        });
    }

    fn resolve(&self, name: &str, family: AddressFamily) -> Option<IpAddr> {
        let name = name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .unwrap_or(name);
        (self.opts.resolve)(name, family)
    }
}

/// What a virtual block says before it is resolved.
#[derive(Clone)]
struct Draft {
    line: u32,
    family: AddressFamily,
    host_port: Option<(String, String)>,
    fwmark: Option<u32>,
    protocol: VirtualProtocol,
    reals: Vec<(String, u32)>,
    check_type: CheckType,
    service: Option<ServiceType>,
    check_port: Option<u16>,
    check_command: String,
    request: String,
    receive: Option<String>,
    http_method: HttpMethod,
    virtual_host: Option<String>,
    login: String,
    passwd: String,
    database: String,
    secret: String,
    check_timeout: Option<u32>,
    negotiate_timeout: Option<u32>,
    check_interval: Option<(u32, u32)>,
    check_count: Option<u32>,
    failure_count: Option<u32>,
    scheduler: String,
    persistent: Option<u32>,
    netmask: Option<(String, u32)>,
    sched_flags: Option<(String, u32)>,
    ops: Option<(bool, u32)>,
    fallback: Option<(String, Option<String>, Forward, u32)>,
    fallback_command: Option<String>,
    quiescent: Option<bool>,
    clean_stop: Option<bool>,
    email_alert: Option<String>,
    email_alert_freq: Option<u32>,
    email_alert_status: Option<AlertStatus>,
    smtp: Option<String>,
    monitor_file: Option<PathBuf>,
    service_name: Option<String>,
    comment: Option<String>,
}

/// Parses the text; returns the model (meaningful only without errors).
pub(super) fn parse(
    text: &str,
    file: &Path,
    opts: &ParseOptions,
) -> (Config, Vec<ConfigError>, Vec<Warning>) {
    let mut cx = Ctx {
        file: file.to_path_buf(),
        opts,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let lines: Vec<&str> = text
        .split_inclusive('\n')
        .map(|l| l.strip_suffix('\n').unwrap_or(l))
        .collect();
    let mut global = Global::default();
    let mut drafts: Vec<Draft> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let no = i as u32 + 1;
        let l = lines[i];
        if let Some(c) = VIRTUAL.captures(l) {
            let family = if c.get(1).is_some() {
                AddressFamily::Inet6
            } else {
                AddressFamily::Inet
            };
            let mut d = virtual_header(&mut cx, no, family, c.get(2).map_or("", |m| m.as_str()));
            // The block: lines indented by 4 spaces or a tab (after comments
            // are cut and tabs widened); the first other line ends it and is
            // read again as a global line.
            let mut j = i + 1;
            while j < lines.len() {
                let raw = lines[j];
                if raw.trim_start().starts_with('#') {
                    j += 1;
                    continue;
                }
                let cut = raw.split('#').next().unwrap_or("").replace('\t', "    ");
                let lead = cut.len() - cut.trim_start_matches(' ').len();
                if lead < 4 || (lead == cut.len() && lead < 5) {
                    break;
                }
                let cmd = if lead == cut.len() { " " } else { &cut[lead..] };
                // A refused header's block is read past without a word.
                if let Some(d) = d.as_mut() {
                    virtual_line(&mut cx, d, j as u32 + 1, cmd, raw);
                }
                j += 1;
            }
            let end_line = if j < lines.len() {
                j as u32 + 1
            } else {
                lines.len() as u32
            };
            if let Some(d) = d.take() {
                // ldirectord resolves a block when it ends, before reading on:
                // its errors come here, in ldirectord's order (the warnings
                // come from the second pass below).
                let mut first = Ctx {
                    file: cx.file.clone(),
                    opts,
                    errors: Vec::new(),
                    warnings: Vec::new(),
                };
                if let Some(v) = resolve_virtual(&mut first, &global, d.clone()) {
                    // ldirectord reports a duplicate at the line that ended the block.
                    let id = virtual_id(&v);
                    if seen.contains(&id) {
                        first.invalid(end_line, "virtual", "duplicate virtual server");
                    }
                    seen.push(id);
                }
                cx.errors.append(&mut first.errors);
                drafts.push(d);
            }
            i = j;
            continue;
        }
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            i += 1;
            continue;
        }
        global_line(&mut cx, &mut global, no, l);
        i += 1;
    }
    // Second pass, with the final global settings (ldirectord applies them
    // once the whole file is read): the model and its warnings; the errors
    // were all found when each block ended.
    let mut virtuals = Vec::new();
    for d in drafts {
        let mut quiet = Ctx {
            file: cx.file.clone(),
            opts,
            errors: Vec::new(),
            warnings: Vec::new(),
        };
        if let Some(v) = resolve_virtual(&mut quiet, &global, d) {
            virtuals.push(v);
        }
        cx.warnings.append(&mut quiet.warnings);
    }
    let config = Config { global, virtuals };
    cx.warnings.sort_by_key(|w| w.line);
    (config, cx.errors, cx.warnings)
}

/// ldirectord's identity of a virtual service (`get_virtual_id_str`).
fn virtual_id(v: &Virtual) -> String {
    match v.service.key {
        ServiceKey::Fwmark { mark, family } => {
            let six = if family == AddressFamily::Inet6 {
                "6"
            } else {
                ""
            };
            format!("fwm{six}:{mark}")
        }
        ServiceKey::Addr { addr, port, .. } => {
            let proto = if v.protocol == VirtualProtocol::Udp {
                "udp"
            } else {
                "tcp"
            };
            format!("{proto}:{}", SocketAddr::new(addr, port))
        }
    }
}

fn virtual_header(cx: &mut Ctx, no: u32, family: AddressFamily, v: &str) -> Option<Draft> {
    let v6 = family == AddressFamily::Inet6;
    let mut host_port = None;
    let mut fwmark = None;
    if let (Some(c), false) = (V4_PORT.captures(v), v6) {
        host_port = Some((c[1].to_string(), c[2].to_string()));
    } else if let Some(c) = HOST_PORT.captures(v) {
        host_port = Some((c[1].to_string(), c[2].to_string()));
    } else if let Some(c) = FWMARK.captures(v) {
        match c[1].parse::<u32>() {
            Ok(m) => fwmark = Some(m),
            Err(_) => {
                cx.invalid(no, "virtual", "invalid firewall mark");
                return None;
            }
        }
        if v.len() > c[1].len() {
            cx.warn(
                no,
                "virtual",
                WarningKind::Ignored,
                format!(
                    "read as firewall mark {} (ldirectord ignores the rest: {:?})",
                    &c[1],
                    &v[c[1].len()..]
                ),
            );
        }
    } else if let Some(c) = V6_PORT.captures(v) {
        if !v6 {
            cx.invalid(
                no,
                "virtual",
                "cannot specify an IPv6 address here. please use \"virtual6\" instead.",
            );
            return None;
        }
        if c[1].parse::<Ipv6Addr>().is_err() {
            cx.invalid(no, "virtual6", "invalid ipv6 address for virtual server");
            return None;
        }
        host_port = Some((format!("[{}]", &c[1]), c[2].to_string()));
    } else {
        cx.invalid(no, kw(v6, "virtual"), "invalid address for virtual server");
        return None;
    }
    let protocol = match (&host_port, fwmark) {
        (Some((_, p)), _) if p == "53" || p == "domain" => VirtualProtocol::Udp,
        (Some(_), _) => VirtualProtocol::Tcp,
        _ => VirtualProtocol::Fwm,
    };
    Some(Draft {
        line: no,
        family,
        service: if fwmark.is_some() {
            Some(ServiceType::None)
        } else {
            None
        },
        host_port,
        fwmark,
        protocol,
        reals: Vec::new(),
        check_type: CheckType::Negotiate,
        check_port: None,
        check_command: "/bin/true".into(),
        request: "/".into(),
        receive: None,
        http_method: HttpMethod::Get,
        virtual_host: None,
        login: String::new(),
        passwd: String::new(),
        database: String::new(),
        secret: String::new(),
        check_timeout: None,
        negotiate_timeout: None,
        check_interval: None,
        check_count: None,
        failure_count: None,
        scheduler: "wrr".into(),
        persistent: None,
        netmask: None,
        sched_flags: None,
        ops: None,
        fallback: None,
        fallback_command: None,
        quiescent: None,
        clean_stop: None,
        email_alert: None,
        email_alert_freq: None,
        email_alert_status: None,
        smtp: None,
        monitor_file: None,
        service_name: None,
        comment: None,
    })
}

fn kw(v6: bool, base: &'static str) -> &'static str {
    match (v6, base) {
        (true, "virtual") => "virtual6",
        (true, "real") => "real6",
        (true, "fallback") => "fallback6",
        _ => base,
    }
}

/// A positive count or timeout (`/(\d+)/` and Perl-true).
fn positive(cx: &mut Ctx, no: u32, key: &str, v: &str, msg: &str) -> Option<u32> {
    match first_digits(v) {
        Some((t, n)) if perl_true(t) && n <= u32::MAX as u64 => Some(n as u32),
        _ => {
            cx.invalid(no, key, msg);
            None
        }
    }
}

fn email_status(cx: &mut Ctx, no: u32, key: &str, v: &str) -> Option<AlertStatus> {
    // Perl's split: around commas with their spaces, trailing empty fields dropped.
    let mut items: Vec<&str> = v.split(',').map(str::trim).collect();
    while items.last() == Some(&"") {
        items.pop();
    }
    let none = items.contains(&"none");
    let mut s = AlertStatus::NONE;
    for i in &items {
        match *i {
            "none" => continue,
            "all" => s = AlertStatus::ALL,
            "starting" => s.starting = true,
            "running" => s.running = true,
            "stopping" => s.stopping = true,
            "reloading" => s.reloading = true,
            other => {
                cx.invalid(
                    no,
                    key,
                    format!("invalid email alert status at: \"{other}\""),
                );
                return None;
            }
        }
        if none {
            cx.invalid(
                no,
                key,
                format!("invalid email alert status: \"{i}\" specified with \"none\""),
            );
            return None;
        }
    }
    Some(s)
}

/// ldirectord's `parse_fallback`: `host[:port] [gate|masq|ipip]`.
fn fallback_spec(
    cx: &mut Ctx,
    no: u32,
    key: &str,
    v: &str,
) -> Option<(String, Option<String>, Forward)> {
    let words: Vec<&str> = v.split_whitespace().collect();
    let (server, fwd) = match words.len() {
        0 => {
            cx.invalid(no, key, format!("invalid fallback server: {v}"));
            return None;
        }
        1 => (words[0], None),
        n => (words[n - 2], Some(words[n - 1])),
    };
    let c = FALLBACK_PORT.captures(server).expect("optional pattern");
    let port = c.get(2).map(|m| m.as_str().to_string());
    let host = &server[..c.get(0).map_or(server.len(), |m| m.start())];
    let forward = match fwd {
        None | Some("gate") => Forward::Gate,
        Some("masq") => Forward::Masq,
        Some("ipip") => Forward::Ipip,
        Some(_) => {
            cx.invalid(no, key, "forward method must be gate, masq or ipip");
            return None;
        }
    };
    Some((host.to_string(), port, forward))
}

fn resolve_fallback(
    cx: &mut Ctx,
    no: u32,
    key: &str,
    spec: &(String, Option<String>, Forward),
    family: AddressFamily,
    proto: Proto,
) -> Option<Fallback> {
    let Some(addr) = cx.resolve(&spec.0, family) else {
        let v = if family == AddressFamily::Inet6 {
            "IPv6"
        } else {
            "IPv4"
        };
        cx.invalid(
            no,
            key,
            format!(
                "invalid {v} address or could not resolve for fallback server: {}",
                spec.0
            ),
        );
        return None;
    };
    let port = match &spec.1 {
        None => None,
        Some(p) if p == "0" => Some(0),
        Some(p) => match port_of(p, proto) {
            Some(n) => Some(n),
            None => {
                cx.invalid(no, key, "invalid port for fallback server");
                return None;
            }
        },
    };
    Some(Fallback {
        addr,
        port,
        forward: spec.2,
    })
}

fn global_line(cx: &mut Ctx, g: &mut Global, no: u32, l: &str) {
    if let Some(rest) = l.strip_prefix("supervised") {
        let rest = rest.trim_end();
        if rest.is_empty() {
            g.supervised = true;
            cx.warn(
                no,
                "supervised",
                WarningKind::Deprecated,
                "please update your config not to use a bare supervised directive",
            );
            return;
        }
        match KEY_VALUE
            .captures(l)
            .filter(|c| &c[1] == "supervised")
            .and_then(|c| yes_no(&c[2]))
        {
            Some(b) => g.supervised = b,
            None => cx.invalid(no, "supervised", "supervised must be 'yes' or 'no'"),
        }
        return;
    }
    let Some(c) = KEY_VALUE.captures(l) else {
        cx.invalid(no, "", format!("Unknown command {l}"));
        return;
    };
    let (key, v) = (c.get(1).unwrap().as_str(), c.get(2).unwrap().as_str());
    match key {
        "checktimeout" => {
            if let Some(n) = positive(cx, no, key, v, "invalid check timeout value") {
                g.check_timeout = Some(n);
            }
        }
        "negotiatetimeout" => {
            if let Some(n) = positive(cx, no, key, v, "invalid negotiate timeout value") {
                g.negotiate_timeout = Some(n);
            }
        }
        "connecttimeout" => cx.invalid(
            no,
            key,
            "connecttimeout directive deprecated in favour of negotiatetimeout",
        ),
        "timeout" => cx.invalid(
            no,
            key,
            "timeout directive deprecated in favour of checktimeout and negotiatetimeout",
        ),
        "checkinterval" => {
            if let Some(n) = positive(cx, no, key, v, "invalid check interval value") {
                g.check_interval = n;
            }
        }
        "checkcount" => {
            if let Some(n) = positive(cx, no, key, v, "invalid check count value") {
                g.check_count = n;
                cx.warn(no, key, WarningKind::Deprecated, "checkcount option is deprecated and slated for removal.  please see 'failurecount'");
            }
        }
        "failurecount" => {
            if let Some(n) = positive(cx, no, key, v, "invalid failure count value") {
                g.failure_count = n;
            }
        }
        "fallback" | "fallback6" => {
            let family = if key == "fallback6" {
                AddressFamily::Inet6
            } else {
                AddressFamily::Inet
            };
            let Some(spec) = fallback_spec(cx, no, key, v) else {
                return;
            };
            // ldirectord resolves the port for TCP and for UDP services.
            let tcp = resolve_fallback(cx, no, key, &spec, family, Proto::Tcp);
            let udp = tcp
                .as_ref()
                .and_then(|_| resolve_fallback(cx, no, key, &spec, family, Proto::Udp));
            if udp.is_some() {
                if family == AddressFamily::Inet6 {
                    g.fallback6 = tcp;
                } else {
                    g.fallback = tcp;
                }
            }
        }
        "fallbackcommand" => {
            if v.is_empty() {
                cx.invalid(no, key, "invalid fallback command");
            } else {
                g.fallback_command = Some(quoted(v).unwrap_or(v).to_string());
            }
        }
        "autoreload" | "fork" | "quiescent" | "readdquiescent" | "cleanstop" => match yes_no(v) {
            Some(b) => match key {
                "autoreload" => g.autoreload = b,
                "fork" => g.fork = b,
                "quiescent" => g.quiescent = b,
                "readdquiescent" => g.readd_quiescent = b,
                _ => g.clean_stop = b,
            },
            None => cx.invalid(no, key, format!("{key} must be 'yes' or 'no'")),
        },
        "callback" => match quoted(v) {
            Some(p) => g.callback = Some(p.to_string()),
            None => cx.invalid(no, key, format!("Unknown command {l}")),
        },
        "logfile" => match quoted(v) {
            Some(p) if p.starts_with('/') => g.log = LogTarget::File(PathBuf::from(p)),
            Some(p) => {
                const FACILITIES: &[&str] = &[
                    "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news",
                    "syslog", "user", "uucp", "local0", "local1", "local2", "local3", "local4",
                    "local5", "local6", "local7",
                ];
                if !FACILITIES.contains(&p) {
                    cx.warn(
                        no,
                        key,
                        WarningKind::Ignored,
                        format!("{p:?} is not a syslog facility"),
                    );
                }
                g.log = LogTarget::Syslog(p.to_string());
            }
            None => cx.invalid(no, key, format!("Unknown command {l}")),
        },
        "execute" => {
            let name = quoted(v).unwrap_or(v).to_string();
            if !g.execute.contains(&name) {
                g.execute.push(name);
            }
        }
        "emailalert" => match email_addr(v) {
            Some(a) => g.email_alert = Some(a),
            None => cx.invalid(no, key, "no email address specified"),
        },
        "emailalertfreq" => match email_freq(v) {
            Some(n) => g.email_alert_freq = n,
            None => cx.invalid(no, key, "invalid email alert frequency"),
        },
        "emailalertstatus" => {
            if let Some(s) = email_status(cx, no, key, v) {
                g.email_alert_status = s;
            }
        }
        "emailalertfrom" => {
            if v.is_empty() {
                cx.invalid(no, key, "no email from address specified");
            } else {
                g.email_alert_from = Some(v.to_string());
            }
        }
        "smtp" => match SMTP_HOST.find(v) {
            Some(m) => g.smtp = Some(m.as_str().to_string()),
            None => cx.invalid(no, key, "invalid SMTP server address"),
        },
        "maintenancedir" => {
            if v.is_empty() {
                cx.invalid(no, key, "maintenance directory not specified");
            } else {
                if !Path::new(v).is_dir() {
                    cx.warn(
                        no,
                        key,
                        WarningKind::Adjusted,
                        "maintenance directory does not exist",
                    );
                }
                g.maintenance_dir = Some(PathBuf::from(v));
            }
        }
        _ => cx.invalid(no, key, format!("Unknown command {l}")),
    }
}

fn email_addr(v: &str) -> Option<String> {
    let a = v
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .filter(|s| !s.contains('"'))
        .unwrap_or(v);
    (!a.is_empty()).then(|| a.to_string())
}

/// `emailalertfreq = N`: digits right after `=`.
fn email_freq(v: &str) -> Option<u32> {
    let d: String = v.chars().take_while(|c| c.is_ascii_digit()).collect();
    d.parse().ok()
}

fn virtual_line(cx: &mut Ctx, d: &mut Draft, no: u32, cmd: &str, raw: &str) {
    let v6 = d.family == AddressFamily::Inet6;
    let Some(c) = KEY_VALUE.captures(cmd) else {
        cx.invalid(no, "", format!("Unknown command \"{raw}\""));
        return;
    };
    let (key, v) = (c.get(1).unwrap().as_str(), c.get(2).unwrap().as_str());
    match key {
        "real" | "real6" => {
            if v6 != (key == "real6") {
                cx.invalid(
                    no,
                    key,
                    format!("cannot specify \"{key}\" here.  please use \"{}\" instead", kw(v6, "real")),
                );
                return;
            }
            d.reals.push((v.to_string(), no));
        }
        "request" => match quoted(v) {
            Some("") => cx.invalid(no, key, "no request string specified"),
            Some(r) => d.request = slash(r),
            None => cx.invalid(no, key, format!("Unknown command \"{raw}\"")),
        },
        "receive" => match quoted(v) {
            Some("") => cx.invalid(no, key, "invalid receive string"),
            Some(r) => d.receive = Some(r.to_string()),
            None => cx.invalid(no, key, format!("Unknown command \"{raw}\"")),
        },
        "checktype" => {
            if let Some((_, n)) = first_digits(v) {
                match u32::try_from(n) {
                    Ok(n) => d.check_type = CheckType::Combined(n),
                    Err(_) => cx.invalid(no, key, "checktype number too large"),
                }
                return;
            }
            let w = CHECK_WORD.find(v).map(|m| m.as_str());
            d.check_type = match w {
                Some("connect") => CheckType::Connect,
                Some("negotiate") => CheckType::Negotiate,
                Some("ping") => CheckType::Ping,
                Some("off") => CheckType::Off,
                Some("on") => CheckType::On,
                Some("external") => CheckType::External,
                Some("external-perl") => {
                    cx.error(
                        no,
                        key,
                        ErrorKind::Unsupported,
                        "checktype external-perl evaluates Perl inside ldirectord; lvsd cannot: use checktype=external with the same script",
                    );
                    return;
                }
                _ => {
                    cx.invalid(no, key, "checktype must be \"connect\", \"negotiate\", \"on\", \"off\", \"ping\", \"external\", \"external-perl\" or a positive number");
                    return;
                }
            };
        }
        "checkcommand" => {
            let c = quoted(v).unwrap_or(v);
            if c.is_empty() {
                cx.invalid(no, key, "invalid check command");
            } else {
                d.check_command = c.to_string();
            }
        }
        "checktimeout" => {
            d.check_timeout = positive(cx, no, key, v, "invalid check timeout").or(d.check_timeout)
        }
        "negotiatetimeout" => {
            d.negotiate_timeout =
                positive(cx, no, key, v, "invalid negotiate timeout").or(d.negotiate_timeout)
        }
        "connecttimeout" => cx.invalid(no, key, "connecttimeout directive deprecated in favour of negotiatetimeout"),
        "checkcount" => {
            if let Some(n) = positive(cx, no, key, v, "invalid check count") {
                d.check_count = Some(n);
                cx.warn(no, key, WarningKind::Deprecated, "checkcount option is deprecated and slated for removal.  please see 'failurecount'");
            }
        }
        "failurecount" => {
            d.failure_count = positive(cx, no, key, v, "invalid failure count").or(d.failure_count)
        }
        "checkinterval" => {
            if let Some(n) = positive(cx, no, key, v, "invalid checkinterval") {
                d.check_interval = Some((n, no));
            }
        }
        "checkport" => match first_digits(v) {
            None => cx.invalid(no, key, "invalid port"),
            Some((_, n)) if (1..65536).contains(&n) => d.check_port = Some(n as u16),
            Some(_) => cx.invalid(no, key, "checkport must be in range 1..65536"),
        },
        "login" | "passwd" | "database" | "secret" => match quoted(v) {
            Some("") => cx.invalid(
                no,
                key,
                match key {
                    "login" => "invalid login string",
                    "passwd" => "invalid password",
                    "database" => "invalid database",
                    _ => "invalid secret",
                },
            ),
            Some(s) => {
                let s = s.to_string();
                match key {
                    "login" => d.login = s,
                    "passwd" => d.passwd = s,
                    "database" => d.database = s,
                    _ => d.secret = s,
                }
            }
            None => cx.invalid(no, key, format!("Unknown command \"{raw}\"")),
        },
        "load" => match quoted(v) {
            Some(s) if WORD.is_match(s) => cx.warn(no, key, WarningKind::Ignored, "load is not used by ldirectord's checks"),
            Some(_) => cx.invalid(no, key, "invalid string for load testing"),
            None => cx.invalid(no, key, format!("Unknown command \"{raw}\"")),
        },
        "scheduler" => match SCHED.find(v) {
            Some(m) => d.scheduler = m.as_str().to_string(),
            None => cx.invalid(no, key, "invalid scheduler, should be only lowercase letters (a-z)"),
        },
        "persistent" => match first_digits(v) {
            Some((_, n)) if n <= u32::MAX as u64 => d.persistent = Some(n as u32),
            _ => cx.invalid(no, key, "invalid persistent timeout"),
        },
        "schedflags" => match v.split_whitespace().next() {
            Some(f) => d.sched_flags = Some((f.to_string(), no)),
            None => cx.invalid(no, key, "invalid sched-flags"),
        },
        "netmask" => {
            let ok = if v6 {
                v.bytes().all(|b| b.is_ascii_digit())
                    && v.parse::<u32>().is_ok_and(|p| (1..=128).contains(&p))
            } else {
                DOTTED_QUAD.is_match(v)
            };
            if ok {
                d.netmask = Some((v.to_string(), no));
            } else if v6 {
                cx.invalid(no, key, "invalid netmask: a prefix length between 1 and 128 is required");
            } else {
                cx.invalid(no, key, "invalid netmask: dotted quad notation is required");
            }
        }
        "protocol" => match WORD.find(v).map(|m| m.as_str()) {
            None => cx.invalid(no, key, "invalid protocol"),
            Some(p) if d.protocol == VirtualProtocol::Fwm => {
                if p != "fwm" {
                    cx.invalid(no, key, "protocol must be fwm if the virtual service is a fwmark (a number)");
                }
            }
            Some("tcp") => d.protocol = VirtualProtocol::Tcp,
            Some("udp") => d.protocol = VirtualProtocol::Udp,
            Some(_) => cx.invalid(no, key, "protocol must be tcp or udp if the virtual service is an address and port"),
        },
        "ops" => match yes_no(v) {
            Some(b) => d.ops = Some((b, no)),
            None => cx.invalid(no, key, "ops must be 'yes' or 'no'"),
        },
        "service" => match WORD.find(v).and_then(|m| ServiceType::from_name(m.as_str())) {
            Some(s) => {
                d.service = Some(s);
                let host = &cx.opts.hostname;
                if s == ServiceType::Ftp && d.login.is_empty() {
                    d.login = "anonymous".into();
                } else if s == ServiceType::Sip && d.login.is_empty() {
                    d.login = format!("ldirectord@{host}");
                }
                if s == ServiceType::Ftp && d.passwd.is_empty() {
                    d.passwd = format!("ldirectord@{host}");
                }
            }
            None => cx.invalid(no, key, "service must be dns, ftp, http, https, http_proxy, imap, imaps, ldap, ldaps, mysql, nntp, none, oracle, pop, pops, radius, pgsql, simpletcp, sip, smtp or submission"),
        },
        "httpmethod" => match WORD.find(v).map(|m| m.as_str().to_ascii_uppercase()).as_deref() {
            Some("GET") => d.http_method = HttpMethod::Get,
            Some("HEAD") => d.http_method = HttpMethod::Head,
            _ => cx.invalid(no, key, "httpmethod must be GET or HEAD"),
        },
        "virtualhost" => {
            let s = v.strip_prefix('"').unwrap_or(v);
            let s = s.split('"').next().unwrap_or("");
            d.virtual_host = Some(s.to_string());
        }
        "fallback" | "fallback6" => {
            if v6 != (key == "fallback6") {
                cx.invalid(
                    no,
                    key,
                    format!("cannot specify \"{key}\" here.  please use \"{}\" instead", kw(v6, "fallback")),
                );
                return;
            }
            if let Some((h, p, f)) = fallback_spec(cx, no, key, v) {
                d.fallback = Some((h, p, f, no));
            }
        }
        "fallbackcommand" => {
            let c = quoted(v).unwrap_or(v);
            if c.is_empty() {
                cx.invalid(no, key, "invalid fallback command");
            } else {
                d.fallback_command = Some(c.to_string());
            }
        }
        "quiescent" | "cleanstop" => match yes_no(v) {
            Some(b) if key == "quiescent" => d.quiescent = Some(b),
            Some(b) => d.clean_stop = Some(b),
            None => cx.invalid(no, key, format!("{key} must be 'yes' or 'no'")),
        },
        "emailalert" => match email_addr(v) {
            Some(a) => d.email_alert = Some(a),
            None => cx.invalid(no, key, "no email address specified"),
        },
        "emailalertfreq" => match email_freq(v) {
            Some(n) => d.email_alert_freq = Some(n),
            None => cx.invalid(no, key, "invalid email alert frequency"),
        },
        "emailalertstatus" => {
            if let Some(s) = email_status(cx, no, key, v) {
                d.email_alert_status = Some(s);
            }
        }
        "monitorfile" => {
            let f = quoted(v).unwrap_or(v);
            d.monitor_file = Some(PathBuf::from(f));
        }
        "smtp" => match SMTP_HOST.find(v) {
            Some(m) => d.smtp = Some(m.as_str().to_string()),
            None => cx.invalid(no, key, "invalid SMTP server address"),
        },
        "servicename" => d.service_name = Some(v.to_string()),
        "comment" => d.comment = Some(v.to_string()),
        _ => cx.invalid(no, key, format!("Unknown command \"{raw}\"")),
    }
}

/// ldirectord prefixes requests with `/`.
fn slash(r: &str) -> String {
    if r.starts_with('/') {
        r.to_string()
    } else {
        format!("/{r}")
    }
}

fn sched_flags(cx: &mut Ctx, no: u32, sched: &str, arg: &str) -> Option<ServiceFlags> {
    let mut flags = ServiceFlags::default();
    let mut any = false;
    for f in arg.split(',').filter(|f| !f.is_empty()) {
        any = true;
        let (bit, needs) = match f {
            "flag-1" => (ServiceFlags::SCHED_1, None),
            "flag-2" => (ServiceFlags::SCHED_2, None),
            "flag-3" => (ServiceFlags::SCHED_3, None),
            "sh-fallback" => (ServiceFlags::SH_FALLBACK, Some("sh")),
            "sh-port" => (ServiceFlags::SH_PORT, Some("sh")),
            "mh-fallback" => (ServiceFlags::MH_FALLBACK, Some("mh")),
            "mh-port" => (ServiceFlags::MH_PORT, Some("mh")),
            _ => {
                cx.invalid(
                    no,
                    "schedflags",
                    format!("ipvsadm refuses the scheduling flag {f:?}"),
                );
                return None;
            }
        };
        if needs.is_some_and(|s| s != sched) {
            cx.invalid(
                no,
                "schedflags",
                format!("ipvsadm refuses {f} with scheduler {sched}"),
            );
            return None;
        }
        flags |= bit;
    }
    if !any {
        cx.invalid(no, "schedflags", "invalid sched-flags");
        return None;
    }
    Some(flags)
}

fn resolve_virtual(cx: &mut Ctx, g: &Global, d: Draft) -> Option<Virtual> {
    let family = d.family;
    let v6 = family == AddressFamily::Inet6;
    let proto = match d.protocol {
        VirtualProtocol::Udp => Proto::Udp,
        _ => Proto::Tcp,
    };
    // The fallback first, as ldirectord resolves it, then the virtual address.
    let fallback_spec = d.fallback.clone();
    let own_fallback = match &fallback_spec {
        Some((h, p, f, no)) => {
            let port = p.clone().or_else(|| {
                d.host_port
                    .as_ref()
                    .map(|(_, p)| p.clone())
                    .or(Some("0".into()))
            });
            Some(resolve_fallback(
                cx,
                *no,
                kw(v6, "fallback"),
                &(h.clone(), port, *f),
                family,
                proto,
            )?)
        }
        None => None,
    };
    let (key, vport) = match (&d.host_port, d.fwmark) {
        (Some((h, p)), _) => {
            let addr = cx.resolve(h, family);
            let port = port_of(p, proto);
            let (Some(addr), Some(port)) = (addr, port) else {
                cx.invalid(
                    d.line,
                    kw(v6, "virtual"),
                    "invalid address for virtual service",
                );
                return None;
            };
            let key = if d.protocol == VirtualProtocol::Udp {
                ServiceKey::udp(addr, port)
            } else {
                ServiceKey::tcp(addr, port)
            };
            (key, port)
        }
        (None, Some(m)) => (
            if v6 {
                ServiceKey::fwmark6(m)
            } else {
                ServiceKey::fwmark(m)
            },
            0,
        ),
        (None, None) => return None,
    };
    let service_type = d.service.unwrap_or_else(|| ServiceType::from_port(vport));
    let mut service = Service::new(key).with_scheduler(&d.scheduler);
    let mut flags = ServiceFlags::default();
    if let Some(t) = d.persistent {
        flags |= ServiceFlags::PERSISTENT;
        service = service.with_timeout(t);
        if let Some((m, no)) = &d.netmask {
            let nm = if v6 {
                m.parse::<u32>().ok().map(Netmask::Ipv6Prefix)
            } else {
                m.parse::<Ipv4Addr>().ok().map(Netmask::Ipv4)
            };
            match nm {
                Some(nm) => service = service.with_netmask(nm),
                None => cx.invalid(*no, "netmask", "ipvsadm refuses this netmask"),
            }
        }
    } else if let Some((_, no)) = &d.netmask {
        cx.warn(
            *no,
            "netmask",
            WarningKind::Ignored,
            "netmask is used with persistent only (ldirectord passes -M with -p)",
        );
    }
    if let Some((ops, no)) = d.ops {
        if ops && d.protocol == VirtualProtocol::Udp {
            flags |= ServiceFlags::ONE_PACKET;
        } else if ops {
            cx.warn(
                no,
                "ops",
                WarningKind::Ignored,
                "ops applies to UDP services only (ldirectord passes -o for UDP only)",
            );
        }
    }
    if let Some((f, no)) = &d.sched_flags {
        if let Some(bits) = sched_flags(cx, *no, &d.scheduler, f) {
            flags |= bits;
        }
    }
    service = service.with_flags(flags);

    // ld_setup's timeouts: each falls back on the other, then on the globals.
    let check_timeout = d
        .check_timeout
        .or(d.negotiate_timeout)
        .or(g.check_timeout)
        .or(g.negotiate_timeout)
        .unwrap_or(5);
    let negotiate_timeout = d
        .negotiate_timeout
        .or(d.check_timeout)
        .or(g.negotiate_timeout)
        .or(g.check_timeout)
        .unwrap_or(30);
    let check_interval = match d.check_interval {
        Some((n, _)) if g.fork => n,
        Some((_, no)) => {
            cx.warn(
                no,
                "checkinterval",
                WarningKind::Ignored,
                "checkinterval in a virtual service is ignored when fork=no",
            );
            g.check_interval
        }
        None => g.check_interval,
    };
    if v6
        && matches!(d.check_type, CheckType::Negotiate | CheckType::Combined(_))
        && !matches!(
            service_type,
            ServiceType::Dns
                | ServiceType::Http
                | ServiceType::Https
                | ServiceType::Nntp
                | ServiceType::None
                | ServiceType::SimpleTcp
                | ServiceType::Sip
        )
    {
        cx.warn(
            d.line,
            "service",
            WarningKind::Ignored,
            format!(
                "ldirectord does not support service {} over IPv6",
                service_type.name()
            ),
        );
    }
    let global_fallback = if v6 { &g.fallback6 } else { &g.fallback };
    if own_fallback.is_none() && global_fallback.is_some() && d.protocol == VirtualProtocol::Fwm {
        cx.warn(
            d.line,
            kw(v6, "virtual"),
            WarningKind::Ignored,
            "the global fallback does not apply to a fwmark service (ldirectord asks ipvsadm for a server \":0\", which fails)",
        );
    }
    let fallback = own_fallback.or_else(|| {
        if d.protocol == VirtualProtocol::Fwm {
            return None;
        }
        let gf = if v6 {
            g.fallback6.clone()
        } else {
            g.fallback.clone()
        }?;
        Some(Fallback {
            port: gf.port.or(Some(vport)),
            ..gf
        })
    });

    let mut v = Virtual {
        line: d.line,
        family,
        protocol: d.protocol,
        service,
        sched_flags: d.sched_flags.map(|(f, _)| f),
        reals: Vec::new(),
        check_type: d.check_type,
        service_type,
        check_port: d.check_port,
        check_command: d.check_command,
        request: d.request,
        receive: d.receive,
        http_method: d.http_method,
        virtual_host: d.virtual_host,
        login: d.login,
        passwd: d.passwd,
        database: d.database,
        secret: d.secret,
        check_timeout: Duration::from_secs(check_timeout.into()),
        negotiate_timeout: Duration::from_secs(negotiate_timeout.into()),
        check_interval,
        check_count: d.check_count.unwrap_or(g.check_count),
        failure_count: d.failure_count.unwrap_or(g.failure_count),
        fallback,
        fallback_command: d.fallback_command.or_else(|| g.fallback_command.clone()),
        quiescent: d.quiescent.unwrap_or(g.quiescent),
        clean_stop: d.clean_stop.unwrap_or(g.clean_stop),
        email_alert: d.email_alert.or_else(|| g.email_alert.clone()),
        email_alert_freq: d.email_alert_freq.unwrap_or(g.email_alert_freq),
        email_alert_status: d.email_alert_status.unwrap_or(g.email_alert_status),
        smtp: d.smtp.or_else(|| g.smtp.clone()),
        monitor_file: d.monitor_file,
        service_name: d.service_name,
        comment: d.comment,
    };
    for (text, no) in &d.reals {
        real_line(cx, &mut v, vport, text, *no);
    }
    Some(v)
}

/// At most this many real servers from one range.
const MAX_RANGE: u32 = 65536;

fn real_line(cx: &mut Ctx, v: &mut Virtual, vport: u16, text: &str, no: u32) {
    let key = kw(v.family == AddressFamily::Inet6, "real");
    let Some(c) = REAL.captures(text) else {
        cx.invalid(no, key, "invalid address for real server (wrong format)");
        return;
    };
    let skipped = &text[..c.get(0).map_or(0, |m| m.start())];
    if !skipped.is_empty() {
        cx.warn(
            no,
            key,
            WarningKind::Ignored,
            format!("ldirectord skips {skipped:?} in front of the address"),
        );
    }
    let ip1 = c[1].to_string();
    let ip2 = c.get(2).map(|m| m.as_str().to_string());
    let port_s = c.get(3).map_or("0", |m| m.as_str());
    let flags = c.get(4).map_or("", |m| m.as_str());
    let Some(first) = cx.resolve(&ip1, v.family) else {
        cx.invalid(
            no,
            key,
            format!("invalid address ({ip1}) for real server (could not resolve host)"),
        );
        return;
    };
    let Some(port) = port_of(port_s, Proto::Any) else {
        cx.invalid(
            no,
            key,
            format!("invalid port ({port_s}) for real server (could not resolve port)"),
        );
        return;
    };
    let addrs = match ip2 {
        None => vec![first],
        Some(ip2) => {
            let Some(last) = cx.resolve(&ip2, v.family) else {
                cx.invalid(
                    no,
                    key,
                    format!("invalid address ({ip2}) for real server (could not resolve end host)"),
                );
                return;
            };
            match (first, last) {
                (IpAddr::V4(a), IpAddr::V4(b)) => {
                    let (a, b) = (u32::from(a), u32::from(b));
                    if a > b {
                        cx.invalid(no, key, format!("Invalid Range: {first}-{last}: First value must be greater than or equal to the second value"));
                        return;
                    }
                    if b - a >= MAX_RANGE {
                        cx.error(
                            no,
                            key,
                            ErrorKind::Unsupported,
                            format!("a range of more than {MAX_RANGE} addresses"),
                        );
                        return;
                    }
                    (a..=b).map(|x| IpAddr::V4(x.into())).collect()
                }
                _ => {
                    cx.invalid(no, key, "Address range for IPv6 is not supported yet");
                    return;
                }
            }
        }
    };
    // The flags: method, then weight, request/receive pair, thresholds.
    let Some(fc) = FORWARD.captures(flags) else {
        cx.invalid(no, key, "forward method must be gate, masq or ipip");
        return;
    };
    let forward = match &fc[1] {
        "gate" => Forward::Gate,
        "masq" => Forward::Masq,
        "ipip" => Forward::Ipip,
        _ => {
            cx.invalid(no, key, "forward method must be gate, masq or ipip");
            return;
        }
    };
    let mut rest = fc.get(2).map_or("", |m| m.as_str()).to_string();
    let mut weight = 1i32;
    if let Some(w) = WEIGHT.captures(&rest) {
        match w[1].parse::<i32>() {
            Ok(n) => weight = n,
            Err(_) => {
                cx.invalid(no, key, "weight out of range");
                return;
            }
        }
        rest = w[2].to_string();
    }
    let mut own = OwnRequest::default();
    if let Some(r) = REQ_RECV.captures(&rest) {
        if r[1].starts_with('/') {
            // ldirectord 4.12 matches the request against /^\// to add the
            // slash; that match resets its captures, so the receive string
            // and the rest of the line (thresholds included) are lost.
            cx.warn(
                no,
                key,
                WarningKind::Adjusted,
                format!(
                    "ldirectord ignores the receive string and the rest of the line after a request starting with \"/\" (ignored: \"{}\"{}); the virtual's receive and request URL apply",
                    &r[2], &r[3]
                ),
            );
            own.request = Some(r[1].to_string());
            rest = String::new();
        } else {
            own.request = Some(slash(&r[1]));
            own.receive = Some(r[2].to_string());
            rest = r[3].to_string();
        }
    }
    let (mut lower, mut upper) = (0u32, 0u32);
    if let Some(l) = LOWER.captures(&rest) {
        lower = l[1].parse().unwrap_or(u32::MAX);
        rest = l[2].to_string();
    }
    if let Some(u) = UPPER.captures(&rest) {
        upper = u[1].parse().unwrap_or(u32::MAX);
        rest = u[2].to_string();
    }
    if !rest.trim().is_empty() {
        cx.invalid(
            no,
            key,
            format!("Invalid real server line, around \"{rest}\""),
        );
        return;
    }
    let fwm = v.protocol == VirtualProtocol::Fwm;
    for addr in addrs {
        // ipvsadm forces the port of gate and ipip servers of a non-fwmark
        // service to the service's port.
        let dport = if !fwm && forward != Forward::Masq {
            vport
        } else {
            port
        };
        if v.reals
            .iter()
            .any(|r| r.destination.addr == addr && r.destination.port == dport)
        {
            cx.warn(
                no,
                key,
                WarningKind::Adjusted,
                format!(
                    "real server {} listed twice; ipvsadm refuses the second",
                    SocketAddr::new(addr, dport)
                ),
            );
        }
        let destination = Destination::new(addr, dport, forward.method())
            .with_weight(weight)
            .with_thresholds(upper, lower);
        let check = super::check::real_check(v, addr, port, &own);
        v.reals.push(Real {
            line: no,
            configured_port: port,
            forward,
            destination,
            own: own.clone(),
            check,
        });
    }
}
