//! The metrics endpoint on the host: a director on the in-memory kernel
//! runs its loop, `metrics::spawn` serves it, the test scrapes it over HTTP
//! and parses the text format back, then checks every series against the
//! kernel table and the daemon's `Status`. Every wait is bounded; no
//! assertion is on a duration.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use ipvs::{ServiceEntry, Stats};
use ipvs_director::director::{Control, Director, Options};
use ipvs_director::keepalived;
use ipvs_director::kernel::MemoryKernel;
use ipvs_director::metrics::{self, KernelStats, MetricNames, MetricsOptions, Recorder, Scraper};
use ipvs_director::status::{RealServerState, Status};
use tokio::sync::mpsc::{self, UnboundedSender};

const BOUND: Duration = Duration::from_secs(30);

/// One sample: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the Prometheus text format (0.0.4) strictly enough to catch a
/// malformed answer: every sample belongs to a family declared by a TYPE
/// line before it, label values are quoted and unescaped, no series twice.
fn parse(text: &str) -> Vec<Sample> {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, t) = rest.split_once(' ').expect("TYPE line");
            assert!(
                ["counter", "gauge", "histogram"].contains(&t),
                "type {t} in {line}"
            );
            assert!(
                types.insert(name.to_string(), t.to_string()).is_none(),
                "{name} declared twice"
            );
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment {line}");
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|e| panic!("{line}: {e}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), BTreeMap::new()),
            Some((n, rest)) => {
                let body = rest.strip_suffix('}').expect("closing brace");
                (n.to_string(), parse_labels(body))
            }
        };
        let family = types
            .keys()
            .find(|f| {
                name == **f
                    || ["_bucket", "_sum", "_count"]
                        .iter()
                        .any(|s| name == format!("{f}{s}") && types[*f] == "histogram")
            })
            .unwrap_or_else(|| panic!("sample {name} without a TYPE line"));
        if types[family] == "counter" {
            assert!(name.ends_with("_total"), "counter {name}");
        }
        assert!(seen.insert((name.clone(), labels.clone())), "{line} twice");
        out.push(Sample {
            name,
            labels,
            value,
        });
    }
    out
}

fn parse_labels(body: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = body.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        assert_eq!(chars.next(), Some('"'), "label {key} not quoted");
        let mut value = String::new();
        loop {
            match chars.next().expect("unterminated label value") {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c) => value.push(c),
                    None => panic!("bad escape"),
                },
                '"' => break,
                c => value.push(c),
            }
        }
        assert!(
            out.insert(key.clone(), value).is_none(),
            "label {key} twice"
        );
        match chars.next() {
            Some(',') | None => {}
            Some(c) => panic!("unexpected {c:?} after label {key}"),
        }
    }
    out
}

fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples.iter().find(|s| s.name == name && s.labels == want)
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    find(samples, name, labels)
        .unwrap_or_else(|| panic!("no {name} {labels:?}"))
        .value
}

fn names(samples: &[Sample]) -> BTreeSet<String> {
    samples.iter().map(|s| s.name.clone()).collect()
}

/// `GET path` over HTTP/1.1 with a plain socket: status code, content type, body.
fn http_get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(BOUND)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("HTTP head");
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    let ctype = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_string)
        })
        .unwrap_or_default();
    (code, ctype, body.to_string())
}

async fn scrape(addr: SocketAddr) -> Vec<Sample> {
    let (code, ctype, body) = tokio::task::spawn_blocking(move || http_get(addr, "/metrics"))
        .await
        .unwrap();
    assert_eq!(code, 200, "{body}");
    assert_eq!(ctype, metrics::CONTENT_TYPE);
    parse(&body)
}

/// The in-memory kernel with traffic counters added: each real server's
/// counters derive from its address and port and pass 2^32 (64-bit
/// counters), the service's are the sums plus a remainder, as the kernel's
/// include connections to real servers deleted since.
#[derive(Clone)]
struct Counting(MemoryKernel);

fn stats_for(seed: u64) -> Stats {
    Stats {
        conns: (1 << 32) + seed,
        in_packets: (2 << 32) + 3 * seed,
        out_packets: (3 << 32) + 5 * seed,
        in_bytes: (4 << 40) + 7 * seed,
        out_bytes: (5 << 40) + 11 * seed,
        ..Stats::default()
    }
}

impl KernelStats for Counting {
    fn dump(&mut self) -> Result<Vec<ServiceEntry>, ipvs::Error> {
        let mut entries = self.0.dump()?;
        for e in &mut entries {
            let mut total = stats_for(17);
            for d in &mut e.destinations {
                let seed = match d.config.addr {
                    std::net::IpAddr::V4(a) => u64::from(u32::from(a)),
                    std::net::IpAddr::V6(a) => u128::from(a) as u64,
                } ^ u64::from(d.config.port);
                d.stats = stats_for(seed % 100_000);
                d.persistent_conns = 2;
                d.inactive_conns = 1;
                total.conns += d.stats.conns;
                total.in_packets += d.stats.in_packets;
                total.out_packets += d.stats.out_packets;
                total.in_bytes += d.stats.in_bytes;
                total.out_bytes += d.stats.out_bytes;
            }
            e.service.stats = total;
        }
        Ok(entries)
    }
}

/// Two virtual servers; in the first, real servers on a listening port
/// (alive), on a closed port with `alpha` (failed) and with
/// `inhibit_on_failure` (inhibited); a fwmark service with one.
fn conf(alive_port: u16) -> String {
    format!(
        "
virtual_server 192.0.2.1 80 {{
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server 127.0.0.1 {alive_port} {{
        weight 4
        TCP_CHECK {{
            connect_timeout 2
            delay_loop 3600
        }}
    }}
    real_server 127.0.0.1 9 {{
        weight 2
        TCP_CHECK {{
            alpha
            connect_timeout 2
            delay_loop 3600
        }}
    }}
    real_server 127.0.0.1 19 {{
        weight 3
        inhibit_on_failure
        TCP_CHECK {{
            alpha
            connect_timeout 2
            delay_loop 3600
        }}
    }}
}}
virtual_server fwmark 7 {{
    lb_algo rr
    lb_kind DR
    real_server 2001:db8::5 0 {{
        weight 1
    }}
}}
"
    )
}

struct Running {
    control: UnboundedSender<Control>,
    kernel: MemoryKernel,
    server: metrics::MetricsServer,
    _alive: tokio::net::TcpListener,
}

async fn start(options: MetricsOptions, conf_text: Option<String>) -> Running {
    let alive = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = alive.local_addr().unwrap().port();
    let text = conf_text.unwrap_or_else(|| conf(port));
    let parsed = keepalived::parse_str(&text, "keepalived.conf").unwrap_or_else(|e| panic!("{e}"));
    let recorder = Recorder::new();
    let kernel = MemoryKernel::new();
    let opts = Options {
        reconcile_interval: Duration::from_secs(3600),
        recorder: Some(recorder.clone()),
        ..Options::default()
    };
    let (d, mut notes) = Director::start(kernel.clone(), &parsed.config, None, opts)
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move { while notes.recv().await.is_some() {} });
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(d.run(rx));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let scraper = Scraper::new(
        Box::new(Counting(kernel.clone())),
        tx.clone(),
        recorder,
        options,
    );
    let server = metrics::spawn(listener, scraper).unwrap();
    Running {
        control: tx,
        kernel,
        server,
        _alive: alive,
    }
}

async fn status(control: &UnboundedSender<Control>) -> Status {
    let (tx, rx) = tokio::sync::oneshot::channel();
    control.send(Control::Status(tx)).unwrap();
    tokio::time::timeout(BOUND, rx).await.unwrap().unwrap()
}

fn state_label(s: RealServerState) -> &'static str {
    match s {
        RealServerState::Alive => "alive",
        RealServerState::Failed => "failed",
        RealServerState::Inhibited => "inhibited",
        RealServerState::Displaced => "displaced",
    }
}

#[tokio::test(flavor = "current_thread")]
async fn scrape_matches_kernel_table_and_status() {
    let r = start(MetricsOptions::default(), None).await;
    let samples = scrape(r.server.local_addr()).await;
    let mut k = Counting(r.kernel.clone());
    let entries = k.dump().unwrap();
    let st = status(&r.control).await;

    assert_eq!(value(&samples, "lvsd_kernel_up", &[]), 1.0);
    assert_eq!(value(&samples, "lvsd_status_up", &[]), 1.0);
    // The failed real server is out of the table, the inhibited one in at 0.
    assert_eq!(entries.len(), 2);
    let mut rs_series = 0;
    for e in &entries {
        let svc = e.service.config.key.to_string();
        let l = [("service", svc.as_str())];
        let s = &e.service.stats;
        assert_eq!(
            value(&samples, "lvsd_service_connections_total", &l),
            s.conns as f64
        );
        assert_eq!(
            value(&samples, "lvsd_service_incoming_packets_total", &l),
            s.in_packets as f64
        );
        assert_eq!(
            value(&samples, "lvsd_service_outgoing_packets_total", &l),
            s.out_packets as f64
        );
        assert_eq!(
            value(&samples, "lvsd_service_incoming_bytes_total", &l),
            s.in_bytes as f64
        );
        assert_eq!(
            value(&samples, "lvsd_service_outgoing_bytes_total", &l),
            s.out_bytes as f64
        );
        assert_eq!(
            value(&samples, "lvsd_service_real_servers", &l),
            e.destinations.len() as f64
        );
        let weight: i64 = e
            .destinations
            .iter()
            .map(|d| i64::from(d.config.weight))
            .sum();
        assert_eq!(value(&samples, "lvsd_service_weight", &l), weight as f64);
        let persistent: u64 = e
            .destinations
            .iter()
            .map(|d| u64::from(d.persistent_conns))
            .sum();
        assert_eq!(
            value(&samples, "lvsd_service_persistent_connections", &l),
            persistent as f64
        );
        for d in &e.destinations {
            let rs = SocketAddr::new(d.config.addr, d.config.port).to_string();
            let l = [("service", svc.as_str()), ("real_server", rs.as_str())];
            rs_series += 1;
            assert_eq!(
                value(&samples, "lvsd_real_server_connections_total", &l),
                d.stats.conns as f64
            );
            assert!(d.stats.conns > u64::from(u32::MAX));
            assert_eq!(
                value(&samples, "lvsd_real_server_incoming_packets_total", &l),
                d.stats.in_packets as f64
            );
            assert_eq!(
                value(&samples, "lvsd_real_server_outgoing_packets_total", &l),
                d.stats.out_packets as f64
            );
            assert_eq!(
                value(&samples, "lvsd_real_server_incoming_bytes_total", &l),
                d.stats.in_bytes as f64
            );
            assert_eq!(
                value(&samples, "lvsd_real_server_outgoing_bytes_total", &l),
                d.stats.out_bytes as f64
            );
            assert_eq!(
                value(&samples, "lvsd_real_server_active_connections", &l),
                f64::from(d.active_conns)
            );
            assert_eq!(
                value(&samples, "lvsd_real_server_inactive_connections", &l),
                1.0
            );
            assert_eq!(
                value(&samples, "lvsd_real_server_persistent_connections", &l),
                2.0
            );
            assert_eq!(
                value(&samples, "lvsd_real_server_weight", &l),
                f64::from(d.config.weight)
            );
        }
    }
    assert_eq!(rs_series, 3, "alive + inhibited + the fwmark one");
    assert_eq!(
        samples
            .iter()
            .filter(|s| s.name == "lvsd_real_server_weight")
            .count(),
        rs_series
    );
    assert_eq!(
        value(
            &samples,
            "lvsd_real_server_weight",
            &[
                ("service", "tcp:192.0.2.1:80"),
                ("real_server", "127.0.0.1:19")
            ]
        ),
        0.0,
        "inhibited"
    );

    // Health, from the same Status the control socket reads.
    let mut states = 0;
    for vs in &st.virtual_servers {
        let l = [("virtual_server", vs.name.as_str())];
        assert_eq!(
            value(&samples, "lvsd_virtual_server_quorum_up", &l),
            f64::from(u8::from(vs.quorum_up))
        );
        assert_eq!(
            value(&samples, "lvsd_virtual_server_live_weight", &l),
            vs.live_weight as f64
        );
        for rs in &vs.real_servers {
            let a = rs.addr.to_string();
            // One series per real server, labelled with its state.
            let series: Vec<&Sample> = samples
                .iter()
                .filter(|s| {
                    s.name == "lvsd_real_server_state"
                        && s.labels.get("virtual_server") == Some(&vs.name)
                        && s.labels.get("real_server") == Some(&a)
                })
                .collect();
            assert_eq!(series.len(), 1, "{a}");
            assert_eq!(series[0].labels["state"], state_label(rs.state), "{a}");
            assert_eq!(series[0].value, 1.0);
            states += 1;
        }
    }
    assert_eq!(states, 4);
    let first = &st.virtual_servers[0];
    assert_eq!(
        first
            .real_servers
            .iter()
            .map(|r| r.state)
            .collect::<Vec<_>>(),
        [
            RealServerState::Alive,
            RealServerState::Failed,
            RealServerState::Inhibited
        ]
    );
    for (s, n) in [
        ("alive", 1.0),
        ("failed", 1.0),
        ("inhibited", 1.0),
        ("displaced", 0.0),
    ] {
        assert_eq!(
            value(
                &samples,
                "lvsd_virtual_server_real_servers",
                &[("virtual_server", "tcp:192.0.2.1:80"), ("state", s)]
            ),
            n
        );
    }
    assert_eq!(
        value(&samples, "lvsd_config_last_reload_successful", &[]),
        1.0
    );
    assert_eq!(
        value(&samples, "lvsd_start_time_seconds", &[]),
        st.daemon.started
    );
    // The start's reconcile wrote 6 changes (2 services, 4 real servers in).
    assert_eq!(
        value(
            &samples,
            "lvsd_reconcile_changes_total",
            &[("result", "ok")]
        ),
        r.kernel.write_count() as f64
    );
    assert!(value(&samples, "lvsd_reconcile_duration_seconds_count", &[]) >= 1.0);
    // No node_exporter names by default.
    assert!(!names(&samples).iter().any(|n| n.starts_with("node_")));
}

#[tokio::test(flavor = "current_thread")]
async fn real_servers_off_keeps_per_service_sums_only() {
    let r = start(
        MetricsOptions {
            real_servers: false,
            names: MetricNames::Both,
        },
        None,
    )
    .await;
    r.kernel.set_connections(
        "tcp:192.0.2.1:80".parse().unwrap(),
        "127.0.0.1".parse().unwrap(),
        19,
        5,
    );
    let samples = scrape(r.server.local_addr()).await;
    let all = names(&samples);
    assert!(
        all.iter().all(|n| !n.starts_with("lvsd_real_server_")),
        "{all:?}"
    );
    for s in &samples {
        assert!(!s.labels.contains_key("real_server"), "{s:?}");
        assert!(!s.labels.contains_key("remote_address"), "{s:?}");
        assert!(!s.labels.contains_key("remote_port"), "{s:?}");
    }
    let l = [("service", "tcp:192.0.2.1:80")];
    assert_eq!(value(&samples, "lvsd_service_active_connections", &l), 5.0);
    assert_eq!(
        value(&samples, "lvsd_service_inactive_connections", &l),
        2.0
    );
    assert_eq!(value(&samples, "lvsd_service_weight", &l), 4.0);
    // node_exporter's backends summed per service without the remote labels.
    let nl = [
        ("local_address", "192.0.2.1"),
        ("local_port", "80"),
        ("proto", "TCP"),
        ("local_mark", ""),
    ];
    assert_eq!(
        value(&samples, "node_ipvs_backend_connections_active", &nl),
        5.0
    );
    assert_eq!(
        value(&samples, "node_ipvs_backend_connections_inactive", &nl),
        2.0
    );
    assert_eq!(value(&samples, "node_ipvs_backend_weight", &nl), 4.0);
    // Per virtual server health counts stay.
    assert_eq!(
        value(
            &samples,
            "lvsd_virtual_server_real_servers",
            &[("virtual_server", "tcp:192.0.2.1:80"), ("state", "failed")]
        ),
        1.0
    );
    // Series count: nothing grows with the number of real servers.
    let per_service = samples
        .iter()
        .filter(|s| s.labels.contains_key("service"))
        .count();
    assert_eq!(per_service, 2 * 10, "10 families per service");
}

#[tokio::test(flavor = "current_thread")]
async fn node_exporter_names_and_labels() {
    let r = start(
        MetricsOptions {
            real_servers: true,
            names: MetricNames::NodeExporter,
        },
        None,
    )
    .await;
    let samples = scrape(r.server.local_addr()).await;
    let mut k = Counting(r.kernel.clone());
    let entries = k.dump().unwrap();
    let all = names(&samples);
    for n in [
        "node_ipvs_connections_total",
        "node_ipvs_incoming_packets_total",
        "node_ipvs_outgoing_packets_total",
        "node_ipvs_incoming_bytes_total",
        "node_ipvs_outgoing_bytes_total",
        "node_ipvs_backend_connections_active",
        "node_ipvs_backend_connections_inactive",
        "node_ipvs_backend_weight",
    ] {
        assert!(all.contains(n), "{n} missing");
    }
    assert!(all
        .iter()
        .all(|n| !n.starts_with("lvsd_service_") && !n.starts_with("lvsd_real_server_weight")));
    let conns: u64 = entries.iter().map(|e| e.service.stats.conns).sum();
    assert_eq!(
        value(&samples, "node_ipvs_connections_total", &[]),
        conns as f64
    );
    let bytes: u64 = entries.iter().map(|e| e.service.stats.out_bytes).sum();
    assert_eq!(
        value(&samples, "node_ipvs_outgoing_bytes_total", &[]),
        bytes as f64
    );
    let label_names: BTreeSet<&str> = [
        "local_address",
        "local_port",
        "remote_address",
        "remote_port",
        "proto",
        "local_mark",
    ]
    .into();
    let backends: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == "node_ipvs_backend_weight")
        .collect();
    assert_eq!(backends.len(), 3);
    for b in &backends {
        assert_eq!(
            b.labels.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            label_names
        );
    }
    assert_eq!(
        value(
            &samples,
            "node_ipvs_backend_weight",
            &[
                ("local_address", "192.0.2.1"),
                ("local_port", "80"),
                ("remote_address", "127.0.0.1"),
                ("remote_port", "19"),
                ("proto", "TCP"),
                ("local_mark", ""),
            ]
        ),
        0.0
    );
    // A fwmark service as /proc/net/ip_vs shows it: no local address, the
    // mark in hex.
    assert_eq!(
        value(
            &samples,
            "node_ipvs_backend_connections_inactive",
            &[
                ("local_address", ""),
                ("local_port", "0"),
                ("remote_address", "2001:db8::5"),
                ("remote_port", "0"),
                ("proto", "FWM"),
                ("local_mark", "00000007"),
            ]
        ),
        1.0
    );
}

/// Check durations and failures per check type, reconcile changes and the
/// last reload, as the daemon runs.
#[tokio::test(flavor = "current_thread")]
async fn checks_reconciles_and_reloads_are_recorded() {
    let dir = std::env::temp_dir().join(format!("lvsd-metrics-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("keepalived.conf");
    // A real server whose check fails quickly (closed port, 1 s loop, no retry).
    let text = "
virtual_server 192.0.2.3 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 127.0.0.1 9 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
            delay_loop 1
            retry 0
            warmup 0
        }
    }
}
";
    std::fs::write(&path, text).unwrap();
    let parsed = keepalived::parse_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let recorder = Recorder::new();
    let kernel = MemoryKernel::new();
    let opts = Options {
        reconcile_interval: Duration::from_secs(3600),
        recorder: Some(recorder.clone()),
        ..Options::default()
    };
    let (d, mut notes) = Director::start(kernel.clone(), &parsed.config, Some(path.clone()), opts)
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move { while notes.recv().await.is_some() {} });
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(d.run(rx));
    let server = metrics::spawn(
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        Scraper::new(
            Box::new(kernel.clone()),
            tx.clone(),
            recorder,
            MetricsOptions::default(),
        ),
    )
    .unwrap();
    let addr = server.local_addr();

    // Wait (bounded) for the check to fail and the real server to leave.
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let st = status(&tx).await;
        if st.virtual_servers[0].real_servers[0].state == RealServerState::Failed
            && kernel.table().services()[0].destinations.is_empty()
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the check never failed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let samples = scrape(addr).await;
    let tcp = [("check", "TCP_CHECK")];
    let failures = value(&samples, "lvsd_check_failures_total", &tcp);
    let probes = value(&samples, "lvsd_check_duration_seconds_count", &tcp);
    assert!(failures >= 1.0, "{failures}");
    assert!(probes >= failures);
    assert_eq!(
        value(
            &samples,
            "lvsd_check_duration_seconds_bucket",
            &[("check", "TCP_CHECK"), ("le", "+Inf")]
        ),
        probes
    );
    // Add the service and its real server, then delete the real server.
    assert_eq!(
        value(
            &samples,
            "lvsd_reconcile_changes_total",
            &[("result", "ok")]
        ),
        kernel.write_count() as f64
    );
    assert_eq!(kernel.write_count(), 3);
    assert_eq!(
        value(
            &samples,
            "lvsd_reconcile_changes_total",
            &[("result", "failed")]
        ),
        0.0
    );
    let reconciles = value(&samples, "lvsd_reconcile_duration_seconds_count", &[]);
    assert!(reconciles >= 2.0, "{reconciles}");
    assert_eq!(
        value(&samples, "lvsd_config_last_reload_successful", &[]),
        1.0
    );

    // A refused reload: 0, with its time.
    std::fs::write(&path, text.replace("weight 1", "weight abc")).unwrap();
    tx.send(Control::Reload).unwrap();
    let st = status(&tx).await;
    let last = st.daemon.last_reload.clone().expect("reload recorded");
    assert!(!last.ok);
    let samples = scrape(addr).await;
    assert_eq!(
        value(&samples, "lvsd_config_last_reload_successful", &[]),
        0.0
    );
    assert_eq!(
        value(&samples, "lvsd_config_last_reload_timestamp_seconds", &[]),
        last.at
    );
    assert!(last.at >= st.daemon.started);

    // A good one: 1 again; a reconcile more.
    std::fs::write(&path, text).unwrap();
    tx.send(Control::Reload).unwrap();
    let st = status(&tx).await;
    assert!(st.daemon.last_reload.as_ref().is_some_and(|r| r.ok));
    let samples = scrape(addr).await;
    assert_eq!(
        value(&samples, "lvsd_config_last_reload_successful", &[]),
        1.0
    );
    assert!(value(&samples, "lvsd_reconcile_duration_seconds_count", &[]) > reconciles);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "current_thread")]
async fn other_paths_and_a_failed_dump() {
    let r = start(MetricsOptions::default(), None).await;
    let addr = r.server.local_addr();
    let (code, _, body) = tokio::task::spawn_blocking(move || http_get(addr, "/nope"))
        .await
        .unwrap();
    assert_eq!(code, 404, "{body}");
    let (code, _, body) = tokio::task::spawn_blocking(move || http_get(addr, "/"))
        .await
        .unwrap();
    assert_eq!(code, 200);
    assert!(body.contains("/metrics"));

    // A client that shuts its side down once the request is sent
    // (`printf 'GET ...' | nc`) still gets its answer.
    let raw = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(BOUND)).unwrap();
        s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        raw
    })
    .await
    .unwrap();
    assert!(raw.starts_with("HTTP/1.0 200"), "{raw:.200}");
    assert!(raw.contains("\nlvsd_kernel_up 1\n"));

    // A kernel that cannot be read, and no daemon loop to answer.
    struct Broken;
    impl KernelStats for Broken {
        fn dump(&mut self) -> Result<Vec<ServiceEntry>, ipvs::Error> {
            Err(ipvs::Error::Io {
                op: ipvs::Operation::GetServices,
                source: std::io::Error::from_raw_os_error(1),
            })
        }
    }
    let (tx, rx) = mpsc::unbounded_channel();
    drop(rx);
    let server = metrics::spawn(
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        Scraper::new(
            Box::new(Broken),
            tx,
            Recorder::new(),
            MetricsOptions::default(),
        ),
    )
    .unwrap();
    let samples = scrape(server.local_addr()).await;
    assert_eq!(value(&samples, "lvsd_kernel_up", &[]), 0.0);
    assert_eq!(value(&samples, "lvsd_status_up", &[]), 0.0);
    assert!(!names(&samples)
        .iter()
        .any(|n| n.starts_with("lvsd_service_") || n.starts_with("lvsd_virtual_server_")));
}

/// The label text a scrape keeps for the next one follows the table and
/// the configuration: after a reload replaces one real server by another
/// (same count, same place), every per-real-server series, under both name
/// sets, and `lvsd_real_server_state` name the new one and none the old.
#[tokio::test(flavor = "current_thread")]
async fn series_follow_a_replaced_real_server() {
    let dir = std::env::temp_dir().join(format!("lvsd-metrics-swap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("keepalived.conf");
    let text = |third: &str| {
        format!(
            "
virtual_server 192.0.2.4 80 {{
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 198.51.100.1 80 {{
        weight 1
    }}
    real_server {third} 80 {{
        weight 2
    }}
}}
"
        )
    };
    std::fs::write(&path, text("198.51.100.2")).unwrap();
    let parsed = keepalived::parse_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let recorder = Recorder::new();
    let kernel = MemoryKernel::new();
    let opts = Options {
        reconcile_interval: Duration::from_secs(3600),
        recorder: Some(recorder.clone()),
        ..Options::default()
    };
    let (d, mut notes) = Director::start(kernel.clone(), &parsed.config, Some(path.clone()), opts)
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move { while notes.recv().await.is_some() {} });
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(d.run(rx));
    let server = metrics::spawn(
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        Scraper::new(
            Box::new(Counting(kernel.clone())),
            tx.clone(),
            recorder,
            MetricsOptions {
                real_servers: true,
                names: MetricNames::Both,
            },
        ),
    )
    .unwrap();
    let addr = server.local_addr();
    let svc = "tcp:192.0.2.4:80";

    // Every per-real-server series of the scrape names exactly `want`, with
    // the kernel's counters and weights.
    let check = |samples: &[Sample], want: &[&str]| {
        let mut k = Counting(kernel.clone());
        let entries = k.dump().unwrap();
        let dests: Vec<_> = entries[0].destinations.iter().collect();
        let in_kernel: BTreeSet<String> = dests
            .iter()
            .map(|d| SocketAddr::new(d.config.addr, d.config.port).to_string())
            .collect();
        let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
        assert_eq!(in_kernel, want);
        for name in [
            "lvsd_real_server_connections_total",
            "lvsd_real_server_weight",
            "lvsd_real_server_state",
        ] {
            let got: BTreeSet<String> = samples
                .iter()
                .filter(|s| s.name == name)
                .map(|s| s.labels["real_server"].clone())
                .collect();
            assert_eq!(got, want, "{name}");
        }
        let got: BTreeSet<String> = samples
            .iter()
            .filter(|s| s.name == "node_ipvs_backend_weight")
            .map(|s| format!("{}:{}", s.labels["remote_address"], s.labels["remote_port"]))
            .collect();
        assert_eq!(got, want, "node_ipvs_backend_weight");
        for d in dests {
            let rs = SocketAddr::new(d.config.addr, d.config.port).to_string();
            let l = [("service", svc), ("real_server", rs.as_str())];
            assert_eq!(
                value(samples, "lvsd_real_server_connections_total", &l),
                d.stats.conns as f64
            );
            assert_eq!(
                value(samples, "lvsd_real_server_weight", &l),
                f64::from(d.config.weight)
            );
            let state = [
                ("virtual_server", svc),
                ("real_server", rs.as_str()),
                ("state", "alive"),
            ];
            assert_eq!(value(samples, "lvsd_real_server_state", &state), 1.0);
        }
    };
    let samples = scrape(addr).await;
    check(&samples, &["198.51.100.1:80", "198.51.100.2:80"]);
    // The same again from the kept label text.
    let samples = scrape(addr).await;
    check(&samples, &["198.51.100.1:80", "198.51.100.2:80"]);

    std::fs::write(&path, text("198.51.100.3")).unwrap();
    tx.send(Control::Reload).unwrap();
    let st = status(&tx).await;
    assert!(st.daemon.last_reload.as_ref().is_some_and(|r| r.ok));
    let samples = scrape(addr).await;
    check(&samples, &["198.51.100.1:80", "198.51.100.3:80"]);
    assert_eq!(
        value(
            &samples,
            "lvsd_virtual_server_real_servers",
            &[("virtual_server", svc), ("state", "alive")]
        ),
        2.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}
