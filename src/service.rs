//! Virtual services: the `IPVS_SVC_ATTR_*` attributes and the [`Service`]
//! model (`ipvsadm -A/-E/-D`, and the service lines of `ipvsadm -L`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, Nla, NlaBuffer, NlasIterator, Parseable,
};

use crate::stats::{walk_nest_with_stats, Stats, StatsNest, StatsWidth};
use crate::wire::{
    c_string, emit_c_string, fixed, u16_be, u16_ne, u32_ne, InetAddr, NlaWriter, AF_INET, AF_INET6,
};

const IPVS_SVC_ATTR_AF: u16 = 1;
const IPVS_SVC_ATTR_PROTOCOL: u16 = 2;
const IPVS_SVC_ATTR_ADDR: u16 = 3;
const IPVS_SVC_ATTR_PORT: u16 = 4;
const IPVS_SVC_ATTR_FWMARK: u16 = 5;
const IPVS_SVC_ATTR_SCHED_NAME: u16 = 6;
const IPVS_SVC_ATTR_FLAGS: u16 = 7;
const IPVS_SVC_ATTR_TIMEOUT: u16 = 8;
const IPVS_SVC_ATTR_NETMASK: u16 = 9;
const IPVS_SVC_ATTR_STATS: u16 = 10;
const IPVS_SVC_ATTR_PE_NAME: u16 = 11;
const IPVS_SVC_ATTR_STATS64: u16 = 12;

const IPPROTO_TCP: u16 = libc::IPPROTO_TCP as u16;
const IPPROTO_UDP: u16 = libc::IPPROTO_UDP as u16;
const IPPROTO_SCTP: u16 = libc::IPPROTO_SCTP as u16;

/// `IP_VS_SCHEDNAME_MAXLEN`: scheduler names are at most 15 bytes.
pub const SCHED_NAME_MAX: usize = 15;
/// `IP_VS_PENAME_MAXLEN`: persistence-engine names are at most 16 bytes
/// (the kernel's policy for `IPVS_SVC_ATTR_PE_NAME` is a NUL-terminated
/// string of up to 16 characters; ipvsadm sends 16 and gets `ENOENT`).
pub const PE_NAME_MAX: usize = 16;

/// The `{flags, mask}` pair of `IPVS_SVC_ATTR_FLAGS` (`struct ip_vs_flags`,
/// host byte order). The kernel computes `new = (old & !mask) | (flags & mask)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlagsWithMask {
    /// The flag bits to set.
    pub flags: ServiceFlags,
    /// Which bits `flags` applies to.
    pub mask: u32,
}

/// One attribute of a service nest (`IPVS_CMD_ATTR_SERVICE`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServiceAttribute {
    /// `IPVS_SVC_ATTR_AF`: address family (u16, `AF_INET` or `AF_INET6`).
    AddressFamily(u16),
    /// `IPVS_SVC_ATTR_PROTOCOL`: IP protocol number (u16).
    Protocol(u16),
    /// `IPVS_SVC_ATTR_ADDR`: virtual address (16-byte union).
    Address(InetAddr),
    /// `IPVS_SVC_ATTR_PORT`: virtual port (big-endian on the wire).
    Port(u16),
    /// `IPVS_SVC_ATTR_FWMARK`: firewall mark identifying the service.
    Fwmark(u32),
    /// `IPVS_SVC_ATTR_SCHED_NAME`: scheduler name (NUL-terminated).
    SchedName(String),
    /// `IPVS_SVC_ATTR_FLAGS`: service flags with the mask they apply to.
    Flags(FlagsWithMask),
    /// `IPVS_SVC_ATTR_TIMEOUT`: persistence timeout in seconds.
    Timeout(u32),
    /// `IPVS_SVC_ATTR_NETMASK`: persistence granularity, raw wire bytes
    /// (an IPv4 mask in network order, or an IPv6 prefix length as a
    /// host-order u32).
    Netmask([u8; 4]),
    /// `IPVS_SVC_ATTR_STATS`: 32-bit counters (replies only).
    Stats(StatsNest),
    /// `IPVS_SVC_ATTR_PE_NAME`: persistence engine name (NUL-terminated).
    PeName(String),
    /// `IPVS_SVC_ATTR_STATS64`: 64-bit counters (replies only, kernel 4.1+).
    Stats64(StatsNest),
    /// An attribute this crate does not know, kept as received.
    Other(DefaultNla),
}

impl Nla for ServiceAttribute {
    fn value_len(&self) -> usize {
        use ServiceAttribute::*;
        match self {
            AddressFamily(_) | Protocol(_) | Port(_) => 2,
            Address(_) => 16,
            Fwmark(_) | Timeout(_) | Netmask(_) => 4,
            Flags(_) => 8,
            SchedName(s) | PeName(s) => s.len() + 1,
            Stats(n) | Stats64(n) => n.value_len(),
            Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        use ServiceAttribute::*;
        match self {
            AddressFamily(_) => IPVS_SVC_ATTR_AF,
            Protocol(_) => IPVS_SVC_ATTR_PROTOCOL,
            Address(_) => IPVS_SVC_ATTR_ADDR,
            Port(_) => IPVS_SVC_ATTR_PORT,
            Fwmark(_) => IPVS_SVC_ATTR_FWMARK,
            SchedName(_) => IPVS_SVC_ATTR_SCHED_NAME,
            Flags(_) => IPVS_SVC_ATTR_FLAGS,
            Timeout(_) => IPVS_SVC_ATTR_TIMEOUT,
            Netmask(_) => IPVS_SVC_ATTR_NETMASK,
            Stats(_) => IPVS_SVC_ATTR_STATS,
            PeName(_) => IPVS_SVC_ATTR_PE_NAME,
            Stats64(_) => IPVS_SVC_ATTR_STATS64,
            Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        use ServiceAttribute::*;
        match self {
            AddressFamily(v) | Protocol(v) => buf.copy_from_slice(&v.to_ne_bytes()),
            Port(v) => buf.copy_from_slice(&v.to_be_bytes()),
            Address(a) => buf.copy_from_slice(&a.0),
            Fwmark(v) | Timeout(v) => buf.copy_from_slice(&v.to_ne_bytes()),
            Netmask(b) => buf.copy_from_slice(b),
            Flags(f) => {
                buf[..4].copy_from_slice(&f.flags.0.to_ne_bytes());
                buf[4..].copy_from_slice(&f.mask.to_ne_bytes());
            }
            SchedName(s) | PeName(s) => emit_c_string(s.as_bytes(), buf),
            Stats(n) | Stats64(n) => n.emit_value(buf),
            Other(nla) => nla.emit_value(buf),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for ServiceAttribute {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        use ServiceAttribute::*;
        let v = buf.value();
        Ok(match buf.kind() {
            IPVS_SVC_ATTR_AF => AddressFamily(u16_ne(v, "IPVS_SVC_ATTR_AF")?),
            IPVS_SVC_ATTR_PROTOCOL => Protocol(u16_ne(v, "IPVS_SVC_ATTR_PROTOCOL")?),
            IPVS_SVC_ATTR_ADDR => Address(InetAddr::parse(v, "IPVS_SVC_ATTR_ADDR")?),
            IPVS_SVC_ATTR_PORT => Port(u16_be(v, "IPVS_SVC_ATTR_PORT")?),
            IPVS_SVC_ATTR_FWMARK => Fwmark(u32_ne(v, "IPVS_SVC_ATTR_FWMARK")?),
            IPVS_SVC_ATTR_SCHED_NAME => SchedName(c_string(v)),
            IPVS_SVC_ATTR_FLAGS => {
                let b: [u8; 8] = fixed(v, "IPVS_SVC_ATTR_FLAGS")?;
                Flags(FlagsWithMask {
                    flags: ServiceFlags(u32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
                    mask: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
                })
            }
            IPVS_SVC_ATTR_TIMEOUT => Timeout(u32_ne(v, "IPVS_SVC_ATTR_TIMEOUT")?),
            IPVS_SVC_ATTR_NETMASK => Netmask(fixed(v, "IPVS_SVC_ATTR_NETMASK")?),
            IPVS_SVC_ATTR_STATS => Stats(StatsNest::parse(v, StatsWidth::Legacy32)?),
            IPVS_SVC_ATTR_PE_NAME => PeName(c_string(v)),
            IPVS_SVC_ATTR_STATS64 => Stats64(StatsNest::parse(v, StatsWidth::Full64)?),
            _ => Other(DefaultNla::parse(buf)?),
        })
    }
}

/// Parses the attributes inside a service nest.
pub(crate) fn parse_service_nest(value: &[u8]) -> Result<Vec<ServiceAttribute>, DecodeError> {
    NlasIterator::new(value)
        .map(|nla| nla.and_then(|nla| ServiceAttribute::parse(&nla)))
        .collect()
}

/// Address family of a service or destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddressFamily {
    /// `AF_INET` (2).
    Inet,
    /// `AF_INET6` (10).
    Inet6,
}

impl AddressFamily {
    /// The kernel's number for this family.
    pub const fn to_raw(self) -> u16 {
        match self {
            AddressFamily::Inet => AF_INET,
            AddressFamily::Inet6 => AF_INET6,
        }
    }

    /// The family for a kernel number, if it is one IPVS supports.
    pub fn from_raw(af: u16) -> Option<Self> {
        match af {
            AF_INET => Some(AddressFamily::Inet),
            AF_INET6 => Some(AddressFamily::Inet6),
            _ => None,
        }
    }

    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        }
    }
}

/// Transport protocol of a virtual service (`IPVS_SVC_ATTR_PROTOCOL`).
///
/// Ordered by declaration (TCP, UDP, SCTP, then other numbers), for sorted
/// collections; the order says nothing about the protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP (6), `ipvsadm -t`.
    Tcp,
    /// UDP (17), `ipvsadm -u`.
    Udp,
    /// SCTP (132), `ipvsadm --sctp-service`.
    Sctp,
    /// Any other protocol number.
    Other(u16),
}

impl Protocol {
    /// The IP protocol number (`IPPROTO_TCP` 6, `IPPROTO_UDP` 17,
    /// `IPPROTO_SCTP` 132, or the number of [`Protocol::Other`]).
    pub const fn number(self) -> u16 {
        match self {
            Protocol::Tcp => IPPROTO_TCP,
            Protocol::Udp => IPPROTO_UDP,
            Protocol::Sctp => IPPROTO_SCTP,
            Protocol::Other(n) => n,
        }
    }
}

impl From<u16> for Protocol {
    fn from(p: u16) -> Self {
        match p {
            IPPROTO_TCP => Protocol::Tcp,
            IPPROTO_UDP => Protocol::Udp,
            IPPROTO_SCTP => Protocol::Sctp,
            other => Protocol::Other(other),
        }
    }
}

impl From<Protocol> for u16 {
    fn from(p: Protocol) -> u16 {
        p.number()
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Tcp => f.write_str("TCP"),
            Protocol::Udp => f.write_str("UDP"),
            Protocol::Sctp => f.write_str("SCTP"),
            Protocol::Other(n) => write!(f, "IP_{n}"),
        }
    }
}

/// What identifies a virtual service: protocol, address and port, or a
/// firewall mark.
///
/// ```
/// use ipvs::{AddressFamily, ServiceKey};
/// let web = ServiceKey::tcp("192.0.2.1".parse().unwrap(), 80);
/// assert_eq!(web.to_string(), "tcp:192.0.2.1:80");
/// let v6 = ServiceKey::udp("2001:db8::1".parse().unwrap(), 53);
/// assert_eq!(v6.to_string(), "udp:[2001:db8::1]:53");
/// assert_eq!(ServiceKey::fwmark6(7).family(), AddressFamily::Inet6);
/// ```
///
/// Ordered (address services first, then marks; field by field), for sorted
/// collections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKey {
    /// A TCP, UDP or SCTP service on `addr:port` (`-t`, `-u`, `--sctp-service`).
    Addr {
        /// Transport protocol.
        protocol: Protocol,
        /// Virtual IP address; its family is the service's family.
        addr: IpAddr,
        /// Virtual port (0 only for persistent services).
        port: u16,
    },
    /// A firewall-mark service (`-f`, with `-6` for IPv6).
    Fwmark {
        /// The mark packets carry.
        mark: u32,
        /// Which address family the service handles.
        family: AddressFamily,
    },
}

impl ServiceKey {
    /// A TCP service key.
    pub fn tcp(addr: IpAddr, port: u16) -> Self {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr,
            port,
        }
    }

    /// A UDP service key.
    pub fn udp(addr: IpAddr, port: u16) -> Self {
        ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr,
            port,
        }
    }

    /// An SCTP service key.
    pub fn sctp(addr: IpAddr, port: u16) -> Self {
        ServiceKey::Addr {
            protocol: Protocol::Sctp,
            addr,
            port,
        }
    }

    /// An IPv4 firewall-mark service key.
    pub fn fwmark(mark: u32) -> Self {
        ServiceKey::Fwmark {
            mark,
            family: AddressFamily::Inet,
        }
    }

    /// An IPv6 firewall-mark service key.
    pub fn fwmark6(mark: u32) -> Self {
        ServiceKey::Fwmark {
            mark,
            family: AddressFamily::Inet6,
        }
    }

    /// The service's address family.
    pub fn family(&self) -> AddressFamily {
        match self {
            ServiceKey::Addr { addr, .. } => AddressFamily::of(addr),
            ServiceKey::Fwmark { family, .. } => *family,
        }
    }

    /// Writes the key's attributes, the ones [`ServiceKey::to_attributes`]
    /// lists, in the same order.
    pub(crate) fn emit_attributes(&self, w: &mut NlaWriter<'_>) {
        w.u16_ne(IPVS_SVC_ATTR_AF, self.family().to_raw());
        match *self {
            ServiceKey::Fwmark { mark, .. } => w.u32_ne(IPVS_SVC_ATTR_FWMARK, mark),
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => {
                w.u16_ne(IPVS_SVC_ATTR_PROTOCOL, protocol.into());
                w.addr(IPVS_SVC_ATTR_ADDR, InetAddr::from(addr).0);
                w.u16_be(IPVS_SVC_ATTR_PORT, port);
            }
        }
    }

    /// The identity attributes (family plus fwmark, or protocol, address
    /// and port), as sent to select a service.
    pub fn to_attributes(&self) -> Vec<ServiceAttribute> {
        let mut nest = Vec::new();
        self.emit_attributes(&mut NlaWriter::new(&mut nest));
        // What the direct encoder writes always parses.
        parse_service_nest(&nest).unwrap_or_default()
    }
}

/// Service flag bits (`IP_VS_SVC_F_*`). Unknown bits are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct ServiceFlags(pub u32);

impl ServiceFlags {
    /// `IP_VS_SVC_F_PERSISTENT`: persistent service (`-p`).
    pub const PERSISTENT: ServiceFlags = ServiceFlags(0x0001);
    /// `IP_VS_SVC_F_HASHED`: set by the kernel while the service is hashed.
    pub const HASHED: ServiceFlags = ServiceFlags(0x0002);
    /// `IP_VS_SVC_F_ONEPACKET`: one-packet scheduling (`-o`, UDP only).
    pub const ONE_PACKET: ServiceFlags = ServiceFlags(0x0004);
    /// `IP_VS_SVC_F_SCHED1`: scheduler flag 1 (`flag-1`, `sh-fallback`,
    /// `mh-fallback`).
    pub const SCHED_1: ServiceFlags = ServiceFlags(0x0008);
    /// `IP_VS_SVC_F_SCHED2`: scheduler flag 2 (`flag-2`, `sh-port`, `mh-port`).
    pub const SCHED_2: ServiceFlags = ServiceFlags(0x0010);
    /// `IP_VS_SVC_F_SCHED3`: scheduler flag 3 (`flag-3`).
    pub const SCHED_3: ServiceFlags = ServiceFlags(0x0020);
    /// `IP_VS_SVC_F_SCHED_SH_FALLBACK`.
    pub const SH_FALLBACK: ServiceFlags = Self::SCHED_1;
    /// `IP_VS_SVC_F_SCHED_SH_PORT`.
    pub const SH_PORT: ServiceFlags = Self::SCHED_2;
    /// `IP_VS_SVC_F_SCHED_MH_FALLBACK`.
    pub const MH_FALLBACK: ServiceFlags = Self::SCHED_1;
    /// `IP_VS_SVC_F_SCHED_MH_PORT`.
    pub const MH_PORT: ServiceFlags = Self::SCHED_2;
    /// All three scheduler flag bits.
    pub const SCHED_MASK: ServiceFlags = ServiceFlags(0x0038);

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: ServiceFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set.
    pub fn intersects(self, other: ServiceFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// Sets or clears the bits of `other`.
    pub fn set(&mut self, other: ServiceFlags, on: bool) {
        if on {
            self.0 |= other.0;
        } else {
            self.0 &= !other.0;
        }
    }
}

impl std::ops::BitOr for ServiceFlags {
    type Output = ServiceFlags;
    fn bitor(self, rhs: ServiceFlags) -> ServiceFlags {
        ServiceFlags(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for ServiceFlags {
    fn bitor_assign(&mut self, rhs: ServiceFlags) {
        self.0 |= rhs.0;
    }
}

/// Persistence granularity (`IPVS_SVC_ATTR_NETMASK`, `ipvsadm -M`): clients
/// whose addresses agree under this mask share a persistence template.
///
/// The wire format differs by family: an IPv4 mask travels as its bytes in
/// network order, an IPv6 prefix as a host-order integer.
///
/// ```
/// use ipvs::{AddressFamily, Netmask};
/// let v4 = Netmask::Ipv4("255.255.255.0".parse().unwrap());
/// assert_eq!(v4.to_wire(), [255, 255, 255, 0]);
/// let v6 = Netmask::Ipv6Prefix(64);
/// assert_eq!(Netmask::from_wire(v6.to_wire(), AddressFamily::Inet6), v6);
/// assert_eq!(Netmask::full(AddressFamily::Inet6), Netmask::Ipv6Prefix(128));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Netmask {
    /// An IPv4 mask (any 32-bit value; the kernel does not check contiguity).
    Ipv4(Ipv4Addr),
    /// An IPv6 prefix length (the kernel accepts 1..=128).
    Ipv6Prefix(u32),
}

impl Netmask {
    /// The default for a family: /32 for IPv4, /128 for IPv6.
    pub fn full(family: AddressFamily) -> Self {
        match family {
            AddressFamily::Inet => Netmask::Ipv4(Ipv4Addr::BROADCAST),
            AddressFamily::Inet6 => Netmask::Ipv6Prefix(128),
        }
    }

    /// The raw attribute bytes.
    pub fn to_wire(self) -> [u8; 4] {
        match self {
            Netmask::Ipv4(m) => m.octets(),
            Netmask::Ipv6Prefix(p) => p.to_ne_bytes(),
        }
    }

    /// Interprets raw attribute bytes for a family.
    pub fn from_wire(bytes: [u8; 4], family: AddressFamily) -> Self {
        match family {
            AddressFamily::Inet => Netmask::Ipv4(Ipv4Addr::from(bytes)),
            AddressFamily::Inet6 => Netmask::Ipv6Prefix(u32::from_ne_bytes(bytes)),
        }
    }
}

/// Well-known scheduler names (`-s`). The scheduler is an open string: the
/// kernel loads `ip_vs_<name>` on demand, so names not listed here work too.
pub mod scheduler {
    /// Round robin.
    pub const RR: &str = "rr";
    /// Weighted round robin.
    pub const WRR: &str = "wrr";
    /// Least connection.
    pub const LC: &str = "lc";
    /// Weighted least connection (ipvsadm's default).
    pub const WLC: &str = "wlc";
    /// Locality-based least connection.
    pub const LBLC: &str = "lblc";
    /// Locality-based least connection with replication.
    pub const LBLCR: &str = "lblcr";
    /// Destination hashing.
    pub const DH: &str = "dh";
    /// Source hashing.
    pub const SH: &str = "sh";
    /// Shortest expected delay.
    pub const SED: &str = "sed";
    /// Never queue.
    pub const NQ: &str = "nq";
    /// Weighted failover.
    pub const FO: &str = "fo";
    /// Weighted overflow.
    pub const OVF: &str = "ovf";
    /// Maglev hashing.
    pub const MH: &str = "mh";
    /// No scheduler bound (what the kernel reports when unbound).
    pub const NONE: &str = "none";
}

/// A virtual service's configuration: what `ipvsadm -A` sets and `-E`
/// changes. Kernel state (counters, the `HASHED` flag) is not part of it; a
/// service read back ([`ServiceStatus::config`]) compares equal to the
/// configuration that created it.
///
/// ```
/// use ipvs::{Service, ServiceFlags, ServiceKey};
/// let key: ServiceKey = "tcp:192.0.2.1:80".parse().unwrap();
/// let s = Service::new(key).with_scheduler("mh").with_flags(ServiceFlags::MH_PORT);
/// assert_eq!(s.scheduler, "mh");
/// assert!(s.flags.contains(ServiceFlags::MH_PORT));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Service {
    /// What identifies the service.
    pub key: ServiceKey,
    /// Scheduler name (`IPVS_SVC_ATTR_SCHED_NAME`); see [`scheduler`].
    pub scheduler: String,
    /// Flag bits (`IPVS_SVC_ATTR_FLAGS`) without the kernel's
    /// [`ServiceFlags::HASHED`]. Sent with an all-ones mask, so an edit
    /// replaces every flag, as `ipvsadm -E` does.
    pub flags: ServiceFlags,
    /// Persistence timeout in seconds (`IPVS_SVC_ATTR_TIMEOUT`); used when
    /// [`ServiceFlags::PERSISTENT`] is set.
    pub timeout: u32,
    /// Persistence granularity (`IPVS_SVC_ATTR_NETMASK`).
    pub netmask: Netmask,
    /// Persistence engine (`IPVS_SVC_ATTR_PE_NAME`), e.g. `sip`.
    #[cfg_attr(feature = "serde", serde(default))]
    pub pe_name: Option<String>,
}

/// A service as the kernel reports it: its configuration plus what only the
/// kernel knows.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ServiceStatus {
    /// The configuration, as [`Service`] (comparable with the desired one).
    pub config: Service,
    /// Every flag bit the kernel reported, [`ServiceFlags::HASHED`] included.
    pub kernel_flags: ServiceFlags,
    /// Counters and rates (64-bit when the kernel sends them).
    pub stats: Stats,
}

impl ServiceStatus {
    /// A status with no counters, for a configuration (as a kernel that just
    /// added the service would report it, HASHED aside).
    pub fn new(config: Service) -> Self {
        ServiceStatus {
            kernel_flags: config.flags,
            config,
            stats: Stats::default(),
        }
    }

    /// Sets the counters.
    pub fn with_stats(mut self, stats: Stats) -> Self {
        self.stats = stats;
        self
    }

    /// Builds the status from a service nest received from the kernel.
    pub fn from_attributes(attrs: &[ServiceAttribute]) -> Result<Self, DecodeError> {
        // One decoder: the list is emitted and read as the kernel's bytes are.
        let mut nest = vec![0; attrs.buffer_len()];
        attrs.emit(&mut nest);
        Self::from_nest(&nest)
    }

    /// Builds the status straight from the bytes of a service nest, as
    /// [`ServiceStatus::from_attributes`] would from its parsed attributes,
    /// without building the attribute list.
    pub fn from_nest(value: &[u8]) -> Result<Self, DecodeError> {
        let mut b = ServiceBuilder::default();
        let stats =
            walk_nest_with_stats(value, IPVS_SVC_ATTR_STATS, IPVS_SVC_ATTR_STATS64, |nla| {
                b.take(&ServiceAttribute::parse(nla)?);
                Ok(())
            })?;
        // Already the preferred counters (64-bit when sent), as `finish`
        // would pick them.
        b.stats64 = stats;
        b.finish()
    }
}

impl Service {
    /// A service with scheduler `wlc`, no flags and the family's full
    /// netmask: what `ipvsadm -A` sends when given only the service.
    pub fn new(key: ServiceKey) -> Self {
        Service {
            key,
            scheduler: scheduler::WLC.to_string(),
            flags: ServiceFlags::default(),
            timeout: 0,
            netmask: Netmask::full(key.family()),
            pe_name: None,
        }
    }

    /// Sets the scheduler.
    pub fn with_scheduler(mut self, name: &str) -> Self {
        self.scheduler = name.to_string();
        self
    }

    /// Makes the service persistent with `timeout` seconds.
    pub fn with_persistence(mut self, timeout: u32) -> Self {
        self.flags |= ServiceFlags::PERSISTENT;
        self.timeout = timeout;
        self
    }

    /// Replaces the flag bits ([`ServiceFlags::HASHED`] is the kernel's and
    /// is dropped).
    pub fn with_flags(mut self, flags: ServiceFlags) -> Self {
        self.flags = ServiceFlags(flags.0 & !ServiceFlags::HASHED.0);
        self
    }

    /// Sets the persistence timeout in seconds, flags unchanged.
    pub fn with_timeout(mut self, timeout: u32) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the persistence granularity.
    pub fn with_netmask(mut self, netmask: Netmask) -> Self {
        self.netmask = netmask;
        self
    }

    /// Sets (or, with `None`, removes) the persistence engine.
    pub fn with_pe_name(mut self, pe_name: Option<&str>) -> Self {
        self.pe_name = pe_name.map(str::to_string);
        self
    }

    /// Whether the service is persistent.
    pub fn is_persistent(&self) -> bool {
        self.flags.contains(ServiceFlags::PERSISTENT)
    }

    /// The full attribute list for NEW_SERVICE / SET_SERVICE, in the order
    /// ipvsadm sends it. Fails if a name is too long for the kernel.
    ///
    /// ```
    /// use ipvs::service::ServiceAttribute;
    /// use ipvs::{Service, ServiceKey};
    /// let s = Service::new(ServiceKey::fwmark(5)).with_scheduler("rr").with_persistence(300);
    /// let attrs = s.to_attributes().unwrap();
    /// assert_eq!(attrs[0], ServiceAttribute::AddressFamily(2)); // AF_INET
    /// assert_eq!(attrs[1], ServiceAttribute::Fwmark(5));
    /// assert_eq!(attrs[2], ServiceAttribute::SchedName("rr".into()));
    /// assert!(attrs.contains(&ServiceAttribute::Timeout(300)));
    /// assert!(Service::new(ServiceKey::fwmark(5)).with_scheduler("a-name-too-long-for-ipvs")
    ///     .to_attributes().is_err());
    /// ```
    pub fn to_attributes(&self) -> Result<Vec<ServiceAttribute>, String> {
        // One encoder: the list is what the direct encoder writes, read back.
        let mut nest = Vec::new();
        self.emit_attributes(&mut NlaWriter::new(&mut nest))?;
        parse_service_nest(&nest).map_err(|e| e.to_string())
    }

    /// The names the kernel takes must fit its buffers and have no NUL.
    fn check_names(&self) -> Result<(), String> {
        if self.scheduler.len() > SCHED_NAME_MAX {
            return Err(format!(
                "scheduler name {:?} is longer than {SCHED_NAME_MAX} bytes",
                self.scheduler
            ));
        }
        if self.scheduler.contains('\0') {
            return Err("scheduler name contains a NUL byte".into());
        }
        if let Some(pe) = &self.pe_name {
            if pe.len() > PE_NAME_MAX || pe.contains('\0') {
                return Err(format!("persistence engine name {pe:?} is invalid"));
            }
        }
        Ok(())
    }

    /// Writes the attributes [`Service::to_attributes`] lists, in the same
    /// order, with the same checks.
    pub(crate) fn emit_attributes(&self, w: &mut NlaWriter<'_>) -> Result<(), String> {
        self.check_names()?;
        self.key.emit_attributes(w);
        w.c_string(IPVS_SVC_ATTR_SCHED_NAME, &self.scheduler);
        if let Some(pe) = &self.pe_name {
            w.c_string(IPVS_SVC_ATTR_PE_NAME, pe);
        }
        let mut flags = [0u8; 8];
        flags[..4].copy_from_slice(&self.flags.0.to_ne_bytes());
        flags[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
        w.bytes(IPVS_SVC_ATTR_FLAGS, &flags);
        w.u32_ne(IPVS_SVC_ATTR_TIMEOUT, self.timeout);
        w.bytes(IPVS_SVC_ATTR_NETMASK, &self.netmask.to_wire());
        Ok(())
    }
}

/// Collects service attributes into the model.
#[derive(Default)]
struct ServiceBuilder {
    af: Option<u16>,
    protocol: Option<u16>,
    addr: Option<InetAddr>,
    port: Option<u16>,
    fwmark: Option<u32>,
    sched: Option<String>,
    flags: ServiceFlags,
    timeout: u32,
    netmask: Option<[u8; 4]>,
    pe_name: Option<String>,
    stats32: Option<Stats>,
    stats64: Option<Stats>,
}

impl ServiceBuilder {
    fn take(&mut self, a: &ServiceAttribute) {
        match a {
            ServiceAttribute::AddressFamily(v) => self.af = Some(*v),
            ServiceAttribute::Protocol(v) => self.protocol = Some(*v),
            ServiceAttribute::Address(v) => self.addr = Some(*v),
            ServiceAttribute::Port(v) => self.port = Some(*v),
            ServiceAttribute::Fwmark(v) => self.fwmark = Some(*v),
            ServiceAttribute::SchedName(v) => self.sched = Some(v.clone()),
            ServiceAttribute::Flags(v) => self.flags = v.flags,
            ServiceAttribute::Timeout(v) => self.timeout = *v,
            ServiceAttribute::Netmask(v) => self.netmask = Some(*v),
            ServiceAttribute::Stats(n) => self.stats32 = Some(n.to_stats()),
            ServiceAttribute::PeName(v) => self.pe_name = Some(v.clone()),
            ServiceAttribute::Stats64(n) => self.stats64 = Some(n.to_stats()),
            ServiceAttribute::Other(_) => {}
        }
    }

    fn finish(self) -> Result<ServiceStatus, DecodeError> {
        let af = self
            .af
            .ok_or_else(|| DecodeError::from("service without IPVS_SVC_ATTR_AF"))?;
        let family = AddressFamily::from_raw(af)
            .ok_or_else(|| DecodeError::from(format!("service with address family {af}")))?;
        let key = match (self.fwmark, self.protocol, self.addr, self.port) {
            (Some(mark), ..) if mark != 0 => ServiceKey::Fwmark { mark, family },
            (_, Some(protocol), Some(addr), Some(port)) => ServiceKey::Addr {
                protocol: protocol.into(),
                addr: addr.to_ip(af),
                port,
            },
            _ => return Err(DecodeError::from("service without fwmark or address/port")),
        };
        let config = Service {
            key,
            scheduler: self.sched.unwrap_or_default(),
            flags: ServiceFlags(self.flags.0 & !ServiceFlags::HASHED.0),
            timeout: self.timeout,
            netmask: self
                .netmask
                .map(|b| Netmask::from_wire(b, family))
                .unwrap_or(Netmask::full(family)),
            pe_name: self.pe_name.filter(|s| !s.is_empty()),
        };
        Ok(ServiceStatus {
            config,
            kernel_flags: self.flags,
            stats: self.stats64.or(self.stats32).unwrap_or_default(),
        })
    }
}
