//! argv → typed [`Request`], with every check ipvsadm 1.31 makes, in the
//! order it makes them (so the same first error wins).
//!
//! Parsing mirrors ipvsadm's single pass: each option is acted on as popt
//! returns it, into a mutable "command entry" (service, real server,
//! timeouts, daemon), which is why `-M` before `-t`, `-r` before `-t` and
//! `-6` before `-f` behave as they do. The result is then validated against
//! the legality table and turned into library types.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::parse::{self, string_to_number};
use super::popt::{Arg, Popt};
use super::restore::{word_at, HIGHS, ONES};
use super::sys::{self, Resolver, SystemResolver};
use super::table::{self, limits, msg, ArgKind, Column, Command, Legality, OptId};
use ipvs::{
    AddressFamily, Change, DaemonState, Destination, ForwardMethod, Netmask, Protocol, Service,
    ServiceFlags, ServiceKey, SyncDaemon, Timeouts, TunnelChecksum, TunnelType,
};

// The kernel's numbers, each defined once, in the library.
const AF_INET: u16 = AddressFamily::Inet.to_raw();
const AF_INET6: u16 = AddressFamily::Inet6.to_raw();
const IPPROTO_TCP: u16 = Protocol::Tcp.number();
const IPPROTO_UDP: u16 = Protocol::Udp.number();
const IPPROTO_SCTP: u16 = Protocol::Sctp.number();
const FWD_MASQ: u32 = ForwardMethod::Masquerade.to_raw();
const FWD_TUNNEL: u32 = ForwardMethod::Tunnel.to_raw();
const FWD_DROUTE: u32 = ForwardMethod::DirectRoute.to_raw();

/// A command-line error: the text for stderr and the exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// The message, without the final newline: bytes, since it may repeat
    /// what was typed, byte for byte.
    pub message: Vec<u8>,
    /// The process exit status.
    pub exit_code: i32,
    /// Whether `-R` goes on with the next line after printing it (popt
    /// errors after the first option); otherwise the whole process ends.
    pub continues: bool,
    /// An argument that popt's `!#:+` made too large to build, which the
    /// message repeats: the full message is `message`, this argument, then
    /// [`Echo::tail`]. `None` for every other message.
    pub echo: Option<Echo>,
}

/// The part of a message that repeats an argument too large to build (see
/// [`CliError::echo`]): `text` with every `!#:+` replaced by `insert`,
/// then `tail`. It holds the argv words, not the expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo {
    /// The argument as typed.
    pub text: Vec<u8>,
    /// The word that replaces each `!#:+`.
    pub insert: Vec<u8>,
    /// The rest of the message.
    pub tail: Vec<u8>,
}

impl Echo {
    /// Writes the argument and the rest of the message, piece by piece.
    pub fn write_to(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        let arg = Arg::Expanded {
            text: &self.text,
            insert: &self.insert,
        };
        arg.write_to(w)?;
        w.write_all(&self.tail)
    }
}

/// Arguments longer than this (popt's `!#:+` expansions) are not built in
/// memory: numbers are read from them a byte at a time and messages repeat
/// them piece by piece.
const BUILD_LIMIT: usize = 64 * 1024;

/// The error `message(arg)`, for an argument that may be too large to
/// build.
fn fail_echo(message: fn(&[u8]) -> Vec<u8>, arg: Option<Arg<'_>>) -> CliError {
    let arg = arg.unwrap_or(Arg::Plain(b""));
    match arg {
        Arg::Expanded { text, insert } if arg.len() > BUILD_LIMIT => {
            // The message around the argument (messages have no NUL).
            let whole = message(b"\0");
            let at = whole.iter().position(|&b| b == 0).unwrap_or(whole.len());
            let mut e = CliError::fail(&whole[..at]);
            e.echo = Some(Echo {
                text: text.to_vec(),
                insert: insert.to_vec(),
                tail: whole[(at + 1).min(whole.len())..].to_vec(),
            });
            e
        }
        _ => CliError::fail(message(&arg.bytes())),
    }
}

impl CliError {
    /// An error that ends the process (ipvsadm's `fail()`), exit 2.
    pub fn fail(message: impl Into<Vec<u8>>) -> Self {
        CliError {
            message: message.into(),
            exit_code: 2,
            continues: false,
            echo: None,
        }
    }

    /// ``Try `prog -h' ...``, exit 255, ends the process.
    pub fn try_help(program: &[u8]) -> Self {
        CliError {
            message: msg::try_help(program),
            exit_code: 255,
            continues: false,
            echo: None,
        }
    }

    fn popt(message: Vec<u8>) -> Self {
        CliError {
            message,
            exit_code: 255,
            continues: true,
            echo: None,
        }
    }
}

/// Output options of `-L` and `-S` (ipvsadm's `FMT_*` flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Format {
    /// `-n`: no name lookups.
    pub numeric: bool,
    /// `--stats`.
    pub stats: bool,
    /// `--rate`.
    pub rate: bool,
    /// `--thresholds`.
    pub thresholds: bool,
    /// `--persistent-conn`.
    pub persistent_conn: bool,
    /// `--tun-info`.
    pub tun_info: bool,
    /// `--nosort`.
    pub nosort: bool,
    /// `--exact`.
    pub exact: bool,
    /// `-S`: rules instead of a listing.
    pub rule: bool,
}

/// What `-L` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListTarget {
    /// Every service (with the version header).
    All,
    /// One service (`-L -t ...`).
    Service(ServiceKey),
    /// The connection table (`-c`).
    Connections,
    /// `--timeout`.
    Timeouts,
    /// `--daemon`.
    Daemons,
}

/// A fully parsed and validated invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `-h`: usage on stdout.
    Help,
    /// `-v`: version on stdout.
    Version,
    /// `-L` (and no arguments at all).
    List {
        /// What to list.
        target: ListTarget,
        /// How.
        format: Format,
    },
    /// `-S`.
    Save {
        /// How (only `numeric` can be set).
        format: Format,
    },
    /// `-R`.
    Restore,
    /// `-C`.
    Flush,
    /// `-A`.
    AddService(Service),
    /// `-E`.
    EditService(Service),
    /// `-D`.
    DeleteService(ServiceKey),
    /// `-Z` (`None`: every service).
    Zero(Option<ServiceKey>),
    /// `-a`.
    AddServer(ServiceKey, Destination),
    /// `-e`.
    EditServer(ServiceKey, Destination),
    /// `-d`.
    DeleteServer(ServiceKey, Destination),
    /// `--set`.
    SetTimeouts(Timeouts),
    /// `--start-daemon`.
    StartDaemon(SyncDaemon),
    /// `--stop-daemon`.
    StopDaemon(SyncDaemon),
}

/// How to parse: name lookups and popt's environment.
pub struct Parser<'r> {
    /// Host and service name lookups.
    pub resolver: &'r dyn Resolver,
    /// `POSIXLY_CORRECT` (or `POSIX_ME_HARDER`) is set.
    pub posix_me_harder: bool,
}

impl Default for Parser<'static> {
    fn default() -> Self {
        Parser {
            resolver: &SystemResolver,
            posix_me_harder: std::env::var_os("POSIXLY_CORRECT").is_some()
                || std::env::var_os("POSIX_ME_HARDER").is_some(),
        }
    }
}

/// Parses `argv` (with `argv[0]`) using the system resolver and the
/// environment.
pub fn parse<S: AsRef<[u8]>>(argv: &[S]) -> Result<Request, CliError> {
    Parser::default().parse(argv)
}

/// The service part of ipvsadm's command entry.
#[derive(Debug, Clone, Default)]
struct Svc {
    af: u16,
    protocol: u16,
    addr: [u8; 16],
    port: u16,
    fwmark: u32,
    sched_name: Vec<u8>,
    flags: u32,
    timeout: u32,
    /// IPv4: the mask as a number (255.255.255.0 = 0xffffff00); IPv6: the
    /// prefix length.
    netmask: u32,
    pe_name: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
struct Dest {
    af: u16,
    addr: [u8; 16],
    port: u16,
    conn_flags: u32,
    weight: i32,
    u_threshold: u32,
    l_threshold: u32,
    tun_type: u8,
    tun_port: u16,
    tun_flags: u16,
}

#[derive(Debug, Clone, Default)]
struct Daemon {
    state: u32,
    mcast_ifn: Vec<u8>,
    syncid: u32,
    sync_maxlen: u16,
    mcast_group: Option<IpAddr>,
    mcast_port: u16,
    mcast_ttl: u8,
}

#[derive(Debug, Default)]
struct Entry {
    cmd: Option<Command>,
    svc: Svc,
    dest: Dest,
    timeouts: Timeouts,
    daemon: Daemon,
    options: u64,
    format: Format,
    sched_flags_arg: Vec<u8>,
}

fn ip_to_bytes(a: IpAddr) -> (u16, [u8; 16]) {
    let mut b = [0u8; 16];
    match a {
        IpAddr::V4(v4) => {
            b[..4].copy_from_slice(&v4.octets());
            (AF_INET, b)
        }
        IpAddr::V6(v6) => (AF_INET6, v6.octets()),
    }
}

fn bytes_to_ip(af: u16, b: &[u8; 16]) -> IpAddr {
    if af == AF_INET6 {
        IpAddr::V6(Ipv6Addr::from(*b))
    } else {
        IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    }
}

/// Text the C tool passes to the kernel as bytes, for the library's
/// `String` fields (scheduler, persistence engine, interface names). Text
/// in UTF-8 (every name the kernel knows) is kept as it is; in other text
/// each byte that is not part of UTF-8 becomes `?`, so that the length the
/// kernel checks stays the C tool's. The library's model holds these
/// names as `String`: such a name cannot name a scheduler or engine the
/// kernel has, but an interface with a non-UTF-8 name cannot be reached
/// until the model holds bytes.
fn kernel_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len());
            for chunk in bytes.utf8_chunks() {
                out.push_str(chunk.valid());
                out.extend(std::iter::repeat_n('?', chunk.invalid().len()));
            }
            out
        }
    }
}

impl Entry {
    fn new() -> Self {
        let mut e = Entry::default();
        e.dest.weight = 1;
        e.dest.conn_flags = FWD_DROUTE;
        e.svc.netmask = 0xffff_ffff;
        e
    }

    fn set_option(&mut self, column: Column) -> Result<(), CliError> {
        if self.options & column.bit() != 0 {
            return Err(CliError::fail(msg::multiple_options(column.name())));
        }
        self.options |= column.bit();
        Ok(())
    }

    fn has(&self, column: Column) -> bool {
        self.options & column.bit() != 0
    }
}

impl Parser<'_> {
    /// Parses one invocation (`argv[0]` included).
    pub fn parse<S: AsRef<[u8]>>(&self, argv: &[S]) -> Result<Request, CliError> {
        let program: &[u8] = argv.first().map(AsRef::as_ref).unwrap_or(b"ipvsadm");
        if argv.len() <= 1 {
            return Ok(Request::List {
                target: ListTarget::All,
                format: Format::default(),
            });
        }
        let mut e = Entry::new();
        let mut popt = Popt::new(argv, self.posix_me_harder);

        // The first option must be a command.
        let first = match popt.next_opt() {
            Ok(Some(f)) => f,
            _ => return Err(CliError::try_help(program)),
        };
        let cmd = match first.spec.id {
            OptId::AddService => Command::AddService,
            OptId::EditService => Command::EditService,
            OptId::DeleteService => Command::DeleteService,
            OptId::AddServer => Command::AddServer,
            OptId::EditServer => Command::EditServer,
            OptId::DeleteServer => Command::DeleteServer,
            OptId::Clear => Command::Flush,
            OptId::List | OptId::ListLower => Command::List,
            OptId::Zero => Command::Zero,
            OptId::Set => Command::Set,
            OptId::Restore => Command::Restore,
            OptId::Save => Command::Save,
            OptId::StartDaemon | OptId::StopDaemon => {
                let start = first.spec.id == OptId::StartDaemon;
                // Compared as strcmp would, without building a long one.
                e.daemon.state = match first.arg.map(|a| a.prefix(7)).as_deref() {
                    Some(b"master") => 1,
                    Some(b"backup") => 2,
                    _ if start => return Err(CliError::fail(msg::ILLEGAL_START_DAEMON)),
                    _ => return Err(CliError::fail(msg::ILLEGAL_STOP_DAEMON)),
                };
                if start {
                    Command::StartDaemon
                } else {
                    Command::StopDaemon
                }
            }
            OptId::Help => return Ok(Request::Help),
            OptId::Version => return Ok(Request::Version),
            _ => return Err(CliError::try_help(program)),
        };
        e.cmd = Some(cmd);

        // The modifiers, acted on one at a time.
        loop {
            let found = match popt.next_opt() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(err) => {
                    return Err(CliError::popt(msg::popt_error(
                        popt.bad_option(),
                        err.text(),
                    )))
                }
            };
            self.apply_option(&mut e, found.spec.id, found.arg, popt.bad_option())?;
        }

        // Leftover words.
        if cmd == Command::Set {
            let a = popt.next_arg();
            let b = popt.next_arg();
            let c = popt.next_arg();
            match (a, b, c) {
                (Some(a), Some(b), Some(c)) => {
                    e.timeouts.tcp = set_timeout(a)?;
                    e.timeouts.tcp_fin = set_timeout(b)?;
                    e.timeouts.udp = set_timeout(c)?;
                }
                _ => return Err(CliError::fail(msg::SET_NEEDS_3)),
            }
        }
        if let Some(extra) = popt.next_arg() {
            return Err(CliError::fail(msg::unexpected_argument(extra)));
        }

        conclude(e, cmd)
    }

    /// The quick path of `-R` for the lines `ipvsadm-save` writes (and
    /// most written by hand): a command among `-A -E -D -a -e -d`, then
    /// options written as separate words of the form `-X`, all separated by
    /// single spaces, printable ASCII (the rules of [`quick_change`]). Returns what
    /// [`Parser::parse`] returns for the line's words (errors included), or
    /// `None` to leave the line to it.
    ///
    /// The words are read as popt would read them (a mandatory value is the
    /// next word whatever it is, `-p` takes the next word unless it starts
    /// with `-`) and then go through the same option handling and checks as
    /// in [`Parser::parse`]; whatever popt would treat differently (clusters,
    /// `=`, long options, leftover words) is left to the general path.
    pub fn parse_plain_line(&self, raw: &[u8]) -> Option<Result<Request, CliError>> {
        let mut words = QuickWords::new(raw);
        // The whole line must be plain before any of it is acted on: an
        // error reported for an early option is only the general path's
        // answer if the reader splits the line the same way.
        if !words.clone().all_plain() {
            return None;
        }
        let cmd = match words.next()? {
            b"-A" => Command::AddService,
            b"-E" => Command::EditService,
            b"-D" => Command::DeleteService,
            b"-a" => Command::AddServer,
            b"-e" => Command::EditServer,
            b"-d" => Command::DeleteServer,
            _ => return None,
        };
        let mut e = Entry::new();
        e.cmd = Some(cmd);
        while let Some(word) = words.next() {
            let spec = match word {
                [b'-', c] => table::find_short(*c)?,
                _ => return None,
            };
            // A command (or -6, --sort): left to the general path.
            spec.column?;
            let arg = match spec.arg {
                ArgKind::None => None,
                ArgKind::Required => Some(words.next()?),
                ArgKind::Optional => words.next_if(|v| v.first() != Some(&b'-')),
            };
            // popt blames the last word it took.
            let last_word = arg.unwrap_or(word);
            if let Err(err) = self.apply_option(&mut e, spec.id, arg.map(Arg::Plain), last_word) {
                return Some(Err(err));
            }
        }
        Some(conclude(e, cmd))
    }

    fn apply_option(
        &self,
        e: &mut Entry,
        id: OptId,
        arg: Option<Arg<'_>>,
        bad_option: &[u8],
    ) -> Result<(), CliError> {
        // What the C tool copies into a fixed-size field is cut, numbers
        // are read a byte at a time, and names are compared by their
        // prefix, without building the rest of a `!#:+` expansion; only
        // addresses and host names read the whole argument.
        let cut = |max: usize| arg.map(|a| a.prefix(max)).unwrap_or_default();
        let len = arg.map_or(0, |a| a.len());
        let number = |min: i64, max: i64| {
            parse::string_to_number_pieces(arg.into_iter().flat_map(|a| a.pieces()), len, min, max)
        };
        let text = || parse::Pieces::new(arg.into_iter().flat_map(|a| a.pieces()));
        match id {
            OptId::TcpService | OptId::UdpService | OptId::SctpService => {
                e.set_option(Column::ServiceAddress)?;
                e.svc.protocol = match id {
                    OptId::TcpService => IPPROTO_TCP,
                    OptId::UdpService => IPPROTO_UDP,
                    _ => IPPROTO_SCTP,
                };
                let p = match arg {
                    Some(Arg::Plain(a)) => parse::parse_service(a, e.svc.protocol, self.resolver),
                    _ => parse::parse_service_pieces(&text(), e.svc.protocol, self.resolver),
                }
                .ok_or_else(|| CliError::fail(msg::ILLEGAL_VIRTUAL_SERVER))?;
                let (af, bytes) = ip_to_bytes(p.addr);
                e.svc.af = af;
                e.svc.addr = bytes;
                if af == AF_INET6 {
                    e.svc.netmask = 128;
                }
                if let Some(port) = p.port {
                    e.svc.port = port;
                }
            }
            OptId::FwmarkService => {
                e.set_option(Column::ServiceAddress)?;
                e.svc.af = AF_INET;
                e.svc.protocol = IPPROTO_TCP;
                e.svc.fwmark = parse::fwmark_pieces(arg.into_iter().flat_map(|a| a.pieces()), len)
                    .ok_or_else(|| fail_echo(msg::invalid_fwmark, arg))?;
            }
            OptId::Scheduler => {
                e.set_option(Column::Scheduler)?;
                e.svc.sched_name = cut(limits::SCHED_NAME_MAX);
            }
            OptId::Persistent => {
                e.set_option(Column::Persistent)?;
                e.svc.flags |= ServiceFlags::PERSISTENT.0;
                e.svc.timeout = match arg {
                    None => limits::DEFAULT_PERSISTENT_TIMEOUT,
                    Some(_) => number(1, limits::MAX_TIMEOUT)
                        .ok_or_else(|| fail_echo(msg::invalid_timeout, arg))?
                        as u32,
                };
            }
            OptId::Netmask => {
                e.set_option(Column::Netmask)?;
                if e.svc.af != AF_INET6 {
                    let m = parse::ipv4_or_host_pieces(&text(), self.resolver)
                        .ok_or_else(|| CliError::fail(msg::ILLEGAL_NETMASK))?;
                    e.svc.netmask = u32::from(m);
                } else {
                    let n = parse::strtol_pieces(text().parts()).value as i32;
                    if !(1..=128).contains(&n) {
                        return Err(CliError::fail(msg::ILLEGAL_IPV6_NETMASK));
                    }
                    e.svc.netmask = n as u32;
                }
            }
            OptId::RealServer => {
                e.set_option(Column::RealServer)?;
                let p = match arg {
                    Some(Arg::Plain(a)) => parse::parse_service(a, e.svc.protocol, self.resolver),
                    _ => parse::parse_service_pieces(&text(), e.svc.protocol, self.resolver),
                }
                .ok_or_else(|| CliError::fail(msg::ILLEGAL_REAL_SERVER))?;
                let (af, bytes) = ip_to_bytes(p.addr);
                e.dest.af = af;
                e.dest.addr = bytes;
                // No port given: the service's port as known now.
                e.dest.port = p.port.unwrap_or(e.svc.port);
            }
            OptId::Ipip | OptId::Gatewaying | OptId::Masquerading => {
                e.set_option(Column::ForwardingMethod)?;
                e.dest.conn_flags = match id {
                    OptId::Ipip => FWD_TUNNEL,
                    OptId::Gatewaying => FWD_DROUTE,
                    _ => FWD_MASQ,
                };
            }
            OptId::Weight => {
                e.set_option(Column::Weight)?;
                e.dest.weight = number(0, limits::MAX_WEIGHT)
                    .ok_or_else(|| CliError::fail(msg::ILLEGAL_WEIGHT))?
                    as i32;
            }
            OptId::UThreshold => {
                e.set_option(Column::UThreshold)?;
                e.dest.u_threshold = number(0, i64::from(i32::MAX))
                    .ok_or_else(|| CliError::fail(msg::ILLEGAL_U_THRESHOLD))?
                    as u32;
            }
            OptId::LThreshold => {
                e.set_option(Column::LThreshold)?;
                e.dest.l_threshold = number(0, i64::from(i32::MAX))
                    .ok_or_else(|| CliError::fail(msg::ILLEGAL_L_THRESHOLD))?
                    as u32;
            }
            OptId::Connection => e.set_option(Column::Connection)?,
            OptId::Numeric => {
                e.set_option(Column::Numeric)?;
                e.format.numeric = true;
            }
            OptId::McastInterface => {
                e.set_option(Column::McastInterface)?;
                e.daemon.mcast_ifn = cut(limits::IFNAME_MAX);
            }
            OptId::SyncId => {
                e.set_option(Column::SyncId)?;
                e.daemon.syncid =
                    number(0, 255).ok_or_else(|| CliError::fail(msg::ILLEGAL_SYNCID))? as u32;
            }
            OptId::Timeout => e.set_option(Column::Timeout)?,
            OptId::Daemon => e.set_option(Column::Daemon)?,
            OptId::Stats => {
                e.set_option(Column::Stats)?;
                e.format.stats = true;
            }
            OptId::Rate => {
                e.set_option(Column::Rate)?;
                e.format.rate = true;
            }
            OptId::Thresholds => {
                e.set_option(Column::Thresholds)?;
                e.format.thresholds = true;
            }
            OptId::PersistentConn => {
                e.set_option(Column::PersistentConn)?;
                e.format.persistent_conn = true;
            }
            OptId::NoSort => {
                e.set_option(Column::NoSort)?;
                e.format.nosort = true;
            }
            OptId::Sort => {}
            OptId::Exact => {
                e.set_option(Column::Exact)?;
                e.format.exact = true;
            }
            OptId::Ipv6 => {
                if e.svc.fwmark != 0 {
                    e.svc.af = AF_INET6;
                    e.svc.netmask = 128;
                } else {
                    return Err(CliError::fail(msg::IPV6_BEFORE_FWMARK));
                }
            }
            OptId::Ops => {
                e.set_option(Column::Ops)?;
                e.svc.flags |= ServiceFlags::ONE_PACKET.0;
            }
            OptId::Pe => {
                e.set_option(Column::Pe)?;
                e.svc.pe_name = cut(limits::PE_NAME_MAX);
            }
            OptId::SchedFlags => {
                e.set_option(Column::SchedFlags)?;
                e.sched_flags_arg = cut(limits::SCHED_FLAGS_MAX);
            }
            OptId::McastGroup => {
                e.set_option(Column::McastGroup)?;
                // No address text is longer than 64 bytes: a longer
                // argument is not built, only searched and repeated.
                let text = cut(65);
                let text: &[u8] = if len > 64 { b"" } else { &text };
                if arg
                    .into_iter()
                    .flat_map(|a| a.pieces())
                    .any(|p| p.contains(&b':'))
                {
                    match sys::parse_ipv6(text) {
                        Some(g) if g.is_multicast() => e.daemon.mcast_group = Some(IpAddr::V6(g)),
                        _ => return Err(fail_echo(msg::invalid_ipv6_mcast_group, arg)),
                    }
                } else {
                    match sys::parse_ipv4_strict(text) {
                        Some(g) if g.is_multicast() => e.daemon.mcast_group = Some(IpAddr::V4(g)),
                        _ => return Err(fail_echo(msg::invalid_ipv4_mcast_group, arg)),
                    }
                }
            }
            OptId::McastPort => {
                e.set_option(Column::McastPort)?;
                e.daemon.mcast_port =
                    number(1, 65535).ok_or_else(|| CliError::fail(msg::ILLEGAL_MCAST_PORT))? as u16;
            }
            OptId::McastTtl => {
                e.set_option(Column::McastTtl)?;
                e.daemon.mcast_ttl =
                    number(1, 255).ok_or_else(|| CliError::fail(msg::ILLEGAL_MCAST_TTL))? as u8;
            }
            OptId::SyncMaxlen => {
                e.set_option(Column::SyncMaxlen)?;
                e.daemon.sync_maxlen = number(1, limits::MAX_SYNC_MAXLEN)
                    .ok_or_else(|| CliError::fail(msg::ILLEGAL_SYNC_MAXLEN))?
                    as u16;
            }
            OptId::TunInfo => {
                e.set_option(Column::TunInfo)?;
                e.format.tun_info = true;
            }
            OptId::TunType => {
                e.set_option(Column::TunType)?;
                e.dest.tun_type = table::TUNNEL_TYPES
                    .iter()
                    .position(|t| t.as_bytes() == cut(16))
                    .ok_or_else(|| CliError::fail(msg::ILLEGAL_TUNNEL_TYPE))?
                    as u8;
            }
            OptId::TunPort => {
                e.set_option(Column::TunPort)?;
                e.dest.tun_port = number(1, 65535)
                    .ok_or_else(|| CliError::fail(msg::ILLEGAL_TUNNEL_PORT))?
                    as u16;
            }
            OptId::TunNocsum => {
                e.set_option(Column::TunNocsum)?;
                e.dest.tun_flags |= 0;
            }
            OptId::TunCsum => {
                e.set_option(Column::TunCsum)?;
                e.dest.tun_flags |= 1;
            }
            OptId::TunRemcsum => {
                e.set_option(Column::TunRemcsum)?;
                e.dest.tun_flags |= 2;
            }
            // A command after the first option.
            _ => return Err(CliError::fail(msg::invalid_option(bad_option))),
        }
        Ok(())
    }
}

fn set_timeout(s: &[u8]) -> Result<u32, CliError> {
    string_to_number(s, 0, limits::MAX_TIMEOUT)
        .map(|v| v as u32)
        .ok_or_else(|| CliError::fail(msg::invalid_timeout(s)))
}

/// The quickest path of `-R`, for the lines `ipvsadm-save -n` writes for
/// IPv4 and firewall-mark services and their real servers:
///
/// * `-A|-E  -t|-u ADDR:PORT | -f MARK  [-s SCHED] [-p [TIMEOUT]]`
/// * `-a|-e  -t|-u ADDR:PORT | -f MARK  -r ADDR[:PORT] [-g|-m|-i] [-w N] [-x N] [-y N]`
///
/// (service first, the other options in any order, each once; plain
/// decimal addresses). Builds the change directly, without the general
/// parser's bookkeeping, and returns it only when [`Parser::parse`] would
/// give the same change for the line (the tests check it on random
/// lines); anything else, errors included, is `None`.
pub fn quick_change(raw: &[u8]) -> Option<Change> {
    let mut words = QuickWords::new(raw);
    let (server, edit) = match words.next()? {
        b"-A" => (false, false),
        b"-E" => (false, true),
        b"-a" => (true, false),
        b"-e" => (true, true),
        _ => return None,
    };
    let service_option = words.next()?;
    let service_value = words.next()?;
    let key = match service_option {
        b"-t" | b"-u" => {
            let p = parse::plain_ipv4_service(service_value)?;
            ServiceKey::Addr {
                protocol: if service_option == b"-t" {
                    Protocol::Tcp
                } else {
                    Protocol::Udp
                },
                addr: p.addr,
                port: p.port.unwrap_or(0),
            }
        }
        b"-f" => ServiceKey::Fwmark {
            mark: decimal(service_value, u64::from(u32::MAX)).filter(|&m| m > 0)? as u32,
            family: AddressFamily::Inet,
        },
        _ => return None,
    };
    if server {
        let d = quick_destination(words, &key)?;
        Some(if edit {
            Change::EditDestination(key, d)
        } else {
            Change::AddDestination(key, d)
        })
    } else {
        let s = quick_service(words, key)?;
        Some(if edit {
            Change::EditService(s)
        } else {
            Change::AddService(s)
        })
    }
}

/// Sets `column`'s bit in `seen`; `None` if it was already set (the general
/// path reports a repeated option).
fn first_time(seen: &mut u64, column: Column) -> Option<()> {
    let first = *seen & column.bit() == 0;
    *seen |= column.bit();
    first.then_some(())
}

/// The rest of a quick `-A`/`-E` line: `[-s SCHED] [-p [TIMEOUT]]`.
/// (Inlined, as is [`quick_destination`]: returned by value, the model
/// would otherwise be copied twice more per line.)
#[inline(always)]
fn quick_service(mut words: QuickWords<'_>, key: ServiceKey) -> Option<Service> {
    let mut seen = 0u64;
    let mut scheduler: &[u8] = limits::DEFAULT_SCHEDULER.as_bytes();
    let mut flags = 0;
    let mut timeout = 0;
    while let Some(opt) = words.next() {
        match opt {
            b"-s" => {
                first_time(&mut seen, Column::Scheduler)?;
                let v = words.next()?;
                if v.len() > limits::SCHED_NAME_MAX || v.first() == Some(&b'-') {
                    return None;
                }
                scheduler = v;
            }
            b"-p" => {
                first_time(&mut seen, Column::Persistent)?;
                flags |= ServiceFlags::PERSISTENT.0;
                timeout = limits::DEFAULT_PERSISTENT_TIMEOUT;
                // An optional value: the next word unless it is an option.
                if let Some(v) = words.next_if(|v| v.first() != Some(&b'-')) {
                    let max = limits::MAX_TIMEOUT as u64;
                    timeout = decimal(v, max).filter(|&t| t > 0)? as u32;
                }
            }
            _ => return None,
        }
    }
    if words.bad {
        return None;
    }
    // ipvsadm refuses a service on port 0 unless it is persistent.
    if matches!(key, ServiceKey::Addr { port: 0, .. }) && flags == 0 {
        return None;
    }
    Some(
        // The words are printable ASCII.
        Service::new(key)
            .with_scheduler(std::str::from_utf8(scheduler).ok()?)
            .with_flags(ServiceFlags(flags))
            .with_timeout(timeout)
            .with_netmask(Netmask::Ipv4(Ipv4Addr::BROADCAST)),
    )
}

/// The rest of a quick `-a`/`-e` line:
/// `-r ADDR[:PORT] [-g|-m|-i] [-w N] [-x N] [-y N]`.
#[inline(always)]
fn quick_destination(mut words: QuickWords<'_>, key: &ServiceKey) -> Option<Destination> {
    let mut seen = 0u64;
    let mut real_server = None;
    let mut forward = ForwardMethod::DirectRoute;
    let mut weight = 1;
    let (mut upper_threshold, mut lower_threshold) = (0, 0);
    let i32_max = i32::MAX as u64;
    while let Some(opt) = words.next() {
        match opt {
            b"-r" => {
                first_time(&mut seen, Column::RealServer)?;
                real_server = Some(parse::plain_ipv4_service(words.next()?)?);
            }
            b"-g" | b"-m" | b"-i" => {
                first_time(&mut seen, Column::ForwardingMethod)?;
                forward = match opt {
                    b"-g" => ForwardMethod::DirectRoute,
                    b"-m" => ForwardMethod::Masquerade,
                    _ => ForwardMethod::Tunnel,
                };
            }
            b"-w" => {
                first_time(&mut seen, Column::Weight)?;
                weight = decimal(words.next()?, limits::MAX_WEIGHT as u64)? as i32;
            }
            b"-x" => {
                first_time(&mut seen, Column::UThreshold)?;
                upper_threshold = decimal(words.next()?, i32_max)? as u32;
            }
            b"-y" => {
                first_time(&mut seen, Column::LThreshold)?;
                lower_threshold = decimal(words.next()?, i32_max)? as u32;
            }
            _ => return None,
        }
    }
    if words.bad {
        return None;
    }
    let real_server = real_server?;
    let service_port = match *key {
        ServiceKey::Addr { port, .. } => port,
        _ => 0,
    };
    // Direct routing and tunnelling keep the service's port (ipvsadm
    // overrides the one given); a firewall-mark service has none.
    let port = match (key, forward) {
        (ServiceKey::Addr { .. }, ForwardMethod::DirectRoute | ForwardMethod::Tunnel) => {
            service_port
        }
        _ => real_server.port.unwrap_or(service_port),
    };
    Some(
        Destination::new(real_server.addr, port, forward)
            .with_weight(weight)
            .with_thresholds(upper_threshold, lower_threshold)
            .with_tunnel(TunnelType::from(0), 0, TunnelChecksum::from(0)),
    )
}

/// The words of a line for the quick paths, one at a time, split at single
/// spaces. A line with anything but spaces and printable ASCII other than
/// `!` in it, or a word that the `-R` reader or popt would not take as it
/// is (empty, long, `ipvsadm`), sets `bad`, and the line is then left to
/// the other paths.
#[derive(Clone)]
struct QuickWords<'a> {
    rest: &'a [u8],
    bad: bool,
}

impl<'a> QuickWords<'a> {
    fn new(raw: &'a [u8]) -> Self {
        QuickWords {
            rest: raw,
            bad: !plain_bytes(raw),
        }
    }

    /// Whether every word of what is left is plain.
    fn all_plain(mut self) -> bool {
        while self.next().is_some() {}
        !self.bad
    }

    /// The next word, `None` at the end of the line (or once it is bad).
    #[inline(always)]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.bad || self.rest.is_empty() {
            return None;
        }
        // Past the word and its space; a space at the very end leaves an
        // empty last word, which is bad.
        let word = match self.rest.iter().position(|&b| b == b' ') {
            Some(end) => {
                let word = &self.rest[..end];
                self.rest = &self.rest[end + 1..];
                self.bad = self.rest.is_empty();
                word
            }
            None => std::mem::take(&mut self.rest),
        };
        if word.is_empty() || word.len() > 64 || word == b"ipvsadm" {
            self.bad = true;
            return None;
        }
        Some(word)
    }

    /// The next word if `accept` takes it (popt's optional value).
    fn next_if(&mut self, accept: impl Fn(&[u8]) -> bool) -> Option<&'a [u8]> {
        let saved = (self.rest, self.bad);
        match self.next() {
            Some(w) if accept(w) => Some(w),
            _ => {
                (self.rest, self.bad) = saved;
                None
            }
        }
    }
}

/// Whether every byte of `raw` is a space or printable ASCII other than `!`
/// (white space the reader splits at, NUL, control bytes, non-ASCII and
/// popt's `!#:+` expansion leave a line to the general path). Eight bytes at
/// a time: this runs on every line of a restore.
fn plain_bytes(raw: &[u8]) -> bool {
    let mut chunks = raw.chunks_exact(8);
    for chunk in &mut chunks {
        let x = word_at(chunk);
        // The high bit of a byte is set in `below_space` if the byte is
        // under 0x20, in `bang` if it is `!`, and in `above_tilde` if it is
        // 0x7f or more (the classic "has less / has zero / has more" tests;
        // as yes/no answers for the whole word they are exact).
        let below_space = x.wrapping_sub(ONES * 0x20) & !x;
        let y = x ^ (ONES * u64::from(b'!'));
        let bang = y.wrapping_sub(ONES) & !y;
        let above_tilde = x.wrapping_add(ONES) | x;
        if (below_space | bang | above_tilde) & HIGHS != 0 {
            return false;
        }
    }
    chunks
        .remainder()
        .iter()
        .all(|&b| b == b' ' || (b'"'..=b'~').contains(&b))
}

/// A plain decimal number (digits only, at most ten) up to `max`: the
/// numbers `string_to_number` takes without signs or spaces.
#[inline(always)]
fn decimal(v: &[u8], max: u64) -> Option<u64> {
    if v.is_empty() || v.len() > 10 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    (n <= max).then_some(n)
}

/// What ipvsadm checks once every option is read: scheduler flags (with
/// the final scheduler), the legality table, then the command's own rules.
fn conclude(mut e: Entry, cmd: Command) -> Result<Request, CliError> {
    if !e.sched_flags_arg.is_empty() {
        e.svc.flags &= !ServiceFlags::SCHED_MASK.0;
        e.svc.flags |= sched_flags(&e.svc.sched_name, &e.sched_flags_arg)?;
    }
    check_legality(cmd, e.options)?;
    finish(e, cmd)
}

/// ipvsadm's `parse_sched_flags`: comma-separated names (empty items
/// skipped) checked against the scheduler (`wlc` when none was given).
fn sched_flags(sched: &[u8], arg: &[u8]) -> Result<u32, CliError> {
    let sched = if sched.is_empty() {
        limits::DEFAULT_SCHEDULER.as_bytes()
    } else {
        sched
    };
    let mut flags = 0;
    let mut any = false;
    for flag in arg.split(|&b| b == b',').filter(|f| !f.is_empty()) {
        any = true;
        let (bit, needs): (u32, Option<&[u8]>) = match flag {
            b"flag-1" => (ServiceFlags::SCHED_1.0, None),
            b"flag-2" => (ServiceFlags::SCHED_2.0, None),
            b"flag-3" => (ServiceFlags::SCHED_3.0, None),
            b"sh-fallback" => (ServiceFlags::SH_FALLBACK.0, Some(b"sh")),
            b"sh-port" => (ServiceFlags::SH_PORT.0, Some(b"sh")),
            b"mh-fallback" => (ServiceFlags::MH_FALLBACK.0, Some(b"mh")),
            b"mh-port" => (ServiceFlags::MH_PORT.0, Some(b"mh")),
            _ => return Err(CliError::fail(msg::invalid_sched_flag(flag))),
        };
        flags |= bit;
        if let Some(s) = needs {
            if sched != s {
                return Err(CliError::fail(msg::incompatible_sched_flag(flag)));
            }
        }
    }
    if !any {
        // Deliberate difference: ipvsadm 1.31 crashes (SIGSEGV) on a -b
        // argument made only of commas; here it is an invalid flag.
        return Err(CliError::fail(msg::invalid_sched_flag(arg)));
    }
    Ok(flags)
}

/// ipvsadm's `generic_opt_check`.
fn check_legality(cmd: Command, options: u64) -> Result<(), CliError> {
    // Quick test first: no rule broken (the walk below finds the message
    // ipvsadm prints for the first broken one).
    let [required, illegal, exclusive] = cmd.legality_masks();
    if options & required == required
        && options & illegal == 0
        && (options & exclusive).count_ones() <= 1
    {
        return Ok(());
    }
    let mut first_exclusive: Option<Column> = None;
    for column in Column::ALL {
        let given = options & column.bit() != 0;
        match (cmd.legality(column), given) {
            (Legality::Required, false) => {
                return Err(CliError::fail(msg::need_option(column.name(), cmd.name())))
            }
            (Legality::Illegal, true) => {
                return Err(CliError::fail(msg::illegal_option(
                    column.name(),
                    cmd.name(),
                )))
            }
            (Legality::Exclusive, true) => match first_exclusive {
                None => first_exclusive = Some(column),
                Some(earlier) => {
                    return Err(CliError::fail(msg::conflicting_options(
                        column.name(),
                        earlier.name(),
                        cmd.name(),
                    )))
                }
            },
            _ => {}
        }
    }
    Ok(())
}

/// ipvsadm's `tunnel_opt_check`.
fn check_tunnel(tun_type: u8, options: u64) -> Result<(), CliError> {
    let t = usize::from(tun_type);
    let Some(type_name) = table::TUNNEL_TYPES.get(t) else {
        return Ok(());
    };
    let mut first_exclusive: Option<Column> = None;
    for (j, column) in table::TUNNEL_COLUMNS.iter().enumerate() {
        let given = options & column.bit() != 0;
        match (table::tunnel_legality(t, j), given) {
            (Legality::Required, false) => {
                return Err(CliError::fail(msg::need_tunnel_option(
                    column.name(),
                    type_name,
                )))
            }
            (Legality::Illegal, true) => {
                return Err(CliError::fail(msg::illegal_tunnel_option(
                    column.name(),
                    type_name,
                )))
            }
            (Legality::Exclusive, true) => match first_exclusive {
                None => first_exclusive = Some(*column),
                Some(earlier) => {
                    return Err(CliError::fail(msg::conflicting_tunnel_options(
                        column.name(),
                        earlier.name(),
                        type_name,
                    )))
                }
            },
            _ => {}
        }
    }
    Ok(())
}

fn service_key(svc: &Svc) -> ServiceKey {
    if svc.fwmark != 0 {
        let family = if svc.af == AF_INET6 {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        ServiceKey::Fwmark {
            mark: svc.fwmark,
            family,
        }
    } else {
        ServiceKey::Addr {
            protocol: Protocol::from(svc.protocol),
            addr: bytes_to_ip(svc.af, &svc.addr),
            port: svc.port,
        }
    }
}

fn service(svc: &Svc) -> Service {
    let netmask = if svc.af == AF_INET6 {
        Netmask::Ipv6Prefix(svc.netmask)
    } else {
        Netmask::Ipv4(Ipv4Addr::from(svc.netmask))
    };
    Service::new(service_key(svc))
        .with_scheduler(&kernel_text(&svc.sched_name))
        .with_flags(ServiceFlags(svc.flags))
        .with_timeout(svc.timeout)
        .with_netmask(netmask)
        .with_pe_name(
            (!svc.pe_name.is_empty())
                .then(|| kernel_text(&svc.pe_name))
                .as_deref(),
        )
}

fn destination(d: &Dest) -> Destination {
    Destination::new(
        bytes_to_ip(d.af, &d.addr),
        d.port,
        ForwardMethod::from(d.conn_flags),
    )
    .with_weight(d.weight)
    .with_thresholds(d.u_threshold, d.l_threshold)
    .with_tunnel(
        TunnelType::from(d.tun_type),
        d.tun_port,
        TunnelChecksum::from(d.tun_flags),
    )
}

fn daemon(d: &Daemon) -> SyncDaemon {
    SyncDaemon::new(DaemonState::from(d.state), &d.mcast_ifn)
        .with_sync_id(d.syncid)
        .with_sync_maxlen(d.sync_maxlen)
        .with_mcast_group(d.mcast_group)
        .with_mcast_port(d.mcast_port)
        .with_mcast_ttl(d.mcast_ttl)
}

/// ipvsadm's checks after the legality table, then the typed request.
fn finish(mut e: Entry, cmd: Command) -> Result<Request, CliError> {
    if matches!(cmd, Command::AddService | Command::EditService) {
        if e.svc.fwmark == 0 && e.svc.port == 0 && e.svc.flags & ServiceFlags::PERSISTENT.0 == 0 {
            return Err(CliError::fail(msg::ZERO_PORT));
        }
        if e.svc.flags & ServiceFlags::ONE_PACKET.0 != 0
            && e.svc.fwmark == 0
            && e.svc.protocol != IPPROTO_UDP
        {
            return Err(CliError::fail(msg::OPS_ONLY_UDP));
        }
        if e.svc.sched_name.is_empty() {
            e.svc.sched_name = limits::DEFAULT_SCHEDULER.as_bytes().to_vec();
        }
    }
    if cmd == Command::StartDaemon && e.daemon.mcast_ifn.is_empty() {
        e.daemon.mcast_ifn = limits::DEFAULT_MCAST_IFN.as_bytes().to_vec();
    }
    if matches!(cmd, Command::AddServer | Command::EditServer) {
        let fwd = e.dest.conn_flags & 7;
        if e.svc.fwmark == 0 && (fwd == FWD_TUNNEL || fwd == FWD_DROUTE) {
            e.dest.port = e.svc.port;
        }
        if e.dest.af != e.svc.af && fwd != FWD_TUNNEL {
            return Err(CliError::fail(msg::DIFFERENT_AF));
        }
        let tunnel_columns = Column::TunType.bit()
            | Column::TunPort.bit()
            | Column::TunNocsum.bit()
            | Column::TunCsum.bit()
            | Column::TunRemcsum.bit();
        if e.options & tunnel_columns != 0 && fwd != FWD_TUNNEL {
            return Err(CliError::fail(msg::TUNNEL_OPTIONS_CONFLICT));
        }
        check_tunnel(e.dest.tun_type, e.options)?;
    }

    Ok(match cmd {
        Command::List => {
            let conn_like =
                e.has(Column::Connection) || e.has(Column::Timeout) || e.has(Column::Daemon);
            let numbers = e.has(Column::Stats) || e.has(Column::Rate) || e.has(Column::Thresholds);
            let td = e.has(Column::Timeout) || e.has(Column::Daemon);
            if (conn_like && numbers) || (td && e.has(Column::PersistentConn)) {
                return Err(CliError::fail(msg::LIST_CONFLICT));
            }
            let target = if e.has(Column::Connection) {
                ListTarget::Connections
            } else if e.has(Column::ServiceAddress) {
                ListTarget::Service(service_key(&e.svc))
            } else if e.has(Column::Timeout) {
                ListTarget::Timeouts
            } else if e.has(Column::Daemon) {
                ListTarget::Daemons
            } else {
                ListTarget::All
            };
            Request::List {
                target,
                format: e.format,
            }
        }
        Command::Restore => Request::Restore,
        Command::Save => {
            let mut format = e.format;
            format.rule = true;
            Request::Save { format }
        }
        Command::Flush => Request::Flush,
        Command::AddService => Request::AddService(service(&e.svc)),
        Command::EditService => Request::EditService(service(&e.svc)),
        Command::DeleteService => Request::DeleteService(service_key(&e.svc)),
        Command::Zero => {
            // libipvs sends no service (zero everything) unless a fwmark,
            // a non-zero address or a port was given.
            if e.svc.fwmark != 0 || e.svc.addr != [0u8; 16] || e.svc.port != 0 {
                Request::Zero(Some(service_key(&e.svc)))
            } else {
                Request::Zero(None)
            }
        }
        Command::AddServer => Request::AddServer(service_key(&e.svc), destination(&e.dest)),
        Command::EditServer => Request::EditServer(service_key(&e.svc), destination(&e.dest)),
        Command::DeleteServer => Request::DeleteServer(service_key(&e.svc), destination(&e.dest)),
        Command::Set => Request::SetTimeouts(e.timeouts),
        Command::StartDaemon => Request::StartDaemon(daemon(&e.daemon)),
        Command::StopDaemon => Request::StopDaemon(daemon(&e.daemon)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The eight-at-a-time test gives the byte-by-byte answer, for lines of
    /// every length with any byte anywhere (control bytes, `!`, DEL and
    /// non-ASCII included).
    #[test]
    fn plain_bytes_is_the_bytewise_rule() {
        let plain = |b: u8| b == b' ' || (b'"'..=b'~').contains(&b);
        let mut next = crate::ipvsadm::xorshift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..50_000 {
            let len = (next() % 40) as usize;
            let mut line: Vec<u8> = (0..len).map(|_| b'"' + (next() % 93) as u8).collect();
            if len > 0 && next() % 2 == 0 {
                let at = (next() % len as u64) as usize;
                line[at] = next() as u8;
            }
            assert_eq!(
                plain_bytes(&line),
                line.iter().all(|&b| plain(b)),
                "{line:?}"
            );
        }
    }
}
