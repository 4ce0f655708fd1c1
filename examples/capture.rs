//! Runs one request of every IPVS command kind against the kernel and
//! prints every datagram sent and received as hex, labelled, so the bytes
//! can be kept as golden test fixtures (`fixtures/wire/`).
//!
//! Run it as root on a kernel with IPVS (the project's lab does:
//! `tests/lab/run --suite capture`). It creates a network namespace
//! `ipvs-capture` with a dummy uplink (default routes, so real-server
//! addresses are unicast) and a dummy `sync0` for the sync daemons, works
//! there, and deletes it at the end. Needs iproute2's `ip`.
//!
//! Output: blocks of `### label`, then lines `> hex` (sent) and `< hex`
//! (received), one line per datagram.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use ipvs::{
    Change, DaemonState, Destination, Direction, ForwardMethod, Ipvs, Namespace, Netmask,
    OpenOptions, Service, ServiceFlags, ServiceKey, SyncDaemon, Timeouts, TunnelChecksum,
    TunnelType,
};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address literal")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const NS: &str = "ipvs-capture";

fn ip_cmd(args: &str) -> Result<(), Box<dyn std::error::Error>> {
    let status = std::process::Command::new("ip")
        .args(args.split_whitespace())
        .status()?;
    if !status.success() {
        return Err(format!("ip {args}: {status}").into());
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _ = ip_cmd(&format!("netns del {NS}"));
    ip_cmd(&format!("netns add {NS}"))?;
    for cmd in [
        "link set lo up",
        "link add dummy0 type dummy",
        "link set dummy0 up",
        "addr add 203.0.113.254/24 dev dummy0",
        "route add default dev dummy0",
        "-6 addr add 2001:db8:ffff::fe/64 dev dummy0 nodad",
        "-6 route add default dev dummy0",
        "link add sync0 type dummy",
        "link set sync0 up",
    ] {
        ip_cmd(&format!("-n {NS} {cmd}"))?;
    }
    let result = run(Ipvs::open_in(Namespace::Name(NS), &OpenOptions::default())?);
    ip_cmd(&format!("netns del {NS}"))?;
    result
}

fn run(mut ipvs: Ipvs) -> Result<(), Box<dyn std::error::Error>> {
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = Arc::clone(&log);
    ipvs.set_tracer(Some(Box::new(move |dir, bytes| {
        let mark = if dir == Direction::Sent { '>' } else { '<' };
        sink.lock()
            .expect("log lock")
            .push(format!("{mark} {}", hex(bytes)));
    })));
    let step = |label: &str, ipvs: &mut Ipvs, f: &dyn Fn(&mut Ipvs) -> Result<(), ipvs::Error>| {
        let result = f(ipvs);
        println!("### {label}");
        for line in log.lock().expect("log lock").drain(..) {
            println!("{line}");
        }
        if let Err(e) = result {
            println!("! {e}");
        }
    };

    let tcp = ServiceKey::tcp(ip("192.0.2.1"), 80);
    let v6 = ServiceKey::tcp(ip("2001:db8::1"), 443);
    let fw = ServiceKey::fwmark6(7);
    step("get_info", &mut ipvs, &|i| i.info().map(drop));
    step("add_service_tcp", &mut ipvs, &|i| {
        let mut s = Service::new(tcp).with_scheduler("sh").with_persistence(360);
        s.flags |= ServiceFlags::SH_FALLBACK | ServiceFlags::SH_PORT;
        s.netmask = Netmask::Ipv4("255.255.255.0".parse().expect("mask"));
        s.pe_name = Some("sip".into());
        i.add_service(&s)
    });
    step("add_service_ipv6", &mut ipvs, &|i| {
        let mut s = Service::new(v6).with_scheduler("rr").with_persistence(300);
        s.netmask = Netmask::Ipv6Prefix(64);
        i.add_service(&s)
    });
    step("add_service_fwmark6", &mut ipvs, &|i| {
        let mut s = Service::new(fw).with_scheduler("mh");
        s.flags |= ServiceFlags::MH_PORT;
        i.add_service(&s)
    });
    step("add_service_udp_ops", &mut ipvs, &|i| {
        let mut s = Service::new(ServiceKey::udp(ip("192.0.2.1"), 53)).with_scheduler("rr");
        s.flags |= ServiceFlags::ONE_PACKET;
        i.add_service(&s)
    });
    step("edit_service", &mut ipvs, &|i| {
        i.edit_service(&Service::new(ServiceKey::udp(ip("192.0.2.1"), 53)))
    });
    step("add_dest_masq", &mut ipvs, &|i| {
        let mut d =
            Destination::new(ip("198.51.100.2"), 8080, ForwardMethod::Masquerade).with_weight(3);
        d.upper_threshold = 10;
        d.lower_threshold = 5;
        i.add_destination(&tcp, &d)
    });
    step("add_dest_gue", &mut ipvs, &|i| {
        let mut d = Destination::new(ip("198.51.100.3"), 80, ForwardMethod::Tunnel);
        d.tunnel_type = TunnelType::Gue;
        d.tunnel_port = 6080;
        d.tunnel_flags = TunnelChecksum::Csum;
        i.add_destination(&tcp, &d)
    });
    step("add_dest_mixed_family_tunnel", &mut ipvs, &|i| {
        i.add_destination(
            &v6,
            &Destination::new(ip("198.51.100.4"), 443, ForwardMethod::Tunnel),
        )
    });
    step("add_dest_v6_route", &mut ipvs, &|i| {
        i.add_destination(
            &v6,
            &Destination::new(ip("2001:db8::a"), 443, ForwardMethod::DirectRoute),
        )
    });
    step("edit_dest", &mut ipvs, &|i| {
        i.edit_destination(
            &tcp,
            &Destination::new(ip("198.51.100.2"), 8080, ForwardMethod::Masquerade),
        )
    });
    step("get_service", &mut ipvs, &|i| i.service(&tcp).map(drop));
    step("get_services_dump", &mut ipvs, &|i| i.services().map(drop));
    step("get_dests_dump", &mut ipvs, &|i| {
        i.destinations(&tcp).map(drop)
    });
    step("get_dests_dump_v6", &mut ipvs, &|i| {
        i.destinations(&v6).map(drop)
    });
    step("delete_dest", &mut ipvs, &|i| {
        i.delete_destination(&v6, ip("2001:db8::a"), 443)
    });
    // A sync daemon refuses to start while a mixed-family real server exists.
    step("delete_service_v6", &mut ipvs, &|i| i.delete_service(&v6));
    step("add_service_exists", &mut ipvs, &|i| {
        i.add_service(&Service::new(tcp))
    });
    step("delete_service_missing", &mut ipvs, &|i| {
        i.delete_service(&ServiceKey::sctp(ip("192.0.2.9"), 9))
    });
    step("set_timeouts", &mut ipvs, &|i| {
        i.set_timeouts(&Timeouts {
            tcp: 10,
            tcp_fin: 20,
            udp: 30,
        })
    });
    step("get_timeouts", &mut ipvs, &|i| i.timeouts().map(drop));
    step("start_daemon_master", &mut ipvs, &|i| {
        let mut d = SyncDaemon::new(DaemonState::Master, "sync0");
        d.sync_id = 3;
        d.sync_maxlen = 1400;
        d.mcast_group = Some(ip("239.1.1.1"));
        d.mcast_port = 9000;
        d.mcast_ttl = 2;
        i.start_daemon(&d)
    });
    step("start_daemon_backup_v6", &mut ipvs, &|i| {
        let mut d = SyncDaemon::new(DaemonState::Backup, "sync0");
        d.mcast_group = Some(ip("ff02::1:2"));
        i.start_daemon(&d)
    });
    step("get_daemons_dump", &mut ipvs, &|i| i.daemons().map(drop));
    step("stop_daemon_master", &mut ipvs, &|i| {
        i.stop_daemon(DaemonState::Master)
    });
    step("stop_daemon_backup", &mut ipvs, &|i| {
        i.stop_daemon(DaemonState::Backup)
    });
    step("zero_service", &mut ipvs, &|i| i.zero(Some(&tcp)));
    step("zero_all", &mut ipvs, &|i| i.zero(None));
    step("batch_three", &mut ipvs, &|i| {
        let k = ServiceKey::tcp(ip("192.0.2.2"), 80);
        let changes = [
            Change::AddService(Service::new(k)),
            Change::AddService(Service::new(k)),
            Change::DeleteService(k),
        ];
        i.apply(&changes, ipvs::BatchMode::ContinueOnError)
            .map(drop)
    });
    step("delete_service", &mut ipvs, &|i| i.delete_service(&fw));
    step("flush", &mut ipvs, &|i| i.flush());
    Ok(())
}
