//! Random IPVS tables and variations of them, for the plan tests (host:
//! `tools/tests/plan.rs` on the in-memory kernel; lab: `tests/kernel/plan.rs`
//! on the real one). Only tables a rules file can describe: routed and
//! tunnelled real servers carry the service's port, as ipvsadm gives them.
#![allow(dead_code)] // each test binary uses a part

use std::net::IpAddr;

use ipvs::plan::Table;
use ipvs::{
    Destination, ForwardMethod, Netmask, Service, ServiceFlags, ServiceKey, TunnelChecksum,
    TunnelType,
};

use crate::rng::Rng;

fn addr(r: &mut Rng, v6: bool) -> IpAddr {
    let n = 1 + r.below(6) as u8;
    if v6 {
        format!("2001:db8::{n}").parse().unwrap()
    } else {
        IpAddr::from([198, 51, 100, n])
    }
}

fn key(r: &mut Rng) -> ServiceKey {
    let v6 = r.chance(4);
    match r.below(4) {
        0 => {
            if v6 {
                ServiceKey::fwmark6(1 + r.below(3) as u32)
            } else {
                ServiceKey::fwmark(1 + r.below(3) as u32)
            }
        }
        1 => ServiceKey::udp(
            if v6 {
                "2001:db8::53".parse().unwrap()
            } else {
                IpAddr::from([192, 0, 2, 1])
            },
            53,
        ),
        _ => ServiceKey::tcp(
            if v6 {
                "2001:db8::80".parse().unwrap()
            } else {
                IpAddr::from([192, 0, 2, 1 + r.below(2) as u8])
            },
            80 + r.below(2) as u16,
        ),
    }
}

fn service(r: &mut Rng, key: ServiceKey) -> Service {
    let sched = r.pick(&["rr", "wrr", "wlc", "sh", "mh"]);
    let mut s = Service::new(key).with_scheduler(sched);
    if r.chance(3) {
        s = s.with_persistence(60 + r.below(3) as u32 * 60);
        if key.family() == ipvs::AddressFamily::Inet && r.chance(2) {
            s = s.with_netmask(Netmask::Ipv4("255.255.255.0".parse().unwrap()));
        }
    }
    if sched == "sh" || sched == "mh" {
        let bits = [
            ServiceFlags(0),
            ServiceFlags::SCHED_1,
            ServiceFlags::SCHED_2,
        ];
        let flags = s.flags | bits[r.below(3) as usize];
        s = s.with_flags(flags);
    }
    s
}

fn destination(r: &mut Rng, key: &ServiceKey) -> Destination {
    let v6 = key.family() == ipvs::AddressFamily::Inet6;
    let fwd = [
        ForwardMethod::Masquerade,
        ForwardMethod::DirectRoute,
        ForwardMethod::Tunnel,
    ][r.below(3) as usize];
    // ipvsadm gives routed and tunnelled real servers the service's port, so
    // a rules file can hold no other.
    let port = match key {
        ServiceKey::Fwmark { .. } => 0,
        ServiceKey::Addr { port, .. } if fwd != ForwardMethod::Masquerade => *port,
        _ => 80 + r.below(2) as u16,
    };
    let mut d = Destination::new(addr(r, v6), port, fwd).with_weight(r.below(4) as i32);
    if r.chance(4) {
        d = d.with_thresholds(100, 50);
    }
    if fwd == ForwardMethod::Tunnel && r.chance(2) {
        d = d.with_tunnel(TunnelType::Gue, 6080, TunnelChecksum::Csum);
    }
    d
}

/// A random table of up to 4 services with up to 4 real servers each.
pub fn table(r: &mut Rng) -> Table {
    let mut t = Table::new();
    for _ in 0..r.below(5) {
        let k = key(r);
        if t.add_service(service(r, k)).is_err() {
            continue;
        }
        for _ in 0..r.below(5) {
            let _ = t.add_destination(&k, destination(r, &k));
        }
    }
    t
}

/// A variation of `t`: some services and real servers dropped, edited or
/// added.
pub fn variation(r: &mut Rng, t: &Table) -> Table {
    let mut out = Table::new();
    for s in t.services() {
        if r.chance(5) {
            continue;
        }
        let k = s.service.key;
        let svc = if r.chance(4) {
            service(r, k)
        } else {
            s.service.clone()
        };
        out.add_service(svc).unwrap();
        for d in &s.destinations {
            match r.below(6) {
                0 => {}
                1 => {
                    let w = r.below(4) as i32;
                    out.add_destination(&k, d.clone().with_weight(w)).unwrap()
                }
                _ => out.add_destination(&k, d.clone()).unwrap(),
            }
        }
        for _ in 0..r.below(2) {
            let _ = out.add_destination(&k, destination(r, &k));
        }
    }
    let extra = table(r);
    for s in extra.services() {
        if out.add_service(s.service.clone()).is_ok() {
            for d in &s.destinations {
                out.add_destination(&s.service.key, d.clone()).unwrap();
            }
        }
    }
    out
}
