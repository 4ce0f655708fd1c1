//! The IPVS generic-netlink message: commands (`IPVS_CMD_*`) and the
//! top-level attributes (`IPVS_CMD_ATTR_*`, or `IPVS_INFO_ATTR_*` in an
//! info reply).

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, ErrorContext, Nla, NlaBuffer, NlasIterator, Parseable,
    ParseableParametrized, NLA_F_NESTED,
};
use netlink_packet_generic::{GenlFamily, GenlHeader};

use crate::config::InfoAttribute;
use crate::daemon::{parse_daemon_nest, DaemonAttribute};
use crate::destination::{parse_destination_nest, DestinationAttribute};
use crate::service::{parse_service_nest, ServiceAttribute};
use crate::wire::u32_ne;

/// `IPVS_GENL_NAME`: the generic-netlink family name.
pub const IPVS_GENL_NAME: &str = "IPVS";
/// `IPVS_GENL_VERSION`.
pub const IPVS_GENL_VERSION: u8 = 1;

const IPVS_CMD_NEW_SERVICE: u8 = 1;
const IPVS_CMD_SET_SERVICE: u8 = 2;
const IPVS_CMD_DEL_SERVICE: u8 = 3;
const IPVS_CMD_GET_SERVICE: u8 = 4;
const IPVS_CMD_NEW_DEST: u8 = 5;
const IPVS_CMD_SET_DEST: u8 = 6;
const IPVS_CMD_DEL_DEST: u8 = 7;
const IPVS_CMD_GET_DEST: u8 = 8;
const IPVS_CMD_NEW_DAEMON: u8 = 9;
const IPVS_CMD_DEL_DAEMON: u8 = 10;
const IPVS_CMD_GET_DAEMON: u8 = 11;
const IPVS_CMD_SET_CONFIG: u8 = 12;
const IPVS_CMD_GET_CONFIG: u8 = 13;
const IPVS_CMD_SET_INFO: u8 = 14;
const IPVS_CMD_GET_INFO: u8 = 15;
const IPVS_CMD_ZERO: u8 = 16;
const IPVS_CMD_FLUSH: u8 = 17;

/// `IPVS_CMD_ATTR_SERVICE`: a nested service.
pub(crate) const IPVS_CMD_ATTR_SERVICE: u16 = 1;
/// `IPVS_CMD_ATTR_DEST`: a nested real server.
pub(crate) const IPVS_CMD_ATTR_DEST: u16 = 2;
const IPVS_CMD_ATTR_DAEMON: u16 = 3;
const IPVS_CMD_ATTR_TIMEOUT_TCP: u16 = 4;
const IPVS_CMD_ATTR_TIMEOUT_TCP_FIN: u16 = 5;
const IPVS_CMD_ATTR_TIMEOUT_UDP: u16 = 6;

/// An IPVS command (`IPVS_CMD_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpvsCmd {
    /// `IPVS_CMD_NEW_SERVICE`: add a service.
    NewService,
    /// `IPVS_CMD_SET_SERVICE`: edit a service.
    SetService,
    /// `IPVS_CMD_DEL_SERVICE`: delete a service.
    DelService,
    /// `IPVS_CMD_GET_SERVICE`: get one service, or dump all.
    GetService,
    /// `IPVS_CMD_NEW_DEST`: add a real server.
    NewDest,
    /// `IPVS_CMD_SET_DEST`: edit a real server.
    SetDest,
    /// `IPVS_CMD_DEL_DEST`: delete a real server.
    DelDest,
    /// `IPVS_CMD_GET_DEST`: dump a service's real servers.
    GetDest,
    /// `IPVS_CMD_NEW_DAEMON`: start a sync daemon.
    NewDaemon,
    /// `IPVS_CMD_DEL_DAEMON`: stop a sync daemon.
    DelDaemon,
    /// `IPVS_CMD_GET_DAEMON`: dump the running sync daemons.
    GetDaemon,
    /// `IPVS_CMD_SET_CONFIG`: set timeouts.
    SetConfig,
    /// `IPVS_CMD_GET_CONFIG`: get timeouts.
    GetConfig,
    /// `IPVS_CMD_SET_INFO`: the command of an info reply.
    SetInfo,
    /// `IPVS_CMD_GET_INFO`: get version and table size.
    GetInfo,
    /// `IPVS_CMD_ZERO`: zero counters.
    Zero,
    /// `IPVS_CMD_FLUSH`: delete every service.
    Flush,
    /// A command number this crate does not know.
    Other(u8),
}

impl From<u8> for IpvsCmd {
    fn from(v: u8) -> Self {
        use IpvsCmd::*;
        match v {
            IPVS_CMD_NEW_SERVICE => NewService,
            IPVS_CMD_SET_SERVICE => SetService,
            IPVS_CMD_DEL_SERVICE => DelService,
            IPVS_CMD_GET_SERVICE => GetService,
            IPVS_CMD_NEW_DEST => NewDest,
            IPVS_CMD_SET_DEST => SetDest,
            IPVS_CMD_DEL_DEST => DelDest,
            IPVS_CMD_GET_DEST => GetDest,
            IPVS_CMD_NEW_DAEMON => NewDaemon,
            IPVS_CMD_DEL_DAEMON => DelDaemon,
            IPVS_CMD_GET_DAEMON => GetDaemon,
            IPVS_CMD_SET_CONFIG => SetConfig,
            IPVS_CMD_GET_CONFIG => GetConfig,
            IPVS_CMD_SET_INFO => SetInfo,
            IPVS_CMD_GET_INFO => GetInfo,
            IPVS_CMD_ZERO => Zero,
            IPVS_CMD_FLUSH => Flush,
            other => Other(other),
        }
    }
}

impl From<IpvsCmd> for u8 {
    fn from(c: IpvsCmd) -> u8 {
        use IpvsCmd::*;
        match c {
            NewService => IPVS_CMD_NEW_SERVICE,
            SetService => IPVS_CMD_SET_SERVICE,
            DelService => IPVS_CMD_DEL_SERVICE,
            GetService => IPVS_CMD_GET_SERVICE,
            NewDest => IPVS_CMD_NEW_DEST,
            SetDest => IPVS_CMD_SET_DEST,
            DelDest => IPVS_CMD_DEL_DEST,
            GetDest => IPVS_CMD_GET_DEST,
            NewDaemon => IPVS_CMD_NEW_DAEMON,
            DelDaemon => IPVS_CMD_DEL_DAEMON,
            GetDaemon => IPVS_CMD_GET_DAEMON,
            SetConfig => IPVS_CMD_SET_CONFIG,
            GetConfig => IPVS_CMD_GET_CONFIG,
            SetInfo => IPVS_CMD_SET_INFO,
            GetInfo => IPVS_CMD_GET_INFO,
            Zero => IPVS_CMD_ZERO,
            Flush => IPVS_CMD_FLUSH,
            Other(v) => v,
        }
    }
}

/// A top-level attribute of an IPVS message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IpvsAttribute {
    /// `IPVS_CMD_ATTR_SERVICE`: a nested service.
    Service(Vec<ServiceAttribute>),
    /// `IPVS_CMD_ATTR_DEST`: a nested destination.
    Destination(Vec<DestinationAttribute>),
    /// `IPVS_CMD_ATTR_DAEMON`: a nested sync daemon.
    Daemon(Vec<DaemonAttribute>),
    /// `IPVS_CMD_ATTR_TIMEOUT_TCP`: seconds.
    TimeoutTcp(u32),
    /// `IPVS_CMD_ATTR_TIMEOUT_TCP_FIN`: seconds.
    TimeoutTcpFin(u32),
    /// `IPVS_CMD_ATTR_TIMEOUT_UDP`: seconds.
    TimeoutUdp(u32),
    /// An `IPVS_INFO_ATTR_*` attribute (only in `SET_INFO`/`GET_INFO`
    /// messages, which use a separate attribute space).
    Info(InfoAttribute),
    /// An attribute this crate does not know, kept as received.
    Other(DefaultNla),
}

fn nested_len<T: Nla>(attrs: &[T]) -> usize {
    attrs.iter().map(|a| a.buffer_len()).sum()
}

fn emit_nested<T: Nla>(attrs: &[T], buf: &mut [u8]) {
    crate::wire::emit_nlas(attrs, buf)
}

impl Nla for IpvsAttribute {
    fn value_len(&self) -> usize {
        use IpvsAttribute::*;
        match self {
            Service(a) => nested_len(a),
            Destination(a) => nested_len(a),
            Daemon(a) => nested_len(a),
            TimeoutTcp(_) | TimeoutTcpFin(_) | TimeoutUdp(_) => 4,
            Info(a) => a.value_len(),
            Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        use IpvsAttribute::*;
        match self {
            Service(_) => IPVS_CMD_ATTR_SERVICE | NLA_F_NESTED,
            Destination(_) => IPVS_CMD_ATTR_DEST | NLA_F_NESTED,
            Daemon(_) => IPVS_CMD_ATTR_DAEMON | NLA_F_NESTED,
            TimeoutTcp(_) => IPVS_CMD_ATTR_TIMEOUT_TCP,
            TimeoutTcpFin(_) => IPVS_CMD_ATTR_TIMEOUT_TCP_FIN,
            TimeoutUdp(_) => IPVS_CMD_ATTR_TIMEOUT_UDP,
            Info(a) => a.kind(),
            Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        use IpvsAttribute::*;
        match self {
            Service(a) => emit_nested(a, buf),
            Destination(a) => emit_nested(a, buf),
            Daemon(a) => emit_nested(a, buf),
            TimeoutTcp(v) | TimeoutTcpFin(v) | TimeoutUdp(v) => {
                buf.copy_from_slice(&v.to_ne_bytes())
            }
            Info(a) => a.emit_value(buf),
            Other(nla) => nla.emit_value(buf),
        }
    }
}

impl IpvsAttribute {
    fn parse_cmd_attr(buf: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        use IpvsAttribute::*;
        let v = buf.value();
        Ok(match buf.kind() {
            IPVS_CMD_ATTR_SERVICE => {
                Service(parse_service_nest(v).context("in IPVS_CMD_ATTR_SERVICE")?)
            }
            IPVS_CMD_ATTR_DEST => {
                Destination(parse_destination_nest(v).context("in IPVS_CMD_ATTR_DEST")?)
            }
            IPVS_CMD_ATTR_DAEMON => {
                Daemon(parse_daemon_nest(v).context("in IPVS_CMD_ATTR_DAEMON")?)
            }
            IPVS_CMD_ATTR_TIMEOUT_TCP => TimeoutTcp(u32_ne(v, "IPVS_CMD_ATTR_TIMEOUT_TCP")?),
            IPVS_CMD_ATTR_TIMEOUT_TCP_FIN => {
                TimeoutTcpFin(u32_ne(v, "IPVS_CMD_ATTR_TIMEOUT_TCP_FIN")?)
            }
            IPVS_CMD_ATTR_TIMEOUT_UDP => TimeoutUdp(u32_ne(v, "IPVS_CMD_ATTR_TIMEOUT_UDP")?),
            _ => Other(DefaultNla::parse(buf)?),
        })
    }
}

/// An IPVS generic-netlink message: a command and its attributes.
///
/// Emitting gives the attribute bytes that follow the generic-netlink
/// header; parsing reads them back:
///
/// ```
/// use netlink_packet_core::Emitable;
/// use ipvs::{IpvsAttribute, IpvsCmd, IpvsMessage};
/// let m = IpvsMessage::new(IpvsCmd::SetConfig, vec![IpvsAttribute::TimeoutUdp(30)]);
/// let mut buf = vec![0; m.buffer_len()];
/// m.emit(&mut buf);
/// # #[cfg(target_endian = "little")]
/// assert_eq!(buf, [8, 0, 6, 0, 30, 0, 0, 0]); // IPVS_CMD_ATTR_TIMEOUT_UDP = 30
/// assert_eq!(IpvsMessage::parse_body(IpvsCmd::SetConfig, &buf).unwrap(), m);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsMessage {
    /// The command.
    pub cmd: IpvsCmd,
    /// Top-level attributes.
    pub attributes: Vec<IpvsAttribute>,
}

impl IpvsMessage {
    /// A message with the given command and attributes.
    pub fn new(cmd: IpvsCmd, attributes: Vec<IpvsAttribute>) -> Self {
        IpvsMessage { cmd, attributes }
    }

    /// Checks that the message can be encoded: netlink attribute lengths are
    /// 16-bit, so an attribute (with everything nested in it) may hold at
    /// most 65,531 bytes of value. Check before emitting: emitting a larger
    /// one does not panic but writes a malformed message (its length field
    /// saturated).
    pub fn check_size(&self) -> Result<(), String> {
        const MAX_VALUE: usize = crate::wire::NLA_MAX_VALUE;
        match self.attributes.iter().find(|a| a.value_len() > MAX_VALUE) {
            Some(a) => Err(format!(
                "attribute {} carries {} bytes, more than a netlink attribute can hold",
                a.kind() & netlink_packet_core::NLA_TYPE_MASK,
                a.value_len()
            )),
            None => Ok(()),
        }
    }

    /// Parses a message body (after the generic-netlink header) for `cmd`.
    /// Malformed input is an error, never a panic:
    ///
    /// ```
    /// use ipvs::{IpvsCmd, IpvsMessage};
    /// assert!(IpvsMessage::parse_body(IpvsCmd::NewService, &[0xff, 0xff, 1]).is_err());
    /// // An info reply uses its own attribute numbers.
    /// let reply = [8, 0, 1, 0, 1, 2, 1, 0, 8, 0, 2, 0, 0, 16, 0, 0];
    /// # #[cfg(target_endian = "little")]
    /// assert_eq!(
    ///     format!("{:?}", IpvsMessage::parse_body(IpvsCmd::SetInfo, &reply).unwrap().attributes),
    ///     "[Info(Version(66049)), Info(ConnTabSize(4096))]"
    /// );
    /// ```
    pub fn parse_body(cmd: IpvsCmd, buf: &[u8]) -> Result<Self, DecodeError> {
        let info = matches!(cmd, IpvsCmd::SetInfo | IpvsCmd::GetInfo);
        let mut attributes = Vec::new();
        for nla in NlasIterator::new(buf) {
            let nla = nla.context("IPVS message attributes")?;
            attributes.push(if info {
                IpvsAttribute::Info(InfoAttribute::parse(&nla)?)
            } else {
                IpvsAttribute::parse_cmd_attr(&nla)?
            });
        }
        Ok(IpvsMessage { cmd, attributes })
    }
}

impl GenlFamily for IpvsMessage {
    fn family_name() -> &'static str {
        IPVS_GENL_NAME
    }
    fn command(&self) -> u8 {
        self.cmd.into()
    }
    fn version(&self) -> u8 {
        IPVS_GENL_VERSION
    }
}

impl Emitable for IpvsMessage {
    fn buffer_len(&self) -> usize {
        nested_len(&self.attributes)
    }
    fn emit(&self, buf: &mut [u8]) {
        emit_nested(&self.attributes, buf)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for IpvsMessage {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        IpvsMessage::parse_body(header.cmd.into(), buf)
    }
}
