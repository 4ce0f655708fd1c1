//! The transport against the host kernel, which has generic netlink but no
//! IPVS: resolving the family goes through the real `nlctrl` exchange and
//! must end in the typed "not available" error, never a hang or a panic.

use ipvs::{Error, Ipvs, OpenOptions};
use std::time::{Duration, Instant};

#[test]
fn open_reports_missing_ipvs_or_works() {
    let started = Instant::now();
    let opts = OpenOptions::default()
        .with_timeout(Duration::from_secs(5))
        .with_modprobe(false);
    match Ipvs::open_with(&opts) {
        Err(Error::NotAvailable) => {
            assert!(
                !std::path::Path::new("/proc/net/ip_vs").exists(),
                "IPVS present but not found"
            );
            let e = Error::NotAvailable;
            assert!(e.to_string().contains("IPVS is not available"));
        }
        Ok(mut ipvs) => {
            // A host with IPVS: the handle must answer.
            assert!(ipvs.family_id() > 0x10);
            ipvs.info().expect("info on a host with IPVS");
        }
        Err(Error::PermissionDenied { .. }) => {}
        Err(other) => panic!("unexpected error: {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// The handle can move to another thread (its methods take `&mut self`, so
/// sharing it needs a `Mutex`, which the compiler enforces).
#[test]
fn handle_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Ipvs>();
    assert_send::<Error>();
}

/// A zero timeout would make every wait endless (`SO_RCVTIMEO` of zero):
/// refused with a typed error before anything is opened.
#[test]
fn zero_timeout_is_refused() {
    let opts = OpenOptions::default().with_timeout(Duration::ZERO);
    match Ipvs::open_with(&opts) {
        Err(Error::InvalidArgument { op, .. }) => assert_eq!(op, ipvs::Operation::Open),
        other => panic!("{other:?}"),
    }
    let ns = ipvs::Namespace::Path(std::path::Path::new("/proc/self/ns/net"));
    assert!(matches!(
        Ipvs::open_in(ns, &opts),
        Err(Error::InvalidArgument { .. })
    ));
}

/// Names of `ip netns` namespaces are single file names under /run/netns.
#[test]
fn namespace_names_cannot_leave_run_netns() {
    for name in ["../../proc/1/ns/net", "..", "a/b", ""] {
        match Ipvs::open_in(ipvs::Namespace::Name(name), &OpenOptions::default()) {
            Err(Error::InvalidArgument { op, .. }) => {
                assert_eq!(op, ipvs::Operation::EnterNamespace, "{name:?}")
            }
            other => panic!("{name:?}: {other:?}"),
        }
    }
}

/// The permission error names the capability and where it is checked
/// (root in a container is refused too).
#[test]
fn permission_error_names_the_initial_user_namespace() {
    let e = Error::PermissionDenied {
        op: ipvs::Operation::GetInfo,
        target: None,
    };
    assert!(
        e.to_string()
            .contains("CAP_NET_ADMIN in the initial user namespace"),
        "{e}"
    );
}
