//! Lists every virtual service with its real servers and counters, the way
//! a monitoring exporter would: one handle, one snapshot.
//!
//! Run as root on a director: `cargo run --example list`.

use ipvs::{ForwardMethod, Ipvs};

fn main() -> Result<(), ipvs::Error> {
    let mut ipvs = Ipvs::open()?;
    let info = ipvs.info()?;
    let (major, minor, patch) = info.version_triple();
    println!(
        "IPVS {major}.{minor}.{patch}, connection table size {}",
        info.conn_tab_size
    );
    for entry in ipvs.snapshot()? {
        let s = &entry.service;
        let persistence = if s.is_persistent() {
            format!(" persistent {}s", s.timeout)
        } else {
            String::new()
        };
        println!(
            "{} {}{} conns={} in={}B out={}B",
            s.key, s.scheduler, persistence, s.stats.conns, s.stats.in_bytes, s.stats.out_bytes
        );
        for d in &entry.destinations {
            let method = match d.forward {
                ForwardMethod::Masquerade => "nat".to_string(),
                ForwardMethod::DirectRoute => "dr".to_string(),
                ForwardMethod::Tunnel => format!("tun/{}", d.tunnel_type),
                ForwardMethod::Local => "local".to_string(),
                ForwardMethod::Other(n) => format!("method-{n}"),
            };
            println!(
                "  -> {} port {} {method} weight {} active {} inactive {}",
                d.addr, d.port, d.weight, d.active_conns, d.inactive_conns
            );
        }
    }
    Ok(())
}
