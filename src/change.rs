//! [`Change`]: one write to the kernel's IPVS table (`ipvsadm -A -E -D -a -e
//! -d -Z -C --set --start-daemon --stop-daemon`), its request message, and
//! its direct encoding into a send buffer.

use crate::config::Timeouts;
use crate::daemon::{DaemonState, SyncDaemon};
use crate::destination::Destination;
use crate::error::{Error, Operation, Target};
use crate::message::{
    IpvsAttribute, IpvsCmd, IpvsMessage, IPVS_CMD_ATTR_DEST, IPVS_CMD_ATTR_SERVICE,
};
use crate::service::{Service, ServiceKey};
use crate::wire::NlaWriter;
use netlink_packet_core::Emitable;

/// One change for [`Ipvs::apply`](crate::Ipvs::apply).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Change {
    /// Add a service (`ipvsadm -A`).
    AddService(Service),
    /// Replace a service's settings (`ipvsadm -E`).
    EditService(Service),
    /// Delete a service and its real servers (`ipvsadm -D`).
    DeleteService(ServiceKey),
    /// Add a real server (`ipvsadm -a`).
    AddDestination(ServiceKey, Destination),
    /// Replace a real server's settings (`ipvsadm -e`).
    EditDestination(ServiceKey, Destination),
    /// Delete a real server (`ipvsadm -d`); only its address and port count.
    DeleteDestination(ServiceKey, Destination),
    /// Zero the counters of one service, or of everything (`ipvsadm -Z`).
    Zero(Option<ServiceKey>),
    /// Delete every service (`ipvsadm -C`).
    Flush,
    /// Set timeouts; zero fields are left unchanged (`ipvsadm --set`).
    SetTimeouts(Timeouts),
    /// Start a sync daemon (`ipvsadm --start-daemon`).
    StartDaemon(SyncDaemon),
    /// Stop a sync daemon (`ipvsadm --stop-daemon`).
    StopDaemon(DaemonState),
}

impl Change {
    /// The operation this change performs.
    pub fn operation(&self) -> Operation {
        match self {
            Change::AddService(_) => Operation::AddService,
            Change::EditService(_) => Operation::EditService,
            Change::DeleteService(_) => Operation::DeleteService,
            Change::AddDestination(..) => Operation::AddDestination,
            Change::EditDestination(..) => Operation::EditDestination,
            Change::DeleteDestination(..) => Operation::DeleteDestination,
            Change::Zero(_) => Operation::Zero,
            Change::Flush => Operation::Flush,
            Change::SetTimeouts(_) => Operation::SetTimeouts,
            Change::StartDaemon(_) => Operation::StartDaemon,
            Change::StopDaemon(_) => Operation::StopDaemon,
        }
    }

    /// The object the change concerns.
    pub fn target(&self) -> Option<Target> {
        let dest = |service: &ServiceKey, d: &Destination| Target::Destination {
            service: *service,
            addr: d.addr,
            port: d.port,
        };
        match self {
            Change::AddService(s) | Change::EditService(s) => Some(Target::Service(s.key)),
            Change::DeleteService(k) => Some(Target::Service(*k)),
            Change::AddDestination(k, d)
            | Change::EditDestination(k, d)
            | Change::DeleteDestination(k, d) => Some(dest(k, d)),
            Change::Zero(k) => k.map(Target::Service),
            Change::Flush | Change::SetTimeouts(_) => None,
            Change::StartDaemon(d) => Some(Target::Daemon(d.state)),
            Change::StopDaemon(s) => Some(Target::Daemon(*s)),
        }
    }

    /// The request message for this change.
    ///
    /// ```
    /// use ipvs::{Change, IpvsCmd, ServiceKey};
    /// let del = Change::DeleteService(ServiceKey::tcp("192.0.2.1".parse().unwrap(), 80));
    /// let msg = del.to_message().unwrap();
    /// assert_eq!(msg.cmd, IpvsCmd::DelService);
    /// assert_eq!(del.target().unwrap().to_string(), "service tcp:192.0.2.1:80");
    /// ```
    pub fn to_message(&self) -> Result<IpvsMessage, Error> {
        let invalid = |message: String| Error::InvalidArgument {
            op: self.operation(),
            target: self.target(),
            message,
        };
        let svc = |k: &ServiceKey| IpvsAttribute::Service(k.to_attributes());
        let (cmd, attributes) = match self {
            Change::AddService(s) => (
                IpvsCmd::NewService,
                vec![IpvsAttribute::Service(s.to_attributes().map_err(invalid)?)],
            ),
            Change::EditService(s) => (
                IpvsCmd::SetService,
                vec![IpvsAttribute::Service(s.to_attributes().map_err(invalid)?)],
            ),
            Change::DeleteService(k) => (IpvsCmd::DelService, vec![svc(k)]),
            Change::AddDestination(k, d) => (
                IpvsCmd::NewDest,
                vec![svc(k), IpvsAttribute::Destination(d.to_attributes())],
            ),
            Change::EditDestination(k, d) => (
                IpvsCmd::SetDest,
                vec![svc(k), IpvsAttribute::Destination(d.to_attributes())],
            ),
            Change::DeleteDestination(k, d) => (
                IpvsCmd::DelDest,
                vec![svc(k), IpvsAttribute::Destination(d.identity_attributes())],
            ),
            Change::Zero(k) => (IpvsCmd::Zero, k.iter().map(svc).collect()),
            Change::Flush => (IpvsCmd::Flush, vec![]),
            Change::SetTimeouts(t) => {
                let mut a = Vec::new();
                if t.tcp != 0 {
                    a.push(IpvsAttribute::TimeoutTcp(t.tcp));
                }
                if t.tcp_fin != 0 {
                    a.push(IpvsAttribute::TimeoutTcpFin(t.tcp_fin));
                }
                if t.udp != 0 {
                    a.push(IpvsAttribute::TimeoutUdp(t.udp));
                }
                (IpvsCmd::SetConfig, a)
            }
            Change::StartDaemon(d) => (
                IpvsCmd::NewDaemon,
                vec![IpvsAttribute::Daemon(d.to_attributes().map_err(invalid)?)],
            ),
            Change::StopDaemon(s) => (
                IpvsCmd::DelDaemon,
                vec![IpvsAttribute::Daemon(vec![
                    crate::daemon::DaemonAttribute::State((*s).into()),
                    crate::daemon::DaemonAttribute::McastIfn(Vec::new()),
                ])],
            ),
        };
        let msg = IpvsMessage::new(cmd, attributes);
        msg.check_size().map_err(invalid)?;
        Ok(msg)
    }
}

impl Change {
    /// Appends the request's attributes (what follows the generic-netlink
    /// header) to `out` and returns its command. Service and real-server
    /// changes, the bulk of any restore, are written straight from the
    /// model; the others go through [`Change::to_message`]. The bytes are
    /// the same either way (tests check it). On error `out` is unchanged.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<IpvsCmd, Error> {
        let start = out.len();
        // Room for any service or real-server request at once.
        out.reserve(256);
        let result = self.encode_unchecked(out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn encode_unchecked(&self, out: &mut Vec<u8>) -> Result<IpvsCmd, Error> {
        let invalid = |message: String| Error::InvalidArgument {
            op: self.operation(),
            target: self.target(),
            message,
        };
        let mut w = NlaWriter::new(out);
        Ok(match self {
            Change::AddService(s) | Change::EditService(s) => {
                let nest = w.start_nest(IPVS_CMD_ATTR_SERVICE);
                s.emit_attributes(&mut w).map_err(invalid)?;
                w.end_nest(nest);
                if matches!(self, Change::AddService(_)) {
                    IpvsCmd::NewService
                } else {
                    IpvsCmd::SetService
                }
            }
            Change::DeleteService(k) => {
                emit_service_key(&mut w, k);
                IpvsCmd::DelService
            }
            Change::AddDestination(k, d) | Change::EditDestination(k, d) => {
                emit_service_key(&mut w, k);
                let nest = w.start_nest(IPVS_CMD_ATTR_DEST);
                d.emit_attributes(&mut w);
                w.end_nest(nest);
                if matches!(self, Change::AddDestination(..)) {
                    IpvsCmd::NewDest
                } else {
                    IpvsCmd::SetDest
                }
            }
            Change::DeleteDestination(k, d) => {
                emit_service_key(&mut w, k);
                let nest = w.start_nest(IPVS_CMD_ATTR_DEST);
                d.emit_identity(&mut w);
                w.end_nest(nest);
                IpvsCmd::DelDest
            }
            _ => {
                let msg = self.to_message()?;
                let at = out.len();
                out.resize(at + msg.buffer_len(), 0);
                msg.emit(&mut out[at..]);
                msg.cmd
            }
        })
    }
}

/// Writes the `IPVS_CMD_ATTR_SERVICE` nest that selects the service `key`.
pub(crate) fn emit_service_key(w: &mut NlaWriter<'_>, key: &ServiceKey) {
    let nest = w.start_nest(IPVS_CMD_ATTR_SERVICE);
    key.emit_attributes(w);
    w.end_nest(nest);
}

/// `192.0.2.1:80` or `[2001:db8::1]:80`.
fn addr_port(addr: &std::net::IpAddr, port: u16) -> String {
    match addr {
        std::net::IpAddr::V4(a) => format!("{a}:{port}"),
        std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

fn write_service(f: &mut std::fmt::Formatter<'_>, s: &Service) -> std::fmt::Result {
    write!(f, "service {} scheduler {}", s.key, s.scheduler)?;
    let extra = s.flags.0 & !crate::ServiceFlags::PERSISTENT.0;
    if s.is_persistent() {
        write!(f, " persistent {}", s.timeout)?;
    } else if s.timeout != 0 {
        write!(f, " timeout {}", s.timeout)?;
    }
    if s.netmask != crate::Netmask::full(s.key.family()) {
        write!(f, " netmask {}", s.netmask)?;
    }
    if let Some(pe) = &s.pe_name {
        write!(f, " pe {pe}")?;
    }
    if extra != 0 {
        write!(f, " flags {extra:#x}")?;
    }
    Ok(())
}

fn write_destination(
    f: &mut std::fmt::Formatter<'_>,
    key: &ServiceKey,
    d: &Destination,
) -> std::fmt::Result {
    write!(
        f,
        "real server {} -> {} {} weight {}",
        key,
        addr_port(&d.addr, d.port),
        d.forward,
        d.weight
    )?;
    if d.upper_threshold != 0 || d.lower_threshold != 0 {
        write!(f, " thresholds {}/{}", d.upper_threshold, d.lower_threshold)?;
    }
    let default_tunnel = (crate::TunnelType::Ipip, 0, crate::TunnelChecksum::NoCsum);
    if d.forward == crate::ForwardMethod::Tunnel && d.tunnel_settings() != default_tunnel {
        write!(
            f,
            " tunnel {} port {} {}",
            d.tunnel_type, d.tunnel_port, d.tunnel_flags
        )?;
    }
    Ok(())
}

impl std::fmt::Display for Change {
    /// One line: `+` for an addition, `~` for an edit, `-` for a deletion,
    /// then the object with its settings, e.g.
    /// `~ real server tcp:192.0.2.1:80 -> 198.51.100.2:80 Route weight 3`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::AddService(s) => {
                f.write_str("+ ")?;
                write_service(f, s)
            }
            Change::EditService(s) => {
                f.write_str("~ ")?;
                write_service(f, s)
            }
            Change::DeleteService(k) => write!(f, "- service {k}"),
            Change::AddDestination(k, d) => {
                f.write_str("+ ")?;
                write_destination(f, k, d)
            }
            Change::EditDestination(k, d) => {
                f.write_str("~ ")?;
                write_destination(f, k, d)
            }
            Change::DeleteDestination(k, d) => {
                write!(f, "- real server {k} -> {}", addr_port(&d.addr, d.port))
            }
            Change::Zero(Some(k)) => write!(f, "0 counters of service {k}"),
            Change::Zero(None) => f.write_str("0 counters of every service"),
            Change::Flush => f.write_str("- every service"),
            Change::SetTimeouts(t) => {
                write!(
                    f,
                    "~ timeouts tcp {} tcpfin {} udp {}",
                    t.tcp, t.tcp_fin, t.udp
                )
            }
            Change::StartDaemon(d) => write!(
                f,
                "+ sync daemon {} on {} syncid {}",
                d.state,
                String::from_utf8_lossy(&d.mcast_ifn),
                d.sync_id
            ),
            Change::StopDaemon(s) => write!(f, "- sync daemon {s}"),
        }
    }
}
