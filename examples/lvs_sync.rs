//! Two directors that share their connection state, configured the way a failover manager
//! (keepalived, say) would do it: the same virtual service in a master and a backup
//! director, each a network namespace here (IPVS tables and sync daemons are per
//! namespace), with connection-synchronisation daemons on a shared interface. One process
//! configures both through [`Ipvs::open_in`] without ever leaving its own namespace.
//!
//! ```text
//! lvs_sync pair MASTER_NS BACKUP_NS IFACE SYNCID VIP:PORT RS...
//!     in both namespaces: TCP service VIP:PORT (rr) with direct-routing real servers RS
//!     (address, same port); then a master daemon in MASTER_NS and a backup daemon in
//!     BACKUP_NS, both on IFACE with sync id SYNCID
//! lvs_sync promote NS IFACE SYNCID    after a failover: NS stops its backup daemon and
//!                                     starts a master one
//! lvs_sync show NS                    the daemons and services of NS
//! lvs_sync conns                      the connection table of the current namespace
//! ```
//!
//! The lab's `sync-failover` case runs it (tests/lab/forwarding/sync-failover.sh); on a real
//! pair of directors, run `pair` with the two hosts' namespaces replaced by `Ipvs::open()`
//! on each machine.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use ipvs::{
    DaemonState, Destination, ForwardMethod, Ipvs, Namespace, OpenOptions, Service, ServiceKey,
    SyncDaemon,
};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn open(ns: &str) -> Result<Ipvs> {
    Ok(Ipvs::open_in(Namespace::Name(ns), &OpenOptions::default())?)
}

fn daemon(state: DaemonState, iface: &str, sync_id: &str) -> Result<SyncDaemon> {
    let mut d = SyncDaemon::new(state, iface);
    d.sync_id = sync_id.parse()?;
    Ok(d)
}

/// The same service and real servers in both directors, then the two daemons.
fn pair(args: &[String]) -> Result<()> {
    let [master_ns, backup_ns, iface, sync_id, vip, servers @ ..] = args else {
        return Err("pair MASTER_NS BACKUP_NS IFACE SYNCID VIP:PORT RS...".into());
    };
    let vip: SocketAddr = vip.parse()?;
    let key = ServiceKey::tcp(vip.ip(), vip.port());
    let service = Service::new(key).with_scheduler("rr");
    let servers = servers
        .iter()
        .map(|s| s.parse::<IpAddr>())
        .collect::<std::result::Result<Vec<_>, _>>()?;
    for (ns, state) in [
        (master_ns, DaemonState::Master),
        (backup_ns, DaemonState::Backup),
    ] {
        let mut ipvs = open(ns)?;
        ipvs.add_service(&service)?;
        for rs in &servers {
            let dest = Destination::new(*rs, vip.port(), ForwardMethod::DirectRoute);
            ipvs.add_destination(&key, &dest)?;
        }
        ipvs.start_daemon(&daemon(state, iface, sync_id)?)?;
        println!(
            "{ns}: {key} rr, {} real servers, {state} daemon on {iface} syncid {sync_id}",
            servers.len()
        );
    }
    Ok(())
}

/// After the virtual IP moved to NS: it becomes the master.
fn promote(args: &[String]) -> Result<()> {
    let [ns, iface, sync_id] = args else {
        return Err("promote NS IFACE SYNCID".into());
    };
    let mut ipvs = open(ns)?;
    if ipvs
        .daemons()?
        .iter()
        .any(|d| d.state == DaemonState::Backup)
    {
        ipvs.stop_daemon(DaemonState::Backup)?;
    }
    ipvs.start_daemon(&daemon(DaemonState::Master, iface, sync_id)?)?;
    println!("{ns}: master daemon on {iface} syncid {sync_id}");
    Ok(())
}

fn show(args: &[String]) -> Result<()> {
    let [ns] = args else {
        return Err("show NS".into());
    };
    let mut ipvs = open(ns)?;
    for d in ipvs.daemons()? {
        println!(
            "daemon {} {} syncid {}",
            d.state,
            String::from_utf8_lossy(&d.mcast_ifn),
            d.sync_id
        );
    }
    for entry in ipvs.snapshot()? {
        let s = &entry.service.config;
        println!("service {} {}", s.key, s.scheduler);
        for d in &entry.destinations {
            println!(
                "  -> {} weight {} active {} inactive {}",
                SocketAddr::new(d.config.addr, d.config.port),
                d.config.weight,
                d.active_conns,
                d.inactive_conns
            );
        }
    }
    Ok(())
}

fn conns() -> Result<()> {
    for c in ipvs::conn::open()? {
        let c = c?;
        println!(
            "conn {} {} {} {} {}",
            c.protocol,
            SocketAddr::new(c.client_addr, c.client_port),
            SocketAddr::new(c.virtual_addr, c.virtual_port),
            SocketAddr::new(c.dest_addr, c.dest_port),
            c.state
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("pair") => pair(&args[1..]),
        Some("promote") => promote(&args[1..]),
        Some("show") => show(&args[1..]),
        Some("conns") => conns(),
        _ => Err("usage: lvs_sync pair|promote|show|conns ...".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lvs_sync: {e}");
            ExitCode::FAILURE
        }
    }
}
