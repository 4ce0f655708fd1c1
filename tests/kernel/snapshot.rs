//! Snapshots of a large table, and namespaces that keep tables apart.

use std::net::{IpAddr, Ipv4Addr};

use ipvs::{BatchMode, Change, Destination, ForwardMethod, Service, ServiceKey};

use crate::TestNet;

#[test]
fn snapshot_of_a_thousand_services() {
    let net = TestNet::new();
    let mut ipvs = net.open();
    let mut changes = Vec::new();
    for i in 0..1000u32 {
        let k = ServiceKey::tcp(IpAddr::V4(Ipv4Addr::from(0xc612_0000 + i)), 80);
        changes.push(Change::AddService(Service::new(k).with_scheduler("wrr")));
        for j in 0..2u8 {
            let d = Destination::new(
                IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10 + j)),
                80,
                ForwardMethod::DirectRoute,
            );
            changes.push(Change::AddDestination(k, d.with_weight(i32::from(j) + 1)));
        }
    }
    let results = ipvs.apply(&changes, BatchMode::ContinueOnError).unwrap();
    assert!(results.iter().all(|r| r.is_ok()));
    let snap = ipvs.snapshot().unwrap();
    assert_eq!(snap.len(), 1000);
    assert!(snap.iter().all(|e| e.destinations.len() == 2));
    let mut addrs: Vec<_> = snap.iter().map(|e| e.service.config.key).collect();
    addrs.sort_by_key(|k| k.to_string());
    addrs.dedup();
    assert_eq!(addrs.len(), 1000);
}

#[test]
fn a_namespace_sees_only_its_own_table() {
    let a = TestNet::new();
    let b = TestNet::new();
    let mut ia = a.open();
    let mut ib = b.open();
    let k = ServiceKey::udp("192.0.2.7".parse().unwrap(), 53);
    ia.add_service(&Service::new(k)).unwrap();
    assert_eq!(ia.services().unwrap().len(), 1);
    assert!(ib.services().unwrap().is_empty());
    // The same key can exist independently in the other namespace.
    ib.add_service(&Service::new(k).with_scheduler("rr"))
        .unwrap();
    assert_eq!(ia.service(&k).unwrap().config.scheduler, "wlc");
    assert_eq!(ib.service(&k).unwrap().config.scheduler, "rr");
}

#[test]
fn namespaces_by_path_and_by_descriptor() {
    use std::os::fd::AsFd;
    let net = TestNet::new();
    let mut by_name = net.open();
    let k = ServiceKey::tcp("192.0.2.9".parse().unwrap(), 443);
    by_name.add_service(&Service::new(k)).unwrap();
    let path = std::path::PathBuf::from(format!("/run/netns/{}", net.name));
    let opts = ipvs::OpenOptions::default();
    let mut by_path = ipvs::Ipvs::open_in(ipvs::Namespace::Path(&path), &opts).unwrap();
    assert_eq!(by_path.service(&k).unwrap().config.key, k);
    let file = std::fs::File::open(&path).unwrap();
    let mut by_fd = ipvs::Ipvs::open_in(ipvs::Namespace::Fd(file.as_fd()), &opts).unwrap();
    assert_eq!(by_fd.services().unwrap().len(), 1);
    // The calling thread stayed where it was: the initial namespace's
    // table does not have the service.
    let mut here = ipvs::Ipvs::open().unwrap();
    assert!(here.service(&k).is_err());
    let missing = ipvs::Ipvs::open_in(ipvs::Namespace::Name("no-such-netns"), &opts).unwrap_err();
    assert!(
        missing.to_string().contains("/run/netns/no-such-netns"),
        "{missing}"
    );
}
