//! The resolved model of the checker side of `keepalived.conf`: every
//! default applied and every setting inherited (virtual server → real server
//! → checker), as keepalived 2.2.7 resolves them.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ipvs::{AddressFamily, Destination, Protocol, Service, ServiceKey, Timeouts};

/// Where an item was defined.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The file (after includes, the file that holds the statement), shared
    /// by every item of that file.
    pub file: Arc<Path>,
    /// 1-based line of the statement's keyword.
    pub line: u32,
}

/// The whole configuration as the checker uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `global_defs` settings that concern IPVS and scripts.
    pub global: Global,
    /// Virtual servers, in configuration order.
    pub virtual_servers: Vec<VirtualServer>,
}

/// What `lvs_flush_on_stop` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlushOnStop {
    /// Not set: leave the table as it is at exit.
    #[default]
    No,
    /// `lvs_flush_on_stop`: flush the whole IPVS table at exit.
    Full,
    /// `lvs_flush_on_stop VS`: delete the configured virtual servers only.
    VirtualServers,
}

/// `lvs_sync_daemon IFACE [inst VRRP] [id N] [maxlen N] [port N] [ttl N] [group ADDR]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncDaemonConfig {
    /// Multicast interface.
    pub interface: String,
    /// VRRP instance whose state the daemons follow (`inst`); without one,
    /// keepalived runs both the master and the backup daemon.
    pub vrrp_instance: Option<String>,
    /// Sync id (`id`, 0..=255); `None` means the VRRP instance's router id.
    pub sync_id: Option<u8>,
    /// Maximum message length (`maxlen`); `None` = kernel default.
    pub maxlen: Option<u16>,
    /// Multicast port (`port`); `None` = kernel default.
    pub port: Option<u16>,
    /// Multicast TTL (`ttl`); `None` = kernel default.
    pub ttl: Option<u8>,
    /// Multicast group (`group`); `None` = kernel default.
    pub group: Option<IpAddr>,
}

/// The `global_defs` settings lvsd acts on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Global {
    /// `lvs_flush`: flush the IPVS table at start-up.
    pub lvs_flush: bool,
    /// `lvs_flush_on_stop [VS]`.
    pub lvs_flush_on_stop: FlushOnStop,
    /// `lvs_timeouts tcp N tcpfin N udp N` (0 = leave that timeout alone).
    pub lvs_timeouts: Option<Timeouts>,
    /// `lvs_sync_daemon`.
    pub lvs_sync_daemon: Option<SyncDaemonConfig>,
    /// `script_user USER [GROUP]`: who runs scripts without their own user.
    pub script_user: Option<ScriptUser>,
    /// `enable_script_security`.
    pub enable_script_security: bool,
    /// `checker_log_all_failures`: log every failed check, not only the
    /// ones that change a checker's state.
    pub checker_log_all_failures: bool,
    /// The top-level `SSL` block (client certificate for SSL_GET).
    pub ssl: Option<SslConfig>,
    /// `lvsd_drain_timeout SECONDS` (lvsd's extension): how long a real
    /// server removed from the configuration by a reload is drained
    /// (weight 0) before it is deleted; `None` = lvsd's default (300 s),
    /// 0 = delete at once.
    pub lvsd_drain_timeout: Option<Duration>,
    /// `lvsd_active_active` (lvsd's extension): this director is one of
    /// several behind ECMP; see [`crate::active_active`].
    pub lvsd_active_active: bool,
}

/// The top-level `SSL { ca, certificate, key, password }` block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SslConfig {
    /// `ca`: CA file to verify servers with.
    pub ca: Option<String>,
    /// `certificate`: client certificate file.
    pub certificate: Option<String>,
    /// `key`: client key file.
    pub key: Option<String>,
    /// `password`: key password.
    pub password: Option<String>,
}

/// A user (and group) a script runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptUser {
    /// User name.
    pub user: String,
    /// Group name; `None` = the user's primary group.
    pub group: Option<String>,
}

/// A script with its arguments (`notify_up`, `quorum_up`, `misc_path`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The program and its arguments, split as keepalived splits them.
    pub argv: Vec<String>,
    /// Who runs it; `None` = [`Global::script_user`] (keepalived's default).
    pub user: Option<ScriptUser>,
}

/// How a virtual server was named in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VirtualServerName {
    /// `virtual_server IP PORT` (with the protocol of its `protocol` keyword).
    Addr(ServiceKey),
    /// `virtual_server fwmark N`.
    Fwmark(ServiceKey),
    /// `virtual_server group NAME`: one IPVS service per group entry.
    Group(String),
}

/// One `virtual_server` block, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct VirtualServer {
    /// Where the block starts.
    pub origin: Origin,
    /// How it was named.
    pub name: VirtualServerName,
    /// The IPVS services it stands for: one, or one per address/port/fwmark
    /// of its group (ranges and prefixes expanded), all with the same settings.
    pub services: Vec<Service>,
    /// Address family (`ip_family`, or from the addresses).
    pub family: AddressFamily,
    /// Real servers in configuration order (duplicates removed).
    pub real_servers: Vec<RealServer>,
    /// `sorry_server`, added when the quorum is lost.
    pub sorry_server: Option<SorryServer>,
    /// `quorum`: the minimum total weight of live real servers (default 1;
    /// lowered to the total weight when higher, as keepalived does).
    pub quorum: u32,
    /// `hysteresis` (default 0; below the quorum).
    pub hysteresis: u32,
    /// `quorum_up` script.
    pub quorum_up: Option<Script>,
    /// `quorum_down` script.
    pub quorum_down: Option<Script>,
    /// `omega`: run the quorum-down and real-server-down scripts at shutdown.
    pub omega: bool,
}

/// The sorry server of a virtual server.
#[derive(Debug, Clone, PartialEq)]
pub struct SorryServer {
    /// The IPVS destination (weight 1; forwarding from
    /// `sorry_server_lvs_method` or the virtual server's).
    pub destination: Destination,
    /// `sorry_server_inhibit`: keep it in the table at weight 0 while unused.
    pub inhibit: bool,
}

/// One `real_server` block, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct RealServer {
    /// Where the block starts.
    pub origin: Origin,
    /// The IPVS destination: address, port (0 for a direct-routing or
    /// tunnelled real server of a fwmark service; 0 in a group means "the
    /// port of each group entry", see [`RealServer::destination_for`]),
    /// forwarding method and tunnel settings, weight, thresholds.
    pub destination: Destination,
    /// `inhibit_on_failure`: on failure set the weight to 0 instead of
    /// removing the real server.
    pub inhibit_on_failure: bool,
    /// `alpha`: start as failed until the checkers have succeeded once.
    pub alpha: bool,
    /// `notify_up` script (boxed: most real servers have none, and a
    /// configuration may have tens of thousands of real servers).
    pub notify_up: Option<Box<Script>>,
    /// `notify_down` script.
    pub notify_down: Option<Box<Script>>,
    /// Health checkers; the server is alive while all of them succeed.
    pub checkers: Vec<Checker>,
}

impl RealServer {
    /// The destination to add to one of the virtual server's services: a
    /// real server without a port takes the service's port.
    pub fn destination_for(&self, key: &ServiceKey) -> Destination {
        let mut d = self.destination.clone();
        if d.port == 0 {
            if let ServiceKey::Addr { port, .. } = key {
                d.port = *port;
            }
        }
        d
    }
}

/// Timing and flap settings every launched checker has, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckTiming {
    /// Interval between checks (`delay_loop`, default 60 s).
    pub delay_loop: Duration,
    /// Random initial delay in `[0, warmup]` (default `delay_loop`).
    pub warmup: Duration,
    /// Failures tolerated before the checker is down (`retry`; default 1,
    /// 3 for DNS_CHECK, 0 for MISC_CHECK).
    pub retry: u32,
    /// Successes in a row that bring a failed checker back up: lvsd's
    /// extension keyword `lvsd_rise` (virtual server, real server or
    /// checker); 1, keepalived's behaviour, when not given.
    pub rise: u32,
    /// Wait before a retry (`delay_before_retry`; default 1 s, 3 s for
    /// HTTP_GET/SSL_GET, `delay_loop` for DNS_CHECK).
    pub delay_before_retry: Duration,
    /// `alpha`: the checker starts failed.
    pub alpha: bool,
    /// `log_all_failures`.
    pub log_all_failures: bool,
}

/// Where and how a network checker connects, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Target: `connect_ip`/`connect_port`, defaulting to the real server.
    pub target: SocketAddr,
    /// `bindto` source address.
    pub bind_addr: Option<IpAddr>,
    /// `bind_port` source port.
    pub bind_port: Option<u16>,
    /// `bind_if` interface (needed for IPv6 link-local targets).
    pub bind_if: Option<String>,
    /// `fwmark`: SO_MARK on the checker's socket.
    pub fwmark: Option<u32>,
    /// `connect_timeout` (default 5 s, inherited from the real and virtual server).
    pub connect_timeout: Duration,
}

/// One checker of a real server.
#[derive(Debug, Clone, PartialEq)]
pub struct Checker {
    /// Where its block starts.
    pub origin: Origin,
    /// What it checks, with its own settings.
    pub kind: CheckKind,
    /// Timing; `None` for FILE_CHECK, which is not launched periodically.
    pub timing: Option<CheckTiming>,
}

/// The kinds of checkers, with their resolved settings.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    /// `TCP_CHECK`: a connect.
    Tcp(Connection),
    /// `HTTP_GET`.
    Http(HttpCheck),
    /// `SSL_GET`: HTTP over TLS.
    Ssl(HttpCheck),
    /// `SMTP_CHECK` (each deprecated `host` block is a checker of its own).
    Smtp(SmtpCheck),
    /// `DNS_CHECK`.
    Dns(DnsCheck),
    /// `UDP_CHECK`.
    Udp(UdpCheck),
    /// `PING_CHECK`: ICMP echo.
    Ping(Connection),
    /// `MISC_CHECK`: a script.
    Misc(MiscCheck),
    /// `FILE_CHECK`: a tracked file's value.
    File(FileCheck),
}

impl CheckKind {
    /// keepalived's keyword for this kind.
    pub fn keyword(&self) -> &'static str {
        match self {
            CheckKind::Tcp(_) => "TCP_CHECK",
            CheckKind::Http(_) => "HTTP_GET",
            CheckKind::Ssl(_) => "SSL_GET",
            CheckKind::Smtp(_) => "SMTP_CHECK",
            CheckKind::Dns(_) => "DNS_CHECK",
            CheckKind::Udp(_) => "UDP_CHECK",
            CheckKind::Ping(_) => "PING_CHECK",
            CheckKind::Misc(_) => "MISC_CHECK",
            CheckKind::File(_) => "FILE_CHECK",
        }
    }
}

/// HTTP version of HTTP_GET/SSL_GET requests (`http_protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpProtocol {
    /// HTTP/1.0 (default).
    #[default]
    Http10,
    /// HTTP/1.0 with `Connection: close` (`1.0C`).
    Http10Close,
    /// HTTP/1.1 (with `Connection: close`).
    Http11,
}

/// `HTTP_GET` / `SSL_GET` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheck {
    /// Where to connect.
    pub connection: Connection,
    /// The URLs; each must pass.
    pub urls: Vec<Url>,
    /// `http_protocol`.
    pub http_protocol: HttpProtocol,
    /// `enable_sni` (SSL_GET): send the host name (the virtualhost) as SNI.
    pub enable_sni: bool,
    /// `fast_recovery`: on recovery check all URLs back to back.
    pub fast_recovery: bool,
}

/// A body regular expression of a URL (`regex`, PCRE2 syntax).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlRegex {
    /// The pattern.
    pub pattern: String,
    /// `regex_no_match`: pass when the pattern does not match.
    pub no_match: bool,
    /// `regex_options` (PCRE2 option names as written).
    pub options: Vec<String>,
    /// `regex_min_offset`.
    pub min_offset: usize,
    /// `regex_max_offset` (None = end of body).
    pub max_offset: Option<usize>,
}

/// One `url` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `path`.
    pub path: String,
    /// `digest`: MD5 of the body.
    pub digest: Option<[u8; 16]>,
    /// Accepted status codes as inclusive ranges, sorted and merged
    /// (default 200-299).
    pub status_codes: Vec<(u16, u16)>,
    /// Host header: the url's `virtualhost`, else the checker's, the real
    /// server's, then the virtual server's; `None` = the target address.
    pub virtualhost: Option<String>,
    /// `regex` and its options.
    pub regex: Option<UrlRegex>,
}

/// `SMTP_CHECK` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpCheck {
    /// Where to connect (defaults to the real server, its port included).
    pub connection: Connection,
    /// `helo_name` (default `smtpchecker.keepalived.org`).
    pub helo_name: String,
}

/// `DNS_CHECK` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsCheck {
    /// Where to send the query.
    pub connection: Connection,
    /// `type`: query type (A, NS, CNAME, SOA, MX, TXT, AAAA, RRSIG, DNSKEY;
    /// default SOA), upper case.
    pub query_type: String,
    /// `name` (default the root, written as an empty name).
    pub name: String,
}

/// `UDP_CHECK` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpCheck {
    /// Where to send the datagram.
    pub connection: Connection,
    /// `payload` bytes (empty = an empty datagram).
    pub payload: Vec<u8>,
    /// `require_reply`: a reply is needed, and it must start with these
    /// bytes where the mask is 0 (an `X` nibble in the configuration sets
    /// that nibble's mask bits, matching anything).
    pub require_reply: Option<ReplyPattern>,
    /// `min_reply_length` (default 0).
    pub min_reply_length: u16,
    /// `max_reply_length` (default 255).
    pub max_reply_length: u16,
}

/// Expected start of a UDP reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplyPattern {
    /// Expected bytes.
    pub data: Vec<u8>,
    /// Per byte, the bits that may differ.
    pub mask: Vec<u8>,
}

/// `MISC_CHECK` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiscCheck {
    /// `misc_path` with its arguments, and `user`.
    pub script: Script,
    /// `misc_timeout` (default `delay_loop`).
    pub timeout: Duration,
    /// `misc_dynamic`: exit codes 2..=255 mean "up with weight code-2".
    pub dynamic: bool,
}

/// `FILE_CHECK` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheck {
    /// Name of the top-level `track_file` block.
    pub name: String,
    /// The file it watches.
    pub path: String,
    /// Multiplier of the file's value (`weight`, else the track_file's,
    /// default 1); 0 means "non-zero value = down".
    pub weight: i32,
    /// `reverse`: the value is subtracted.
    pub reverse: bool,
}

/// The transport protocol keepalived names a virtual server with.
pub(crate) fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
        Protocol::Sctp => "SCTP",
        Protocol::Other(_) => "?",
    }
}
