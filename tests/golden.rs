//! Golden bytes captured from the real kernel in the lab
//! (`fixtures/wire/kernel-6.1.txt`: `examples/capture.rs` run inside the
//! qemu guest on Debian's 6.1 cloud kernel). Every datagram is checked both
//! ways: what we sent must still be exactly what the encoder produces for
//! the same model, and what the kernel sent must parse into the expected
//! model and re-emit to the same bytes.
//!
//! To regenerate after changing the capture program: build it, put it into
//! the lab initramfs and run it as PID 1's child (see tests/lab/README.md,
//! "capture"), then replace the fixture.
#![cfg(target_endian = "little")]

use std::collections::BTreeMap;
use std::net::IpAddr;

use netlink_packet_core::Emitable;

use ipvs::config::InfoAttribute;
use ipvs::daemon::DaemonAttribute;
use ipvs::destination::DestinationAttribute;
use ipvs::service::ServiceAttribute;
use ipvs::{
    AddressFamily, Change, DaemonState, Destination, DestinationStatus, ForwardMethod,
    IpvsAttribute, IpvsCmd, IpvsMessage, Netmask, Service, ServiceFlags, ServiceKey, ServiceStatus,
    SyncDaemon, Timeouts, TunnelChecksum, TunnelType,
};

const FIXTURE: &str = include_str!("../fixtures/wire/kernel-6.1.txt");

/// One netlink message of a datagram.
#[derive(Debug)]
struct Msg {
    ty: u16,
    flags: u16,
    seq: u32,
    body: Vec<u8>,
}

#[derive(Debug, Default)]
struct Step {
    sent: Vec<Vec<u8>>,
    received: Vec<Vec<u8>>,
    error: Option<String>,
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn steps() -> BTreeMap<String, Step> {
    let mut out = BTreeMap::new();
    let mut label = String::new();
    for line in FIXTURE.lines() {
        if let Some(l) = line.strip_prefix("### ") {
            label = l.to_string();
            out.insert(label.clone(), Step::default());
        } else if let Some(h) = line.strip_prefix("> ") {
            out.get_mut(&label).unwrap().sent.push(unhex(h));
        } else if let Some(h) = line.strip_prefix("< ") {
            out.get_mut(&label).unwrap().received.push(unhex(h));
        } else if let Some(e) = line.strip_prefix("! ") {
            out.get_mut(&label).unwrap().error = Some(e.to_string());
        }
    }
    out
}

fn messages(datagram: &[u8]) -> Vec<Msg> {
    let mut v = Vec::new();
    let mut off = 0;
    while off + 16 <= datagram.len() {
        let len = u32::from_ne_bytes(datagram[off..off + 4].try_into().unwrap()) as usize;
        let h = &datagram[off..off + len];
        v.push(Msg {
            ty: u16::from_ne_bytes([h[4], h[5]]),
            flags: u16::from_ne_bytes([h[6], h[7]]),
            seq: u32::from_ne_bytes(h[8..12].try_into().unwrap()),
            body: h[16..].to_vec(),
        });
        off += (len + 3) & !3;
    }
    v
}

fn family_id(s: &BTreeMap<String, Step>) -> u16 {
    messages(&s["get_info"].sent[0])[0].ty
}

/// The IPVS messages of a step's replies (errors and DONE skipped).
fn received(step: &Step, family: u16) -> Vec<IpvsMessage> {
    step.received
        .iter()
        .flat_map(|d| messages(d))
        .filter(|m| m.ty == family)
        .map(|m| parse(&m.body))
        .collect()
}

fn parse(body: &[u8]) -> IpvsMessage {
    assert_eq!(body[1], 1, "genl version");
    IpvsMessage::parse_body(IpvsCmd::from(body[0]), &body[4..]).unwrap()
}

fn emit(m: &IpvsMessage) -> Vec<u8> {
    let mut b = vec![0; m.buffer_len()];
    m.emit(&mut b);
    b
}

/// Clears `NLA_F_NESTED` on the top-level attributes: the kernel does not
/// set it in replies, we always set it on what we emit.
fn without_nested_flag(mut attrs: Vec<u8>) -> Vec<u8> {
    let mut off = 0;
    while off + 4 <= attrs.len() {
        let len = u16::from_ne_bytes([attrs[off], attrs[off + 1]]) as usize;
        attrs[off + 3] &= 0x7f;
        off += (len + 3) & !3;
    }
    attrs
}

fn errno_of(step: &Step) -> Vec<i32> {
    step.received
        .iter()
        .flat_map(|d| messages(d))
        .filter(|m| m.ty == 2)
        .map(|m| -i32::from_ne_bytes(m.body[..4].try_into().unwrap()))
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tcp() -> ServiceKey {
    ServiceKey::tcp(ip("192.0.2.1"), 80)
}

fn v6() -> ServiceKey {
    ServiceKey::tcp(ip("2001:db8::1"), 443)
}

fn tcp_service() -> Service {
    let mut s = Service::new(tcp())
        .with_scheduler("sh")
        .with_persistence(360);
    s.flags |= ServiceFlags::SH_FALLBACK | ServiceFlags::SH_PORT;
    s.netmask = Netmask::Ipv4("255.255.255.0".parse().unwrap());
    s.pe_name = Some("sip".into());
    s
}

fn masq_dest() -> Destination {
    let mut d =
        Destination::new(ip("198.51.100.2"), 8080, ForwardMethod::Masquerade).with_weight(3);
    d.upper_threshold = 10;
    d.lower_threshold = 5;
    d
}

fn gue_dest() -> Destination {
    let mut d = Destination::new(ip("198.51.100.3"), 80, ForwardMethod::Tunnel);
    d.tunnel_type = TunnelType::Gue;
    d.tunnel_port = 6080;
    d.tunnel_flags = TunnelChecksum::Csum;
    d
}

#[test]
fn every_datagram_parses_and_reemits() {
    let all = steps();
    let family = family_id(&all);
    assert!(family > 0x10);
    let mut replies = 0;
    for (label, step) in &all {
        assert!(!step.sent.is_empty(), "{label}: nothing sent");
        for d in &step.sent {
            for m in messages(d) {
                assert_eq!(m.ty, family, "{label}");
                assert_ne!(m.seq, 0);
                let parsed = parse(&m.body);
                assert_eq!(emit(&parsed), m.body[4..], "{label}: request re-emit");
            }
        }
        for d in &step.received {
            for m in messages(d) {
                if m.ty == family {
                    replies += 1;
                    let parsed = parse(&m.body);
                    assert_eq!(
                        without_nested_flag(emit(&parsed)),
                        without_nested_flag(m.body[4..].to_vec()),
                        "{label}: reply re-emit"
                    );
                    // Nothing the 6.1 kernel sends is unknown to us.
                    assert!(
                        !format!("{parsed:?}").contains("Other("),
                        "{label}: {parsed:?}"
                    );
                }
            }
        }
    }
    assert!(replies >= 10, "only {replies} replies in the fixture");
}

#[test]
fn requests_are_what_the_encoder_produces() {
    let all = steps();
    let checks: Vec<(&str, Change)> = vec![
        ("add_service_tcp", Change::AddService(tcp_service())),
        (
            "edit_service",
            Change::EditService(Service::new(ServiceKey::udp(ip("192.0.2.1"), 53))),
        ),
        ("add_dest_masq", Change::AddDestination(tcp(), masq_dest())),
        ("add_dest_gue", Change::AddDestination(tcp(), gue_dest())),
        ("delete_service_v6", Change::DeleteService(v6())),
        (
            "set_timeouts",
            Change::SetTimeouts(Timeouts {
                tcp: 10,
                tcp_fin: 20,
                udp: 30,
            }),
        ),
        ("zero_all", Change::Zero(None)),
        ("flush", Change::Flush),
        (
            "stop_daemon_master",
            Change::StopDaemon(DaemonState::Master),
        ),
    ];
    for (label, change) in checks {
        let got = emit(&change.to_message().unwrap());
        let captured = messages(&all[label].sent[0]);
        assert_eq!(captured.len(), 1, "{label}");
        assert_eq!(captured[0].flags, 0x5, "{label}: NLM_F_REQUEST|NLM_F_ACK");
        assert_eq!(got, captured[0].body[4..], "{label}");
        assert_eq!(
            captured[0].body[0],
            u8::from(change.to_message().unwrap().cmd),
            "{label}"
        );
    }
}

#[test]
fn dumps_are_requested_with_nlm_f_dump() {
    let all = steps();
    for label in ["get_services_dump", "get_dests_dump", "get_daemons_dump"] {
        let m = &messages(&all[label].sent[0])[0];
        assert_eq!(m.flags, 0x301, "{label}: NLM_F_REQUEST|NLM_F_DUMP");
        // The last datagram ends with NLMSG_DONE.
        let last = messages(all[label].received.last().unwrap());
        assert_eq!(last.last().unwrap().ty, 3, "{label}");
    }
}

#[test]
fn info_reply() {
    let all = steps();
    let m = &received(&all["get_info"], family_id(&all))[0];
    assert_eq!(m.cmd, IpvsCmd::SetInfo);
    assert_eq!(
        m.attributes,
        vec![
            IpvsAttribute::Info(InfoAttribute::Version(0x010201)),
            IpvsAttribute::Info(InfoAttribute::ConnTabSize(4096)),
        ]
    );
}

#[test]
fn service_replies_decode_to_the_model() {
    let all = steps();
    let family = family_id(&all);
    let one = &received(&all["get_service"], family)[0];
    assert_eq!(one.cmd, IpvsCmd::NewService);
    let IpvsAttribute::Service(attrs) = &one.attributes[0] else {
        panic!("{one:?}")
    };
    // The kernel reports stats in both nests, and the HASHED flag.
    assert!(attrs
        .iter()
        .any(|a| matches!(a, ServiceAttribute::Stats(_))));
    assert!(attrs
        .iter()
        .any(|a| matches!(a, ServiceAttribute::Stats64(_))));
    let status = ServiceStatus::from_attributes(attrs).unwrap();
    let mut nest = vec![0; attrs.as_slice().buffer_len()];
    attrs.as_slice().emit(&mut nest);
    assert_eq!(ServiceStatus::from_nest(&nest).unwrap(), status);
    // The kernel's HASHED flag is status, not configuration: the service
    // read back compares equal to the one that created it.
    assert!(status.kernel_flags.contains(ServiceFlags::HASHED));
    assert!(!status.config.flags.contains(ServiceFlags::HASHED));
    assert_eq!(status.config, tcp_service());

    let dump: Vec<Service> = received(&all["get_services_dump"], family)
        .iter()
        .map(|m| match &m.attributes[0] {
            IpvsAttribute::Service(a) => ServiceStatus::from_attributes(a).unwrap().config,
            other => panic!("{other:?}"),
        })
        .collect();
    let keys: Vec<ServiceKey> = dump.iter().map(|s| s.key).collect();
    for k in [
        tcp(),
        v6(),
        ServiceKey::fwmark6(7),
        ServiceKey::udp(ip("192.0.2.1"), 53),
    ] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
    let v6svc = dump.iter().find(|s| s.key == v6()).unwrap();
    assert_eq!(v6svc.netmask, Netmask::Ipv6Prefix(64));
    assert_eq!((v6svc.timeout, v6svc.scheduler.as_str()), (300, "rr"));
    let fw = dump
        .iter()
        .find(|s| s.key == ServiceKey::fwmark6(7))
        .unwrap();
    assert!(fw.flags.contains(ServiceFlags::MH_PORT));
    let udp = dump
        .iter()
        .find(|s| s.key.family() == AddressFamily::Inet && s.scheduler == "wlc");
    assert!(udp.is_some(), "edited UDP service back to wlc");
}

#[test]
fn destination_replies_carry_every_attribute() {
    let all = steps();
    let family = family_id(&all);
    let msgs = received(&all["get_dests_dump"], family);
    assert_eq!(msgs.len(), 2);
    let mut kinds = std::collections::HashSet::new();
    let mut dests = Vec::new();
    for m in &msgs {
        let IpvsAttribute::Destination(attrs) = &m.attributes[0] else {
            panic!("{m:?}")
        };
        for a in attrs {
            kinds.insert(std::mem::discriminant(a));
        }
        let d = DestinationStatus::from_attributes(attrs, AddressFamily::Inet)
            .unwrap()
            .config;
        // The direct decoder the client uses agrees with the attribute path.
        let mut nest = vec![0; attrs.as_slice().buffer_len()];
        attrs.as_slice().emit(&mut nest);
        assert_eq!(
            DestinationStatus::from_nest(&nest, AddressFamily::Inet)
                .unwrap()
                .config,
            d
        );
        dests.push(d);
    }
    // ADDR .. TUN_FLAGS: fifteen kinds, all decoded.
    assert_eq!(kinds.len(), 15, "{msgs:?}");
    // edit_dest reset the masquerading server to weight 1, no thresholds.
    let mut edited = masq_dest().with_weight(1);
    edited.upper_threshold = 0;
    edited.lower_threshold = 0;
    assert!(dests.contains(&edited), "{dests:?}");
    assert!(dests.contains(&gue_dest()), "{dests:?}");

    // Mixed family: an IPv4 tunnel server of an IPv6 service.
    let v6d: Vec<Destination> = received(&all["get_dests_dump_v6"], family)
        .iter()
        .map(|m| match &m.attributes[0] {
            IpvsAttribute::Destination(a) => {
                DestinationStatus::from_attributes(a, AddressFamily::Inet6)
                    .unwrap()
                    .config
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(v6d
        .iter()
        .any(|d| d.addr == ip("198.51.100.4") && d.forward == ForwardMethod::Tunnel));
    assert!(v6d
        .iter()
        .any(|d| d.addr == ip("2001:db8::a") && d.forward == ForwardMethod::DirectRoute));
    assert!(msgs
        .iter()
        .all(|m| matches!(&m.attributes[0], IpvsAttribute::Destination(a)
        if a.iter().any(|x| matches!(x, DestinationAttribute::Stats64(_))))));
}

#[test]
fn daemon_and_timeout_replies() {
    let all = steps();
    let family = family_id(&all);
    let daemons: Vec<SyncDaemon> = received(&all["get_daemons_dump"], family)
        .iter()
        .map(|m| match &m.attributes[0] {
            IpvsAttribute::Daemon(a) => {
                // Every attribute but one: the group comes as GROUP or GROUP6.
                assert_eq!(a.len(), 7, "daemon attributes: {a:?}");
                assert!(a.iter().any(|x| matches!(x, DaemonAttribute::McastTtl(_))));
                SyncDaemon::from_attributes(a).unwrap()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(daemons.len(), 2);
    let mut master = SyncDaemon::new(DaemonState::Master, "sync0");
    master.sync_id = 3;
    master.sync_maxlen = 1400;
    master.mcast_group = Some(ip("239.1.1.1"));
    master.mcast_port = 9000;
    master.mcast_ttl = 2;
    assert_eq!(daemons[0], master);
    assert_eq!(daemons[1].state, DaemonState::Backup);
    assert_eq!(daemons[1].mcast_group, Some(ip("ff02::1:2")));
    assert_eq!((daemons[1].mcast_port, daemons[1].mcast_ttl), (8848, 1));

    let t = &received(&all["get_timeouts"], family)[0];
    assert_eq!(
        t.attributes,
        vec![
            IpvsAttribute::TimeoutTcp(10),
            IpvsAttribute::TimeoutTcpFin(20),
            IpvsAttribute::TimeoutUdp(30)
        ]
    );
}

#[test]
fn kernel_errors_in_the_capture() {
    let all = steps();
    assert_eq!(errno_of(&all["add_service_exists"]), vec![17]); // EEXIST
    assert_eq!(errno_of(&all["delete_service_missing"]), vec![3]); // ESRCH
    assert_eq!(
        all["add_service_exists"].error.as_deref(),
        Some("add service (service TCP 192.0.2.1:80) failed: File exists (errno 17)")
    );
    // The batch: add, add again (EEXIST), delete; three ACKs in order.
    assert_eq!(errno_of(&all["batch_three"]), vec![0, 17, 0]);
    assert_eq!(
        all["batch_three"].sent.len(),
        1,
        "three requests in one sendmsg"
    );
    assert_eq!(messages(&all["batch_three"].sent[0]).len(), 3);
}
