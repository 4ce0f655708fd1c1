//! Kernel errors arrive typed, with the operation, the errno, the object
//! concerned and ipvsadm's message for them.

use std::net::IpAddr;
use std::os::unix::process::CommandExt;
use std::process::Command;

use ipvs::{Destination, Error, ForwardMethod, Ipvs, Operation, Service, ServiceKey, Target};

use crate::TestNet;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn eexist_esrch_enoent() {
    let net = TestNet::new();
    let mut ipvs = net.open();
    let key = ServiceKey::tcp(ip("192.0.2.1"), 80);
    ipvs.add_service(&Service::new(key)).unwrap();

    let e = ipvs.add_service(&Service::new(key)).unwrap_err();
    match &e {
        Error::Kernel {
            op, errno, target, ..
        } => {
            assert_eq!(*op, Operation::AddService);
            assert_eq!(*errno, libc::EEXIST);
            assert_eq!(*target, Some(Target::Service(key)));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(e.ipvsadm_message(), "Service already exists");
    assert!(e.to_string().contains("tcp:192.0.2.1:80"), "{e}");

    let missing = ServiceKey::tcp(ip("192.0.2.2"), 80);
    let e = ipvs.edit_service(&Service::new(missing)).unwrap_err();
    assert_eq!(
        (e.operation(), e.errno()),
        (Some(Operation::EditService), Some(libc::ESRCH))
    );
    assert_eq!(e.ipvsadm_message(), "No such service");

    let d = Destination::new(ip("198.51.100.2"), 80, ForwardMethod::Masquerade);
    let e = ipvs.add_destination(&missing, &d).unwrap_err();
    assert_eq!(e.errno(), Some(libc::ESRCH));
    assert_eq!(e.ipvsadm_message(), "Service not defined");

    ipvs.add_destination(&key, &d).unwrap();
    let e = ipvs.add_destination(&key, &d).unwrap_err();
    assert_eq!(e.ipvsadm_message(), "Destination already exists");

    let e = ipvs
        .delete_destination(&key, ip("198.51.100.3"), 80)
        .unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOENT));
    assert_eq!(e.ipvsadm_message(), "No such destination");
    assert!(matches!(
        e,
        Error::Kernel {
            target: Some(Target::Destination { port: 80, .. }),
            ..
        }
    ));

    let e = ipvs
        .add_service(&Service::new(ServiceKey::tcp(ip("192.0.2.3"), 80)).with_scheduler("nosuch"))
        .unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOENT));
    assert_eq!(
        e.ipvsadm_message(),
        "Scheduler or persistence engine not found"
    );

    let mut neg = d.clone();
    neg.weight = -1;
    let e = ipvs.edit_destination(&key, &neg).unwrap_err();
    assert_eq!(e.errno(), Some(libc::ERANGE));
    assert_eq!(e.ipvsadm_message(), "Numerical result out of range");
}

#[test]
fn names_too_long_are_refused_before_sending() {
    let net = TestNet::new();
    let mut ipvs = net.open();
    let s = Service::new(ServiceKey::tcp(ip("192.0.2.1"), 80)).with_scheduler(&"x".repeat(70000));
    let e = ipvs.add_service(&s).unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidArgument {
                op: Operation::AddService,
                ..
            }
        ),
        "{e:?}"
    );
}

/// Runs in a child process with uid 65534 (see `eperm_without_cap_net_admin`).
#[test]
#[ignore = "run by eperm_without_cap_net_admin as an unprivileged child"]
fn eperm_child() {
    let err = Ipvs::open().and_then(|mut i| i.info()).unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
    assert_eq!(
        err.ipvsadm_message(),
        "Permission denied (you must be root)"
    );
    assert!(err.to_string().contains("CAP_NET_ADMIN"), "{err}");
}

#[test]
fn eperm_without_cap_net_admin() {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            "errors::eperm_child",
            "--test-threads=1",
        ])
        .uid(65534)
        .gid(65534)
        .output()
        .expect("spawn unprivileged child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed"), "child ran no test:\n{stdout}");
}
