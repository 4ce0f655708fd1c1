//! Loads N services with 4 real servers each in one pipelined batch and
//! reports how long it took, then removes them: what a daemon does when it
//! (re)programs a large table.
//!
//! Run as root on a test machine (it flushes the table!):
//! `cargo run --release --example bulk_load -- 2000 [stop|continue] [keep|flush] [errors-only]`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use ipvs::{BatchMode, Change, Destination, ForwardMethod, Ipvs, Service, ServiceKey};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1000);
    // `stop` sends one request at a time (BatchMode::StopOnError).
    let mode = match std::env::args().nth(2).as_deref() {
        Some("stop") => BatchMode::StopOnError,
        _ => BatchMode::ContinueOnError,
    };
    let mut changes = Vec::new();
    for i in 0..n {
        // 198.18.0.0/15 is the benchmarking range.
        let key = ServiceKey::tcp(IpAddr::V4(Ipv4Addr::from(0xc612_0000 + i)), 80);
        changes.push(Change::AddService(Service::new(key).with_scheduler("wrr")));
        for j in 1..=4u8 {
            let rs = Destination::new(
                IpAddr::V4(Ipv4Addr::new(198, 51, 100, j)),
                80,
                ForwardMethod::DirectRoute,
            );
            changes.push(Change::AddDestination(key, rs));
        }
    }
    // `errors-only` as the fourth argument asks for ACKs only at the end of
    // each window (BatchAcks::ErrorsOnly).
    let mut ipvs = Ipvs::open()?;
    if std::env::args().nth(4).as_deref() == Some("errors-only") {
        ipvs.set_batch_acks(ipvs::BatchAcks::ErrorsOnly);
    }
    ipvs.flush()?;
    let start = Instant::now();
    let results = ipvs.apply(&changes, mode)?;
    let elapsed = start.elapsed();
    let failed = results.iter().filter(|r| r.is_err()).count();
    println!(
        "{} changes in {:.3} s ({failed} failed, {mode:?})",
        changes.len(),
        elapsed.as_secs_f64()
    );
    if let Some(Err(e)) = results.iter().find(|r| r.is_err()) {
        println!("first failure: {e}");
    }
    // `keep` as the third argument leaves the table in place.
    if std::env::args().nth(3).as_deref() != Some("keep") {
        ipvs.flush()?;
    }
    Ok(())
}
