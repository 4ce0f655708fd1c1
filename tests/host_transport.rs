//! The transport against the host kernel, which has generic netlink but no
//! IPVS: resolving the family goes through the real `nlctrl` exchange and
//! must end in the typed "not available" error, never a hang or a panic.

use ipvs::{Error, Ipvs, OpenOptions};
use std::time::{Duration, Instant};

#[test]
fn open_reports_missing_ipvs_or_works() {
    let started = Instant::now();
    let opts = OpenOptions {
        timeout: Duration::from_secs(5),
        modprobe: false,
        ..Default::default()
    };
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
