//! Every kind of service and destination, added, read back, edited and
//! deleted on the real kernel.

use std::net::IpAddr;

use ipvs::service::scheduler;
use ipvs::{
    AddressFamily, Destination, ForwardMethod, Ipvs, Netmask, Service, ServiceFlags, ServiceKey,
    Timeouts, TunnelChecksum, TunnelType,
};

use crate::TestNet;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The configuration part of what the kernel reports for a service (the
/// HASHED flag and the counters are status, kept apart).
fn read_back(ipvs: &mut Ipvs, key: &ServiceKey) -> Service {
    let status = ipvs.service(key).expect("get service");
    assert!(status.kernel_flags.contains(ServiceFlags::HASHED));
    status.config
}

#[test]
fn family_resolves_in_init_namespace() {
    let ipvs = Ipvs::open().expect("open");
    // Dynamic generic-netlink ids start after the controller's 0x10.
    assert!(ipvs.family_id() > 0x10, "family id {}", ipvs.family_id());
}

#[test]
fn info_reports_version_and_table_size() {
    let mut ipvs = Ipvs::open().expect("open");
    let info = ipvs.info().expect("info");
    assert_eq!(info.version, 0x010201);
    assert_eq!(info.version_triple(), (1, 2, 1));
    assert_eq!(info.conn_tab_size, 4096);
}

#[test]
fn services_of_every_kind_round_trip() {
    let net = TestNet::new();
    let mut ipvs = net.open();
    let mut persistent = Service::new(ServiceKey::tcp(ip("192.0.2.1"), 443))
        .with_scheduler(scheduler::SH)
        .with_persistence(600);
    persistent.flags |= ServiceFlags::SH_FALLBACK | ServiceFlags::SH_PORT;
    persistent.netmask = Netmask::Ipv4("255.255.255.0".parse().unwrap());
    let mut udp_ops = Service::new(ServiceKey::udp(ip("192.0.2.1"), 53)).with_scheduler("rr");
    udp_ops.flags |= ServiceFlags::ONE_PACKET;
    let mut v6 = Service::new(ServiceKey::tcp(ip("2001:db8::1"), 80)).with_persistence(300);
    v6.netmask = Netmask::Ipv6Prefix(64);
    let mut fw6 = Service::new(ServiceKey::fwmark6(7)).with_scheduler("mh");
    fw6.flags |= ServiceFlags::MH_PORT;
    let services = vec![
        Service::new(ServiceKey::tcp(ip("192.0.2.1"), 80)),
        persistent,
        udp_ops,
        Service::new(ServiceKey::sctp(ip("192.0.2.3"), 9999)).with_scheduler("wrr"),
        v6,
        Service::new(ServiceKey::fwmark(5)).with_scheduler("lc"),
        Service::new(ServiceKey::fwmark(u32::MAX)).with_scheduler("fo"),
        fw6,
    ];
    for s in &services {
        ipvs.add_service(s)
            .unwrap_or_else(|e| panic!("add {}: {e}", s.key));
    }
    for s in &services {
        assert_eq!(&read_back(&mut ipvs, &s.key), s, "read back {}", s.key);
    }
    let listed: Vec<Service> = ipvs
        .services()
        .expect("dump")
        .into_iter()
        .map(|s| s.config)
        .collect();
    assert_eq!(listed.len(), services.len());
    for s in &services {
        assert!(listed.contains(s), "{} missing from dump", s.key);
    }

    // Edit replaces every setting.
    let mut edited = services[1].clone();
    edited.scheduler = "wlc".into();
    edited.flags = ServiceFlags::default();
    edited.timeout = 0;
    edited.netmask = Netmask::full(AddressFamily::Inet);
    ipvs.edit_service(&edited).expect("edit");
    assert_eq!(read_back(&mut ipvs, &edited.key), edited);

    for s in &services {
        ipvs.delete_service(&s.key)
            .unwrap_or_else(|e| panic!("delete {}: {e}", s.key));
    }
    assert!(ipvs.services().unwrap().is_empty());
}

#[test]
fn persistence_engine_sip() {
    let net = TestNet::new();
    let mut ipvs = net.open();
    let mut s = Service::new(ServiceKey::udp(ip("192.0.2.5"), 5060)).with_persistence(120);
    s.pe_name = Some("sip".into());
    ipvs.add_service(&s).expect("add sip service");
    assert_eq!(read_back(&mut ipvs, &s.key), s);
}

#[test]
fn destinations_of_every_method_and_tunnel_type() {
    let net = TestNet::new();
    let mut ipvs = net.open();
    let key = ServiceKey::tcp(ip("192.0.2.1"), 80);
    ipvs.add_service(&Service::new(key).with_scheduler("wrr"))
        .unwrap();
    let mut gue = Destination::new(ip("198.51.100.4"), 80, ForwardMethod::Tunnel);
    gue.tunnel_type = TunnelType::Gue;
    gue.tunnel_port = 6080;
    gue.tunnel_flags = TunnelChecksum::RemCsum;
    let mut gre = Destination::new(ip("198.51.100.5"), 80, ForwardMethod::Tunnel);
    gre.tunnel_type = TunnelType::Gre;
    gre.tunnel_flags = TunnelChecksum::Csum;
    let mut thresholds = Destination::new(ip("198.51.100.6"), 8080, ForwardMethod::Masquerade);
    thresholds.upper_threshold = 100;
    thresholds.lower_threshold = 50;
    thresholds.weight = 70000;
    let dests = vec![
        Destination::new(ip("198.51.100.2"), 8080, ForwardMethod::Masquerade).with_weight(3),
        Destination::new(ip("198.51.100.3"), 80, ForwardMethod::DirectRoute).with_weight(0),
        Destination::new(ip("198.51.100.7"), 80, ForwardMethod::Tunnel),
        gue,
        gre,
        thresholds,
    ];
    for d in &dests {
        ipvs.add_destination(&key, d)
            .unwrap_or_else(|e| panic!("add {}: {e}", d.addr));
    }
    let got: Vec<Destination> = ipvs
        .destinations(&key)
        .expect("dump dests")
        .into_iter()
        .map(|d| d.config)
        .collect();
    assert_eq!(got.len(), dests.len());
    for d in &dests {
        assert!(got.contains(d), "{d:?} not in {got:?}");
    }
    // Kernel order is newest first.
    assert_eq!(got[0].addr, ip("198.51.100.6"));

    // Edit: weight and method change.
    let mut e = dests[0].clone();
    e.weight = 1;
    e.forward = ForwardMethod::DirectRoute;
    ipvs.edit_destination(&key, &e).expect("edit dest");
    let got = ipvs.destinations(&key).unwrap();
    let d = &got.iter().find(|d| d.config.addr == e.addr).unwrap().config;
    assert_eq!((d.weight, d.forward), (1, ForwardMethod::DirectRoute));

    ipvs.delete_destination(&key, e.addr, e.port)
        .expect("delete dest");
    assert_eq!(ipvs.destinations(&key).unwrap().len(), dests.len() - 1);
}

#[test]
fn mixed_family_tunnel_destination() {
    let net = TestNet::new();
    let mut ipvs = net.open();
    let key = ServiceKey::tcp(ip("2001:db8::1"), 80);
    ipvs.add_service(&Service::new(key)).unwrap();
    let d = Destination::new(ip("198.51.100.9"), 80, ForwardMethod::Tunnel);
    ipvs.add_destination(&key, &d)
        .expect("IPv4 tunnel dest on IPv6 service");
    let v6 = Destination::new(ip("2001:db8::a"), 80, ForwardMethod::Masquerade);
    ipvs.add_destination(&key, &v6).expect("IPv6 dest");
    let got = ipvs.destinations(&key).unwrap();
    assert!(got
        .iter()
        .any(|g| g.config.addr == d.addr && g.config.forward == ForwardMethod::Tunnel));
    assert!(got.iter().any(|g| g.config.addr == v6.addr));
    // A mixed-family destination that is not tunnelled is refused.
    let bad = Destination::new(ip("198.51.100.10"), 80, ForwardMethod::Masquerade);
    let err = ipvs.add_destination(&key, &bad).unwrap_err();
    assert_eq!(err.errno(), Some(libc::EINVAL), "{err}");
}

#[test]
fn fwmark_service_with_destinations() {
    let net = TestNet::new();
    let mut ipvs = net.open();
    let key = ServiceKey::fwmark(0x8000_0001);
    ipvs.add_service(&Service::new(key).with_scheduler("rr"))
        .unwrap();
    let d = Destination::new(ip("198.51.100.2"), 0, ForwardMethod::DirectRoute);
    ipvs.add_destination(&key, &d).unwrap();
    let got = ipvs.destinations(&key).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].config.addr, d.addr);
    assert_eq!(ipvs.service(&key).unwrap().config.key, key);
}

#[test]
fn timeouts_set_and_get() {
    let net = TestNet::new();
    let mut ipvs = net.open();
    assert_eq!(
        ipvs.timeouts().unwrap(),
        Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300
        }
    );
    ipvs.set_timeouts(&Timeouts {
        tcp: 10,
        tcp_fin: 20,
        udp: 30,
    })
    .unwrap();
    assert_eq!(
        ipvs.timeouts().unwrap(),
        Timeouts {
            tcp: 10,
            tcp_fin: 20,
            udp: 30
        }
    );
    // Zero keeps the current value.
    ipvs.set_timeouts(&Timeouts {
        tcp: 0,
        tcp_fin: 0,
        udp: 45,
    })
    .unwrap();
    assert_eq!(
        ipvs.timeouts().unwrap(),
        Timeouts {
            tcp: 10,
            tcp_fin: 20,
            udp: 45
        }
    );
}

#[test]
fn zero_and_flush() {
    let net = TestNet::new();
    let mut ipvs = net.open();
    let a = ServiceKey::tcp(ip("192.0.2.1"), 80);
    let b = ServiceKey::udp(ip("192.0.2.1"), 53);
    ipvs.add_service(&Service::new(a)).unwrap();
    ipvs.add_service(&Service::new(b)).unwrap();
    ipvs.zero(Some(&a)).expect("zero one");
    ipvs.zero(None).expect("zero all");
    let missing = ServiceKey::tcp(ip("192.0.2.99"), 80);
    let err = ipvs.zero(Some(&missing)).unwrap_err();
    assert_eq!(err.errno(), Some(libc::ESRCH));
    assert_eq!(err.ipvsadm_message(), "No such service");
    ipvs.flush().expect("flush");
    assert!(ipvs.services().unwrap().is_empty());
}

#[test]
fn scheduler_flags_for_generic_schedulers() {
    let net = TestNet::new();
    let mut ipvs = net.open();
    let mut s = Service::new(ServiceKey::tcp(ip("192.0.2.8"), 80)).with_scheduler("rr");
    s.flags = ServiceFlags::SCHED_1 | ServiceFlags::SCHED_3;
    ipvs.add_service(&s).unwrap();
    assert_eq!(read_back(&mut ipvs, &s.key).flags, s.flags);
}
