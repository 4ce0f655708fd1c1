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
        let (s, stats) = (&entry.service.config, &entry.service.stats);
        let persistence = if s.is_persistent() {
            format!(" persistent {}s", s.timeout)
        } else {
            String::new()
        };
        println!(
            "{} {}{} conns={} in={}B out={}B",
            s.key, s.scheduler, persistence, stats.conns, stats.in_bytes, stats.out_bytes
        );
        for status in &entry.destinations {
            let d = &status.config;
            let method = match d.forward {
                ForwardMethod::Masquerade => "nat".to_string(),
                ForwardMethod::DirectRoute => "dr".to_string(),
                ForwardMethod::Tunnel => format!("tun/{}", d.tunnel_type),
                ForwardMethod::Local => "local".to_string(),
                ForwardMethod::Other(n) => format!("method-{n}"),
            };
            println!(
                "  -> {} port {} {method} weight {} active {} inactive {}",
                d.addr, d.port, d.weight, status.active_conns, status.inactive_conns
            );
        }
    }
    Ok(())
}
