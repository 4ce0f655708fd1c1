//! What a health event costs the daemon on a large table: a full reconcile (a snapshot of
//! the whole table, then the plan; what lvsd did on every health event before the
//! incremental reconcile) against the incremental one (the plan against the known table).
//!
//! ```text
//! cargo run --release -p ipvs-director --example reconcile_bench -- [--services N] [--real-servers M] [--flips F]
//! ```
//!
//! The kernel is a `MemoryKernel` (a snapshot is a copy of an in-memory table, far cheaper
//! than a netlink dump of the same table, so the figures are a lower bound of the gain). One
//! real server has a TCP_CHECK on a loopback listener the benchmark closes and reopens; the
//! `N x M` others have no check. Each flip waits for the check to change state, hands the
//! event to the director and times the reconcile. Bounded: N ≤ 20,000, M ≤ 64, F ≤ 200.

use std::time::{Duration, Instant};

use ipvs_director::check::{EventKind, Failure, ProbeResult};
use ipvs_director::director::{Director, Options};
use ipvs_director::keepalived;
use ipvs_director::kernel::MemoryKernel;

fn arg(name: &str, default: usize, max: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
        .min(max)
}

fn config(services: usize, real_servers: usize, port: u16) -> String {
    let mut c = format!(
        "virtual_server 192.0.2.1 80 {{
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server 127.0.0.1 {port} {{
        weight 2
        TCP_CHECK {{
            connect_timeout 2
            retry 0
            delay_before_retry 0.05
            delay_loop 0.05
            warmup 0
        }}
    }}
}}
"
    );
    for v in 0..services {
        // Virtual servers in 198.18.0.0/16, real servers in 198.19.0.0/16.
        c += &format!(
            "virtual_server 198.18.{}.{} 80 {{\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n",
            v / 250,
            v % 250 + 1
        );
        for r in 0..real_servers {
            let n = v * real_servers + r;
            c += &format!(
                "    real_server 198.19.{}.{} 80 {{\n        weight 1\n    }}\n",
                n / 250,
                n % 250 + 1
            );
        }
        c += "}\n";
    }
    c
}

struct Figures {
    times: Vec<Duration>,
    writes: usize,
    snapshots: u64,
}

fn summary(name: &str, f: &mut Figures) {
    f.times.sort();
    let n = f.times.len();
    let total: Duration = f.times.iter().sum();
    println!(
        "  {name:<12} {n} events: {} snapshots, {} writes; reconcile median {:.2?}, mean {:.2?}, max {:.2?}",
        f.snapshots,
        f.writes,
        f.times[n / 2],
        total / n as u32,
        f.times[n - 1]
    );
}

fn main() {
    let services = arg("--services", 2000, 20_000);
    let real_servers = arg("--real-servers", 8, 64);
    let flips = arg("--flips", 40, 200).max(2);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut listener = Some(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
        let port = listener.as_ref().unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("reconcile-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keepalived.conf");
        std::fs::write(&path, config(services, real_servers, port)).unwrap();
        let parsed = keepalived::parse_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let kernel = MemoryKernel::new();
        let options = Options {
            reconcile_interval: Duration::from_secs(3600),
            ..Options::default()
        };
        let t0 = Instant::now();
        let (mut d, mut notes) =
            Director::start(kernel.clone(), &parsed.config, None, options).unwrap();
        tokio::spawn(async move { while notes.recv().await.is_some() {} });
        let table = kernel.table();
        println!(
            "table: {} services, {} real servers; start (first reconcile) {:.2?}",
            table.len(),
            table
                .services()
                .iter()
                .map(|s| s.destinations.len())
                .sum::<usize>(),
            t0.elapsed()
        );
        let (key, _) = d.model().checks().into_iter().next().unwrap();
        let mut full = Figures {
            times: Vec::new(),
            writes: 0,
            snapshots: 0,
        };
        let mut incremental = Figures {
            times: Vec::new(),
            writes: 0,
            snapshots: 0,
        };
        for i in 0..flips {
            // Down on even flips (the listener closes), up on odd ones.
            let up = i % 2 == 1;
            if up {
                listener = Some(
                    tokio::net::TcpListener::bind(("127.0.0.1", port))
                        .await
                        .unwrap(),
                );
            } else {
                listener = None;
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            let state = loop {
                let s = d.engine().state(&key).unwrap();
                if s.up == up {
                    break s;
                }
                assert!(Instant::now() < deadline, "the check did not change state");
                tokio::time::sleep(Duration::from_millis(2)).await;
            };
            let result = match state.last_failure.clone() {
                Some(failed) => *failed,
                None => ProbeResult {
                    outcome: Ok(None),
                    duration: Duration::ZERO,
                },
            };
            let kind = if up {
                EventKind::Up { weight: None }
            } else {
                EventKind::Down {
                    reason: result.outcome.clone().err().unwrap_or(Failure::Refused),
                }
            };
            d.on_event(&ipvs_director::check::Event {
                key: key.clone(),
                kind,
                result,
            });
            // First half: full reconciles (lvsd's health event before); second half:
            // incremental ones.
            let f = if i < flips / 2 {
                &mut full
            } else {
                &mut incremental
            };
            let snapshots = kernel.state().snapshots;
            let t = Instant::now();
            let n = if i < flips / 2 {
                d.reconcile()
            } else {
                d.reconcile_health()
            };
            f.times.push(t.elapsed());
            f.writes += n;
            f.snapshots += kernel.state().snapshots - snapshots;
        }
        drop(listener);
        println!("health events, each one real server down or up (one write each):");
        summary("full", &mut full);
        summary("incremental", &mut incremental);
        let _ = std::fs::remove_dir_all(&dir);
    });
}
