//! Connection-synchronisation daemons: the `IPVS_DAEMON_ATTR_*` attributes
//! and the [`SyncDaemon`] model (`ipvsadm --start-daemon/--stop-daemon`,
//! `ipvsadm -L --daemon`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{DecodeError, DefaultNla, Nla, NlaBuffer, NlasIterator, Parseable};

use crate::wire::{c_bytes, emit_c_string, fixed, u16_ne, u32_ne, u8_of};

const IPVS_DAEMON_ATTR_STATE: u16 = 1;
const IPVS_DAEMON_ATTR_MCAST_IFN: u16 = 2;
const IPVS_DAEMON_ATTR_SYNC_ID: u16 = 3;
const IPVS_DAEMON_ATTR_SYNC_MAXLEN: u16 = 4;
const IPVS_DAEMON_ATTR_MCAST_GROUP: u16 = 5;
const IPVS_DAEMON_ATTR_MCAST_GROUP6: u16 = 6;
const IPVS_DAEMON_ATTR_MCAST_PORT: u16 = 7;
const IPVS_DAEMON_ATTR_MCAST_TTL: u16 = 8;

const IP_VS_STATE_MASTER: u32 = 1;
const IP_VS_STATE_BACKUP: u32 = 2;

/// `IP_VS_IFNAME_MAXLEN` less the NUL: interface names are at most 15 bytes.
pub const IFNAME_MAX: usize = 15;

/// One attribute of a daemon nest (`IPVS_CMD_ATTR_DAEMON`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DaemonAttribute {
    /// `IPVS_DAEMON_ATTR_STATE`: 1 master, 2 backup.
    State(u32),
    /// `IPVS_DAEMON_ATTR_MCAST_IFN`: multicast interface name (bytes: Linux
    /// interface names need not be UTF-8).
    McastIfn(Vec<u8>),
    /// `IPVS_DAEMON_ATTR_SYNC_ID`: sync id (0..=255).
    SyncId(u32),
    /// `IPVS_DAEMON_ATTR_SYNC_MAXLEN`: maximum sync message length (4.3+).
    SyncMaxLen(u16),
    /// `IPVS_DAEMON_ATTR_MCAST_GROUP`: IPv4 multicast group (4.3+).
    McastGroup(Ipv4Addr),
    /// `IPVS_DAEMON_ATTR_MCAST_GROUP6`: IPv6 multicast group (4.3+).
    McastGroup6(Ipv6Addr),
    /// `IPVS_DAEMON_ATTR_MCAST_PORT`: UDP port, host byte order (4.3+).
    McastPort(u16),
    /// `IPVS_DAEMON_ATTR_MCAST_TTL`: multicast TTL (4.3+).
    McastTtl(u8),
    /// An attribute this crate does not know, kept as received.
    Other(DefaultNla),
}

impl Nla for DaemonAttribute {
    fn value_len(&self) -> usize {
        use DaemonAttribute::*;
        match self {
            State(_) | SyncId(_) | McastGroup(_) => 4,
            McastIfn(s) => s.len() + 1,
            SyncMaxLen(_) | McastPort(_) => 2,
            McastGroup6(_) => 16,
            McastTtl(_) => 1,
            Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        use DaemonAttribute::*;
        match self {
            State(_) => IPVS_DAEMON_ATTR_STATE,
            McastIfn(_) => IPVS_DAEMON_ATTR_MCAST_IFN,
            SyncId(_) => IPVS_DAEMON_ATTR_SYNC_ID,
            SyncMaxLen(_) => IPVS_DAEMON_ATTR_SYNC_MAXLEN,
            McastGroup(_) => IPVS_DAEMON_ATTR_MCAST_GROUP,
            McastGroup6(_) => IPVS_DAEMON_ATTR_MCAST_GROUP6,
            McastPort(_) => IPVS_DAEMON_ATTR_MCAST_PORT,
            McastTtl(_) => IPVS_DAEMON_ATTR_MCAST_TTL,
            Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        use DaemonAttribute::*;
        match self {
            State(v) | SyncId(v) => buf.copy_from_slice(&v.to_ne_bytes()),
            McastIfn(s) => emit_c_string(s, buf),
            SyncMaxLen(v) | McastPort(v) => buf.copy_from_slice(&v.to_ne_bytes()),
            McastGroup(a) => buf.copy_from_slice(&a.octets()),
            McastGroup6(a) => buf.copy_from_slice(&a.octets()),
            McastTtl(v) => buf[0] = *v,
            Other(nla) => nla.emit_value(buf),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for DaemonAttribute {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        use DaemonAttribute::*;
        let v = buf.value();
        Ok(match buf.kind() {
            IPVS_DAEMON_ATTR_STATE => State(u32_ne(v, "IPVS_DAEMON_ATTR_STATE")?),
            IPVS_DAEMON_ATTR_MCAST_IFN => McastIfn(c_bytes(v)),
            IPVS_DAEMON_ATTR_SYNC_ID => SyncId(u32_ne(v, "IPVS_DAEMON_ATTR_SYNC_ID")?),
            IPVS_DAEMON_ATTR_SYNC_MAXLEN => SyncMaxLen(u16_ne(v, "IPVS_DAEMON_ATTR_SYNC_MAXLEN")?),
            IPVS_DAEMON_ATTR_MCAST_GROUP => McastGroup(Ipv4Addr::from(fixed::<4>(
                v,
                "IPVS_DAEMON_ATTR_MCAST_GROUP",
            )?)),
            IPVS_DAEMON_ATTR_MCAST_GROUP6 => McastGroup6(Ipv6Addr::from(fixed::<16>(
                v,
                "IPVS_DAEMON_ATTR_MCAST_GROUP6",
            )?)),
            IPVS_DAEMON_ATTR_MCAST_PORT => McastPort(u16_ne(v, "IPVS_DAEMON_ATTR_MCAST_PORT")?),
            IPVS_DAEMON_ATTR_MCAST_TTL => McastTtl(u8_of(v, "IPVS_DAEMON_ATTR_MCAST_TTL")?),
            _ => Other(DefaultNla::parse(buf)?),
        })
    }
}

/// Parses the attributes inside a daemon nest.
pub(crate) fn parse_daemon_nest(value: &[u8]) -> Result<Vec<DaemonAttribute>, DecodeError> {
    NlasIterator::new(value)
        .map(|nla| nla.and_then(|nla| DaemonAttribute::parse(&nla)))
        .collect()
}

/// Role of a sync daemon (`IPVS_DAEMON_ATTR_STATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DaemonState {
    /// Sends connection state to backups.
    Master,
    /// Receives connection state from a master.
    Backup,
    /// A value this crate does not know.
    Other(u32),
}

impl From<u32> for DaemonState {
    fn from(v: u32) -> Self {
        match v {
            IP_VS_STATE_MASTER => DaemonState::Master,
            IP_VS_STATE_BACKUP => DaemonState::Backup,
            other => DaemonState::Other(other),
        }
    }
}

impl From<DaemonState> for u32 {
    fn from(s: DaemonState) -> u32 {
        match s {
            DaemonState::Master => IP_VS_STATE_MASTER,
            DaemonState::Backup => IP_VS_STATE_BACKUP,
            DaemonState::Other(v) => v,
        }
    }
}

impl std::fmt::Display for DaemonState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DaemonState::Master => f.write_str("master"),
            DaemonState::Backup => f.write_str("backup"),
            DaemonState::Other(v) => write!(f, "state-{v}"),
        }
    }
}

/// A connection-sync daemon's configuration. Zero / `None` fields are not
/// sent when starting one, so the kernel applies its defaults (group
/// 224.0.0.81, port 8848, TTL 1, maxlen from the interface MTU).
///
/// ```
/// use ipvs::daemon::DaemonAttribute;
/// use ipvs::{DaemonState, SyncDaemon};
/// let mut d = SyncDaemon::new(DaemonState::Backup, "eth1");
/// d.sync_id = 7;
/// let attrs = d.to_attributes().unwrap();
/// assert_eq!(attrs, vec![
///     DaemonAttribute::State(2),
///     DaemonAttribute::McastIfn(b"eth1".to_vec()),
///     DaemonAttribute::SyncId(7),
/// ]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SyncDaemon {
    /// Master or backup.
    pub state: DaemonState,
    /// Multicast interface (must exist; at most 15 bytes, any but NUL: Linux
    /// interface names need not be UTF-8).
    #[cfg_attr(feature = "serde", serde(with = "crate::text::bytes_as_text"))]
    pub mcast_ifn: Vec<u8>,
    /// Sync id (0..=255); a backup only accepts messages with its own id.
    pub sync_id: u32,
    /// Maximum sync message payload; 0 = kernel default.
    pub sync_maxlen: u16,
    /// Multicast group; `None` = kernel default.
    pub mcast_group: Option<IpAddr>,
    /// Multicast UDP port; 0 = kernel default.
    pub mcast_port: u16,
    /// Multicast TTL; 0 = kernel default.
    pub mcast_ttl: u8,
}

impl SyncDaemon {
    /// A daemon on `interface` with sync id 0 and kernel defaults otherwise.
    pub fn new(state: DaemonState, interface: impl AsRef<[u8]>) -> Self {
        SyncDaemon {
            state,
            mcast_ifn: interface.as_ref().to_vec(),
            sync_id: 0,
            sync_maxlen: 0,
            mcast_group: None,
            mcast_port: 0,
            mcast_ttl: 0,
        }
    }

    /// Sets the sync id.
    pub fn with_sync_id(mut self, sync_id: u32) -> Self {
        self.sync_id = sync_id;
        self
    }

    /// Sets the maximum sync message payload (0: the kernel's default).
    pub fn with_sync_maxlen(mut self, maxlen: u16) -> Self {
        self.sync_maxlen = maxlen;
        self
    }

    /// Sets the multicast group (`None`: the kernel's default).
    pub fn with_mcast_group(mut self, group: Option<IpAddr>) -> Self {
        self.mcast_group = group;
        self
    }

    /// Sets the multicast UDP port (0: the kernel's default).
    pub fn with_mcast_port(mut self, port: u16) -> Self {
        self.mcast_port = port;
        self
    }

    /// Sets the multicast TTL (0: the kernel's default).
    pub fn with_mcast_ttl(mut self, ttl: u8) -> Self {
        self.mcast_ttl = ttl;
        self
    }

    /// Attributes for NEW_DAEMON, in ipvsadm's order: state, interface and
    /// sync id always; the others only when set.
    pub fn to_attributes(&self) -> Result<Vec<DaemonAttribute>, String> {
        if self.mcast_ifn.len() > IFNAME_MAX || self.mcast_ifn.contains(&0) {
            return Err(format!(
                "interface name {:?} is invalid",
                String::from_utf8_lossy(&self.mcast_ifn)
            ));
        }
        let mut attrs = vec![
            DaemonAttribute::State(self.state.into()),
            DaemonAttribute::McastIfn(self.mcast_ifn.clone()),
            DaemonAttribute::SyncId(self.sync_id),
        ];
        if self.sync_maxlen != 0 {
            attrs.push(DaemonAttribute::SyncMaxLen(self.sync_maxlen));
        }
        if self.mcast_port != 0 {
            attrs.push(DaemonAttribute::McastPort(self.mcast_port));
        }
        if self.mcast_ttl != 0 {
            attrs.push(DaemonAttribute::McastTtl(self.mcast_ttl));
        }
        match self.mcast_group {
            Some(IpAddr::V4(g)) => attrs.push(DaemonAttribute::McastGroup(g)),
            Some(IpAddr::V6(g)) => attrs.push(DaemonAttribute::McastGroup6(g)),
            None => {}
        }
        Ok(attrs)
    }

    /// Builds the model from a daemon nest received from the kernel.
    pub fn from_attributes(attrs: &[DaemonAttribute]) -> Result<Self, DecodeError> {
        let mut d = SyncDaemon::new(DaemonState::Other(0), "");
        let mut state = None;
        for a in attrs {
            match a {
                DaemonAttribute::State(v) => state = Some(DaemonState::from(*v)),
                DaemonAttribute::McastIfn(v) => d.mcast_ifn = v.clone(),
                DaemonAttribute::SyncId(v) => d.sync_id = *v,
                DaemonAttribute::SyncMaxLen(v) => d.sync_maxlen = *v,
                DaemonAttribute::McastGroup(v) => d.mcast_group = Some(IpAddr::V4(*v)),
                DaemonAttribute::McastGroup6(v) => d.mcast_group = Some(IpAddr::V6(*v)),
                DaemonAttribute::McastPort(v) => d.mcast_port = *v,
                DaemonAttribute::McastTtl(v) => d.mcast_ttl = *v,
                DaemonAttribute::Other(_) => {}
            }
        }
        d.state =
            state.ok_or_else(|| DecodeError::from("daemon without IPVS_DAEMON_ATTR_STATE"))?;
        Ok(d)
    }
}
