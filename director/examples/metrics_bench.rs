//! Where a scrape of a large table goes: the daemon's `Status`, the kernel
//! dump, the rendering, and the whole HTTP request as a client makes it.
//!
//! ```text
//! cargo run --release -p ipvs-director --example metrics_bench -- [--real-servers M] [--runs R] [--off] [--names lvsd|node_exporter|both] [--write FILE]
//! ```
//!
//! The kernel is a `MemoryKernel` of M/4 services x 4 real servers (as the
//! lab bench's table) with counters filled in; its dump is a copy of an
//! in-memory table, so the figures are what lvsd adds to the netlink dump.
//! "render" is a first scrape's (label text written); "Scraper::scrape"
//! a later scrape's, status and dump included (label text kept).
//! `--off` scrapes with `--metrics-real-servers off`; `--names` picks the
//! metric names; `--write FILE` writes the last rendered text there (to
//! compare the output of two builds). Bounded: M ≤ 100,000,
//! R ≤ 100.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ipvs::{ServiceEntry, Stats};
use ipvs_director::director::{Control, Director, Options};
use ipvs_director::keepalived;
use ipvs_director::kernel::MemoryKernel;
use ipvs_director::metrics::{self, KernelStats, MetricsOptions, Recorder, Scraper};
use tokio::sync::mpsc;

fn arg(name: &str, default: usize, max: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
        .min(max)
}

fn config(services: usize) -> String {
    let mut c = String::new();
    for i in 0..services {
        c.push_str(&format!(
            "virtual_server 198.{}.{}.{} 80 {{\n    lb_algo wrr\n    lb_kind DR\n    protocol TCP\n",
            18 + i / 65536,
            (i / 256) % 256,
            i % 256
        ));
        for j in 1..=4 {
            c.push_str(&format!(
                "    real_server 198.51.100.{j} 80 {{\n        weight {j}\n    }}\n"
            ));
        }
        c.push_str("}\n");
    }
    c
}

/// The memory kernel with large counters, as a busy table has.
#[derive(Clone)]
struct Counting(MemoryKernel);

impl KernelStats for Counting {
    fn dump(&mut self) -> Result<Vec<ServiceEntry>, ipvs::Error> {
        let mut entries = self.0.dump()?;
        for (i, e) in entries.iter_mut().enumerate() {
            for (j, d) in e.destinations.iter_mut().enumerate() {
                let s = (i * 4 + j) as u64;
                d.stats = Stats {
                    conns: 1_000_000 + s,
                    in_packets: 50_000_000 + s,
                    out_packets: 40_000_000 + s,
                    in_bytes: 9_000_000_000 + s,
                    out_bytes: 70_000_000_000 + s,
                    ..Stats::default()
                };
                d.active_conns = 12;
                d.inactive_conns = 3;
            }
        }
        Ok(entries)
    }
}

fn get(addr: SocketAddr) -> usize {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    raw.len()
}

fn main() {
    let m = arg("--real-servers", 5000, 100_000);
    let runs = arg("--runs", 5, 100).max(1);
    let off = std::env::args().any(|a| a == "--off");
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let names: metrics::MetricNames = value("--names")
        .map(|v| v.parse().expect("lvsd, node_exporter or both"))
        .unwrap_or_default();
    let write = value("--write");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let text = config(m / 4);
        let parsed = keepalived::parse_str(&text, "keepalived.conf").unwrap();
        let recorder = Recorder::new();
        let kernel = MemoryKernel::new();
        let opts = Options {
            reconcile_interval: Duration::from_secs(3600),
            recorder: Some(recorder.clone()),
            ..Options::default()
        };
        let (d, mut notes) = Director::start(kernel.clone(), &parsed.config, None, opts).unwrap();
        tokio::spawn(async move { while notes.recv().await.is_some() {} });
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(d.run(rx));
        let options = MetricsOptions {
            real_servers: !off,
            names,
        };
        let mut k = Counting(kernel.clone());
        let mut best = [f64::MAX; 4];
        let mut bytes = 0;
        let mut last = String::new();
        for _ in 0..runs {
            let t = Instant::now();
            let (stx, srx) = tokio::sync::oneshot::channel();
            tx.send(Control::Status(stx)).unwrap();
            let status = srx.await.unwrap();
            best[0] = best[0].min(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let dump = k.dump().unwrap();
            best[1] = best[1].min(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let out = metrics::render(
                Some(status),
                Ok(dump),
                Duration::ZERO,
                &recorder,
                options,
            );
            best[2] = best[2].min(t.elapsed().as_secs_f64());
            bytes = out.len();
            last = out;
        }
        if let Some(path) = &write {
            std::fs::write(path, &last).expect("write the rendered text");
        }
        // A scraper's own scrape: label text kept from the first.
        let direct = Scraper::new(Box::new(k.clone()), tx.clone(), recorder.clone(), options);
        let mut warm = f64::MAX;
        for _ in 0..=runs {
            let t = Instant::now();
            let text = direct.scrape().await;
            warm = warm.min(t.elapsed().as_secs_f64());
            assert_eq!(text.len() / 1000, bytes / 1000);
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let scraper = Scraper::new(Box::new(k), tx.clone(), recorder, options);
        let _server = metrics::spawn(listener, scraper).unwrap();
        let mut got = 0;
        for _ in 0..runs {
            let t = Instant::now();
            got = tokio::task::spawn_blocking(move || get(addr)).await.unwrap();
            best[3] = best[3].min(t.elapsed().as_secs_f64());
        }
        println!(
            "{m} real servers ({}): status {:.4} s, dump {:.4} s, render {:.4} s ({bytes} bytes), Scraper::scrape {:.4} s (label text kept), HTTP GET {:.4} s ({got} bytes); best of {runs}",
            if off { "per-real-server series off" } else { "per-real-server series on" },
            best[0],
            best[1],
            best[2],
            warm,
            best[3]
        );
    });
}
