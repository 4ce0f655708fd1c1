//! Batched writes: many requests per sendmsg, one result per change.

use std::net::{IpAddr, Ipv4Addr};

use ipvs::{BatchMode, Change, Destination, ForwardMethod, Operation, Service, ServiceKey};

use crate::TestNet;

fn key(i: u32) -> ServiceKey {
    ServiceKey::tcp(IpAddr::V4(Ipv4Addr::from(0xc612_0000 + i)), 80)
}

fn changes_with_failure_in_middle(n: u32, bad_at: u32) -> Vec<Change> {
    let mut v = Vec::new();
    for i in 0..n {
        if i == bad_at {
            // Adding a real server to a service that does not exist: ESRCH.
            v.push(Change::AddDestination(
                ServiceKey::tcp("192.0.2.250".parse().unwrap(), 1),
                Destination::new(
                    "198.51.100.1".parse().unwrap(),
                    80,
                    ForwardMethod::DirectRoute,
                ),
            ));
        } else {
            v.push(Change::AddService(
                Service::new(key(i)).with_scheduler("rr"),
            ));
        }
    }
    v
}

#[test]
fn continue_on_error_applies_everything_else() {
    let net = TestNet::new();
    let mut ipvs = net.open();
    let changes = changes_with_failure_in_middle(300, 150);
    let results = ipvs
        .apply(&changes, BatchMode::ContinueOnError)
        .expect("batch");
    assert_eq!(results.len(), 300);
    for (i, r) in results.iter().enumerate() {
        if i == 150 {
            let e = r.as_ref().unwrap_err();
            assert_eq!(e.operation(), Some(Operation::AddDestination));
            assert_eq!(e.errno(), Some(libc::ESRCH));
        } else {
            assert!(r.is_ok(), "change {i}: {r:?}");
        }
    }
    assert_eq!(ipvs.services().unwrap().len(), 299);
}

#[test]
fn stop_on_error_sends_nothing_after_the_failure() {
    let net = TestNet::new();
    let mut ipvs = net.open();
    let changes = changes_with_failure_in_middle(100, 40);
    let results = ipvs.apply(&changes, BatchMode::StopOnError).expect("batch");
    assert_eq!(results.len(), 41);
    assert!(results[..40].iter().all(|r| r.is_ok()));
    assert!(results[40].is_err());
    assert_eq!(ipvs.services().unwrap().len(), 40);
}

#[test]
fn destinations_and_edits_in_one_batch() {
    let net = TestNet::new();
    let mut ipvs = net.open();
    let k = key(1);
    let d = |n: u8| {
        Destination::new(
            IpAddr::V4(Ipv4Addr::new(198, 51, 100, n)),
            80,
            ForwardMethod::Masquerade,
        )
    };
    let changes = vec![
        Change::AddService(Service::new(k)),
        Change::AddDestination(k, d(1)),
        Change::AddDestination(k, d(2)),
        Change::EditDestination(k, d(2).with_weight(5)),
        Change::DeleteDestination(k, d(1)),
        Change::EditService(Service::new(k).with_scheduler("sh")),
    ];
    let results = ipvs.apply(&changes, BatchMode::ContinueOnError).unwrap();
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    let dests = ipvs.destinations(&k).unwrap();
    assert_eq!(dests.len(), 1);
    assert_eq!(
        (dests[0].config.addr, dests[0].config.weight),
        (d(2).addr, 5)
    );
    assert_eq!(ipvs.service(&k).unwrap().config.scheduler, "sh");
}

#[test]
fn errors_only_acks_give_the_same_results() {
    let net = TestNet::new();
    let mut ipvs = net.open();
    ipvs.set_batch_acks(ipvs::BatchAcks::ErrorsOnly);
    // Failures in the middle of a window, at its end, and at the very end.
    let mut changes = changes_with_failure_in_middle(200, 100);
    changes[63] = changes[100].clone();
    changes.push(changes[100].clone());
    let results = ipvs
        .apply(&changes, BatchMode::ContinueOnError)
        .expect("batch");
    assert_eq!(results.len(), 201);
    for (i, r) in results.iter().enumerate() {
        let should_fail = i == 63 || i == 100 || i == 200;
        assert_eq!(r.is_err(), should_fail, "change {i}: {r:?}");
        if let Err(e) = r {
            assert_eq!(e.errno(), Some(libc::ESRCH));
        }
    }
    assert_eq!(ipvs.services().unwrap().len(), 198);
    // The socket is in step afterwards: a plain request still works.
    assert!(ipvs.info().is_ok());
}
