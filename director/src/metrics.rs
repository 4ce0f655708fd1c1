//! Prometheus metrics: what the kernel counts, what the daemon thinks, and
//! how long checks and reconciles take.
//!
//! A scrape ([`render`]) joins three sources:
//!
//! - the kernel: one fresh netlink dump of services and real servers with
//!   their 64-bit counters ([`KernelStats`], [`ipvs::Ipvs::snapshot`]; never
//!   `/proc`, never a child process);
//! - the daemon's view: the same [`Status`] that `lvsctl status` and the
//!   control socket read (health per real server, quorum, drains, the last
//!   reload), asked of the running loop with
//!   [`Control::Status`];
//! - a [`Recorder`] the daemon feeds as it runs: check durations and
//!   failures per check type, reconcile durations and changes.
//!
//! The daemon's metrics go through prometheus-client's registry and
//! encoder; the kernel's families and `lvsd_real_server_state`, 10 lines
//! per real server, are written straight in the same format, each label
//! set formatted once, into a buffer kept between scrapes.
//!
//! [`spawn`] serves `GET /metrics` in the Prometheus text format (0.0.4) on
//! its own thread with its own runtime, so the kernel dump runs neither on
//! the daemon's loop nor on the check engine's thread; the loop is only
//! asked for its [`Status`], which it builds without touching the kernel.
//!
//! Names: the daemon's own (`lvsd_*`), node_exporter's ipvs collector's
//! (`node_ipvs_*`, so that existing dashboards work), or both
//! ([`MetricNames`]). [`MetricsOptions::real_servers`] off replaces the
//! per-real-server series by per-service sums, to bound the series count.
//! The metrics are listed in `director/README.md`.

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipvs::{DestinationStatus, Ipvs, Protocol, ServiceEntry, ServiceKey};
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use crate::check::{CheckSpec, ProbeObserver, ProbeResult};
use crate::director::Control;
use crate::kernel::MemoryKernel;
use crate::status::{RealServerState, Status};

/// The `Content-Type` of a scrape's answer (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Which metric names a scrape carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricNames {
    /// The daemon's own names (`lvsd_*`).
    #[default]
    Lvsd,
    /// node_exporter's ipvs collector's names and labels (`node_ipvs_*`),
    /// plus the daemon's metrics that node_exporter has no name for.
    NodeExporter,
    /// Both sets.
    Both,
}

impl MetricNames {
    fn lvsd(self) -> bool {
        matches!(self, MetricNames::Lvsd | MetricNames::Both)
    }

    fn node(self) -> bool {
        matches!(self, MetricNames::NodeExporter | MetricNames::Both)
    }
}

impl std::str::FromStr for MetricNames {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "lvsd" => Ok(MetricNames::Lvsd),
            "node" | "node_exporter" => Ok(MetricNames::NodeExporter),
            "both" => Ok(MetricNames::Both),
            _ => Err(format!(
                "metric names {s:?}: expected lvsd, node_exporter or both"
            )),
        }
    }
}

/// What a scrape carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsOptions {
    /// Series per real server (default). Off: per service sums only (and,
    /// with node_exporter names, backends without `remote_address` and
    /// `remote_port`, as node_exporter's `--collector.ipvs.backend-labels`
    /// does).
    pub real_servers: bool,
    /// Which names.
    pub names: MetricNames,
}

impl Default for MetricsOptions {
    fn default() -> Self {
        MetricsOptions {
            real_servers: true,
            names: MetricNames::Lvsd,
        }
    }
}

/// Parses `on`/`off` (also `true`/`false`, `yes`/`no`, `1`/`0`).
pub fn parse_switch(s: &str) -> Result<bool, String> {
    match s {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(format!("{s:?}: expected on or off")),
    }
}

/// Buckets of the check duration histogram, seconds.
const CHECK_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Buckets of the reconcile duration histogram, seconds.
const RECONCILE_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

type CheckLabels = [(&'static str, &'static str); 1];

fn check_histogram() -> Histogram {
    Histogram::new(CHECK_BUCKETS)
}

/// What the daemon records as it runs: probes (duration, failures per check
/// type), reconciles (duration) and kernel changes (ok, failed). Cheap to
/// clone (shared counters); thread-safe (atomics), so the check engine
/// records on its own thread.
#[derive(Debug, Clone)]
pub struct Recorder {
    check_duration: Family<CheckLabels, Histogram, fn() -> Histogram>,
    check_failures: Family<CheckLabels, Counter>,
    reconcile_duration: Histogram,
    changes_ok: Counter,
    changes_failed: Counter,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    /// Nothing recorded yet.
    pub fn new() -> Recorder {
        Recorder {
            check_duration: Family::new_with_constructor(check_histogram),
            check_failures: Family::default(),
            reconcile_duration: Histogram::new(RECONCILE_BUCKETS),
            changes_ok: Counter::default(),
            changes_failed: Counter::default(),
        }
    }

    /// Records one probe of a check of this type (`TCP_CHECK`, ...).
    pub fn probe(&self, check: &'static str, result: &ProbeResult) {
        let labels = [("check", check)];
        self.check_duration
            .get_or_create(&labels)
            .observe(result.duration.as_secs_f64());
        let failures = self.check_failures.get_or_create(&labels);
        if result.outcome.is_err() {
            failures.inc();
        }
    }

    /// The engine's observer feeding [`Recorder::probe`]
    /// ([`crate::check::Engine::observe`]).
    pub fn probe_observer(&self) -> ProbeObserver {
        let r = self.clone();
        Arc::new(move |spec: &CheckSpec, result: &ProbeResult| r.probe(spec.kind.name(), result))
    }

    /// Records one reconcile (kernel read, plan and writes).
    pub fn reconcile(&self, duration: Duration) {
        self.reconcile_duration.observe(duration.as_secs_f64());
    }

    /// Records kernel changes written (`ok`) and refused (`failed`).
    pub fn changes(&self, ok: usize, failed: usize) {
        self.changes_ok.inc_by(ok as u64);
        self.changes_failed.inc_by(failed as u64);
    }

    fn register(&self, registry: &mut Registry) {
        registry.register(
            "lvsd_check_duration_seconds",
            "Duration of health check probes, per check type",
            self.check_duration.clone(),
        );
        registry.register(
            "lvsd_check_failures",
            "Failed health check probes, per check type",
            self.check_failures.clone(),
        );
        registry.register(
            "lvsd_reconcile_duration_seconds",
            "Duration of reconciles (kernel read, plan, writes)",
            self.reconcile_duration.clone(),
        );
        let changes = Family::<[(&'static str, &'static str); 1], Counter>::default();
        changes
            .get_or_create(&[("result", "ok")])
            .inc_by(self.changes_ok.get());
        changes
            .get_or_create(&[("result", "failed")])
            .inc_by(self.changes_failed.get());
        registry.register(
            "lvsd_reconcile_changes",
            "Kernel changes written by reconciles, by result",
            changes,
        );
    }
}

/// Where a scrape reads the kernel's table with its counters.
pub trait KernelStats: Send {
    /// Every service with its real servers and counters.
    fn dump(&mut self) -> Result<Vec<ServiceEntry>, ipvs::Error>;
}

impl KernelStats for Ipvs {
    fn dump(&mut self) -> Result<Vec<ServiceEntry>, ipvs::Error> {
        self.snapshot()
    }
}

/// The in-memory kernel's table, its simulated connections reported as
/// active; no traffic counters (all 0).
impl KernelStats for MemoryKernel {
    fn dump(&mut self) -> Result<Vec<ServiceEntry>, ipvs::Error> {
        let s = self.state();
        Ok(s.table
            .services()
            .iter()
            .map(|c| {
                let dests = c
                    .destinations
                    .iter()
                    .map(|d| {
                        let n = s
                            .connections
                            .get(&(c.service.key, d.addr, d.port))
                            .copied()
                            .unwrap_or(0);
                        DestinationStatus::new(d.clone()).with_conns(
                            u32::try_from(n).unwrap_or(u32::MAX),
                            0,
                            0,
                        )
                    })
                    .collect();
                ServiceEntry::new(ipvs::ServiceStatus::new(c.service.clone()), dests)
            })
            .collect())
    }
}

/// One scrape's data, encoded by prometheus-client as a collector.
#[derive(Debug)]
struct Scrape {
    status: Option<Arc<Status>>,
    kernel_ok: bool,
    dump_seconds: f64,
}

fn protocol_label(key: &ServiceKey) -> (&'static str, String) {
    match key {
        ServiceKey::Addr { protocol, .. } => match protocol {
            Protocol::Tcp => ("TCP", String::new()),
            Protocol::Udp => ("UDP", String::new()),
            Protocol::Sctp => ("SCTP", String::new()),
            Protocol::Other(_) => ("IP", String::new()),
        },
        // /proc/net/ip_vs prints the mark as %08X, which node_exporter copies.
        ServiceKey::Fwmark { mark, .. } => ("FWM", format!("{mark:08X}")),
    }
}

fn local_addr(key: &ServiceKey) -> (String, u16) {
    match key {
        ServiceKey::Addr { addr, port, .. } => (addr.to_string(), *port),
        ServiceKey::Fwmark { .. } => (String::new(), 0),
    }
}

/// A metric family being written: one descriptor, then its series.
struct Fam<'a> {
    enc: prometheus_client::encoding::MetricEncoder<'a>,
}

impl Fam<'_> {
    fn gauge<L: prometheus_client::encoding::EncodeLabelSet>(
        &mut self,
        labels: &L,
        v: i64,
    ) -> fmt::Result {
        ConstGauge::new(v).encode(self.enc.encode_family(labels)?)
    }

    fn gauge_f64<L: prometheus_client::encoding::EncodeLabelSet>(
        &mut self,
        labels: &L,
        v: f64,
    ) -> fmt::Result {
        ConstGauge::new(v).encode(self.enc.encode_family(labels)?)
    }
}

fn family<'a>(
    enc: &'a mut DescriptorEncoder,
    name: &'a str,
    help: &str,
    t: MetricType,
) -> Result<Fam<'a>, fmt::Error> {
    Ok(Fam {
        enc: enc.encode_descriptor(name, help, None, t)?,
    })
}

const NO_LABELS: [(&str, &str); 0] = [];

/// The counters of one service or real server, and its connections.
#[derive(Default, Clone, Copy)]
struct Counters {
    conns: u64,
    in_packets: u64,
    out_packets: u64,
    in_bytes: u64,
    out_bytes: u64,
    active: u64,
    inactive: u64,
    persistent: u64,
    weight: i64,
}

impl Counters {
    fn of_dest(d: &DestinationStatus) -> Counters {
        Counters {
            conns: d.stats.conns,
            in_packets: d.stats.in_packets,
            out_packets: d.stats.out_packets,
            in_bytes: d.stats.in_bytes,
            out_bytes: d.stats.out_bytes,
            active: u64::from(d.active_conns),
            inactive: u64::from(d.inactive_conns),
            persistent: u64::from(d.persistent_conns),
            weight: i64::from(d.config.weight),
        }
    }

    fn add_conns(&mut self, o: &Counters) {
        self.active += o.active;
        self.inactive += o.inactive;
        self.persistent += o.persistent;
        self.weight += o.weight;
    }
}

/// A metric's name suffix, help and value.
type Field<T> = (&'static str, &'static str, fn(&Counters) -> T);

const TRAFFIC: [Field<u64>; 5] = [
    ("connections", "Connections scheduled", |c| c.conns),
    ("incoming_packets", "Packets received from clients", |c| {
        c.in_packets
    }),
    ("outgoing_packets", "Packets sent to clients", |c| {
        c.out_packets
    }),
    ("incoming_bytes", "Bytes received from clients", |c| {
        c.in_bytes
    }),
    ("outgoing_bytes", "Bytes sent to clients", |c| c.out_bytes),
];

const CONNS: [Field<u64>; 3] = [
    (
        "active_connections",
        "Connections in ESTABLISHED (ActiveConn)",
        |c| c.active,
    ),
    (
        "inactive_connections",
        "Connections in other states (InActConn)",
        |c| c.inactive,
    ),
    (
        "persistent_connections",
        "Persistence templates (PersistConn)",
        |c| c.persistent,
    ),
];

const STATES: [(RealServerState, &str); 4] = [
    (RealServerState::Alive, "alive"),
    (RealServerState::Failed, "failed"),
    (RealServerState::Inhibited, "inhibited"),
    (RealServerState::Displaced, "displaced"),
];

/// The kernel's part of a scrape, written straight in the text format:
/// per-real-server families are most of a scrape's lines (10 per real
/// server), and writing each real server's label set once and reusing it
/// keeps a scrape of thousands of real servers near the cost of the dump
/// itself (the daemon's own metrics go through prometheus-client's
/// registry and encoder).
struct Text<'a> {
    out: &'a mut String,
}

impl Text<'_> {
    fn head(&mut self, name: &str, help: &str, kind: &str) {
        use fmt::Write as _;
        let _ = write!(self.out, "# HELP {name} {help}.\n# TYPE {name} {kind}\n");
    }

    fn sample(&mut self, name: &str, labels: &str, v: impl Into<Value>) {
        self.out.push_str(name);
        self.out.push_str(labels);
        self.out.push(' ');
        match v.into() {
            Value::U(v) => push_u64(self.out, v),
            Value::I(v) => {
                if v < 0 {
                    self.out.push('-');
                }
                push_u64(self.out, v.unsigned_abs());
            }
        }
        self.out.push('\n');
    }
}

/// A sample's value: the kernel's counters and gauges are integers.
enum Value {
    U(u64),
    I(i64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::U(v)
    }
}

impl From<usize> for Value {
    fn from(v: usize) -> Value {
        Value::U(v as u64)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::I(v)
    }
}

/// Two decimal digits of every number below 100.
const DIGITS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends the decimal form of `v`, two digits at a time (the scrape of a
/// large table writes tens of thousands of samples; `write!` goes through
/// the formatting machinery for each).
fn push_u64(out: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while v >= 100 {
        let d = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGITS[d..d + 2]);
    }
    if v >= 10 {
        let d = v as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGITS[d..d + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    // ASCII digits only: always valid.
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or("0"));
}

/// Appends `v` escaped as a label value of the text format.
fn push_escaped(s: &mut String, v: &str) {
    if !v.contains(['\\', '"', '\n']) {
        s.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
}

/// Appends `{k="v",...}` with the values escaped as the text format wants.
fn push_label_set(s: &mut String, pairs: &[(&str, &str)]) {
    s.push('{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(k);
        s.push_str("=\"");
        push_escaped(s, v);
        s.push('"');
    }
    s.push('}');
}

/// `{k="v",...}` with the values escaped as the text format wants.
fn label_set(pairs: &[(&str, &str)]) -> String {
    let mut s = String::with_capacity(64);
    push_label_set(&mut s, pairs);
    s
}

/// Many label sets in one string (one allocation for thousands of real
/// servers), each an index range of it.
#[derive(Default)]
struct LabelSets {
    text: String,
    ends: Vec<usize>,
}

impl LabelSets {
    fn with_capacity(n: usize) -> LabelSets {
        LabelSets {
            text: String::with_capacity(n * 64),
            ends: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, pairs: &[(&str, &str)]) {
        push_label_set(&mut self.text, pairs);
        self.ends.push(self.text.len());
    }

    fn iter(&self) -> impl Iterator<Item = &str> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let l = &self.text[start..end];
            start = end;
            l
        })
    }
}

fn write_kernel(out: &mut String, entries: &[ServiceEntry], o: MetricsOptions) {
    let mut t = Text { out };
    let services: Vec<String> = entries
        .iter()
        .map(|e| label_set(&[("service", &e.service.config.key.to_string())]))
        .collect();
    let svc_counters: Vec<Counters> = entries
        .iter()
        .map(|e| {
            let s = &e.service.stats;
            let mut c = Counters {
                conns: s.conns,
                in_packets: s.in_packets,
                out_packets: s.out_packets,
                in_bytes: s.in_bytes,
                out_bytes: s.out_bytes,
                ..Counters::default()
            };
            for d in &e.destinations {
                c.add_conns(&Counters::of_dest(d));
            }
            c
        })
        .collect();
    if o.names.lvsd() {
        for (name, help, get) in TRAFFIC {
            let n = format!("lvsd_service_{name}_total");
            t.head(&n, help, "counter");
            for (l, c) in services.iter().zip(&svc_counters) {
                t.sample(&n, l, get(c));
            }
        }
        for (name, help, get) in CONNS {
            let n = format!("lvsd_service_{name}");
            t.head(
                &n,
                &format!("{help}, summed over the service's real servers"),
                "gauge",
            );
            for (l, c) in services.iter().zip(&svc_counters) {
                t.sample(&n, l, get(c));
            }
        }
        t.head(
            "lvsd_service_weight",
            "Sum of the weights of the service's real servers in the kernel",
            "gauge",
        );
        for (l, c) in services.iter().zip(&svc_counters) {
            t.sample("lvsd_service_weight", l, c.weight);
        }
        t.head(
            "lvsd_service_real_servers",
            "Real servers of the service in the kernel",
            "gauge",
        );
        for (l, e) in services.iter().zip(entries) {
            t.sample("lvsd_service_real_servers", l, e.destinations.len());
        }
        if o.real_servers {
            let n: usize = entries.iter().map(|e| e.destinations.len()).sum();
            let mut labels = LabelSets::with_capacity(n);
            let mut counters = Vec::with_capacity(n);
            let mut rs = String::new();
            for e in entries {
                let svc = e.service.config.key.to_string();
                for d in &e.destinations {
                    use fmt::Write as _;
                    rs.clear();
                    let _ = write!(rs, "{}", SocketAddr::new(d.config.addr, d.config.port));
                    labels.push(&[("service", &svc), ("real_server", &rs)]);
                    counters.push(Counters::of_dest(d));
                }
            }
            let rs: Vec<(&str, &Counters)> = labels.iter().zip(&counters).collect();
            for (name, help, get) in TRAFFIC {
                let n = format!("lvsd_real_server_{name}_total");
                t.head(&n, help, "counter");
                for &(l, c) in &rs {
                    t.sample(&n, l, get(c));
                }
            }
            for (name, help, get) in CONNS {
                let n = format!("lvsd_real_server_{name}");
                t.head(&n, help, "gauge");
                for &(l, c) in &rs {
                    t.sample(&n, l, get(c));
                }
            }
            t.head(
                "lvsd_real_server_weight",
                "The real server's weight in the kernel",
                "gauge",
            );
            for &(l, c) in &rs {
                t.sample("lvsd_real_server_weight", l, c.weight);
            }
        }
    }
    if o.names.node() {
        write_node(&mut t, entries, &svc_counters, o.real_servers);
    }
}

/// node_exporter's ipvs collector: totals without labels (here the sums
/// over services), and per backend gauges labelled as node_exporter labels
/// them.
fn write_node(t: &mut Text<'_>, entries: &[ServiceEntry], svc: &[Counters], real_servers: bool) {
    let total = svc.iter().fold(Counters::default(), |mut t, c| {
        t.conns += c.conns;
        t.in_packets += c.in_packets;
        t.out_packets += c.out_packets;
        t.in_bytes += c.in_bytes;
        t.out_bytes += c.out_bytes;
        t
    });
    let totals: [(&str, &str, u64); 5] = [
        (
            "node_ipvs_connections_total",
            "The total number of connections made",
            total.conns,
        ),
        (
            "node_ipvs_incoming_packets_total",
            "The total number of incoming packets",
            total.in_packets,
        ),
        (
            "node_ipvs_outgoing_packets_total",
            "The total number of outgoing packets",
            total.out_packets,
        ),
        (
            "node_ipvs_incoming_bytes_total",
            "The total amount of incoming data",
            total.in_bytes,
        ),
        (
            "node_ipvs_outgoing_bytes_total",
            "The total amount of outgoing data",
            total.out_bytes,
        ),
    ];
    for (name, help, v) in totals {
        t.head(name, help, "counter");
        t.sample(name, "", v);
    }
    // Backends keyed by their label set; without real servers, the remote
    // labels are dropped and the backends of a service summed.
    let mut backends: Vec<(String, Counters)> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for e in entries {
        let key = &e.service.config.key;
        let (laddr, lport) = local_addr(key);
        let lport = lport.to_string();
        let (proto, mark) = protocol_label(key);
        for d in &e.destinations {
            let labels = if real_servers {
                label_set(&[
                    ("local_address", &laddr),
                    ("local_port", &lport),
                    ("remote_address", &d.config.addr.to_string()),
                    ("remote_port", &d.config.port.to_string()),
                    ("proto", proto),
                    ("local_mark", &mark),
                ])
            } else {
                label_set(&[
                    ("local_address", &laddr),
                    ("local_port", &lport),
                    ("proto", proto),
                    ("local_mark", &mark),
                ])
            };
            let c = Counters::of_dest(d);
            match index.get(&labels) {
                Some(&i) => backends[i].1.add_conns(&c),
                None => {
                    index.insert(labels.clone(), backends.len());
                    let mut sum = Counters::default();
                    sum.add_conns(&c);
                    backends.push((labels, sum));
                }
            }
        }
    }
    let gauges: [Field<i64>; 3] = [
        (
            "node_ipvs_backend_connections_active",
            "The current active connections by local and remote address",
            |c| i64::try_from(c.active).unwrap_or(i64::MAX),
        ),
        (
            "node_ipvs_backend_connections_inactive",
            "The current inactive connections by local and remote address",
            |c| i64::try_from(c.inactive).unwrap_or(i64::MAX),
        ),
        (
            "node_ipvs_backend_weight",
            "The current backend weight by local and remote address",
            |c| c.weight,
        ),
    ];
    for (name, help, get) in gauges {
        t.head(name, help, "gauge");
        for (l, c) in &backends {
            t.sample(name, l, get(c));
        }
    }
}

/// `lvsd_real_server_state`: one series per configured real server, from
/// the daemon's [`Status`] (as many lines as the kernel's per-real-server
/// families, so written straight like them).
fn write_states(t: &mut Text<'_>, status: &Status) {
    const NAME: &str = "lvsd_real_server_state";
    t.head(
        NAME,
        "The real server's state (alive, failed, inhibited, displaced): one series of value 1",
        "gauge",
    );
    let mut rs = String::new();
    for v in &status.virtual_servers {
        for r in &v.real_servers {
            use fmt::Write as _;
            rs.clear();
            let _ = write!(rs, "{}", r.addr);
            let state = STATES
                .iter()
                .find(|(s, _)| *s == r.state)
                .map_or("unknown", |(_, l)| l);
            t.out.push_str(NAME);
            push_label_set(
                t.out,
                &[
                    ("virtual_server", v.name.as_str()),
                    ("real_server", rs.as_str()),
                    ("state", state),
                ],
            );
            t.out.push_str(" 1\n");
        }
    }
}

impl Scrape {
    fn encode_status(&self, enc: &mut DescriptorEncoder, status: &Status) -> fmt::Result {
        family(
            enc,
            "lvsd_start_time_seconds",
            "When the daemon started, seconds since the Unix epoch",
            MetricType::Gauge,
        )?
        .gauge_f64(&NO_LABELS, status.daemon.started)?;
        // Before any reload, the configuration taken at start.
        let (ok, at) = match &status.daemon.last_reload {
            Some(r) => (r.ok, r.at),
            None => (true, status.daemon.started),
        };
        family(
            enc,
            "lvsd_config_last_reload_successful",
            "Whether the last reload was taken (1 before any reload)",
            MetricType::Gauge,
        )?
        .gauge(&NO_LABELS, i64::from(ok))?;
        family(
            enc,
            "lvsd_config_last_reload_timestamp_seconds",
            "When the last reload was tried (the start before any), seconds since the Unix epoch",
            MetricType::Gauge,
        )?
        .gauge_f64(&NO_LABELS, at)?;
        family(
            enc,
            "lvsd_draining_real_servers",
            "Real servers removed from the configuration and being drained",
            MetricType::Gauge,
        )?
        .gauge(&NO_LABELS, status.draining.len() as i64)?;
        let vs = &status.virtual_servers;
        {
            let mut f = family(
                enc,
                "lvsd_virtual_server_quorum_up",
                "Whether the virtual server's quorum holds",
                MetricType::Gauge,
            )?;
            for v in vs {
                f.gauge(
                    &[("virtual_server", v.name.as_str())],
                    i64::from(v.quorum_up),
                )?;
            }
        }
        {
            let mut f = family(
                enc,
                "lvsd_virtual_server_live_weight",
                "Sum of the weights of the virtual server's alive real servers",
                MetricType::Gauge,
            )?;
            for v in vs {
                f.gauge(
                    &[("virtual_server", v.name.as_str())],
                    i64::try_from(v.live_weight).unwrap_or(i64::MAX),
                )?;
            }
        }
        {
            let mut f = family(
                enc,
                "lvsd_virtual_server_real_servers",
                "The virtual server's configured real servers, by state",
                MetricType::Gauge,
            )?;
            for v in vs {
                for (state, label) in STATES {
                    let n = v.real_servers.iter().filter(|r| r.state == state).count();
                    f.gauge(
                        &[("virtual_server", v.name.as_str()), ("state", label)],
                        n as i64,
                    )?;
                }
            }
        }
        Ok(())
    }
}

impl prometheus_client::collector::Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        family(
            &mut enc,
            "lvsd_kernel_up",
            "Whether this scrape's netlink dump of the IPVS table succeeded",
            MetricType::Gauge,
        )?
        .gauge(&NO_LABELS, i64::from(self.kernel_ok))?;
        family(
            &mut enc,
            "lvsd_kernel_dump_duration_seconds",
            "How long this scrape's netlink dump took",
            MetricType::Gauge,
        )?
        .gauge_f64(&NO_LABELS, self.dump_seconds)?;
        family(
            &mut enc,
            "lvsd_status_up",
            "Whether the daemon's loop answered this scrape's status request",
            MetricType::Gauge,
        )?
        .gauge(&NO_LABELS, i64::from(self.status.is_some()))?;
        if let Some(status) = &self.status {
            self.encode_status(&mut enc, status)?;
        }
        Ok(())
    }
}

/// One scrape's text: the kernel dump (or the reason it failed), the
/// daemon's [`Status`] (when its loop answered), the [`Recorder`]'s
/// metrics. `dump` is how long the kernel dump took.
pub fn render(
    status: Option<Status>,
    kernel: Result<Vec<ServiceEntry>, String>,
    dump: Duration,
    recorder: &Recorder,
    options: MetricsOptions,
) -> String {
    let mut out = String::new();
    render_into(&mut out, status, kernel, dump, recorder, options);
    out
}

/// [`render`] appending to `out` (a buffer kept between scrapes: a large
/// table's scrape is megabytes, which a fresh allocation pays for again in
/// page faults each time).
fn render_into(
    out: &mut String,
    status: Option<Status>,
    kernel: Result<Vec<ServiceEntry>, String>,
    dump: Duration,
    recorder: &Recorder,
    options: MetricsOptions,
) {
    let status = status.map(Arc::new);
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape {
        status: status.clone(),
        kernel_ok: kernel.is_ok(),
        dump_seconds: dump.as_secs_f64(),
    }));
    recorder.register(&mut registry);
    // Room for the whole answer, so that it is never copied while growing
    // (pages reserved but not written cost nothing): about 11 lines of up
    // to 112 bytes per real server and 16 of 100 per service per name set.
    let (services, rs) = kernel.as_ref().map_or((0, 0), |k| {
        (
            k.len(),
            k.iter().map(|e| e.destinations.len()).sum::<usize>(),
        )
    });
    let sets = if options.names == MetricNames::Both {
        2
    } else {
        1
    };
    out.reserve(16 * 1024 + sets * (rs * 11 * 112 + services * 16 * 100));
    // Writing to a String cannot fail; the encoders only fail on the
    // writer's errors.
    let _ = prometheus_client::encoding::prometheus_text::encode(out, &registry);
    if options.real_servers {
        if let Some(status) = &status {
            write_states(&mut Text { out: &mut *out }, status);
        }
    }
    if let Ok(entries) = &kernel {
        write_kernel(out, entries, options);
    }
}

/// The buffer of the last scrape, kept for the next one.
#[derive(Debug, Clone, Default)]
struct BufferPool(Arc<Mutex<Option<String>>>);

impl BufferPool {
    fn take(&self) -> String {
        let mut b = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_default();
        b.clear();
        b
    }

    /// Keeps `b` unless a larger one is kept already.
    fn give(&self, b: String) {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_none_or(|s| s.capacity() < b.capacity()) {
            *slot = Some(b);
        }
    }
}

/// A scrape's answer as the HTTP body: its buffer goes back to the pool
/// once the body is sent (no copy of the text on the way).
struct Pooled {
    text: String,
    pool: BufferPool,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        self.text.as_bytes()
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.text));
    }
}

/// The state a scrape reads: the kernel dump source, the daemon's control
/// channel and the recorder.
pub struct Scraper {
    kernel: Mutex<Box<dyn KernelStats>>,
    control: UnboundedSender<Control>,
    recorder: Recorder,
    options: MetricsOptions,
    status_timeout: Duration,
    buffers: BufferPool,
}

impl fmt::Debug for Scraper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scraper")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Scraper {
    /// A scraper reading `kernel` and asking the daemon's loop on `control`.
    pub fn new(
        kernel: Box<dyn KernelStats>,
        control: UnboundedSender<Control>,
        recorder: Recorder,
        options: MetricsOptions,
    ) -> Scraper {
        Scraper {
            kernel: Mutex::new(kernel),
            control,
            recorder,
            options,
            status_timeout: Duration::from_secs(5),
            buffers: BufferPool::default(),
        }
    }

    /// One scrape: asks the loop for its status (without waiting more than
    /// 5 s), dumps the kernel table (on the caller's thread), renders.
    pub async fn scrape(&self) -> String {
        let mut out = String::new();
        self.scrape_into(&mut out).await;
        out
    }

    /// [`Scraper::scrape`] into the pooled buffer, as the HTTP body.
    async fn scrape_body(&self) -> hyper::body::Bytes {
        let mut text = self.buffers.take();
        self.scrape_into(&mut text).await;
        hyper::body::Bytes::from_owner(Pooled {
            text,
            pool: self.buffers.clone(),
        })
    }

    async fn scrape_into(&self, out: &mut String) {
        let (tx, rx) = oneshot::channel();
        let status = if self.control.send(Control::Status(tx)).is_ok() {
            tokio::time::timeout(self.status_timeout, rx)
                .await
                .ok()
                .and_then(Result::ok)
        } else {
            None
        };
        let start = Instant::now();
        let kernel = {
            let mut k = self.kernel.lock().unwrap_or_else(|e| e.into_inner());
            k.dump().map_err(|e| e.to_string())
        };
        let dump = start.elapsed();
        render_into(out, status, kernel, dump, &self.recorder, self.options);
    }
}

/// The metrics listener running on its own thread; dropping it stops
/// accepting (a scrape in progress finishes).
#[derive(Debug)]
pub struct MetricsServer {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl MetricsServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Serves `GET /metrics` (and `GET /` with a pointer to it) on `listener`
/// from a new thread with its own single-threaded runtime: the kernel dump
/// of a scrape runs there, off the daemon's loop and the check engine.
pub fn spawn(listener: TcpListener, scraper: Scraper) -> std::io::Result<MetricsServer> {
    let local_addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (stop_tx, mut stop_rx) = oneshot::channel();
    let scraper = Arc::new(scraper);
    std::thread::Builder::new()
        .name("lvsd-metrics".into())
        .spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                loop {
                    tokio::select! {
                        _ = &mut stop_rx => break,
                        conn = listener.accept() => {
                            let Ok((stream, _)) = conn else { continue };
                            let scraper = scraper.clone();
                            tokio::spawn(serve_connection(stream, scraper));
                        }
                    }
                }
            })
        })?;
    Ok(MetricsServer {
        local_addr,
        stop: Some(stop_tx),
    })
}

async fn serve_connection(stream: tokio::net::TcpStream, scraper: Arc<Scraper>) {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper::{Method, Response, StatusCode};
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let scraper = scraper.clone();
        async move {
            let (status, ctype, body) = match (req.method(), req.uri().path()) {
                (&Method::GET, "/metrics") | (&Method::HEAD, "/metrics") => {
                    (StatusCode::OK, CONTENT_TYPE, scraper.scrape_body().await)
                }
                (&Method::GET, "/") => (
                    StatusCode::OK,
                    "text/plain; charset=utf-8",
                    Bytes::from_static(b"lvsd: metrics at /metrics\n"),
                ),
                (_, "/metrics") | (_, "/") => (
                    StatusCode::METHOD_NOT_ALLOWED,
                    "text/plain; charset=utf-8",
                    Bytes::from_static(b"only GET\n"),
                ),
                _ => (
                    StatusCode::NOT_FOUND,
                    "text/plain; charset=utf-8",
                    Bytes::from_static(b"not found: try /metrics\n"),
                ),
            };
            let mut resp = Response::new(Full::new(body));
            *resp.status_mut() = status;
            resp.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(ctype),
            );
            Ok::<_, std::convert::Infallible>(resp)
        }
    });
    let io = hyper_util::rt::TokioIo::new(stream);
    // half_close: a client may shut its side down once its request is sent
    // (`printf 'GET ...' | nc`); answer it anyway.
    let _ = hyper::server::conn::http1::Builder::new()
        .half_close(true)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .serve_connection(io, service)
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_written_as_decimal() {
        let mut values: Vec<u64> = vec![0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, u64::MAX];
        values.extend((0..64).map(|b| 1u64 << b));
        values.extend((0..64).map(|b| (1u64 << b) - 1));
        for v in values {
            let mut s = String::from("x");
            push_u64(&mut s, v);
            assert_eq!(s, format!("x{v}"));
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            label_set(&[("a", "plain"), ("b", "q\"b\\s\nn")]),
            "{a=\"plain\",b=\"q\\\"b\\\\s\\nn\"}"
        );
        let mut sets = LabelSets::with_capacity(2);
        sets.push(&[("service", "tcp:192.0.2.1:80")]);
        sets.push(&[("service", "fwm:7"), ("real_server", "[2001:db8::5]:80")]);
        assert_eq!(
            sets.iter().collect::<Vec<_>>(),
            [
                "{service=\"tcp:192.0.2.1:80\"}",
                "{service=\"fwm:7\",real_server=\"[2001:db8::5]:80\"}"
            ]
        );
    }
}
