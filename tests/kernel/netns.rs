//! A throw-away network namespace with routes that make the documentation
//! ranges unicast (the kernel refuses real servers whose address is not).

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use ipvs::{Ipvs, Namespace, OpenOptions};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Runs `ip` with arguments; panics with its stderr when it fails.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace deleted on drop.
pub struct TestNet {
    /// Its name under /run/netns.
    pub name: String,
}

impl Default for TestNet {
    fn default() -> Self {
        Self::new()
    }
}

impl TestNet {
    /// Creates `ipvs-test-N` with a dummy uplink carrying default routes
    /// for IPv4 and IPv6.
    pub fn new() -> TestNet {
        let name = format!(
            "ipvs-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        ip(&["netns", "add", &name]);
        let n = TestNet { name };
        n.ip(&["link", "set", "lo", "up"]);
        n.ip(&["link", "add", "dummy0", "type", "dummy"]);
        n.ip(&["link", "set", "dummy0", "up"]);
        n.ip(&["addr", "add", "203.0.113.254/24", "dev", "dummy0"]);
        n.ip(&["route", "add", "default", "dev", "dummy0"]);
        n.ip(&[
            "-6",
            "addr",
            "add",
            "2001:db8:ffff::fe/64",
            "dev",
            "dummy0",
            "nodad",
        ]);
        n.ip(&["-6", "route", "add", "default", "dev", "dummy0"]);
        n
    }

    /// Runs `ip -n NAME ...`.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// Opens a handle inside this namespace.
    pub fn open(&self) -> Ipvs {
        Ipvs::open_in(Namespace::Name(&self.name), &OpenOptions::default())
            .expect("open IPVS in netns")
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
