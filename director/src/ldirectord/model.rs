//! The resolved model of an `ldirectord.cf`: every default applied and every
//! per-virtual setting merged with the global one, as ldirectord 4.12 does
//! when it sets a configuration up.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipvs::{AddressFamily, Destination, Service};

/// A whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The global directives.
    pub global: Global,
    /// The `virtual=` / `virtual6=` blocks in file order.
    pub virtuals: Vec<Virtual>,
}

/// Where ldirectord logs (`logfile`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    /// A file (a value starting with `/`); default `/var/log/ldirectord.log`.
    File(PathBuf),
    /// A syslog facility (any other value), e.g. `local0`.
    Syslog(String),
}

/// The daemon states `emailalertstatus` selects (ldirectord's bit set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AlertStatus {
    /// While starting.
    pub starting: bool,
    /// While running.
    pub running: bool,
    /// While stopping.
    pub stopping: bool,
    /// While reloading.
    pub reloading: bool,
}

impl AlertStatus {
    /// `all`, the default.
    pub const ALL: AlertStatus = AlertStatus {
        starting: true,
        running: true,
        stopping: true,
        reloading: true,
    };
    /// `none`.
    pub const NONE: AlertStatus = AlertStatus {
        starting: false,
        running: false,
        stopping: false,
        reloading: false,
    };
}

/// The global directives, with ldirectord's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Global {
    /// `checktimeout` as written (`None`: unset; see [`Virtual::check_timeout`]).
    pub check_timeout: Option<u32>,
    /// `negotiatetimeout` as written (`None`: unset).
    pub negotiate_timeout: Option<u32>,
    /// `checkinterval` in seconds (default 10).
    pub check_interval: u32,
    /// `checkcount` (deprecated; default 1).
    pub check_count: u32,
    /// `failurecount` (default 1).
    pub failure_count: u32,
    /// `autoreload` (default no).
    pub autoreload: bool,
    /// `callback "path"`.
    pub callback: Option<String>,
    /// `fallback` for IPv4 virtual services (port `None`: the virtual's port).
    pub fallback: Option<Fallback>,
    /// `fallback6` for IPv6 virtual services.
    pub fallback6: Option<Fallback>,
    /// `fallbackcommand`.
    pub fallback_command: Option<String>,
    /// `quiescent` (ldirectord 4.12's code defaults to **no**, whatever its
    /// manual says).
    pub quiescent: bool,
    /// `readdquiescent` (4.12's code default: no).
    pub readd_quiescent: bool,
    /// `cleanstop` (default yes).
    pub clean_stop: bool,
    /// `logfile`.
    pub log: LogTarget,
    /// `maintenancedir`.
    pub maintenance_dir: Option<PathBuf>,
    /// `fork` (default no).
    pub fork: bool,
    /// `supervised` (default no).
    pub supervised: bool,
    /// `emailalert` (addresses as written, comma separated).
    pub email_alert: Option<String>,
    /// `emailalertfreq` in seconds (default 0: no repeat).
    pub email_alert_freq: u32,
    /// `emailalertstatus` (default all).
    pub email_alert_status: AlertStatus,
    /// `emailalertfrom`.
    pub email_alert_from: Option<String>,
    /// `smtp` server.
    pub smtp: Option<String>,
    /// `execute` configurations: one more ldirectord instance each.
    pub execute: Vec<String>,
}

impl Default for Global {
    fn default() -> Self {
        Global {
            check_timeout: None,
            negotiate_timeout: None,
            check_interval: 10,
            check_count: 1,
            failure_count: 1,
            autoreload: false,
            callback: None,
            fallback: None,
            fallback6: None,
            fallback_command: None,
            quiescent: false,
            readd_quiescent: false,
            clean_stop: true,
            log: LogTarget::File(PathBuf::from("/var/log/ldirectord.log")),
            maintenance_dir: None,
            fork: false,
            supervised: false,
            email_alert: None,
            email_alert_freq: 0,
            email_alert_status: AlertStatus::ALL,
            email_alert_from: None,
            smtp: None,
            execute: Vec::new(),
        }
    }
}

/// A fallback server: added when every real server is down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// Its address.
    pub addr: IpAddr,
    /// Its port (`None` in a global fallback written without one: each
    /// virtual service then uses its own port).
    pub port: Option<u16>,
    /// Forwarding method (default gate).
    pub forward: Forward,
}

/// ldirectord's forwarding methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Forward {
    /// `gate`: direct routing (`-g`).
    Gate,
    /// `masq`: NAT (`-m`).
    Masq,
    /// `ipip`: tunnelling (`-i`).
    Ipip,
}

impl Forward {
    /// The library's forwarding method.
    pub fn method(self) -> ipvs::ForwardMethod {
        match self {
            Forward::Gate => ipvs::ForwardMethod::DirectRoute,
            Forward::Masq => ipvs::ForwardMethod::Masquerade,
            Forward::Ipip => ipvs::ForwardMethod::Tunnel,
        }
    }

    /// ldirectord's word.
    pub fn name(self) -> &'static str {
        match self {
            Forward::Gate => "gate",
            Forward::Masq => "masq",
            Forward::Ipip => "ipip",
        }
    }
}

/// `protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VirtualProtocol {
    /// TCP (the default for an address and port other than 53).
    Tcp,
    /// UDP (the default for port 53).
    Udp,
    /// A firewall-mark service.
    Fwm,
}

/// `checktype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckType {
    /// `connect`: a TCP connection (a ping for UDP services).
    Connect,
    /// `negotiate` (the default): the `service` protocol.
    Negotiate,
    /// `ping`: ICMP echo.
    Ping,
    /// `external`: `checkcommand VIP VPORT RIP RPORT`, exit 0 = up.
    External,
    /// `off`: no check; neither real nor fallback servers are ever activated.
    Off,
    /// `on`: no check; real servers are always active.
    On,
    /// A number N (ldirectord's "combined"): N connect checks, then one
    /// negotiate check.
    Combined(u32),
}

/// `service`: the protocol of a negotiate check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceType {
    /// `dns`: a DNS query.
    Dns,
    /// `ftp`: log in, optionally fetch a file.
    Ftp,
    /// `http`: an HTTP request.
    Http,
    /// `https`: an HTTP request over TLS.
    Https,
    /// `http_proxy`: an absolute URL requested through the real server.
    HttpProxy,
    /// `imap`: IMAP banner and login.
    Imap,
    /// `imaps`: IMAP over TLS.
    Imaps,
    /// `ldap`: bind and search.
    Ldap,
    /// `ldaps`: LDAP over TLS.
    Ldaps,
    /// `mysql`: a query.
    Mysql,
    /// `nntp`: NNTP banner.
    Nntp,
    /// `none`: no check (the server is up).
    None,
    /// `oracle`: a query.
    Oracle,
    /// `pgsql`: a query.
    Pgsql,
    /// `pop`: POP3 banner and login.
    Pop,
    /// `pops`: POP3 over TLS.
    Pops,
    /// `radius`: an Access-Request.
    Radius,
    /// `simpletcp`: send the request, match the reply.
    SimpleTcp,
    /// `sip`: an OPTIONS request.
    Sip,
    /// `smtp`: banner and HELO.
    Smtp,
    /// `submission`: as smtp (port 587).
    Submission,
}

impl ServiceType {
    /// Every service, in ldirectord's spelling.
    pub const ALL: [(ServiceType, &'static str); 21] = [
        (ServiceType::Dns, "dns"),
        (ServiceType::Ftp, "ftp"),
        (ServiceType::Http, "http"),
        (ServiceType::Https, "https"),
        (ServiceType::HttpProxy, "http_proxy"),
        (ServiceType::Imap, "imap"),
        (ServiceType::Imaps, "imaps"),
        (ServiceType::Ldap, "ldap"),
        (ServiceType::Ldaps, "ldaps"),
        (ServiceType::Mysql, "mysql"),
        (ServiceType::Nntp, "nntp"),
        (ServiceType::None, "none"),
        (ServiceType::Oracle, "oracle"),
        (ServiceType::Pgsql, "pgsql"),
        (ServiceType::Pop, "pop"),
        (ServiceType::Pops, "pops"),
        (ServiceType::Radius, "radius"),
        (ServiceType::SimpleTcp, "simpletcp"),
        (ServiceType::Sip, "sip"),
        (ServiceType::Smtp, "smtp"),
        (ServiceType::Submission, "submission"),
    ];

    /// The service of a name.
    pub fn from_name(name: &str) -> Option<ServiceType> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(s, _)| *s)
    }

    /// ldirectord's name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(s, _)| *s == self)
            .map(|(_, n)| *n)
            .unwrap_or("none")
    }

    /// The service ldirectord infers from a virtual port.
    pub fn from_port(port: u16) -> ServiceType {
        match port {
            21 => ServiceType::Ftp,
            25 => ServiceType::Smtp,
            53 => ServiceType::Dns,
            80 => ServiceType::Http,
            110 => ServiceType::Pop,
            119 => ServiceType::Nntp,
            143 => ServiceType::Imap,
            389 => ServiceType::Ldap,
            443 => ServiceType::Https,
            587 => ServiceType::Submission,
            636 => ServiceType::Ldaps,
            993 => ServiceType::Imaps,
            995 => ServiceType::Pops,
            1521 => ServiceType::Oracle,
            1812 => ServiceType::Radius,
            3128 => ServiceType::HttpProxy,
            3306 => ServiceType::Mysql,
            5060 => ServiceType::Sip,
            5432 => ServiceType::Pgsql,
            _ => ServiceType::None,
        }
    }

    /// The well-known port of the service (the check port of a real server
    /// written without one), as ldirectord's table has it.
    pub fn port(self) -> Option<u16> {
        Some(match self {
            ServiceType::Ftp => 21,
            ServiceType::Smtp => 25,
            ServiceType::Dns => 53,
            ServiceType::Http => 80,
            ServiceType::Pop => 110,
            ServiceType::Nntp => 119,
            ServiceType::Imap => 143,
            ServiceType::Ldap => 389,
            ServiceType::Https => 443,
            ServiceType::Submission => 587,
            ServiceType::Ldaps => 636,
            ServiceType::Imaps => 993,
            ServiceType::Pops => 995,
            ServiceType::Oracle => 1521,
            ServiceType::Radius => 1812,
            ServiceType::HttpProxy => 3128,
            ServiceType::Mysql => 3306,
            ServiceType::Sip => 5060,
            ServiceType::Pgsql => 5432,
            ServiceType::None | ServiceType::SimpleTcp => return None,
        })
    }
}

/// `httpmethod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    /// GET (the default).
    Get,
    /// HEAD.
    Head,
}

/// One virtual service, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Virtual {
    /// Line of its `virtual=` / `virtual6=`.
    pub line: u32,
    /// Its family (`virtual6` → IPv6).
    pub family: AddressFamily,
    /// `protocol`.
    pub protocol: VirtualProtocol,
    /// The IPVS service: key, `scheduler` (default wrr), `persistent`,
    /// `netmask` (with `persistent` only, as ldirectord passes `-M`), `ops`
    /// (UDP only) and `schedflags`.
    pub service: Service,
    /// `schedflags` as written (passed to `ipvsadm -b`).
    pub sched_flags: Option<String>,
    /// The real servers, ranges expanded, in file order.
    pub reals: Vec<Real>,
    /// `checktype`.
    pub check_type: CheckType,
    /// `service`, given or inferred from the port (`none` for a fwmark).
    pub service_type: ServiceType,
    /// `checkport`.
    pub check_port: Option<u16>,
    /// `checkcommand` (default `/bin/true`).
    pub check_command: String,
    /// `request` (default `/`; a leading `/` is added as ldirectord does).
    pub request: String,
    /// `receive` (`None`: unset).
    pub receive: Option<String>,
    /// `httpmethod`.
    pub http_method: HttpMethod,
    /// `virtualhost`.
    pub virtual_host: Option<String>,
    /// `login` (with ldirectord's defaults for ftp and sip applied).
    pub login: String,
    /// `passwd` (with ldirectord's default for ftp applied).
    pub passwd: String,
    /// `database`.
    pub database: String,
    /// `secret` (RADIUS).
    pub secret: String,
    /// Timeout of connect, ping and external checks: the virtual's
    /// `checktimeout`, else its `negotiatetimeout`, else the global ones, else 5 s.
    pub check_timeout: Duration,
    /// Timeout of negotiate checks: the virtual's `negotiatetimeout`, else its
    /// `checktimeout`, else the global ones, else 30 s.
    pub negotiate_timeout: Duration,
    /// Seconds between checks: the virtual's `checkinterval` with `fork=yes`,
    /// else the global one.
    pub check_interval: u32,
    /// `checkcount` (deprecated; ping only).
    pub check_count: u32,
    /// `failurecount`: consecutive failures before a real server is down.
    pub failure_count: u32,
    /// The fallback server (the virtual's, else the global one of its family
    /// with the virtual's port when it has none).
    pub fallback: Option<Fallback>,
    /// `fallbackcommand` (the virtual's, else the global one).
    pub fallback_command: Option<String>,
    /// `quiescent` (the virtual's, else the global one).
    pub quiescent: bool,
    /// `cleanstop` (the virtual's, else the global one).
    pub clean_stop: bool,
    /// `emailalert` (the virtual's, else the global one).
    pub email_alert: Option<String>,
    /// `emailalertfreq`.
    pub email_alert_freq: u32,
    /// `emailalertstatus`.
    pub email_alert_status: AlertStatus,
    /// `smtp`.
    pub smtp: Option<String>,
    /// `monitorfile`.
    pub monitor_file: Option<PathBuf>,
    /// `servicename`.
    pub service_name: Option<String>,
    /// `comment`.
    pub comment: Option<String>,
}

impl Virtual {
    /// The virtual address (`None` for a fwmark service).
    pub fn addr(&self) -> Option<SocketAddr> {
        match self.service.key {
            ipvs::ServiceKey::Addr { addr, port, .. } => Some(SocketAddr::new(addr, port)),
            ipvs::ServiceKey::Fwmark { .. } => None,
        }
    }
}

/// One real server of a virtual service.
#[derive(Debug, Clone, PartialEq)]
pub struct Real {
    /// Line of its `real=` / `real6=`.
    pub line: u32,
    /// The port written (0 when none was).
    pub configured_port: u16,
    /// `gate`, `masq` or `ipip`.
    pub forward: Forward,
    /// The IPVS destination as ipvsadm programs it: weight (default 1),
    /// `l:`/`u:` thresholds, and the port forced to the virtual port for
    /// gate and ipip on a non-fwmark service (ipvsadm does that).
    pub destination: Destination,
    /// The real server's own `"request", "receive"` pair, as ldirectord
    /// keeps it.
    pub own: OwnRequest,
    /// What ldirectord checks for this real server.
    pub check: Check,
}

/// A real server's own `"request", "receive"` pair. ldirectord 4.12 keeps
/// the receive string only when the request does not start with `/`; with
/// both, they replace the virtual's request and receive (and the request
/// may be an absolute URL); with the request alone, the HTTP checks still
/// use the virtual's request and receive, the other checks the own request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnRequest {
    /// The request, `/` added in front when missing.
    pub request: Option<String>,
    /// The receive regex.
    pub receive: Option<String>,
}

/// A real server's check, as ldirectord means it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// `checktype=off`: the server is never activated.
    Off,
    /// `checktype=on`: the server is always active.
    On,
    /// A TCP connection to the target.
    Connect {
        /// Address and check port.
        target: SocketAddr,
        /// `checktimeout`.
        timeout: Duration,
    },
    /// An ICMP echo (checktype ping, or connect on a UDP service).
    Ping {
        /// The real server's address.
        target: IpAddr,
        /// `checktimeout`.
        timeout: Duration,
        /// `checkcount`: attempts before a failure.
        count: u32,
    },
    /// `checktype=external`: a program run without a shell as
    /// `checkcommand VIP|FWMARK VPORT RIP RPORT`; exit status 0 means up.
    External {
        /// The command and its four arguments.
        argv: Vec<String>,
        /// `checktimeout`.
        timeout: Duration,
    },
    /// `checktype=negotiate`.
    Negotiate(Negotiate),
    /// `checktype=N`: `connects` TCP connect checks, then one negotiate check.
    Combined {
        /// N.
        connects: u32,
        /// The connect check's target and timeout (`checktimeout`).
        target: SocketAddr,
        /// `checktimeout`.
        timeout: Duration,
        /// The negotiate check.
        negotiate: Negotiate,
    },
}

/// A negotiate check: the service's protocol spoken to the check port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiate {
    /// Real server address and check port (`checkport`, else the real
    /// server's port, else the service's well-known port).
    pub target: SocketAddr,
    /// `negotiatetimeout`, bounding the whole exchange.
    pub timeout: Duration,
    /// What is said and expected.
    pub probe: Probe,
}

/// The protocol exchange of a negotiate check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// `service=none`: no check, the server is up.
    None,
    /// http, https, http_proxy: a request whose status must be 2xx and whose
    /// body must match `receive` (a regex) when set.
    Http {
        /// The URL requested (`http://RIP:PORT/request`, the request itself when
        /// it is an absolute URL of the scheme, or through the proxy for http_proxy).
        url: String,
        /// TLS (https); certificates are not verified.
        tls: bool,
        /// Whether the real server is an HTTP proxy asked for `url`.
        proxy: bool,
        /// `httpmethod`.
        method: HttpMethod,
        /// The Host header: `virtualhost`, else the URL's host.
        virtual_host: Option<String>,
        /// `receive`.
        receive: Option<String>,
    },
    /// dns: a query for `name` (an A record, or a PTR when it is an address)
    /// over UDP then TCP; an answer must match `receive`.
    Dns {
        /// The name or address looked up (`request` without its leading `/`).
        name: String,
        /// `receive`: a regex matched against the answers' addresses or names.
        receive: Option<String>,
    },
    /// smtp, submission: banner then HELO.
    Smtp,
    /// simpletcp: send `request` (without its leading `/`, `\n` turned into
    /// newlines), half-close, and match each line of the reply against `receive`.
    SimpleTcp {
        /// The bytes sent.
        send: String,
        /// The regex a line of the reply must match.
        receive: String,
    },
    /// pop, pops, imap, imaps, ftp, nntp, ldap, ldaps, sip: a protocol dialogue
    /// judged on the server's banner and replies (see [`Banner`]).
    Banner(Banner),
    /// mysql, pgsql, oracle: log in to `database` and run the `request` query;
    /// one row or more means up.
    Sql {
        /// The service.
        service: ServiceType,
        /// `login`.
        login: String,
        /// `passwd`.
        passwd: String,
        /// `database`.
        database: String,
        /// The query (`request` without its leading `/`).
        query: String,
    },
    /// radius: an Access-Request with `login`/`passwd` and `secret`.
    Radius {
        /// `login` (User-Name).
        login: String,
        /// `passwd` (User-Password).
        passwd: String,
        /// `secret`.
        secret: String,
        /// `receive`: the expected reply code, when set.
        receive: Option<String>,
    },
}

/// A banner/expect style check (pop, pops, imap, imaps, ftp, nntp, ldap,
/// ldaps, sip).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    /// The service.
    pub service: ServiceType,
    /// TLS from the start (pops, imaps, ldaps).
    pub tls: bool,
    /// `login` (empty: no authentication, except ftp's anonymous default).
    pub login: String,
    /// `passwd`.
    pub passwd: String,
    /// The request: ftp's file to fetch, ldap's base DN, unused otherwise
    /// (without its leading `/`).
    pub request: String,
    /// `receive`: a regex the fetched file (ftp) or the found entry's DN (ldap)
    /// must match, when set; sip ignores it.
    pub receive: Option<String>,
}
