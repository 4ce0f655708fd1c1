//! Traffic counters and rate estimates (`IPVS_STATS_ATTR_*`), as nested in
//! the `STATS` (32-bit counters) and `STATS64` (64-bit) attributes of
//! services and destinations.

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, Nla, NlaBuffer, NlasIterator, Parseable,
};

use crate::wire::{u32_ne, u64_ne};

const IPVS_STATS_ATTR_CONNS: u16 = 1;
const IPVS_STATS_ATTR_INPKTS: u16 = 2;
const IPVS_STATS_ATTR_OUTPKTS: u16 = 3;
const IPVS_STATS_ATTR_INBYTES: u16 = 4;
const IPVS_STATS_ATTR_OUTBYTES: u16 = 5;
const IPVS_STATS_ATTR_CPS: u16 = 6;
const IPVS_STATS_ATTR_INPPS: u16 = 7;
const IPVS_STATS_ATTR_OUTPPS: u16 = 8;
const IPVS_STATS_ATTR_INBPS: u16 = 9;
const IPVS_STATS_ATTR_OUTBPS: u16 = 10;
const IPVS_STATS_ATTR_PAD: u16 = 11;

/// One attribute of a stats nest. Values are widened to 64 bits; the width
/// on the wire depends on the nest (see [`StatsWidth`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatsAttribute {
    /// `IPVS_STATS_ATTR_CONNS`: connections scheduled.
    Conns(u64),
    /// `IPVS_STATS_ATTR_INPKTS`: packets from clients.
    InPackets(u64),
    /// `IPVS_STATS_ATTR_OUTPKTS`: packets to clients.
    OutPackets(u64),
    /// `IPVS_STATS_ATTR_INBYTES`: bytes from clients.
    InBytes(u64),
    /// `IPVS_STATS_ATTR_OUTBYTES`: bytes to clients.
    OutBytes(u64),
    /// `IPVS_STATS_ATTR_CPS`: connections per second (estimate).
    Cps(u64),
    /// `IPVS_STATS_ATTR_INPPS`: incoming packets per second.
    InPps(u64),
    /// `IPVS_STATS_ATTR_OUTPPS`: outgoing packets per second.
    OutPps(u64),
    /// `IPVS_STATS_ATTR_INBPS`: incoming bytes per second.
    InBps(u64),
    /// `IPVS_STATS_ATTR_OUTBPS`: outgoing bytes per second.
    OutBps(u64),
    /// `IPVS_STATS_ATTR_PAD`: alignment padding some architectures insert
    /// before 64-bit values; carries no data.
    Pad(Vec<u8>),
    /// An attribute this crate does not know, kept as received.
    Other(DefaultNla),
}

/// Which stats nest an attribute list belongs to; it fixes the width of each
/// value on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsWidth {
    /// `IPVS_SVC_ATTR_STATS` / `IPVS_DEST_ATTR_STATS`: byte counters are
    /// 64-bit, everything else 32-bit (truncated by the kernel).
    Legacy32,
    /// `IPVS_SVC_ATTR_STATS64` / `IPVS_DEST_ATTR_STATS64`: all 64-bit.
    Full64,
}

impl StatsAttribute {
    fn kind_value(&self) -> Option<(u16, u64)> {
        use StatsAttribute::*;
        Some(match self {
            Conns(v) => (IPVS_STATS_ATTR_CONNS, *v),
            InPackets(v) => (IPVS_STATS_ATTR_INPKTS, *v),
            OutPackets(v) => (IPVS_STATS_ATTR_OUTPKTS, *v),
            InBytes(v) => (IPVS_STATS_ATTR_INBYTES, *v),
            OutBytes(v) => (IPVS_STATS_ATTR_OUTBYTES, *v),
            Cps(v) => (IPVS_STATS_ATTR_CPS, *v),
            InPps(v) => (IPVS_STATS_ATTR_INPPS, *v),
            OutPps(v) => (IPVS_STATS_ATTR_OUTPPS, *v),
            InBps(v) => (IPVS_STATS_ATTR_INBPS, *v),
            OutBps(v) => (IPVS_STATS_ATTR_OUTBPS, *v),
            Pad(_) | Other(_) => return None,
        })
    }

    /// Parses one stats attribute. Values of 4 or 8 bytes are accepted for
    /// every counter, so both nests parse with the same code.
    pub fn parse(buf: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        use StatsAttribute::*;
        let value = buf.value();
        let num = |what: &str| -> Result<u64, DecodeError> {
            match value.len() {
                4 => u32_ne(value, what).map(u64::from),
                _ => u64_ne(value, what),
            }
        };
        Ok(match buf.kind() {
            IPVS_STATS_ATTR_CONNS => Conns(num("IPVS_STATS_ATTR_CONNS")?),
            IPVS_STATS_ATTR_INPKTS => InPackets(num("IPVS_STATS_ATTR_INPKTS")?),
            IPVS_STATS_ATTR_OUTPKTS => OutPackets(num("IPVS_STATS_ATTR_OUTPKTS")?),
            IPVS_STATS_ATTR_INBYTES => InBytes(num("IPVS_STATS_ATTR_INBYTES")?),
            IPVS_STATS_ATTR_OUTBYTES => OutBytes(num("IPVS_STATS_ATTR_OUTBYTES")?),
            IPVS_STATS_ATTR_CPS => Cps(num("IPVS_STATS_ATTR_CPS")?),
            IPVS_STATS_ATTR_INPPS => InPps(num("IPVS_STATS_ATTR_INPPS")?),
            IPVS_STATS_ATTR_OUTPPS => OutPps(num("IPVS_STATS_ATTR_OUTPPS")?),
            IPVS_STATS_ATTR_INBPS => InBps(num("IPVS_STATS_ATTR_INBPS")?),
            IPVS_STATS_ATTR_OUTBPS => OutBps(num("IPVS_STATS_ATTR_OUTBPS")?),
            IPVS_STATS_ATTR_PAD => Pad(value.to_vec()),
            _ => Other(DefaultNla::parse(buf)?),
        })
    }
}

/// A stats attribute bound to the nest it is emitted in.
#[derive(Debug)]
pub(crate) struct StatsNla<'a> {
    pub(crate) attr: &'a StatsAttribute,
    pub(crate) width: StatsWidth,
}

impl StatsNla<'_> {
    /// Whether the value goes out as 64 bits: always in the 64-bit nest,
    /// for the byte counters in the legacy one, and for any value that
    /// does not fit in 32 bits (a legacy nest received with 8-byte counters
    /// then emits what it decoded, not its low 32 bits).
    fn is_wide(&self) -> bool {
        self.width == StatsWidth::Full64
            || matches!(
                self.attr,
                StatsAttribute::InBytes(_) | StatsAttribute::OutBytes(_)
            )
            || self
                .attr
                .kind_value()
                .is_some_and(|(_, v)| v > u64::from(u32::MAX))
    }
}

impl Nla for StatsNla<'_> {
    fn value_len(&self) -> usize {
        match self.attr {
            StatsAttribute::Pad(v) => v.len(),
            StatsAttribute::Other(nla) => nla.value_len(),
            _ if self.is_wide() => 8,
            _ => 4,
        }
    }
    fn kind(&self) -> u16 {
        match self.attr {
            StatsAttribute::Pad(_) => IPVS_STATS_ATTR_PAD,
            StatsAttribute::Other(nla) => nla.kind(),
            a => a.kind_value().map(|(k, _)| k).unwrap_or_default(),
        }
    }
    fn emit_value(&self, buf: &mut [u8]) {
        match self.attr {
            StatsAttribute::Pad(v) => buf.copy_from_slice(v),
            StatsAttribute::Other(nla) => nla.emit_value(buf),
            a => {
                let v = a.kind_value().map(|(_, v)| v).unwrap_or_default();
                if self.is_wide() {
                    buf.copy_from_slice(&v.to_ne_bytes());
                } else {
                    buf.copy_from_slice(&(v as u32).to_ne_bytes());
                }
            }
        }
    }
}

/// A stats nest: its attributes and the width they are emitted with.
///
/// ```
/// use ipvs::stats::{StatsNest, StatsWidth};
/// use ipvs::Stats;
/// let s = Stats { conns: 5_000_000_000, in_bytes: 1 << 40, ..Stats::default() };
/// // The legacy nest truncates counters to 32 bits (bytes stay 64-bit).
/// let legacy = StatsNest::from_stats(&s, StatsWidth::Legacy32);
/// assert_eq!(legacy.width, StatsWidth::Legacy32);
/// assert_eq!(legacy.to_stats().conns, 5_000_000_000 & 0xffff_ffff);
/// assert_eq!(legacy.to_stats().in_bytes, 1 << 40);
/// assert_eq!(StatsNest::from_stats(&s, StatsWidth::Full64).to_stats(), s);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsNest {
    /// Which nest this is.
    pub width: StatsWidth,
    /// The counters, in wire order.
    pub attributes: Vec<StatsAttribute>,
}

impl StatsNest {
    pub(crate) fn parse(value: &[u8], width: StatsWidth) -> Result<Self, DecodeError> {
        let mut attributes = Vec::new();
        for nla in NlasIterator::new(value) {
            attributes.push(StatsAttribute::parse(&nla?)?);
        }
        Ok(StatsNest { width, attributes })
    }

    fn nlas(&self) -> impl Iterator<Item = StatsNla<'_>> {
        self.attributes.iter().map(|attr| StatsNla {
            attr,
            width: self.width,
        })
    }

    pub(crate) fn value_len(&self) -> usize {
        self.nlas().map(|n| n.buffer_len()).sum()
    }

    pub(crate) fn emit_value(&self, buf: &mut [u8]) {
        let mut at = 0;
        for nla in self.nlas() {
            let len = nla.buffer_len();
            crate::wire::emit_nla(&nla, &mut buf[at..at + len]);
            at += len;
        }
    }

    /// Builds the nest for a [`Stats`] value. In the legacy nest every
    /// counter but the byte counters is truncated to 32 bits, as the kernel
    /// does.
    pub fn from_stats(stats: &Stats, width: StatsWidth) -> Self {
        use StatsAttribute::*;
        let narrow = |v: u64| match width {
            StatsWidth::Legacy32 => v & u64::from(u32::MAX),
            StatsWidth::Full64 => v,
        };
        StatsNest {
            width,
            attributes: vec![
                Conns(narrow(stats.conns)),
                InPackets(narrow(stats.in_packets)),
                OutPackets(narrow(stats.out_packets)),
                InBytes(stats.in_bytes),
                OutBytes(stats.out_bytes),
                Cps(narrow(stats.cps)),
                InPps(narrow(stats.in_pps)),
                OutPps(narrow(stats.out_pps)),
                InBps(narrow(stats.in_bps)),
                OutBps(narrow(stats.out_bps)),
            ],
        }
    }

    /// The counters of this nest (missing ones are zero).
    pub fn to_stats(&self) -> Stats {
        let mut s = Stats::default();
        self.attributes.iter().for_each(|a| s.apply(a));
        s
    }
}

/// Walks the attributes of a service or destination nest, handing every
/// one but the two stats nests (`stats32_kind`, `stats64_kind`) to `other`,
/// and returns the counters: from the 64-bit nest when there is one, else
/// from the 32-bit nest, which is then only read at the end (every kernel
/// since 4.1 sends both; the hot path of listings).
pub(crate) fn walk_nest_with_stats<'a>(
    value: &'a [u8],
    stats32_kind: u16,
    stats64_kind: u16,
    mut other: impl FnMut(&NlaBuffer<&'a [u8]>) -> Result<(), DecodeError>,
) -> Result<Option<Stats>, DecodeError> {
    let mut stats32 = None;
    let mut stats64 = None;
    for nla in NlasIterator::new(value) {
        let nla = nla?;
        match nla.kind() {
            k if k == stats32_kind => stats32 = Some(nla),
            k if k == stats64_kind => stats64 = Some(stats_from_nest(nla.value())?),
            _ => other(&nla)?,
        }
    }
    match (stats64, stats32) {
        (Some(s), _) => Ok(Some(s)),
        (None, Some(nla)) => stats_from_nest(nla.value()).map(Some),
        (None, None) => Ok(None),
    }
}

/// Reads a stats nest straight into [`Stats`], without building the
/// attribute list (the hot path of listings).
pub(crate) fn stats_from_nest(value: &[u8]) -> Result<Stats, DecodeError> {
    let mut s = Stats::default();
    for nla in NlasIterator::new(value) {
        s.apply(&StatsAttribute::parse(&nla?)?);
    }
    Ok(s)
}

/// Counters and rate estimates of a service or destination.
///
/// Read from the 64-bit `STATS64` nest when the kernel sends it (4.1 and
/// later), else from the 32-bit `STATS` nest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Stats {
    /// Connections scheduled since the counters were last zeroed.
    pub conns: u64,
    /// Packets received from clients.
    pub in_packets: u64,
    /// Packets sent to clients.
    pub out_packets: u64,
    /// Bytes received from clients.
    pub in_bytes: u64,
    /// Bytes sent to clients.
    pub out_bytes: u64,
    /// Connections per second (kernel estimator).
    pub cps: u64,
    /// Incoming packets per second.
    pub in_pps: u64,
    /// Outgoing packets per second.
    pub out_pps: u64,
    /// Incoming bytes per second.
    pub in_bps: u64,
    /// Outgoing bytes per second.
    pub out_bps: u64,
}

impl Stats {
    /// Takes the value of one stats attribute.
    fn apply(&mut self, a: &StatsAttribute) {
        use StatsAttribute::*;
        match *a {
            Conns(v) => self.conns = v,
            InPackets(v) => self.in_packets = v,
            OutPackets(v) => self.out_packets = v,
            InBytes(v) => self.in_bytes = v,
            OutBytes(v) => self.out_bytes = v,
            Cps(v) => self.cps = v,
            InPps(v) => self.in_pps = v,
            OutPps(v) => self.out_pps = v,
            InBps(v) => self.in_bps = v,
            OutBps(v) => self.out_bps = v,
            Pad(_) | Other(_) => {}
        }
    }
}
