//! The one data table of the command line: commands, options, the
//! command × option legality table, the tunnel-type table and every text the
//! command line prints (messages, usage, version).
//!
//! Everything here describes ipvsadm 1.31's behaviour; nothing is copied from
//! its sources. The order of [`Column`]s and [`Command`]s matters: the
//! legality check walks the columns in this order and reports the first
//! problem, exactly like ipvsadm.

/// The name this project reports in `-v` and the first line of `-h`.
pub const PROJECT: &str = "ipvs-rs";

/// The project's version (the crate version).
pub const PROJECT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A command: the first option of an invocation (or of a `-R` line).
///
/// The order is ipvsadm's internal command order, which indexes
/// [`LEGALITY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// `-A`, `--add-service`.
    AddService,
    /// `-E`, `--edit-service`.
    EditService,
    /// `-D`, `--delete-service`.
    DeleteService,
    /// `-C`, `--clear`.
    Flush,
    /// `-L`, `-l`, `--list`.
    List,
    /// `-a`, `--add-server`.
    AddServer,
    /// `-d`, `--delete-server`.
    DeleteServer,
    /// `-e`, `--edit-server`.
    EditServer,
    /// `--set tcp tcpfin udp`.
    Set,
    /// `--start-daemon master|backup`.
    StartDaemon,
    /// `--stop-daemon master|backup`.
    StopDaemon,
    /// `-R`, `--restore`.
    Restore,
    /// `-S`, `--save`.
    Save,
    /// `-Z`, `--zero`.
    Zero,
}

impl Command {
    /// Every command, in table order.
    pub const ALL: [Command; 14] = [
        Command::AddService,
        Command::EditService,
        Command::DeleteService,
        Command::Flush,
        Command::List,
        Command::AddServer,
        Command::DeleteServer,
        Command::EditServer,
        Command::Set,
        Command::StartDaemon,
        Command::StopDaemon,
        Command::Restore,
        Command::Save,
        Command::Zero,
    ];

    /// The name used in messages (`... with the 'list' command`).
    pub fn name(self) -> &'static str {
        match self {
            Command::AddService => "add-service",
            Command::EditService => "edit-service",
            Command::DeleteService => "delete-service",
            Command::Flush => "flush",
            Command::List => "list",
            Command::AddServer => "add-server",
            Command::DeleteServer => "delete-server",
            Command::EditServer => "edit-server",
            Command::Set => "set",
            Command::StartDaemon => "start-daemon",
            Command::StopDaemon => "stop-daemon",
            Command::Restore => "restore",
            Command::Save => "save",
            Command::Zero => "zero",
        }
    }

    fn index(self) -> usize {
        Command::ALL.iter().position(|c| *c == self).unwrap_or(0)
    }

    /// The legality table's row for this command as column bit sets:
    /// required, illegal, exclusive.
    pub fn legality_masks(self) -> [u64; 3] {
        LEGALITY_MASKS[self.index()]
    }

    /// What the legality table says about `column` for this command.
    pub fn legality(self, column: Column) -> Legality {
        let row = LEGALITY[self.index()].as_bytes();
        match row[column as usize] {
            b'+' => Legality::Required,
            b'x' => Legality::Illegal,
            b'1' => Legality::Exclusive,
            _ => Legality::Optional,
        }
    }
}

/// A tracked option ("column"): each may be given once per invocation.
///
/// The discriminant is the column's position in [`LEGALITY`] and the bit in
/// the option set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Column {
    /// `-n`
    Numeric = 0,
    /// `-c`
    Connection,
    /// `-t`, `-u`, `--sctp-service`, `-f`
    ServiceAddress,
    /// `-s`
    Scheduler,
    /// `-p`
    Persistent,
    /// `-M`
    Netmask,
    /// `-r`
    RealServer,
    /// `-g`, `-i`, `-m`
    ForwardingMethod,
    /// `-w`
    Weight,
    /// `-x`
    UThreshold,
    /// `-y`
    LThreshold,
    /// `--mcast-interface`
    McastInterface,
    /// `--timeout`
    Timeout,
    /// `--daemon`
    Daemon,
    /// `--stats`
    Stats,
    /// `--rate`
    Rate,
    /// `--thresholds`
    Thresholds,
    /// `--persistent-conn`
    PersistentConn,
    /// `--nosort`
    NoSort,
    /// `--syncid`
    SyncId,
    /// `-X`, `--exact`
    Exact,
    /// `-o`
    Ops,
    /// `--pe`
    Pe,
    /// `-b`
    SchedFlags,
    /// `--mcast-group`
    McastGroup,
    /// `--mcast-port`
    McastPort,
    /// `--mcast-ttl`
    McastTtl,
    /// `--sync-maxlen`
    SyncMaxlen,
    /// `--tun-info`
    TunInfo,
    /// `--tun-type`
    TunType,
    /// `--tun-port`
    TunPort,
    /// `--tun-nocsum`
    TunNocsum,
    /// `--tun-csum`
    TunCsum,
    /// `--tun-remcsum`
    TunRemcsum,
}

impl Column {
    /// Every column, in the order the legality check walks them.
    pub const ALL: [Column; 34] = [
        Column::Numeric,
        Column::Connection,
        Column::ServiceAddress,
        Column::Scheduler,
        Column::Persistent,
        Column::Netmask,
        Column::RealServer,
        Column::ForwardingMethod,
        Column::Weight,
        Column::UThreshold,
        Column::LThreshold,
        Column::McastInterface,
        Column::Timeout,
        Column::Daemon,
        Column::Stats,
        Column::Rate,
        Column::Thresholds,
        Column::PersistentConn,
        Column::NoSort,
        Column::SyncId,
        Column::Exact,
        Column::Ops,
        Column::Pe,
        Column::SchedFlags,
        Column::McastGroup,
        Column::McastPort,
        Column::McastTtl,
        Column::SyncMaxlen,
        Column::TunInfo,
        Column::TunType,
        Column::TunPort,
        Column::TunNocsum,
        Column::TunCsum,
        Column::TunRemcsum,
    ];

    /// The name used in messages (`multiple 'service-address' options`).
    pub fn name(self) -> &'static str {
        COLUMN_NAMES[self as usize]
    }

    /// The column's bit in an option set.
    pub fn bit(self) -> u64 {
        1u64 << (self as u8)
    }
}

const COLUMN_NAMES: [&str; 34] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
];

/// What a command allows for one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legality {
    /// Must be given (`You need to supply ...`).
    Required,
    /// Must not be given (`Illegal ... option`).
    Illegal,
    /// At most one of the command's exclusive columns may be given.
    Exclusive,
    /// May be given.
    Optional,
}

/// The command × column table, one row per [`Command`] (in order), one
/// character per [`Column`] (in order): `+` required, `x` illegal, `1`
/// exclusive (at most one of them), space optional. This is spec §1.5's
/// table.
pub const LEGALITY: [&str; 14] = [
    "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", // add-service
    "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", // edit-service
    "xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // delete-service
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // flush
    " 11xxxxxxxxx11       xxxxxxx xxxxx", // list
    "xx+xxx+    xxxxxxxxxxxxxxxxxx     ", // add-server
    "xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx", // delete-server
    "xx+xxx+    xxxxxxxxxxxxxxxxxx     ", // edit-server
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // set
    "xxxxxxxxxxx xxxxxxx xxxx    xxxxxx", // start-daemon
    "xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx", // stop-daemon
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // restore
    " xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // save
    "xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // zero
];

/// [`LEGALITY`] as bit sets per command (required, illegal, exclusive),
/// for the quick check that an invocation breaks no rule.
const LEGALITY_MASKS: [[u64; 3]; 14] = {
    let mut out = [[0u64; 3]; 14];
    let mut c = 0;
    while c < LEGALITY.len() {
        let row = LEGALITY[c].as_bytes();
        let mut i = 0;
        while i < row.len() {
            match row[i] {
                b'+' => out[c][0] |= 1 << i,
                b'x' => out[c][1] |= 1 << i,
                b'1' => out[c][2] |= 1 << i,
                _ => {}
            }
            i += 1;
        }
        c += 1;
    }
    out
};

/// Tunnel types, indexed by the kernel's tunnel type number.
pub const TUNNEL_TYPES: [&str; 3] = ["ipip", "gue", "gre"];

/// The columns the tunnel-type table covers, in order.
pub const TUNNEL_COLUMNS: [Column; 4] = [
    Column::TunPort,
    Column::TunNocsum,
    Column::TunCsum,
    Column::TunRemcsum,
];

/// Tunnel type × [`TUNNEL_COLUMNS`], same key as [`LEGALITY`].
pub const TUNNEL_LEGALITY: [&str; 3] = [
    "xxxx", // ipip
    "+111", // gue
    "x11x", // gre
];

/// What the tunnel-type table says about `column` (one of
/// [`TUNNEL_COLUMNS`]) for tunnel type `tun_type` (0..=2).
pub fn tunnel_legality(tun_type: usize, column_index: usize) -> Legality {
    match TUNNEL_LEGALITY[tun_type].as_bytes()[column_index] {
        b'+' => Legality::Required,
        b'x' => Legality::Illegal,
        b'1' => Legality::Exclusive,
        _ => Legality::Optional,
    }
}

/// Tunnel checksum flags as shown by `--tun-info`, indexed by flag value.
pub const TUNNEL_FLAG_NAMES: [&str; 3] = ["-c", "+c", "r+c"];

/// Tunnel checksum flags as written by `-S`, indexed by flag value.
pub const TUNNEL_FLAG_OPTIONS: [&str; 3] = ["--tun-nocsum", "--tun-csum", "--tun-remcsum"];

/// How an option takes its argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A switch.
    None,
    /// A mandatory argument: attached, after `=`, or the next word (even if
    /// that word starts with `-`).
    Required,
    /// An optional argument: attached, after `=`, or the next word if it
    /// does not start with `-`.
    Optional,
}

/// Every option popt knows, commands included. The order is the lookup
/// order (so `--list` means `-L`, not `-l`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptId {
    /// `-A`
    AddService,
    /// `-E`
    EditService,
    /// `-D`
    DeleteService,
    /// `-C`
    Clear,
    /// `-L`
    List,
    /// `-l`
    ListLower,
    /// `-Z`
    Zero,
    /// `-a`
    AddServer,
    /// `-e`
    EditServer,
    /// `-d`
    DeleteServer,
    /// `--set`
    Set,
    /// `-h`
    Help,
    /// `-v`
    Version,
    /// `-R`
    Restore,
    /// `-S`
    Save,
    /// `--start-daemon`
    StartDaemon,
    /// `--stop-daemon`
    StopDaemon,
    /// `-t`
    TcpService,
    /// `-u`
    UdpService,
    /// `--sctp-service`
    SctpService,
    /// `-f`
    FwmarkService,
    /// `-s`
    Scheduler,
    /// `-p`
    Persistent,
    /// `-M`
    Netmask,
    /// `-r`
    RealServer,
    /// `-m`
    Masquerading,
    /// `-i`
    Ipip,
    /// `-g`
    Gatewaying,
    /// `-w`
    Weight,
    /// `-x`
    UThreshold,
    /// `-y`
    LThreshold,
    /// `-n`
    Numeric,
    /// `-c`
    Connection,
    /// `--mcast-interface`
    McastInterface,
    /// `--syncid`
    SyncId,
    /// `--timeout`
    Timeout,
    /// `--daemon`
    Daemon,
    /// `--stats`
    Stats,
    /// `--rate`
    Rate,
    /// `--thresholds`
    Thresholds,
    /// `--persistent-conn`
    PersistentConn,
    /// `--nosort`
    NoSort,
    /// `--sort`
    Sort,
    /// `-X`, `--exact`
    Exact,
    /// `-6`
    Ipv6,
    /// `-o`
    Ops,
    /// `--pe`
    Pe,
    /// `-b`
    SchedFlags,
    /// `--mcast-group`
    McastGroup,
    /// `--mcast-port`
    McastPort,
    /// `--mcast-ttl`
    McastTtl,
    /// `--sync-maxlen`
    SyncMaxlen,
    /// `--tun-info`
    TunInfo,
    /// `--tun-type`
    TunType,
    /// `--tun-port`
    TunPort,
    /// `--tun-nocsum`
    TunNocsum,
    /// `--tun-csum`
    TunCsum,
    /// `--tun-remcsum`
    TunRemcsum,
}

/// Where an option belongs in the documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// A command (first option).
    Command,
    /// Names the virtual service.
    VirtualService,
    /// A modifier.
    Option,
    /// A sync-daemon modifier.
    Daemon,
}

/// One option of the option table.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    /// Long name without `--`.
    pub long: &'static str,
    /// Short name, if any.
    pub short: Option<u8>,
    /// How it takes its argument.
    pub arg: ArgKind,
    /// Identity.
    pub id: OptId,
    /// The column it is tracked in (`None`: `-6`, `--sort` and commands).
    pub column: Option<Column>,
    /// Documentation section.
    pub section: Section,
    /// Argument name for documentation.
    pub value_name: Option<&'static str>,
    /// One-line description for documentation (man page, completions).
    pub help: &'static str,
    /// Whether it is hidden from documentation (ipvsadm does not document
    /// `-l`, `-v`, `-X` as separate options).
    pub hidden: bool,
}

#[allow(clippy::too_many_arguments)] // a row of the option table
const fn opt(
    long: &'static str,
    short: Option<u8>,
    arg: ArgKind,
    id: OptId,
    column: Option<Column>,
    section: Section,
    value_name: Option<&'static str>,
    help: &'static str,
) -> OptionSpec {
    OptionSpec {
        long,
        short,
        arg,
        id,
        column,
        section,
        value_name,
        help,
        hidden: false,
    }
}

const fn hidden(mut o: OptionSpec) -> OptionSpec {
    o.hidden = true;
    o
}

use ArgKind as A;
use Column as C;
use OptId as O;
use Section as S;

/// The option table, in popt lookup order.
pub const OPTIONS: [OptionSpec; 58] = [
    opt("add-service", Some(b'A'), A::None, O::AddService, None, S::Command, None, "Add a virtual service."),
    opt("edit-service", Some(b'E'), A::None, O::EditService, None, S::Command, None, "Edit a virtual service."),
    opt("delete-service", Some(b'D'), A::None, O::DeleteService, None, S::Command, None, "Delete a virtual service, along with any associated real servers."),
    opt("clear", Some(b'C'), A::None, O::Clear, None, S::Command, None, "Clear the virtual server table."),
    opt("list", Some(b'L'), A::None, O::List, None, S::Command, None, "List the virtual server table (all services, or the one given)."),
    hidden(opt("list", Some(b'l'), A::None, O::ListLower, None, S::Command, None, "Same as -L.")),
    opt("zero", Some(b'Z'), A::None, O::Zero, None, S::Command, None, "Zero the packet, byte and rate counters of a service or all services."),
    opt("add-server", Some(b'a'), A::None, O::AddServer, None, S::Command, None, "Add a real server to a virtual service."),
    opt("edit-server", Some(b'e'), A::None, O::EditServer, None, S::Command, None, "Edit a real server in a virtual service."),
    opt("delete-server", Some(b'd'), A::None, O::DeleteServer, None, S::Command, None, "Remove a real server from a virtual service."),
    opt("set", None, A::None, O::Set, None, S::Command, Some("tcp tcpfin udp"), "Change the timeout values used for IPVS connections (seconds; 0 keeps a value)."),
    opt("help", Some(b'h'), A::None, O::Help, None, S::Command, None, "Display a description of the command syntax."),
    hidden(opt("version", Some(b'v'), A::None, O::Version, None, S::Command, None, "Display the version.")),
    opt("restore", Some(b'R'), A::None, O::Restore, None, S::Command, None, "Restore rules from stdin: each line is one ipvsadm command without the program name."),
    opt("save", Some(b'S'), A::None, O::Save, None, S::Command, None, "Dump the table to stdout in a format that -R can read."),
    opt("start-daemon", None, A::Required, O::StartDaemon, None, S::Command, Some("master|backup"), "Start the connection synchronization daemon."),
    opt("stop-daemon", None, A::Required, O::StopDaemon, None, S::Command, Some("master|backup"), "Stop the connection synchronization daemon."),
    opt("tcp-service", Some(b't'), A::Required, O::TcpService, Some(C::ServiceAddress), S::VirtualService, Some("service-address"), "TCP service on host[:port]."),
    opt("udp-service", Some(b'u'), A::Required, O::UdpService, Some(C::ServiceAddress), S::VirtualService, Some("service-address"), "UDP service on host[:port]."),
    opt("sctp-service", None, A::Required, O::SctpService, Some(C::ServiceAddress), S::VirtualService, Some("service-address"), "SCTP service on host[:port]."),
    opt("fwmark-service", Some(b'f'), A::Required, O::FwmarkService, Some(C::ServiceAddress), S::VirtualService, Some("fwmark"), "Service of packets with this firewall mark (an integer greater than zero)."),
    opt("scheduler", Some(b's'), A::Required, O::Scheduler, Some(C::Scheduler), S::Option, Some("scheduler"), "Scheduling algorithm: one of rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh (default wlc)."),
    opt("persistent", Some(b'p'), A::Optional, O::Persistent, Some(C::Persistent), S::Option, Some("timeout"), "Persistent service, with an optional timeout in seconds (default 360)."),
    opt("netmask", Some(b'M'), A::Required, O::Netmask, Some(C::Netmask), S::Option, Some("netmask"), "Persistence granularity mask (IPv4 mask or IPv6 prefix length)."),
    opt("real-server", Some(b'r'), A::Required, O::RealServer, Some(C::RealServer), S::Option, Some("server-address"), "Real server address, host[:port]."),
    opt("masquerading", Some(b'm'), A::None, O::Masquerading, Some(C::ForwardingMethod), S::Option, None, "Masquerading (NAT)."),
    opt("ipip", Some(b'i'), A::None, O::Ipip, Some(C::ForwardingMethod), S::Option, None, "Tunnelling (ipip, gue or gre encapsulation)."),
    opt("gatewaying", Some(b'g'), A::None, O::Gatewaying, Some(C::ForwardingMethod), S::Option, None, "Gatewaying, i.e. direct routing (the default)."),
    opt("weight", Some(b'w'), A::Required, O::Weight, Some(C::Weight), S::Option, Some("weight"), "Capacity of the real server (0..2147483647, default 1)."),
    opt("u-threshold", Some(b'x'), A::Required, O::UThreshold, Some(C::UThreshold), S::Option, Some("uthreshold"), "Upper connection threshold (0 = no limit)."),
    opt("l-threshold", Some(b'y'), A::Required, O::LThreshold, Some(C::LThreshold), S::Option, Some("lthreshold"), "Lower connection threshold."),
    opt("numeric", Some(b'n'), A::None, O::Numeric, Some(C::Numeric), S::Option, None, "Numeric output of addresses and ports."),
    opt("connection", Some(b'c'), A::None, O::Connection, Some(C::Connection), S::Option, None, "List the current IPVS connections."),
    opt("mcast-interface", None, A::Required, O::McastInterface, Some(C::McastInterface), S::Daemon, Some("interface"), "Multicast interface for connection sync (default eth0)."),
    opt("syncid", None, A::Required, O::SyncId, Some(C::SyncId), S::Daemon, Some("sid"), "Sync id for connection sync (0..255, default 0)."),
    opt("timeout", None, A::None, O::Timeout, Some(C::Timeout), S::Option, None, "List the timeouts (tcp tcpfin udp)."),
    opt("daemon", None, A::None, O::Daemon, Some(C::Daemon), S::Option, None, "List the sync daemons."),
    opt("stats", None, A::None, O::Stats, Some(C::Stats), S::Option, None, "List statistics."),
    opt("rate", None, A::None, O::Rate, Some(C::Rate), S::Option, None, "List rates."),
    opt("thresholds", None, A::None, O::Thresholds, Some(C::Thresholds), S::Option, None, "List thresholds."),
    opt("persistent-conn", None, A::None, O::PersistentConn, Some(C::PersistentConn), S::Option, None, "List persistent connection counters."),
    opt("nosort", None, A::None, O::NoSort, Some(C::NoSort), S::Option, None, "Do not sort services and real servers."),
    opt("sort", None, A::None, O::Sort, None, S::Option, None, "Does nothing, for backwards compatibility."),
    opt("exact", Some(b'X'), A::None, O::Exact, Some(C::Exact), S::Option, None, "Expand numbers (display exact values)."),
    opt("ipv6", Some(b'6'), A::None, O::Ipv6, None, S::Option, None, "The fwmark service (-f) is IPv6."),
    opt("ops", Some(b'o'), A::None, O::Ops, Some(C::Ops), S::Option, None, "One-packet scheduling (UDP services)."),
    opt("pe", None, A::Required, O::Pe, Some(C::Pe), S::Option, Some("engine"), "Persistence engine (sip)."),
    opt("sched-flags", Some(b'b'), A::Required, O::SchedFlags, Some(C::SchedFlags), S::Option, Some("flags"), "Scheduler flags, comma separated: flag-1,flag-2,flag-3, sh-fallback,sh-port, mh-fallback,mh-port."),
    opt("mcast-group", None, A::Required, O::McastGroup, Some(C::McastGroup), S::Daemon, Some("address"), "IPv4/IPv6 multicast group (default 224.0.0.81)."),
    opt("mcast-port", None, A::Required, O::McastPort, Some(C::McastPort), S::Daemon, Some("port"), "Multicast UDP port (default 8848)."),
    opt("mcast-ttl", None, A::Required, O::McastTtl, Some(C::McastTtl), S::Daemon, Some("ttl"), "Multicast TTL (default 1)."),
    opt("sync-maxlen", None, A::Required, O::SyncMaxlen, Some(C::SyncMaxlen), S::Daemon, Some("length"), "Maximum sync message length."),
    opt("tun-info", None, A::None, O::TunInfo, Some(C::TunInfo), S::Option, None, "List tunnel information."),
    opt("tun-type", None, A::Required, O::TunType, Some(C::TunType), S::Option, Some("type"), "Tunnel type: ipip|gue|gre (default ipip)."),
    opt("tun-port", None, A::Required, O::TunPort, Some(C::TunPort), S::Option, Some("port"), "Tunnel destination port (gue)."),
    opt("tun-nocsum", None, A::None, O::TunNocsum, Some(C::TunNocsum), S::Option, None, "Tunnel encapsulation without checksum."),
    opt("tun-csum", None, A::None, O::TunCsum, Some(C::TunCsum), S::Option, None, "Tunnel encapsulation with checksum."),
    opt("tun-remcsum", None, A::None, O::TunRemcsum, Some(C::TunRemcsum), S::Option, None, "Tunnel encapsulation with remote checksum (gue)."),
];

/// Finds an option by its exact long name (popt does no prefix matching).
pub fn find_long(name: &str) -> Option<&'static OptionSpec> {
    OPTIONS.iter().find(|o| o.long == name)
}

/// Finds an option by its short name.
pub fn find_short(c: u8) -> Option<&'static OptionSpec> {
    match SHORT_INDEX.get(usize::from(c)) {
        Some(&i) if i != 0 => Some(&OPTIONS[usize::from(i) - 1]),
        _ => None,
    }
}

/// For each byte, 1 + the index in [`OPTIONS`] of the first option with
/// that short name (0: none).
const SHORT_INDEX: [u8; 256] = {
    let mut out = [0u8; 256];
    let mut i = OPTIONS.len();
    // Backwards, so the first option with a given name wins.
    while i > 0 {
        i -= 1;
        if let Some(c) = OPTIONS[i].short {
            out[c as usize] = (i + 1) as u8;
        }
    }
    out
};

/// The option's spec.
pub fn spec(id: OptId) -> &'static OptionSpec {
    OPTIONS.iter().find(|o| o.id == id).unwrap_or(&OPTIONS[0])
}

/// Limits ipvsadm applies while parsing.
pub mod limits {
    /// `-p`, `--set`: 31 days.
    pub const MAX_TIMEOUT: i64 = 86400 * 31;
    /// `-p` without a value.
    pub const DEFAULT_PERSISTENT_TIMEOUT: u32 = 360;
    /// `--mcast-interface` is silently cut to this many bytes.
    pub use ipvs::daemon::IFNAME_MAX;
    /// `-s` is silently cut to this many bytes, `--pe` to this many.
    pub use ipvs::service::{PE_NAME_MAX, SCHED_NAME_MAX};
    /// `-b`'s argument is silently cut to this many bytes.
    pub const SCHED_FLAGS_MAX: usize = 127;
    /// Highest weight (the Debian build accepts up to `INT_MAX`).
    pub const MAX_WEIGHT: i64 = i32::MAX as i64;
    /// Highest sync message length (65535 - IP header - UDP header).
    pub const MAX_SYNC_MAXLEN: i64 = 65535 - 20 - 8;
    /// Scheduler used when `-s` is absent or empty.
    pub const DEFAULT_SCHEDULER: &str = "wlc";
    /// Interface used when `--mcast-interface` is absent.
    pub const DEFAULT_MCAST_IFN: &str = "eth0";
    /// Service column width in listings (IPv4 and fwmark services).
    pub const SERVICE_NAME_WIDTH: usize = 33;
    /// Real-server column width in listings (non-IPv6 real servers).
    pub const DEST_NAME_WIDTH: usize = 28;
    /// `addr:port` strings are built in a 60-byte buffer.
    pub const ADDRPORT_MAX: usize = 59;
    /// Longest token of a `-R` line; longer words are split.
    pub const RESTORE_TOKEN_MAX: usize = 4096;
    /// `-c` reads the connection table in chunks of this many bytes (the
    /// C tool's `fgets` buffer minus the NUL).
    pub const CONN_LINE_MAX: usize = 255;
    /// Minimum kernel IPVS version before the mismatch warning.
    pub const MIN_IPVS_VERSION: u32 = 0x010104;
}

/// Every message the command line prints, with its parameters.
///
/// Messages that repeat what the user typed (argv words, `-R` words, the
/// program name) are bytes, echoed as typed: the C tool prints them with
/// `%s`, whatever their encoding.
pub mod msg {

    /// The pieces, one after the other.
    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }
    /// ``Try `%s -h' or '%s --help' for more information.``
    pub fn try_help(program: &[u8]) -> Vec<u8> {
        cat(&[
            b"Try `",
            program,
            b" -h' or '",
            program,
            b" --help' for more information.",
        ])
    }
    /// A popt error: `--foo: unknown option`.
    pub fn popt_error(bad: &[u8], what: &str) -> Vec<u8> {
        cat(&[bad, b": ", what.as_bytes()])
    }
    /// popt's text for an unknown option.
    pub const POPT_BADOPT: &str = "unknown option";
    /// popt's text for a missing mandatory argument.
    pub const POPT_NOARG: &str = "missing argument";
    /// popt's text for an argument given to a switch.
    pub const POPT_UNWANTEDARG: &str = "option does not take an argument";
    /// A command after the first option.
    pub fn invalid_option(opt: &[u8]) -> Vec<u8> {
        cat(&[b"invalid option `", opt, b"'"])
    }
    /// Duplicate tracked option.
    pub fn multiple_options(column: &str) -> String {
        format!("multiple '{column}' options specified")
    }
    /// Leftover word.
    pub fn unexpected_argument(arg: &[u8]) -> Vec<u8> {
        cat(&[b"unexpected argument ", arg])
    }
    /// `--set` without three values.
    pub const SET_NEEDS_3: &str = "--set option requires 3 timeout values";
    /// Bad `--start-daemon` argument.
    pub const ILLEGAL_START_DAEMON: &str = "illegal start-daemon parameter specified";
    /// Bad `--stop-daemon` argument (sic).
    pub const ILLEGAL_STOP_DAEMON: &str = "illegal start_daemon specified";
    /// Bad `-t/-u/--sctp-service`.
    pub const ILLEGAL_VIRTUAL_SERVER: &str = "illegal virtual server address[:port] specified";
    /// Bad `-r`.
    pub const ILLEGAL_REAL_SERVER: &str = "illegal real server address[:port] specified";
    /// Bad `-f`.
    pub fn invalid_fwmark(arg: &[u8]) -> Vec<u8> {
        cat(&[b"invalid fwmark value `", arg, b"' specified"])
    }
    /// Bad `-p` or `--set` value.
    pub fn invalid_timeout(arg: &[u8]) -> Vec<u8> {
        cat(&[b"invalid timeout value `", arg, b"' specified"])
    }
    /// Bad IPv4 `-M`.
    pub const ILLEGAL_NETMASK: &str = "illegal virtual server persistent mask specified";
    /// Bad IPv6 `-M`.
    pub const ILLEGAL_IPV6_NETMASK: &str = "illegal ipv6 netmask specified";
    /// Bad `-w`.
    pub const ILLEGAL_WEIGHT: &str = "illegal weight specified";
    /// Bad `-x`.
    pub const ILLEGAL_U_THRESHOLD: &str = "illegal u_threshold specified";
    /// Bad `-y`.
    pub const ILLEGAL_L_THRESHOLD: &str = "illegal l_threshold specified";
    /// Bad `--syncid`.
    pub const ILLEGAL_SYNCID: &str = "illegal syncid specified";
    /// `-6` without a preceding `-f` (the C tool prints an extra newline).
    pub const IPV6_BEFORE_FWMARK: &str = "-6 used before -f\n";
    /// Bad IPv6 `--mcast-group`.
    pub fn invalid_ipv6_mcast_group(arg: &[u8]) -> Vec<u8> {
        cat(&[b"invalid IPv6 mcast-group `", arg, b"'"])
    }
    /// Bad IPv4 `--mcast-group`.
    pub fn invalid_ipv4_mcast_group(arg: &[u8]) -> Vec<u8> {
        cat(&[b"invalid IPv4 mcast-group `", arg, b"'"])
    }
    /// Bad `--mcast-port`.
    pub const ILLEGAL_MCAST_PORT: &str = "illegal mcast-port specified";
    /// Bad `--mcast-ttl`.
    pub const ILLEGAL_MCAST_TTL: &str = "illegal mcast-ttl specified";
    /// Bad `--sync-maxlen`.
    pub const ILLEGAL_SYNC_MAXLEN: &str = "illegal sync-maxlen specified";
    /// Bad `--tun-type`.
    pub const ILLEGAL_TUNNEL_TYPE: &str = "illegal tunnel type specified";
    /// Bad `--tun-port`.
    pub const ILLEGAL_TUNNEL_PORT: &str = "illegal tunnel port specified";
    /// `-b` flag that needs another scheduler.
    pub fn incompatible_sched_flag(flag: &[u8]) -> Vec<u8> {
        cat(&[b"incompatible scheduler flag `", flag, b"'"])
    }
    /// Unknown `-b` flag (also used, deliberately, for a `-b` made only of
    /// commas, on which ipvsadm 1.31 crashes).
    pub fn invalid_sched_flag(flag: &[u8]) -> Vec<u8> {
        cat(&[b"invalid scheduler flag `", flag, b"'"])
    }
    /// Required column missing.
    pub fn need_option(column: &str, command: &str) -> String {
        format!("You need to supply the '{column}' option for the '{command}' command")
    }
    /// Illegal column.
    pub fn illegal_option(column: &str, command: &str) -> String {
        format!("Illegal '{column}' option with the '{command}' command")
    }
    /// Two exclusive columns.
    pub fn conflicting_options(later: &str, earlier: &str, command: &str) -> String {
        format!(
            "The option '{later}' conflicts with the '{earlier}' option in the '{command}' command"
        )
    }
    /// Required tunnel column missing.
    pub fn need_tunnel_option(column: &str, tun_type: &str) -> String {
        format!("You need to supply the '{column}' option for the '{tun_type}' tunnel type")
    }
    /// Illegal tunnel column.
    pub fn illegal_tunnel_option(column: &str, tun_type: &str) -> String {
        format!("Illegal '{column}' option with the '{tun_type}' tunnel type")
    }
    /// Two exclusive tunnel columns.
    pub fn conflicting_tunnel_options(later: &str, earlier: &str, tun_type: &str) -> String {
        format!(
            "The option '{later}' conflicts with the '{earlier}' option in the '{tun_type}' tunnel type"
        )
    }
    /// Port 0 without `-p`.
    pub const ZERO_PORT: &str = "Zero port specified for non-persistent service";
    /// `-o` on a TCP/SCTP service.
    pub const OPS_ONLY_UDP: &str = "One-Packet Scheduling is only for UDP virtual services";
    /// Mixed families without tunnelling.
    pub const DIFFERENT_AF: &str = "Different address family is allowed only for tunneling servers";
    /// `--tun-*` without `-i`.
    pub const TUNNEL_OPTIONS_CONFLICT: &str = "Tunnel options conflict with forward method";
    /// `-L` with incompatible modifiers.
    pub const LIST_CONFLICT: &str = "options conflicts in the list command";
    /// Kernel not reachable.
    pub fn cannot_initialize(reason: &str) -> String {
        format!(
            "Can't initialize ipvs: {reason}\nAre you sure that IP Virtual Server is built in the kernel or as module?"
        )
    }
    /// Old kernel warning (printed with a trailing blank line).
    pub fn version_mismatch(kernel: (u32, u32, u32), min: (u32, u32, u32)) -> String {
        format!(
            "Warning: IPVS version mismatch: \n  Kernel compiled with IPVS version {}.{}.{}\n  ipvsadm v1.31  requires minimum IPVS version {}.{}.{}\n",
            kernel.0, kernel.1, kernel.2, min.0, min.1, min.2
        )
    }
    /// `-c` without `/proc/net/ip_vs_conn`.
    pub fn cannot_open(path: &str) -> String {
        format!("cannot open file {path}")
    }
    /// `-c` on an empty connection file.
    pub fn unexpected_input(path: &str) -> String {
        format!("unexpected input from {path}")
    }
    /// Writing to stdout failed (not a C tool message: it would exit
    /// silently or die of SIGPIPE).
    pub fn write_error(program: &[u8], err: &str) -> Vec<u8> {
        cat(&[program, b": write error: ", err.as_bytes()])
    }
    /// `ipvsadm-save`'s usage (both lines, to stderr).
    pub fn save_usage(basename: &[u8]) -> Vec<u8> {
        cat(&[
            basename,
            b": Script to save the IPVS table to stdout.\n   With the -n option, prints out the table in numeric format.",
        ])
    }
}

/// The connection table `-c` reads.
pub use ipvs::conn::PROC_IP_VS_CONN as CONN_PROC_FILE;

/// The first line of `-h` and the whole of `-v`.
///
/// Deliberate difference: ipvsadm prints `ipvsadm v1.31 2019/12/24
/// (compiled with popt and IPVS v1.2.1)`; this names the project instead of
/// the build date.
pub fn version_line() -> String {
    format!("ipvsadm v1.31 ({PROJECT} {PROJECT_VERSION})")
}

/// The synopsis lines of `-h`, each printed as `  <program><line>`.
pub const USAGE_SYNOPSIS: [&str; 13] = [
    " -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe persistence_engine] [-b sched-flags]",
    " -D virtual-service",
    " -C",
    " -R",
    " -S [-n]",
    " -a|e virtual-service -r server-address [options]",
    " -d virtual-service -r server-address",
    " -L|l [virtual-service] [options]",
    " -Z [virtual-service]",
    " --set tcp tcpfin udp",
    " --start-daemon {master|backup} [daemon-options]",
    " --stop-daemon {master|backup}",
    " -h",
];

/// Everything of `-h` after the synopsis (byte-identical to ipvsadm 1.31).
pub const USAGE_BODY: &str = "\
Commands:
Either long or short options are allowed.
  --add-service     -A        add virtual service with options
  --edit-service    -E        edit virtual service with options
  --delete-service  -D        delete virtual service
  --clear           -C        clear the whole table
  --restore         -R        restore rules from stdin
  --save            -S        save rules to stdout
  --add-server      -a        add real server with options
  --edit-server     -e        edit real server with options
  --delete-server   -d        delete real server
  --list            -L|-l     list the table
  --zero            -Z        zero counters in a service or all services
  --set tcp tcpfin udp        set connection timeout values
  --start-daemon              start connection sync daemon
  --stop-daemon               stop connection sync daemon
  --help            -h        display this help message

virtual-service:
  --tcp-service|-t  service-address   service-address is host[:port]
  --udp-service|-u  service-address   service-address is host[:port]
  --sctp-service    service-address   service-address is host[:port]
  --fwmark-service|-f fwmark          fwmark is an integer greater than zero

Options:
  --ipv6         -6                   fwmark entry uses IPv6
  --scheduler    -s scheduler         one of rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh,
                                      the default scheduler is wlc.
  --pe            engine              alternate persistence engine may be sip,
                                      not set by default.
  --persistent   -p [timeout]         persistent service
  --netmask      -M netmask           persistent granularity mask
  --real-server  -r server-address    server-address is host (and port)
  --gatewaying   -g                   gatewaying (direct routing) (default)
  --ipip         -i                   ipip encapsulation (tunneling)
  --masquerading -m                   masquerading (NAT)
  --tun-type      type                one of ipip|gue|gre,
                                      the default tunnel type is ipip.
  --tun-port      port                tunnel destination port
  --tun-nocsum                        tunnel encapsulation without checksum
  --tun-csum                          tunnel encapsulation with checksum
  --tun-remcsum                       tunnel encapsulation with remote checksum
  --weight       -w weight            capacity of real server
  --u-threshold  -x uthreshold        upper threshold of connections
  --l-threshold  -y lthreshold        lower threshold of connections
  --connection   -c                   output of current IPVS connections
  --timeout                           output of timeout (tcp tcpfin udp)
  --daemon                            output of daemon information
  --stats                             output of statistics information
  --rate                              output of rate information
  --exact                             expand numbers (display exact values)
  --thresholds                        output of thresholds information
  --persistent-conn                   output of persistent connection info
  --tun-info                          output of tunnel information
  --nosort                            disable sorting output of service/server entries
  --sort                              does nothing, for backwards compatibility
  --ops          -o                   one-packet scheduling
  --numeric      -n                   numeric output of addresses and ports
  --sched-flags  -b flags             scheduler flags (comma-separated)
Daemon Options:
  --syncid sid                        syncid for connection sync (default=255)
  --sync-maxlen length                Max sync message length (default=1472)
  --mcast-interface interface         multicast interface for connection sync
  --mcast-group address               IPv4/IPv6 group (default=224.0.0.81)
  --mcast-port port                   UDP port (default=8848)
  --mcast-ttl ttl                     Multicast TTL (default=1)
";

/// The full `-h` text for `program` (argv\[0\] as typed).
pub fn usage(program: &[u8]) -> Vec<u8> {
    let mut s = version_line().into_bytes();
    s.extend_from_slice(b"\nUsage:\n");
    for line in USAGE_SYNOPSIS {
        s.extend_from_slice(b"  ");
        s.extend_from_slice(program);
        s.extend_from_slice(line.as_bytes());
        s.push(b'\n');
    }
    s.push(b'\n');
    s.extend_from_slice(USAGE_BODY.as_bytes());
    s
}

/// Listing titles (see [`crate::ipvsadm::format`]).
pub mod titles {
    /// Header line of every full listing.
    pub fn version_header(major: u32, minor: u32, patch: u32, size: i32) -> String {
        format!("IP Virtual Server version {major}.{minor}.{patch} (size={size})")
    }
    /// First column title.
    pub const PROT_LOCAL: &str = "Prot LocalAddress:Port";
    /// Second title line of the numeric modes.
    pub const REMOTE: &str = "  -> RemoteAddress:Port";
    /// Default title.
    pub const DEFAULT: &str = "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";
    /// `--tun-info` title.
    pub const TUN_INFO: &str = "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n";
    /// `--stats` column names.
    pub const STATS: [&str; 5] = ["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"];
    /// `--rate` column names.
    pub const RATE: [&str; 5] = ["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"];
    /// `--thresholds` column names.
    pub const THRESHOLDS: [&str; 4] = ["Uthreshold", "Lthreshold", "ActiveConn", "InActConn"];
    /// `--persistent-conn` column names.
    pub const PERSISTENT_CONN: [&str; 4] = ["Weight", "PersistConn", "ActiveConn", "InActConn"];
    /// `-c` header.
    pub const CONN_ENTRIES: &str = "IPVS connection entries";
    /// `-c` column names.
    pub const CONN_COLUMNS: [&str; 6] = [
        "state",
        "source",
        "virtual",
        "destination",
        "pe name",
        "pe_data",
    ];
    /// `--timeout` line prefix.
    pub const TIMEOUT: &str = "Timeout (tcp tcpfin udp):";
    /// Forwarding method names, indexed by method (0..=3).
    pub const FORWARD_NAMES: [&str; 4] = ["Masq", "Local", "Tunnel", "Route"];
    /// glibc's rendering of a NULL `%s`.
    pub const NULL: &str = "(null)";
    /// Tunnel info of a non-tunnel real server.
    pub const NOT_APPLICABLE: &str = "n/a";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_the_right_shape() {
        assert!(LEGALITY.iter().all(|r| r.len() == Column::ALL.len()));
        assert!(TUNNEL_LEGALITY
            .iter()
            .all(|r| r.len() == TUNNEL_COLUMNS.len()));
        for (i, c) in Column::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
        }
        // Spec §1.5, spot checks.
        assert_eq!(Command::List.legality(Column::SyncId), Legality::Optional);
        assert_eq!(Command::List.legality(Column::Daemon), Legality::Exclusive);
        assert_eq!(
            Command::AddServer.legality(Column::TunInfo),
            Legality::Illegal
        );
        assert_eq!(
            Command::EditServer.legality(Column::RealServer),
            Legality::Required
        );
        assert_eq!(
            Command::Zero.legality(Column::ServiceAddress),
            Legality::Optional
        );
        assert_eq!(Command::Save.legality(Column::Numeric), Legality::Optional);
        assert_eq!(
            Command::StopDaemon.legality(Column::SyncId),
            Legality::Optional
        );
        assert_eq!(
            Command::StartDaemon.legality(Column::SyncMaxlen),
            Legality::Optional
        );
    }

    #[test]
    fn option_names_are_unique() {
        for o in OPTIONS.iter() {
            let same_long = OPTIONS.iter().filter(|p| p.long == o.long).count();
            assert!(same_long == 1 || o.long == "list", "{}", o.long);
            if let Some(s) = o.short {
                assert_eq!(OPTIONS.iter().filter(|p| p.short == Some(s)).count(), 1);
            }
        }
        assert_eq!(find_long("list").map(|o| o.id), Some(OptId::List));
    }
}
