//! Active-active directors: several directors share the virtual addresses
//! behind a router's ECMP (each announces the VIP with its BGP speaker), and
//! every one must send a given flow to the same real server, whichever
//! director the router picks and whenever it picks another.
//!
//! `lvsd_active_active` in `global_defs` (lvsd's extension) asks for it:
//!
//! - **the same table everywhere.** The library's plan ([`ipvs::plan::plan`]) adds
//!   real servers in one canonical order and rebuilds a service whose
//!   order is not canonical, so directors with the same configuration hold
//!   identical `mh` lookup tables whatever their history (restarts, hand
//!   edits). That holds in every mode; this mode adds the checks below.
//! - **consistent hashing:** a service whose scheduler does not hash
//!   ([`ipvs::plan::order_sensitive`]: `mh`, `sh`, `dh`) gives a flow that
//!   moves to another director a new real server; [`config_warnings`] says
//!   so. With `mh`, `mh-fallback` (keepalived: `lvs_sched mh`,
//!   `mh-fallback`) sends the flows of a quiesced (weight 0) or overloaded
//!   real server to the next one of their preference list; without it the
//!   kernel drops them ([`quiesced_without_fallback`]).
//! - **mid-stream flows are scheduled:** a director that sees a flow's
//!   first packet after a rehash has no connection entry for it; by
//!   default the kernel schedules only a TCP SYN (SCTP INIT) and lets other
//!   packets reach the local stack, which answers with a reset. `sloppy_tcp`
//!   and `sloppy_sctp` make it schedule any packet; `mh` then picks the same
//!   real server as the first director did. [`set_sysctls`] sets both at
//!   start.
//! - **connection sync** (optional, for schedulers and persistence that do
//!   not hash): `lvs_sync_daemon IFACE id N [group ADDR]` *without* `inst`
//!   runs the master and the backup daemon on every director, so each
//!   director learns the others' connections. A VRRP instance (`inst`) makes
//!   no sense here: [`config_warnings`].
//! - **announce and withdraw:** the BGP speaker announces a VIP while its
//!   virtual server has quorum: `quorum_up` and `quorum_down` scripts
//!   (keepalived's own keywords, run by lvsd) enable and disable the
//!   announcement; the director README shows the wiring with BIRD.
//!
//! The lab case `tests/lab/forwarding/ecmp-mh.sh` measures what this buys.

use std::path::Path;

use ipvs::plan::{order_sensitive, Table};
use ipvs::{Destination, ServiceFlags, ServiceKey};

use crate::keepalived::Config;

/// Where the kernel's IPVS sysctls are.
pub const SYSCTL_DIR: &str = "/proc/sys/net/ipv4/vs";

/// The sysctls the mode sets, with their values.
pub const SYSCTLS: [(&str, &str); 2] = [("sloppy_tcp", "1"), ("sloppy_sctp", "1")];

/// Sets [`SYSCTLS`] under `dir` (normally [`SYSCTL_DIR`], which belongs to
/// the network namespace of the process). One line per sysctl: what was
/// set, or why not.
pub fn set_sysctls(dir: &Path) -> Vec<Result<String, String>> {
    SYSCTLS
        .iter()
        .map(|(name, value)| {
            let path = dir.join(name);
            match std::fs::write(&path, format!("{value}\n")) {
                Ok(()) => Ok(format!("{}: {value}", path.display())),
                Err(e) => Err(format!("{}: {e}", path.display())),
            }
        })
        .collect()
}

/// What the configuration lacks for active-active operation, one message
/// each: nothing when the mode is off.
pub fn config_warnings(config: &Config) -> Vec<String> {
    let mut w = Vec::new();
    if !config.global.lvsd_active_active {
        return w;
    }
    match &config.global.lvs_sync_daemon {
        None => w.push(
            "lvsd_active_active: no lvs_sync_daemon: connections are not synchronised; a flow \
             that moves to another director keeps its real server only through consistent \
             hashing (mh)"
                .into(),
        ),
        Some(d) if d.vrrp_instance.is_some() => w.push(format!(
            "lvsd_active_active: lvs_sync_daemon follows VRRP instance {}: active-active \
             directors run the master and the backup daemon (leave out inst)",
            d.vrrp_instance.as_deref().unwrap_or_default()
        )),
        Some(_) => {}
    }
    for vs in &config.virtual_servers {
        for s in &vs.services {
            let at = format!("{}:{}", vs.origin.file.display(), vs.origin.line);
            if !order_sensitive(&s.scheduler) {
                w.push(format!(
                    "{at}: lvsd_active_active: service {} uses {}: directors choose different \
                     real servers for a flow that moves between them (use mh)",
                    s.key, s.scheduler
                ));
            } else if s.scheduler == "mh" && !s.flags.contains(ServiceFlags::MH_FALLBACK) {
                w.push(format!(
                    "{at}: lvsd_active_active: service {} uses mh without mh-fallback: the \
                     flows of a quiesced real server are dropped",
                    s.key
                ));
            }
        }
    }
    w
}

/// Real servers that the daemon will set to weight 0 in `mh` services
/// without `mh-fallback` (configured with weight 0, or `inhibit_on_failure`),
/// one message each, whatever the mode: the kernel keeps a quiesced real
/// server's slots in the `mh` table and will not schedule to it, so the new
/// flows that hash to it are dropped while it is quiesced. A real server
/// that a reload removes is drained at weight 0 too.
pub fn quiesce_warnings(config: &Config) -> Vec<String> {
    let mut w = Vec::new();
    for vs in &config.virtual_servers {
        for s in &vs.services {
            if s.scheduler != "mh" || s.flags.contains(ServiceFlags::MH_FALLBACK) {
                continue;
            }
            for rs in &vs.real_servers {
                let why = if rs.destination.weight == 0 {
                    "has weight 0"
                } else if rs.inhibit_on_failure {
                    "is set to weight 0 when it fails (inhibit_on_failure)"
                } else {
                    continue;
                };
                w.push(format!(
                    "{}:{}: real server {} of service {} {why}: mh without mh-fallback drops \
                     the new flows that hash to a quiesced real server",
                    rs.origin.file.display(),
                    rs.origin.line,
                    std::net::SocketAddr::new(rs.destination.addr, rs.destination.port),
                    s.key
                ));
            }
        }
    }
    w
}

/// The real servers at weight 0 in `mh` services without `mh-fallback`:
/// the kernel keeps their slots in the lookup table (it remembers the last
/// non-zero weight across edits) but will not schedule to them, so every
/// new flow that hashes to them is dropped. Whatever the mode.
pub fn quiesced_without_fallback(table: &Table) -> Vec<(ServiceKey, Destination)> {
    table
        .services()
        .iter()
        .filter(|s| {
            s.service.scheduler == "mh" && !s.service.flags.contains(ServiceFlags::MH_FALLBACK)
        })
        .flat_map(|s| {
            s.destinations
                .iter()
                .filter(|d| d.weight == 0)
                .map(|d| (s.service.key, d.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keepalived::parse_str;

    const RS: &str = " real_server 198.51.100.2 80 {\n }\n";

    fn config(text: &str) -> Config {
        parse_str(text, "t.conf").unwrap().config
    }

    #[test]
    fn the_mode_is_off_unless_asked() {
        let c = config("virtual_server 192.0.2.1 80 {\n protocol TCP\n lb_algo wrr\n}\n");
        assert!(!c.global.lvsd_active_active);
        assert!(config_warnings(&c).is_empty());
    }

    #[test]
    fn warnings_name_what_the_mode_lacks() {
        let c = config(
            &"global_defs {\n lvsd_active_active\n lvs_sync_daemon eth0 inst VI_1\n}\n\
             virtual_server 192.0.2.1 80 {\n protocol TCP\n lb_algo wrr\n{RS}}\n\
             virtual_server 192.0.2.2 80 {\n protocol TCP\n lb_algo mh\n{RS}}\n\
             virtual_server 192.0.2.3 80 {\n protocol TCP\n lb_algo mh\n mh-fallback\n mh-port\n{RS}}\n"
                .replace("{RS}", RS),
        );
        assert!(c.global.lvsd_active_active);
        let w = config_warnings(&c);
        assert_eq!(w.len(), 3, "{w:#?}");
        assert!(w[0].contains("VRRP instance VI_1"), "{}", w[0]);
        assert!(w[1].contains("192.0.2.1:80 uses wrr"), "{}", w[1]);
        assert!(
            w[2].contains("192.0.2.2:80 uses mh without mh-fallback"),
            "{}",
            w[2]
        );
        let c = config(
            &"global_defs {\n lvsd_active_active\n}\n\
             virtual_server 192.0.2.3 80 {\n protocol TCP\n lb_algo mh\n mh-fallback\n{RS}}\n"
                .replace("{RS}", RS),
        );
        let w = config_warnings(&c);
        assert_eq!(w.len(), 1, "{w:#?}");
        assert!(w[0].contains("no lvs_sync_daemon"));
    }

    #[test]
    fn quiesced_real_servers_of_mh_without_fallback_are_warned_about() {
        let c = config(
            "virtual_server 192.0.2.2 80 {\n protocol TCP\n lb_algo mh\n\
             real_server 198.51.100.2 80 {\n weight 0\n }\n\
             real_server 198.51.100.3 80 {\n inhibit_on_failure\n }\n\
             real_server 198.51.100.4 80 {\n }\n}\n\
             virtual_server 192.0.2.3 80 {\n protocol TCP\n lb_algo mh\n mh-fallback\n\
             real_server 198.51.100.2 80 {\n weight 0\n }\n}\n\
             virtual_server 192.0.2.4 80 {\n protocol TCP\n lb_algo wrr\n\
             real_server 198.51.100.2 80 {\n weight 0\n }\n}\n",
        );
        let w = quiesce_warnings(&c);
        assert_eq!(w.len(), 2, "{w:#?}");
        assert!(
            w[0].contains("198.51.100.2:80 of service tcp:192.0.2.2:80 has weight 0"),
            "{}",
            w[0]
        );
        assert!(
            w[1].contains("198.51.100.3:80") && w[1].contains("inhibit_on_failure"),
            "{}",
            w[1]
        );
        assert!(w.iter().all(|m| m.starts_with("t.conf:")), "{w:?}");
    }

    #[test]
    fn the_keyword_takes_no_argument() {
        let r = parse_str("global_defs {\n lvsd_active_active yes\n}\n", "t.conf");
        assert!(r.is_err());
    }

    #[test]
    fn quiesced_real_servers_of_mh_without_fallback_are_found() {
        let c = config(
            "virtual_server 192.0.2.2 80 {\n protocol TCP\n lb_algo mh\n\
             real_server 198.51.100.2 80 {\n weight 0\n }\n real_server 198.51.100.3 80 {\n }\n}\n\
             virtual_server 192.0.2.3 80 {\n protocol TCP\n lb_algo mh\n mh-fallback\n\
             real_server 198.51.100.2 80 {\n weight 0\n }\n}\n",
        );
        let mut t = Table::new();
        for vs in &c.virtual_servers {
            for s in &vs.services {
                t.add_service(s.clone()).unwrap();
                for rs in &vs.real_servers {
                    t.add_destination(&s.key, rs.destination_for(&s.key))
                        .unwrap();
                }
            }
        }
        let q = quiesced_without_fallback(&t);
        assert_eq!(q.len(), 1, "{q:?}");
        assert_eq!(q[0].0.to_string(), "tcp:192.0.2.2:80");
        assert_eq!(q[0].1.addr.to_string(), "198.51.100.2");
    }

    #[test]
    fn sysctls_are_written_and_failures_reported() {
        let dir = std::env::temp_dir().join(format!("lvsd-aa-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let r = set_sysctls(&dir);
        assert!(r.iter().all(Result::is_ok), "{r:?}");
        for (name, value) in SYSCTLS {
            assert_eq!(
                std::fs::read_to_string(dir.join(name)).unwrap().trim(),
                value
            );
        }
        let r = set_sysctls(&dir.join("missing"));
        assert!(r.iter().all(Result::is_err), "{r:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
