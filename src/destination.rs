//! Real servers: the `IPVS_DEST_ATTR_*` attributes and the [`Destination`]
//! model (`ipvsadm -a/-e/-d`, and the `->` lines of `ipvsadm -L`).

use std::fmt;
use std::net::IpAddr;

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, Nla, NlaBuffer, NlasIterator, Parseable,
};

use crate::service::AddressFamily;
use crate::stats::{walk_nest_with_stats, Stats, StatsNest, StatsWidth};
use crate::wire::{u16_be, u16_ne, u32_ne, u8_of, InetAddr, NlaWriter};

const IPVS_DEST_ATTR_ADDR: u16 = 1;
const IPVS_DEST_ATTR_PORT: u16 = 2;
const IPVS_DEST_ATTR_FWD_METHOD: u16 = 3;
const IPVS_DEST_ATTR_WEIGHT: u16 = 4;
const IPVS_DEST_ATTR_U_THRESH: u16 = 5;
const IPVS_DEST_ATTR_L_THRESH: u16 = 6;
const IPVS_DEST_ATTR_ACTIVE_CONNS: u16 = 7;
const IPVS_DEST_ATTR_INACT_CONNS: u16 = 8;
const IPVS_DEST_ATTR_PERSIST_CONNS: u16 = 9;
const IPVS_DEST_ATTR_STATS: u16 = 10;
const IPVS_DEST_ATTR_ADDR_FAMILY: u16 = 11;
const IPVS_DEST_ATTR_STATS64: u16 = 12;
const IPVS_DEST_ATTR_TUN_TYPE: u16 = 13;
const IPVS_DEST_ATTR_TUN_PORT: u16 = 14;
const IPVS_DEST_ATTR_TUN_FLAGS: u16 = 15;

const IP_VS_CONN_F_MASQ: u32 = 0;
const IP_VS_CONN_F_LOCALNODE: u32 = 1;
const IP_VS_CONN_F_TUNNEL: u32 = 2;
const IP_VS_CONN_F_DROUTE: u32 = 3;

const IP_VS_CONN_F_TUNNEL_TYPE_IPIP: u8 = 0;
const IP_VS_CONN_F_TUNNEL_TYPE_GUE: u8 = 1;
const IP_VS_CONN_F_TUNNEL_TYPE_GRE: u8 = 2;

const IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM: u16 = 0;
const IP_VS_TUNNEL_ENCAP_FLAG_CSUM: u16 = 1;
const IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM: u16 = 2;

/// One attribute of a destination nest (`IPVS_CMD_ATTR_DEST`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DestinationAttribute {
    /// `IPVS_DEST_ATTR_ADDR`: real server address (16-byte union).
    Address(InetAddr),
    /// `IPVS_DEST_ATTR_PORT`: real server port (big-endian on the wire).
    Port(u16),
    /// `IPVS_DEST_ATTR_FWD_METHOD`: forwarding method (connection flags & 7).
    FwdMethod(u32),
    /// `IPVS_DEST_ATTR_WEIGHT`: weight (the kernel treats it as a signed int).
    Weight(u32),
    /// `IPVS_DEST_ATTR_U_THRESH`: upper connection threshold (0 = none).
    UpperThreshold(u32),
    /// `IPVS_DEST_ATTR_L_THRESH`: lower connection threshold.
    LowerThreshold(u32),
    /// `IPVS_DEST_ATTR_ACTIVE_CONNS`: active connections (replies only).
    ActiveConns(u32),
    /// `IPVS_DEST_ATTR_INACT_CONNS`: inactive connections (replies only).
    InactiveConns(u32),
    /// `IPVS_DEST_ATTR_PERSIST_CONNS`: persistence templates (replies only).
    PersistentConns(u32),
    /// `IPVS_DEST_ATTR_STATS`: 32-bit counters (replies only).
    Stats(StatsNest),
    /// `IPVS_DEST_ATTR_ADDR_FAMILY`: the destination's own family (3.18+),
    /// which may differ from the service's for tunnels.
    AddressFamily(u16),
    /// `IPVS_DEST_ATTR_STATS64`: 64-bit counters (replies only, 4.1+).
    Stats64(StatsNest),
    /// `IPVS_DEST_ATTR_TUN_TYPE`: tunnel type (u8).
    TunnelType(u8),
    /// `IPVS_DEST_ATTR_TUN_PORT`: tunnel destination port (big-endian).
    TunnelPort(u16),
    /// `IPVS_DEST_ATTR_TUN_FLAGS`: tunnel checksum mode (u16).
    TunnelFlags(u16),
    /// An attribute this crate does not know, kept as received.
    Other(DefaultNla),
}

impl Nla for DestinationAttribute {
    fn value_len(&self) -> usize {
        use DestinationAttribute::*;
        match self {
            Address(_) => 16,
            Port(_) | AddressFamily(_) | TunnelPort(_) | TunnelFlags(_) => 2,
            TunnelType(_) => 1,
            FwdMethod(_) | Weight(_) | UpperThreshold(_) | LowerThreshold(_) | ActiveConns(_)
            | InactiveConns(_) | PersistentConns(_) => 4,
            Stats(n) | Stats64(n) => n.value_len(),
            Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        use DestinationAttribute::*;
        match self {
            Address(_) => IPVS_DEST_ATTR_ADDR,
            Port(_) => IPVS_DEST_ATTR_PORT,
            FwdMethod(_) => IPVS_DEST_ATTR_FWD_METHOD,
            Weight(_) => IPVS_DEST_ATTR_WEIGHT,
            UpperThreshold(_) => IPVS_DEST_ATTR_U_THRESH,
            LowerThreshold(_) => IPVS_DEST_ATTR_L_THRESH,
            ActiveConns(_) => IPVS_DEST_ATTR_ACTIVE_CONNS,
            InactiveConns(_) => IPVS_DEST_ATTR_INACT_CONNS,
            PersistentConns(_) => IPVS_DEST_ATTR_PERSIST_CONNS,
            Stats(_) => IPVS_DEST_ATTR_STATS,
            AddressFamily(_) => IPVS_DEST_ATTR_ADDR_FAMILY,
            Stats64(_) => IPVS_DEST_ATTR_STATS64,
            TunnelType(_) => IPVS_DEST_ATTR_TUN_TYPE,
            TunnelPort(_) => IPVS_DEST_ATTR_TUN_PORT,
            TunnelFlags(_) => IPVS_DEST_ATTR_TUN_FLAGS,
            Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        use DestinationAttribute::*;
        match self {
            Address(a) => buf.copy_from_slice(&a.0),
            Port(v) | TunnelPort(v) => buf.copy_from_slice(&v.to_be_bytes()),
            AddressFamily(v) | TunnelFlags(v) => buf.copy_from_slice(&v.to_ne_bytes()),
            TunnelType(v) => buf[0] = *v,
            FwdMethod(v) | Weight(v) | UpperThreshold(v) | LowerThreshold(v) | ActiveConns(v)
            | InactiveConns(v) | PersistentConns(v) => buf.copy_from_slice(&v.to_ne_bytes()),
            Stats(n) | Stats64(n) => n.emit_value(buf),
            Other(nla) => nla.emit_value(buf),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for DestinationAttribute {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        use DestinationAttribute::*;
        let v = buf.value();
        Ok(match buf.kind() {
            IPVS_DEST_ATTR_ADDR => Address(InetAddr::parse(v, "IPVS_DEST_ATTR_ADDR")?),
            IPVS_DEST_ATTR_PORT => Port(u16_be(v, "IPVS_DEST_ATTR_PORT")?),
            IPVS_DEST_ATTR_FWD_METHOD => FwdMethod(u32_ne(v, "IPVS_DEST_ATTR_FWD_METHOD")?),
            IPVS_DEST_ATTR_WEIGHT => Weight(u32_ne(v, "IPVS_DEST_ATTR_WEIGHT")?),
            IPVS_DEST_ATTR_U_THRESH => UpperThreshold(u32_ne(v, "IPVS_DEST_ATTR_U_THRESH")?),
            IPVS_DEST_ATTR_L_THRESH => LowerThreshold(u32_ne(v, "IPVS_DEST_ATTR_L_THRESH")?),
            IPVS_DEST_ATTR_ACTIVE_CONNS => ActiveConns(u32_ne(v, "IPVS_DEST_ATTR_ACTIVE_CONNS")?),
            IPVS_DEST_ATTR_INACT_CONNS => InactiveConns(u32_ne(v, "IPVS_DEST_ATTR_INACT_CONNS")?),
            IPVS_DEST_ATTR_PERSIST_CONNS => {
                PersistentConns(u32_ne(v, "IPVS_DEST_ATTR_PERSIST_CONNS")?)
            }
            IPVS_DEST_ATTR_STATS => Stats(StatsNest::parse(v, StatsWidth::Legacy32)?),
            IPVS_DEST_ATTR_ADDR_FAMILY => AddressFamily(u16_ne(v, "IPVS_DEST_ATTR_ADDR_FAMILY")?),
            IPVS_DEST_ATTR_STATS64 => Stats64(StatsNest::parse(v, StatsWidth::Full64)?),
            IPVS_DEST_ATTR_TUN_TYPE => TunnelType(u8_of(v, "IPVS_DEST_ATTR_TUN_TYPE")?),
            IPVS_DEST_ATTR_TUN_PORT => TunnelPort(u16_be(v, "IPVS_DEST_ATTR_TUN_PORT")?),
            IPVS_DEST_ATTR_TUN_FLAGS => TunnelFlags(u16_ne(v, "IPVS_DEST_ATTR_TUN_FLAGS")?),
            _ => Other(DefaultNla::parse(buf)?),
        })
    }
}

/// Parses the attributes inside a destination nest.
pub(crate) fn parse_destination_nest(
    value: &[u8],
) -> Result<Vec<DestinationAttribute>, DecodeError> {
    NlasIterator::new(value)
        .map(|nla| nla.and_then(|nla| DestinationAttribute::parse(&nla)))
        .collect()
}

/// How the director forwards packets to a real server
/// (`IPVS_DEST_ATTR_FWD_METHOD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForwardMethod {
    /// NAT (`-m`, "Masq"): the director rewrites the destination address.
    Masquerade,
    /// Local node ("Local"): the real server is the director itself.
    Local,
    /// IP tunnelling (`-i`, "Tunnel"): ipip, GUE or GRE encapsulation.
    Tunnel,
    /// Direct routing (`-g`, "Route"): the frame is sent to the real
    /// server's MAC unchanged.
    DirectRoute,
    /// Any other value (4..=7 are not forwarding methods ipvsadm knows).
    Other(u32),
}

impl From<u32> for ForwardMethod {
    fn from(v: u32) -> Self {
        match v {
            IP_VS_CONN_F_MASQ => ForwardMethod::Masquerade,
            IP_VS_CONN_F_LOCALNODE => ForwardMethod::Local,
            IP_VS_CONN_F_TUNNEL => ForwardMethod::Tunnel,
            IP_VS_CONN_F_DROUTE => ForwardMethod::DirectRoute,
            other => ForwardMethod::Other(other),
        }
    }
}

impl ForwardMethod {
    /// The kernel's connection flag for this method (`IP_VS_CONN_F_MASQ` 0,
    /// `_LOCALNODE` 1, `_TUNNEL` 2, `_DROUTE` 3).
    pub const fn to_raw(self) -> u32 {
        match self {
            ForwardMethod::Masquerade => IP_VS_CONN_F_MASQ,
            ForwardMethod::Local => IP_VS_CONN_F_LOCALNODE,
            ForwardMethod::Tunnel => IP_VS_CONN_F_TUNNEL,
            ForwardMethod::DirectRoute => IP_VS_CONN_F_DROUTE,
            ForwardMethod::Other(v) => v,
        }
    }
}

impl From<ForwardMethod> for u32 {
    fn from(m: ForwardMethod) -> u32 {
        m.to_raw()
    }
}

/// Tunnel encapsulation for [`ForwardMethod::Tunnel`] (`IPVS_DEST_ATTR_TUN_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TunnelType {
    /// IP-in-IP (the default).
    #[default]
    Ipip,
    /// Generic UDP Encapsulation; needs a tunnel port.
    Gue,
    /// GRE.
    Gre,
    /// A type this crate does not know.
    Other(u8),
}

impl From<u8> for TunnelType {
    fn from(v: u8) -> Self {
        match v {
            IP_VS_CONN_F_TUNNEL_TYPE_IPIP => TunnelType::Ipip,
            IP_VS_CONN_F_TUNNEL_TYPE_GUE => TunnelType::Gue,
            IP_VS_CONN_F_TUNNEL_TYPE_GRE => TunnelType::Gre,
            other => TunnelType::Other(other),
        }
    }
}

impl From<TunnelType> for u8 {
    fn from(t: TunnelType) -> u8 {
        match t {
            TunnelType::Ipip => IP_VS_CONN_F_TUNNEL_TYPE_IPIP,
            TunnelType::Gue => IP_VS_CONN_F_TUNNEL_TYPE_GUE,
            TunnelType::Gre => IP_VS_CONN_F_TUNNEL_TYPE_GRE,
            TunnelType::Other(v) => v,
        }
    }
}

impl fmt::Display for TunnelType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunnelType::Ipip => f.write_str("ipip"),
            TunnelType::Gue => f.write_str("gue"),
            TunnelType::Gre => f.write_str("gre"),
            TunnelType::Other(v) => write!(f, "tunnel-type-{v}"),
        }
    }
}

/// Tunnel checksum mode (`IPVS_DEST_ATTR_TUN_FLAGS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TunnelChecksum {
    /// No checksum (`--tun-nocsum`, the default).
    #[default]
    NoCsum,
    /// Checksum (`--tun-csum`).
    Csum,
    /// Remote checksum offload (`--tun-remcsum`, GUE only).
    RemCsum,
    /// A value this crate does not know.
    Other(u16),
}

impl From<u16> for TunnelChecksum {
    fn from(v: u16) -> Self {
        match v {
            IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM => TunnelChecksum::NoCsum,
            IP_VS_TUNNEL_ENCAP_FLAG_CSUM => TunnelChecksum::Csum,
            IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM => TunnelChecksum::RemCsum,
            other => TunnelChecksum::Other(other),
        }
    }
}

impl From<TunnelChecksum> for u16 {
    fn from(c: TunnelChecksum) -> u16 {
        match c {
            TunnelChecksum::NoCsum => IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM,
            TunnelChecksum::Csum => IP_VS_TUNNEL_ENCAP_FLAG_CSUM,
            TunnelChecksum::RemCsum => IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM,
            TunnelChecksum::Other(v) => v,
        }
    }
}

/// A real server's configuration: what `ipvsadm -a` sets and `-e` changes.
/// Kernel state (connection counts, counters) is not part of it; a real
/// server read back ([`DestinationStatus::config`]) compares equal to the
/// configuration that created it.
///
/// ```
/// use ipvs::destination::DestinationAttribute;
/// use ipvs::{Destination, ForwardMethod, TunnelChecksum, TunnelType};
/// let rs = Destination::new("198.51.100.2".parse().unwrap(), 80, ForwardMethod::Tunnel)
///     .with_tunnel(TunnelType::Gue, 6080, TunnelChecksum::Csum);
/// let attrs = rs.to_attributes();
/// assert!(attrs.contains(&DestinationAttribute::TunnelPort(6080)));
/// assert!(attrs.contains(&DestinationAttribute::FwdMethod(2))); // IP_VS_CONN_F_TUNNEL
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Destination {
    /// Real server address; its family may differ from the service's only
    /// for tunnelling.
    pub addr: IpAddr,
    /// Real server port.
    pub port: u16,
    /// Forwarding method.
    pub forward: ForwardMethod,
    /// Weight (`-w`); 0 quiesces the server. The kernel rejects negative
    /// values with `ERANGE`.
    pub weight: i32,
    /// Upper connection threshold (`-x`); 0 means none.
    pub upper_threshold: u32,
    /// Lower connection threshold (`-y`); must not exceed the upper one.
    pub lower_threshold: u32,
    /// Tunnel encapsulation (meaningful for [`ForwardMethod::Tunnel`]).
    pub tunnel_type: TunnelType,
    /// Tunnel destination port (GUE).
    pub tunnel_port: u16,
    /// Tunnel checksum mode.
    pub tunnel_flags: TunnelChecksum,
}

/// A real server as the kernel reports it: its configuration plus what only
/// the kernel knows.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DestinationStatus {
    /// The configuration, as [`Destination`] (comparable with the desired one).
    pub config: Destination,
    /// Active connections (`ActiveConn`: TCP connections in ESTABLISHED).
    pub active_conns: u32,
    /// Inactive connections (`InActConn`: every other state, UDP included).
    pub inactive_conns: u32,
    /// Persistence templates pointing here (`PersistConn`).
    pub persistent_conns: u32,
    /// Counters and rates (64-bit when the kernel sends them).
    pub stats: Stats,
}

impl DestinationStatus {
    /// A status with no connections and no counters, for a configuration.
    pub fn new(config: Destination) -> Self {
        DestinationStatus {
            config,
            active_conns: 0,
            inactive_conns: 0,
            persistent_conns: 0,
            stats: Stats::default(),
        }
    }

    /// Sets the active, inactive and persistent connection counts.
    pub fn with_conns(mut self, active: u32, inactive: u32, persistent: u32) -> Self {
        self.active_conns = active;
        self.inactive_conns = inactive;
        self.persistent_conns = persistent;
        self
    }

    /// Sets the counters.
    pub fn with_stats(mut self, stats: Stats) -> Self {
        self.stats = stats;
        self
    }

    /// Connections the kernel still forwards to this real server
    /// (`ActiveConn + InActConn`): what a drain waits for.
    pub fn connections(&self) -> u64 {
        u64::from(self.active_conns) + u64::from(self.inactive_conns)
    }

    /// Builds the status from a destination nest received from the kernel.
    /// `service_family` is used when the kernel sends no
    /// `IPVS_DEST_ATTR_ADDR_FAMILY` (before 3.18).
    pub fn from_attributes(
        attrs: &[DestinationAttribute],
        service_family: AddressFamily,
    ) -> Result<Self, DecodeError> {
        // One decoder: the list is emitted and read as the kernel's bytes are.
        let mut nest = vec![0; attrs.buffer_len()];
        attrs.emit(&mut nest);
        Self::from_nest(&nest, service_family)
    }

    /// Builds the status straight from the bytes of a destination nest, as
    /// [`DestinationStatus::from_attributes`] would from its parsed
    /// attributes, without building the attribute list.
    pub fn from_nest(value: &[u8], service_family: AddressFamily) -> Result<Self, DecodeError> {
        let mut b = DestinationBuilder::default();
        let stats =
            walk_nest_with_stats(value, IPVS_DEST_ATTR_STATS, IPVS_DEST_ATTR_STATS64, |nla| {
                b.take(&DestinationAttribute::parse(nla)?);
                Ok(())
            })?;
        // Already the preferred counters (64-bit when sent), as `finish`
        // would pick them.
        b.stats64 = stats;
        b.finish(service_family)
    }
}

impl Destination {
    /// A destination with weight 1, no thresholds, and the given method.
    pub fn new(addr: IpAddr, port: u16, forward: ForwardMethod) -> Self {
        Destination {
            addr,
            port,
            forward,
            weight: 1,
            upper_threshold: 0,
            lower_threshold: 0,
            tunnel_type: TunnelType::Ipip,
            tunnel_port: 0,
            tunnel_flags: TunnelChecksum::NoCsum,
        }
    }

    /// Sets the upper (`-x`) and lower (`-y`) connection thresholds.
    pub fn with_thresholds(mut self, upper: u32, lower: u32) -> Self {
        self.upper_threshold = upper;
        self.lower_threshold = lower;
        self
    }

    /// Sets the tunnel encapsulation, its port (GUE) and checksum mode.
    pub fn with_tunnel(mut self, kind: TunnelType, port: u16, checksum: TunnelChecksum) -> Self {
        self.tunnel_type = kind;
        self.tunnel_port = port;
        self.tunnel_flags = checksum;
        self
    }

    /// Tunnel type, port and checksum mode, together.
    pub fn tunnel_settings(&self) -> (TunnelType, u16, TunnelChecksum) {
        (self.tunnel_type, self.tunnel_port, self.tunnel_flags)
    }

    /// Sets the weight.
    pub fn with_weight(mut self, weight: i32) -> Self {
        self.weight = weight;
        self
    }

    /// The destination's address family.
    pub fn family(&self) -> AddressFamily {
        AddressFamily::of(&self.addr)
    }

    /// The full attribute list for NEW_DEST / SET_DEST, in ipvsadm's order.
    pub fn to_attributes(&self) -> Vec<DestinationAttribute> {
        // One encoder: the list is what the direct encoder writes, read back
        // (which always succeeds).
        let mut nest = Vec::new();
        self.emit_attributes(&mut NlaWriter::new(&mut nest));
        parse_destination_nest(&nest).unwrap_or_default()
    }

    /// Writes the attributes [`Destination::to_attributes`] lists, in the
    /// same order.
    pub(crate) fn emit_attributes(&self, w: &mut NlaWriter<'_>) {
        self.emit_identity(w);
        w.u32_ne(IPVS_DEST_ATTR_FWD_METHOD, self.forward.into());
        w.u32_ne(IPVS_DEST_ATTR_WEIGHT, self.weight as u32);
        w.u8(IPVS_DEST_ATTR_TUN_TYPE, self.tunnel_type.into());
        w.u16_be(IPVS_DEST_ATTR_TUN_PORT, self.tunnel_port);
        w.u16_ne(IPVS_DEST_ATTR_TUN_FLAGS, self.tunnel_flags.into());
        w.u32_ne(IPVS_DEST_ATTR_U_THRESH, self.upper_threshold);
        w.u32_ne(IPVS_DEST_ATTR_L_THRESH, self.lower_threshold);
    }

    /// Writes the attributes [`Destination::identity_attributes`] lists.
    pub(crate) fn emit_identity(&self, w: &mut NlaWriter<'_>) {
        w.u16_ne(IPVS_DEST_ATTR_ADDR_FAMILY, self.family().to_raw());
        w.addr(IPVS_DEST_ATTR_ADDR, InetAddr::from(self.addr).0);
        w.u16_be(IPVS_DEST_ATTR_PORT, self.port);
    }

    /// The identity attributes (family, address, port) for DEL_DEST.
    pub fn identity_attributes(&self) -> Vec<DestinationAttribute> {
        let mut nest = Vec::new();
        self.emit_identity(&mut NlaWriter::new(&mut nest));
        parse_destination_nest(&nest).unwrap_or_default()
    }
}

/// Collects destination attributes into the model.
#[derive(Default)]
struct DestinationBuilder {
    af: Option<u16>,
    addr: Option<InetAddr>,
    port: Option<u16>,
    d: Option<DestinationStatus>,
    stats32: Option<Stats>,
    stats64: Option<Stats>,
}

impl DestinationBuilder {
    fn take(&mut self, a: &DestinationAttribute) {
        use DestinationAttribute as A;
        let d = self.d.get_or_insert_with(|| {
            DestinationStatus::new(Destination::new(
                IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                0,
                ForwardMethod::Masquerade,
            ))
        });
        match a {
            A::Address(v) => self.addr = Some(*v),
            A::Port(v) => self.port = Some(*v),
            A::FwdMethod(v) => d.config.forward = ForwardMethod::from(*v),
            A::Weight(v) => d.config.weight = *v as i32,
            A::UpperThreshold(v) => d.config.upper_threshold = *v,
            A::LowerThreshold(v) => d.config.lower_threshold = *v,
            A::ActiveConns(v) => d.active_conns = *v,
            A::InactiveConns(v) => d.inactive_conns = *v,
            A::PersistentConns(v) => d.persistent_conns = *v,
            A::Stats(n) => self.stats32 = Some(n.to_stats()),
            A::AddressFamily(v) => self.af = Some(*v),
            A::Stats64(n) => self.stats64 = Some(n.to_stats()),
            A::TunnelType(v) => d.config.tunnel_type = TunnelType::from(*v),
            A::TunnelPort(v) => d.config.tunnel_port = *v,
            A::TunnelFlags(v) => d.config.tunnel_flags = TunnelChecksum::from(*v),
            A::Other(_) => {}
        }
    }

    fn finish(self, service_family: AddressFamily) -> Result<DestinationStatus, DecodeError> {
        let af = self.af.unwrap_or(service_family.to_raw());
        if AddressFamily::from_raw(af).is_none() {
            return Err(DecodeError::from(format!(
                "destination with address family {af}"
            )));
        }
        let mut d = self
            .d
            .ok_or_else(|| DecodeError::from("empty destination"))?;
        d.config.addr = self
            .addr
            .ok_or_else(|| DecodeError::from("destination without IPVS_DEST_ATTR_ADDR"))?
            .to_ip(af);
        d.config.port = self
            .port
            .ok_or_else(|| DecodeError::from("destination without IPVS_DEST_ATTR_PORT"))?;
        d.stats = self.stats64.or(self.stats32).unwrap_or_default();
        Ok(d)
    }
}
