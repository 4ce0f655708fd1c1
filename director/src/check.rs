//! Health checks of real servers: keepalived's checker set on one async event loop.
//!
//! A check is described by a [`CheckSpec`]: the real server ([`CheckSpec::target`]), what to
//! probe ([`CheckKind`]), where to connect from and to ([`ConnectOptions`]) and when
//! ([`Timing`]). The [`Engine`] runs the checks and tells subscribers when a check changes
//! state.
//!
//! # Semantics (keepalived's, plus rise)
//!
//! * A check is probed every [`Timing::delay_loop`]; the first probe comes at a random point in
//!   `[0, warmup]`.
//! * While a check is up, a failing probe is retried every [`Timing::delay_before_retry`] up to
//!   [`Timing::retry`] times; the check goes down after `retry + 1` consecutive failures
//!   ([`Timing::fall`]). One success resets the count.
//! * While a check is down, it is probed every `delay_loop`; after a first success, the next
//!   probes come every `delay_before_retry` and the check goes up after [`Timing::rise`]
//!   consecutive successes (keepalived has no rise: `rise = 1` is its behaviour).
//! * A check starts up, unless [`Timing::alpha`] is set, in which case it starts down and needs
//!   `rise` successes (keepalived's `alpha`).
//! * `connect_timeout` bounds the whole probe (connection, TLS, request and reply; per URL for
//!   HTTP), where keepalived bounds each read and write; MISC_CHECK uses its own timeout.
//! * MISC_CHECK with `misc_dynamic` and FILE_CHECK report a weight ([`Weight`]).
//!
//! # Shared probes
//!
//! Subscribers are keyed (the key type `K` is the daemon's, e.g. virtual service + real server +
//! checker index). All subscribers whose [`CheckSpec`]s are equal share one probe: one probe
//! per period, one state, and every subscriber gets every transition (and, if asked, every
//! result). See [`Engine`].
//!
//! # TLS
//!
//! By default SSL_GET does **not** verify the server's certificate chain or name, as
//! keepalived's SSL_GET does not: a health check asks "does the service answer", and real
//! servers are usually reached by address with self-signed or internal certificates. The
//! handshake's signatures are still checked against the certificate the server presents.
//! [`HttpCheck::ca_file`] turns verification on.

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

mod dialogue;
mod dns;
mod engine;
mod file;
mod ftp;
mod http;
mod ldap;
mod misc;
mod net;
mod ping;
mod radius;
mod sip;
mod smtp;
mod tls;
mod udp;

pub use engine::{CheckState, Engine, EngineStats, Event, EventKind, ProbeObserver};

/// One health check of one real server: its target, and the check's parameters (what is
/// probed, connection overrides, timing), which the real servers of a configuration share
/// when their checker blocks are equal ([`CheckSpec::share_params`]): at 16,000 real servers
/// with the same checker, one copy instead of 16,000. The parameters are read through
/// `Deref` (`spec.kind`, `spec.timing`); changing them through `DerefMut` copies them first
/// if they are shared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckSpec {
    /// The real server (address and port) being checked.
    pub target: SocketAddr,
    params: Arc<CheckParams>,
}

/// The target and the kind of check only: equal specs have equal targets and kinds, and the
/// few distinct checks of one target (a real server's several checkers) share a bucket.
/// The check engine looks a spec up twice per probe, and a reload once per real server;
/// hashing every parameter each time was a SipHash over all of them.
impl std::hash::Hash for CheckSpec {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.target.hash(state);
        std::mem::discriminant(&self.params.kind).hash(state);
    }
}

/// A check's parameters: everything but its target.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CheckParams {
    /// What is probed.
    pub kind: CheckKind,
    /// Connection overrides (`connect_ip`, `connect_port`, `bindto`, `bind_port`).
    pub connect: ConnectOptions,
    /// Period, timeouts, retries, rise.
    pub timing: Timing,
}

impl std::ops::Deref for CheckSpec {
    type Target = CheckParams;
    fn deref(&self) -> &CheckParams {
        &self.params
    }
}

impl std::ops::DerefMut for CheckSpec {
    fn deref_mut(&mut self) -> &mut CheckParams {
        Arc::make_mut(&mut self.params)
    }
}

impl CheckSpec {
    /// A check of `target` with keepalived's default timing for `kind` and no connection
    /// overrides.
    pub fn new(target: SocketAddr, kind: CheckKind) -> CheckSpec {
        let timing = Timing::keepalived(&kind);
        CheckSpec::with_params(
            target,
            CheckParams {
                kind,
                connect: ConnectOptions::default(),
                timing,
            },
        )
    }

    /// A check of `target` with these parameters.
    pub fn with_params(target: SocketAddr, params: CheckParams) -> CheckSpec {
        CheckSpec {
            target,
            params: Arc::new(params),
        }
    }

    /// Takes an equal set of parameters from `pool` if it has one, else adds this spec's:
    /// the specs built from one pool share each distinct set of parameters.
    pub fn share_params(&mut self, pool: &mut HashSet<Arc<CheckParams>>) {
        match pool.get(&self.params) {
            Some(p) => self.params = p.clone(),
            None => {
                pool.insert(self.params.clone());
            }
        }
    }

    /// The address probed: `target` with `connect_ip` / `connect_port` applied.
    pub fn probe_addr(&self) -> SocketAddr {
        SocketAddr::new(
            self.connect.connect_ip.unwrap_or(self.target.ip()),
            self.connect.connect_port.unwrap_or(self.target.port()),
        )
    }

    /// The local address to bind before connecting, if `bindto` or `bind_port` is set.
    pub fn bind_addr(&self) -> Option<SocketAddr> {
        let dst = self.probe_addr();
        match (self.connect.bind_ip, self.connect.bind_port) {
            (None, None) => None,
            (ip, port) => {
                let ip = ip.unwrap_or(match dst {
                    SocketAddr::V4(_) => IpAddr::from([0u8; 4]),
                    SocketAddr::V6(_) => IpAddr::from([0u16; 8]),
                });
                Some(SocketAddr::new(ip, port.unwrap_or(0)))
            }
        }
    }
}

/// Connection overrides common to the network checkers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConnectOptions {
    /// `connect_ip`: probe this address instead of the real server's.
    pub connect_ip: Option<IpAddr>,
    /// `connect_port`: probe this port instead of the real server's.
    pub connect_port: Option<u16>,
    /// `bindto`: the local address to send from.
    pub bind_ip: Option<IpAddr>,
    /// `bind_port`: the local port to send from.
    pub bind_port: Option<u16>,
}

/// When and how often a check is probed, and how many results change its state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Timing {
    /// `delay_loop`: the period between probes (keepalived default 60 s).
    pub delay_loop: Duration,
    /// `connect_timeout`: the bound of one probe (keepalived default 5 s).
    pub connect_timeout: Duration,
    /// `retry`: failures retried before the check goes down (fall = retry + 1).
    pub retry: u32,
    /// `delay_before_retry`: the period between retries (and between rise probes).
    pub delay_before_retry: Duration,
    /// `warmup`: the first probe comes at a random point in `[0, warmup]`.
    pub warmup: Duration,
    /// Consecutive successes before a down check goes up (1 = keepalived).
    pub rise: u32,
    /// `alpha`: start down instead of up.
    pub alpha: bool,
}

impl Timing {
    /// keepalived's defaults for a checker of this kind: `delay_loop` 60 s, `connect_timeout`
    /// 5 s, `warmup` = `delay_loop`; `retry` 1 (DNS 3, MISC and FILE 0); `delay_before_retry`
    /// 1 s (HTTP/SSL 3 s, DNS = `delay_loop`); rise 1; no alpha.
    pub fn keepalived(kind: &CheckKind) -> Timing {
        let delay_loop = Duration::from_secs(60);
        let (retry, delay_before_retry) = match kind {
            CheckKind::Dns(_) => (3, delay_loop),
            CheckKind::Misc(_) | CheckKind::File(_) => (0, Duration::from_secs(1)),
            CheckKind::Http(_) | CheckKind::Ssl(_) => (1, Duration::from_secs(3)),
            _ => (1, Duration::from_secs(1)),
        };
        Timing {
            delay_loop,
            connect_timeout: Duration::from_secs(5),
            retry,
            delay_before_retry,
            warmup: delay_loop,
            rise: 1,
            alpha: false,
        }
    }

    /// Consecutive failures that take an up check down: `retry + 1`.
    pub fn fall(&self) -> u32 {
        self.retry.saturating_add(1)
    }
}

/// What a check probes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CheckKind {
    /// TCP_CHECK: a TCP connection is established.
    Tcp,
    /// HTTP_GET: every URL answers as expected.
    Http(HttpCheck),
    /// SSL_GET: HTTP_GET over TLS (certificates not verified).
    Ssl(HttpCheck),
    /// SMTP_CHECK: banner 220, HELO/EHLO answered 250, QUIT.
    Smtp(SmtpCheck),
    /// DNS_CHECK: a UDP query answered with NOERROR and at least one answer.
    Dns(DnsCheck),
    /// UDP_CHECK: a datagram not refused (or answered as required).
    Udp(UdpCheck),
    /// PING_CHECK: an ICMP / ICMPv6 echo answered.
    Ping,
    /// MISC_CHECK: a program's exit status.
    Misc(MiscCheck),
    /// FILE_CHECK: a number read from a file.
    File(FileCheck),
    /// ldirectord's `maintenancedir`: up while none of these files exists
    /// (a file named after the real server puts it in maintenance).
    Maintenance(Vec<std::path::PathBuf>),
    /// ldirectord's `checktype=off`: never up, nothing is probed.
    Off,
    /// A TCP dialogue: bytes sent, reply lines expected (ldirectord's `simpletcp` and its
    /// POP3, IMAP and NNTP checks, over TLS for pops and imaps).
    Dialogue(DialogueCheck),
    /// ldirectord's FTP check: greeting, login, and a file fetched in passive mode whose
    /// content must match a regex.
    Ftp(FtpCheck),
    /// ldirectord's SIP check: an OPTIONS request answered `SIP/2.0 200 OK`.
    Sip(SipCheck),
    /// ldirectord's LDAP check: a bind, then a base search returning one entry.
    Ldap(LdapCheck),
    /// ldirectord's RADIUS check: an Access-Request answered Access-Accept.
    Radius(RadiusCheck),
}

/// ldirectord's `service=radius` check.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RadiusCheck {
    /// User-Name (`login`).
    pub login: String,
    /// User-Password (`passwd`), hidden with the secret.
    pub passwd: String,
    /// The shared secret (`secret`).
    pub secret: String,
}

/// ldirectord's `service=ldap` / `ldaps` check.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LdapCheck {
    /// TLS from the start (ldaps; certificates not verified).
    pub tls: bool,
    /// The bind DN (`login`); the bind is anonymous unless both it and `passwd` are set.
    pub login: String,
    /// The bind password (`passwd`).
    pub passwd: String,
    /// The DN searched with scope base (the request without its leading `/`; empty: the
    /// root DSE).
    pub base: String,
    /// A regex the DN of the one entry found must match, when set.
    pub receive: Option<String>,
}

/// ldirectord's `service=ftp` check.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FtpCheck {
    /// `USER` (ldirectord's default `anonymous`).
    pub login: String,
    /// `PASS` (ldirectord's default `ldirectord@HOSTNAME`).
    pub passwd: String,
    /// The file fetched with `RETR` after `CWD /`, `TYPE I` and `PASV`.
    pub path: String,
    /// The regex the fetched file must match. Without one, the check ends after the login
    /// (greeting 220, login accepted) and nothing is fetched.
    pub receive: Option<String>,
}

/// ldirectord's `service=sip` check.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SipCheck {
    /// Over UDP (one datagram each way) rather than TCP.
    pub udp: bool,
    /// The SIP user of the `sip:` URIs (ldirectord's `login`, default
    /// `ldirectord@HOSTNAME`).
    pub user: String,
}

/// A TCP dialogue: its steps in order, bounded as a whole by the connect timeout.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DialogueCheck {
    /// The steps.
    pub steps: Vec<DialogueStep>,
    /// Whether an `Expect` step reads on past lines that do not match (ldirectord's
    /// `simpletcp` matches any line of the reply) instead of failing at the first one.
    pub skip_unmatched: bool,
    /// Whether the dialogue runs over TLS from the start (ldirectord's `pops` and `imaps`;
    /// certificates not verified, as for SSL_GET).
    pub tls: bool,
}

/// One step of a [`DialogueCheck`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DialogueStep {
    /// Send these bytes.
    Send(Vec<u8>),
    /// Close the sending half of the connection.
    ShutdownWrite,
    /// Read a reply line matching this regex (one line, or any line up to the end of the
    /// reply with `skip_unmatched`).
    Expect(String),
}

impl CheckKind {
    /// keepalived's name of the checker (`TCP_CHECK`, `HTTP_GET`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            CheckKind::Tcp => "TCP_CHECK",
            CheckKind::Http(_) => "HTTP_GET",
            CheckKind::Ssl(_) => "SSL_GET",
            CheckKind::Smtp(_) => "SMTP_CHECK",
            CheckKind::Dns(_) => "DNS_CHECK",
            CheckKind::Udp(_) => "UDP_CHECK",
            CheckKind::Ping => "PING_CHECK",
            CheckKind::Misc(_) => "MISC_CHECK",
            CheckKind::File(_) => "FILE_CHECK",
            CheckKind::Maintenance(_) => "maintenancedir",
            CheckKind::Off => "checktype=off",
            CheckKind::Dialogue(_) => "TCP dialogue",
            CheckKind::Ftp(_) => "FTP check",
            CheckKind::Sip(_) => "SIP check",
            CheckKind::Ldap(_) => "LDAP check",
            CheckKind::Radius(_) => "RADIUS check",
        }
    }
}

/// HTTP_GET / SSL_GET settings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HttpCheck {
    /// The `url` blocks; each must pass. At least one.
    pub urls: Vec<UrlCheck>,
    /// `virtualhost`: the Host header (default: the probed address and port).
    pub virtualhost: Option<String>,
    /// `http_protocol`.
    pub protocol: HttpProtocol,
    /// SSL_GET `enable_sni`: send the server name in the TLS handshake.
    pub enable_sni: bool,
    /// SSL_GET `sni_name` (default: the virtual host).
    pub sni_name: Option<String>,
    /// SSL_GET: verify the server's certificate chain against the CA certificates in this PEM
    /// file, and its name against `sni_name`, else the virtual host, else the address. Read
    /// when the check starts. Without it (the default, and keepalived's behaviour, which
    /// loads a CA but never rejects a peer) nothing is verified.
    pub ca_file: Option<PathBuf>,
    /// The largest body read, in bytes (a longer body fails the check when it is needed for a
    /// digest or a regex).
    pub max_body: usize,
    /// Send HEAD instead of GET (ldirectord's `httpmethod=HEAD`): no body is read, and a
    /// regex is matched against the empty body.
    pub head: bool,
}

impl HttpCheck {
    /// One URL, HTTP/1.0, no virtual host, SNI off, bodies up to 1 MiB.
    pub fn new(url: UrlCheck) -> HttpCheck {
        HttpCheck {
            urls: vec![url],
            virtualhost: None,
            protocol: HttpProtocol::Http10,
            enable_sni: false,
            sni_name: None,
            ca_file: None,
            max_body: 1 << 20,
            head: false,
        }
    }
}

/// keepalived's `http_protocol`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HttpProtocol {
    /// `1.0`: `GET path HTTP/1.0` (the default).
    #[default]
    Http10,
    /// `1.0C`: HTTP/1.0 with `Connection: close`.
    Http10Close,
    /// `1.1`: HTTP/1.1 with `Connection: close`.
    Http11,
}

/// One `url` block.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UrlCheck {
    /// `path`, e.g. `/health`.
    pub path: String,
    /// `status_code`: accepted status ranges, inclusive (default 200-299).
    pub status: Vec<(u16, u16)>,
    /// `digest`: MD5 of the body, 32 hex digits.
    pub digest: Option<String>,
    /// `regex`: a pattern the body must match (or must not, with `regex_no_match`).
    pub regex: Option<String>,
    /// `regex_no_match`: the body must not match `regex`.
    pub regex_no_match: bool,
    /// `virtualhost` for this URL only.
    pub virtualhost: Option<String>,
}

impl UrlCheck {
    /// `path`, status 200-299, nothing else.
    pub fn new(path: &str) -> UrlCheck {
        UrlCheck {
            path: path.to_string(),
            status: vec![(200, 299)],
            digest: None,
            regex: None,
            regex_no_match: false,
            virtualhost: None,
        }
    }
}

/// SMTP_CHECK settings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SmtpCheck {
    /// `helo_name` (keepalived's default is the host name).
    pub helo_name: String,
    /// Send EHLO instead of HELO.
    pub ehlo: bool,
}

/// DNS_CHECK settings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DnsCheck {
    /// The query type number (see [`DnsCheck::type_from_name`]); keepalived's default SOA (6).
    pub qtype: u16,
    /// The name queried (keepalived's default ".").
    pub name: String,
}

impl DnsCheck {
    /// The type number of keepalived's `type` keyword: A, NS, CNAME, SOA, MX, TXT, AAAA.
    pub fn type_from_name(name: &str) -> Option<u16> {
        Some(match name.to_ascii_uppercase().as_str() {
            "A" => 1,
            "NS" => 2,
            "CNAME" => 5,
            "SOA" => 6,
            "MX" => 15,
            "TXT" => 16,
            "AAAA" => 28,
            _ => return None,
        })
    }
}

/// UDP_CHECK settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct UdpCheck {
    /// `payload`: the datagram sent.
    pub payload: Vec<u8>,
    /// `require_reply`: a reply is needed, and must match this pattern if it is not empty.
    pub require_reply: Option<ReplyPattern>,
    /// `min_reply_length` (default 0).
    pub min_reply_len: usize,
    /// `max_reply_length` (keepalived's default 255).
    pub max_reply_len: usize,
}

/// A reply pattern: bytes where set bits of `mask` are "don't care" (keepalived's `X`
/// nibbles). Only the first `min(len(reply), len(data))` bytes are compared.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReplyPattern {
    /// Expected bytes.
    pub data: Vec<u8>,
    /// Per byte, the bits not compared (same length as `data`).
    pub mask: Vec<u8>,
}

impl ReplyPattern {
    /// Parses keepalived's hex form, where `X` (or `x`) is a nibble not compared, e.g.
    /// `"48X5"`. An odd count of digits is padded with a trailing `0`.
    pub fn parse_hex(text: &str) -> Option<ReplyPattern> {
        let mut nibbles: Vec<(u8, u8)> = Vec::new();
        for c in text.chars() {
            match c {
                'x' | 'X' => nibbles.push((0, 0xf)),
                c => nibbles.push((c.to_digit(16)? as u8, 0)),
            }
        }
        if nibbles.len() % 2 == 1 {
            nibbles.push((0, 0));
        }
        let mut pattern = ReplyPattern::default();
        for pair in nibbles.chunks(2) {
            pattern.data.push(pair[0].0 << 4 | pair[1].0);
            pattern.mask.push(pair[0].1 << 4 | pair[1].1);
        }
        Some(pattern)
    }

    /// Whether `reply` matches.
    pub fn matches(&self, reply: &[u8]) -> bool {
        reply
            .iter()
            .zip(self.data.iter().zip(&self.mask))
            .all(|(r, (d, m))| (r ^ d) & !m == 0)
    }
}

/// MISC_CHECK settings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MiscCheck {
    /// `misc_path` split into the program and its arguments (no shell).
    pub argv: Vec<String>,
    /// `misc_timeout` (default `delay_loop`); then SIGTERM to its process group, SIGKILL 2 s
    /// later.
    pub timeout: Option<Duration>,
    /// `misc_dynamic`: exit codes 2-255 mean up with weight `code - 2`.
    pub dynamic: bool,
    /// `user`: run as this user and group id (names resolved by the caller); default the
    /// daemon's own.
    pub user: Option<(u32, u32)>,
}

/// FILE_CHECK settings (keepalived's `track_file` seen from a real server).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FileCheck {
    /// The file read at every probe.
    pub path: PathBuf,
    /// `weight N`: 0 means "a non-zero value is down"; otherwise the value times N is added
    /// to the real server's weight.
    pub weight: i32,
    /// `reverse`: invert the sense (0 is down with weight 0; the product is negated otherwise).
    pub reverse: bool,
}

/// A weight reported by a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Weight {
    /// Use the real server's configured weight (MISC_CHECK dynamic exit 0).
    Configured,
    /// Set this weight (MISC_CHECK dynamic exit `2 + weight`).
    Set(u32),
    /// Add this to the configured weight (FILE_CHECK: value × weight).
    Add(i64),
}

/// The stage of a probe where a failure happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Connecting.
    Connect,
    /// The TLS handshake.
    Tls,
    /// Sending the request.
    Request,
    /// Waiting for or reading the reply.
    Reply,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Connect => "connect",
            Stage::Tls => "TLS handshake",
            Stage::Request => "request",
            Stage::Reply => "reply",
        })
    }
}

/// Why a probe failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No result within the timeout.
    Timeout(Stage),
    /// The connection was refused (TCP RST).
    Refused,
    /// ICMP port unreachable (UDP, DNS).
    PortUnreachable,
    /// Host or network unreachable.
    Unreachable(String),
    /// Another I/O error.
    Io(Stage, String),
    /// The TLS handshake failed.
    Tls(String),
    /// The server's reply could not be parsed, or closed early.
    BadReply(String),
    /// An HTTP status outside the accepted ranges.
    Status {
        /// The URL's path.
        path: String,
        /// The status received.
        code: u16,
        /// The accepted ranges, as configured.
        expected: Vec<(u16, u16)>,
    },
    /// The body's MD5 is not the expected one.
    Digest {
        /// The URL's path.
        path: String,
        /// The body's MD5, hex.
        got: String,
        /// The expected MD5.
        expected: String,
    },
    /// The body does not match `regex`.
    RegexNoMatch(String),
    /// The body matches `regex` under `regex_no_match`.
    RegexMatched(String),
    /// The body is larger than `max_body`.
    BodyTooLarge(String),
    /// A DNS reply with a non-zero RCODE.
    DnsRcode(u8),
    /// A DNS reply with no answer.
    DnsNoAnswer,
    /// A UDP reply that does not match `require_reply`.
    ReplyMismatch,
    /// A UDP reply length outside `[min_reply_len, max_reply_len]`.
    ReplyLength(usize),
    /// An SMTP reply with an unexpected code.
    Smtp {
        /// After which command ("banner", "HELO", "EHLO").
        stage: &'static str,
        /// The reply's first line.
        line: String,
    },
    /// The script exited with this status.
    ScriptExit(i32),
    /// The script was killed by this signal.
    ScriptSignal(i32),
    /// The script ran past its timeout and was killed.
    ScriptTimeout,
    /// The script could not be started.
    Spawn(String),
    /// The file could not be read.
    File(String),
    /// The file's value means down.
    FileFault(i64),
    /// A socket could not be created (e.g. ICMP sockets not permitted).
    Socket(String),
    /// A maintenance file exists (its path).
    Maintenance(String),
    /// `checktype=off`: the server is never activated.
    Off,
}

fn ranges(r: &[(u16, u16)]) -> String {
    r.iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Timeout(stage) => write!(f, "timeout ({stage})"),
            Failure::Refused => f.write_str("connection refused"),
            Failure::PortUnreachable => f.write_str("port unreachable"),
            Failure::Unreachable(e) => write!(f, "unreachable: {e}"),
            Failure::Io(stage, e) => write!(f, "{stage}: {e}"),
            Failure::Tls(e) => write!(f, "TLS: {e}"),
            Failure::BadReply(e) => write!(f, "bad reply: {e}"),
            Failure::Status {
                path,
                code,
                expected,
            } => write!(f, "{path}: status {code} not in {}", ranges(expected)),
            Failure::Digest {
                path,
                got,
                expected,
            } => write!(f, "{path}: digest mismatch ({got}, expected {expected})"),
            Failure::RegexNoMatch(path) => write!(f, "{path}: body does not match regex"),
            Failure::RegexMatched(path) => write!(f, "{path}: body matches regex_no_match"),
            Failure::BodyTooLarge(path) => write!(f, "{path}: body too large"),
            Failure::DnsRcode(rcode) => write!(f, "DNS rcode {rcode}"),
            Failure::DnsNoAnswer => f.write_str("DNS reply without answer"),
            Failure::ReplyMismatch => f.write_str("reply mismatch"),
            Failure::ReplyLength(n) => write!(f, "reply length {n} out of range"),
            Failure::Smtp { stage, line } => write!(f, "SMTP {stage}: {line:?}"),
            Failure::ScriptExit(code) => write!(f, "exited with status {code}"),
            Failure::ScriptSignal(sig) => write!(f, "killed by signal {sig}"),
            Failure::ScriptTimeout => f.write_str("timed out, killed"),
            Failure::Spawn(e) => write!(f, "cannot run: {e}"),
            Failure::File(e) => write!(f, "cannot read: {e}"),
            Failure::FileFault(v) => write!(f, "file value {v} means down"),
            Failure::Socket(e) => write!(f, "socket: {e}"),
            Failure::Maintenance(p) => write!(f, "in maintenance ({p} exists)"),
            Failure::Off => f.write_str("checktype=off: never activated"),
        }
    }
}

/// The result of one probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeResult {
    /// Success (with a weight for dynamic checks) or the reason of the failure.
    pub outcome: Result<Option<Weight>, Failure>,
    /// How long the probe took.
    pub duration: Duration,
}

impl ProbeResult {
    /// Whether the probe succeeded.
    pub fn is_success(&self) -> bool {
        self.outcome.is_ok()
    }
}

/// A specification the engine cannot run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpecError {
    /// An invalid `regex`.
    Regex(String),
    /// A `digest` that is not 32 hex digits.
    Digest(String),
    /// An HTTP check without URL.
    NoUrl,
    /// A MISC_CHECK without program.
    NoProgram,
    /// A DNS name that cannot be encoded.
    DnsName(String),
    /// A period of zero.
    ZeroPeriod,
    /// The TLS set-up failed (e.g. an unreadable CA file).
    Tls(String),
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::Regex(e) => write!(f, "invalid regex: {e}"),
            SpecError::Digest(d) => write!(f, "invalid digest {d:?}: 32 hex digits expected"),
            SpecError::NoUrl => f.write_str("HTTP check without url"),
            SpecError::NoProgram => f.write_str("MISC_CHECK without misc_path"),
            SpecError::DnsName(n) => write!(f, "invalid DNS name {n:?}"),
            SpecError::ZeroPeriod => f.write_str("delay_loop of 0"),
            SpecError::Tls(e) => write!(f, "TLS: {e}"),
        }
    }
}

impl std::error::Error for SpecError {}

/// A random 64-bit number (jitter, DNS ids, ping tokens); not for cryptography.
pub(crate) fn random_u64() -> u64 {
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    std::collections::hash_map::RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalived_default_timing_per_kind() {
        let t = |k: &CheckKind| {
            let t = Timing::keepalived(k);
            (t.retry, t.delay_before_retry.as_secs(), t.fall())
        };
        assert_eq!(t(&CheckKind::Tcp), (1, 1, 2));
        let http = CheckKind::Http(HttpCheck::new(UrlCheck::new("/")));
        assert_eq!(t(&http), (1, 3, 2));
        let dns = CheckKind::Dns(DnsCheck {
            qtype: 6,
            name: ".".into(),
        });
        assert_eq!(t(&dns), (3, 60, 4));
        let misc = CheckKind::Misc(MiscCheck {
            argv: vec!["true".into()],
            timeout: None,
            dynamic: false,
            user: None,
        });
        assert_eq!(t(&misc), (0, 1, 1));
        let base = Timing::keepalived(&CheckKind::Ping);
        assert_eq!(
            (
                base.delay_loop.as_secs(),
                base.warmup.as_secs(),
                base.connect_timeout.as_secs()
            ),
            (60, 60, 5)
        );
    }

    #[test]
    fn reply_patterns() {
        let p = ReplyPattern::parse_hex("4aX5x").unwrap();
        assert_eq!(p.data, [0x4a, 0x05, 0x00]);
        assert_eq!(p.mask, [0x00, 0xf0, 0xf0], "the padding nibble is compared");
        assert!(p.matches(&[0x4a, 0x75, 0x30]));
        assert!(!p.matches(&[0x4a, 0x75, 0x31]));
        assert!(p.matches(&[0x4a]), "only the reply's length is compared");
        assert!(!p.matches(&[0x4b]));
        assert!(!p.matches(&[0x4a, 0x76]));
        assert_eq!(ReplyPattern::parse_hex("zz"), None);
    }

    #[test]
    fn equal_parameters_are_shared_and_copied_on_change() {
        let mut pool = HashSet::new();
        let mut a = CheckSpec::new("192.0.2.1:80".parse().unwrap(), CheckKind::Tcp);
        let mut b = CheckSpec::new("192.0.2.2:80".parse().unwrap(), CheckKind::Tcp);
        let mut c = CheckSpec::new("192.0.2.3:80".parse().unwrap(), CheckKind::Ping);
        for s in [&mut a, &mut b, &mut c] {
            s.share_params(&mut pool);
        }
        assert!(Arc::ptr_eq(&a.params, &b.params), "equal checkers share");
        assert!(!Arc::ptr_eq(&a.params, &c.params));
        assert_eq!(pool.len(), 2);
        assert_ne!(a, b, "the targets still tell them apart");
        // A change through DerefMut copies the shared parameters: b keeps its own.
        a.timing.retry = 7;
        assert!(!Arc::ptr_eq(&a.params, &b.params));
        assert_eq!(
            (a.timing.retry, b.timing.retry),
            (7, Timing::keepalived(&CheckKind::Tcp).retry)
        );
    }

    #[test]
    fn probe_and_bind_addresses() {
        let mut s = CheckSpec::new("192.0.2.1:80".parse().unwrap(), CheckKind::Tcp);
        assert_eq!(s.probe_addr(), "192.0.2.1:80".parse().unwrap());
        assert_eq!(s.bind_addr(), None);
        s.connect.connect_port = Some(8080);
        s.connect.bind_port = Some(5000);
        assert_eq!(s.probe_addr(), "192.0.2.1:8080".parse().unwrap());
        assert_eq!(s.bind_addr(), Some("0.0.0.0:5000".parse().unwrap()));
        s.target = "[2001:db8::1]:80".parse().unwrap();
        assert_eq!(s.bind_addr(), Some("[::]:5000".parse().unwrap()));
    }

    #[test]
    fn failure_texts() {
        let status = Failure::Status {
            path: "/health".into(),
            code: 503,
            expected: vec![(200, 299), (301, 301)],
        };
        assert_eq!(status.to_string(), "/health: status 503 not in 200-299,301");
        assert_eq!(
            Failure::Timeout(Stage::Connect).to_string(),
            "timeout (connect)"
        );
        assert_eq!(Failure::Refused.to_string(), "connection refused");
    }
}
