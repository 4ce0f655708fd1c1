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
//! The daemon's scalar metrics go through prometheus-client's registry and
//! encoder; the kernel's families, `lvsd_real_server_state` (10 lines per
//! real server) and the per-virtual-server families are written straight
//! in the same format into a buffer kept between scrapes, with label text
//! also kept between scrapes and rewritten only when the table or the
//! configuration changed: a scrape of an unchanged table writes names,
//! kept label text and numbers.
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

// Most of a scrape's lines (10 per real server, kernel families and
// `lvsd_real_server_state`, and the per-virtual-server families) are
// written straight in the text format into a byte buffer, each label set
// taken from a [`LabelCache`] kept between scrapes: a scrape of thousands
// of real servers then only writes names, cached label text and numbers
// (the daemon's scalar metrics go through prometheus-client's registry
// and encoder).

/// `# HELP` line and `# TYPE` line of a family; `help` as written (the
/// registry's own metrics end theirs with a period, collectors' do not).
fn head(out: &mut Vec<u8>, name: &str, help: &str, kind: &str) {
    for part in [
        "# HELP ",
        name,
        " ",
        help,
        "\n# TYPE ",
        name,
        " ",
        kind,
        "\n",
    ] {
        out.extend_from_slice(part.as_bytes());
    }
}

/// One sample: `name` `labels` `v`.
fn sample(out: &mut Vec<u8>, name: &[u8], labels: &[u8], v: impl Into<Value>) {
    out.extend_from_slice(name);
    out.extend_from_slice(labels);
    out.push(b' ');
    match v.into() {
        Value::U(v) => push_u64(out, v),
        Value::I(v) => {
            if v < 0 {
                out.push(b'-');
            }
            push_u64(out, v.unsigned_abs());
        }
    }
    out.push(b'\n');
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
fn push_u64(out: &mut Vec<u8>, mut v: u64) {
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
    out.extend_from_slice(&buf[i..]);
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

/// Appends `{k="v",...` (without the closing brace) with the values
/// escaped as the text format wants.
fn push_labels_open(s: &mut String, pairs: &[(&str, &str)]) {
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
}

/// `{k="v",...}` with the values escaped as the text format wants.
#[cfg(test)]
fn label_set(pairs: &[(&str, &str)]) -> String {
    let mut s = String::with_capacity(64);
    push_labels_open(&mut s, pairs);
    s.push('}');
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
    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    /// Adds `{k="v",...}`.
    fn push(&mut self, pairs: &[(&str, &str)]) {
        push_labels_open(&mut self.text, pairs);
        self.text.push('}');
        self.ends.push(self.text.len());
    }

    /// Adds `{k="v",...` left open (a label is added per sample).
    fn push_open(&mut self, pairs: &[(&str, &str)]) {
        push_labels_open(&mut self.text, pairs);
        self.ends.push(self.text.len());
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text.as_bytes()[start..self.ends[i]]
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let l = &self.text.as_bytes()[start..end];
            start = end;
            l
        })
    }
}

/// The kernel table a [`KernelLabels`] was written for: each service's key
/// and its real servers in dump order.
#[derive(Default, PartialEq)]
struct TableShape {
    services: Vec<ServiceKey>,
    real_servers: Vec<(std::net::IpAddr, u16)>,
    counts: Vec<usize>,
}

impl TableShape {
    /// Whether `entries` is this table, service by service, real server by
    /// real server (the kernel lists them in a stable order, so a scrape of
    /// an unchanged table finds the cache valid without hashing anything).
    fn matches(&self, entries: &[ServiceEntry]) -> bool {
        if self.services.len() != entries.len() {
            return false;
        }
        let mut rs = self.real_servers.iter();
        entries
            .iter()
            .zip(&self.services)
            .zip(&self.counts)
            .all(|((e, key), &n)| {
                e.service.config.key == *key
                    && e.destinations.len() == n
                    && e.destinations
                        .iter()
                        .all(|d| rs.next() == Some(&(d.config.addr, d.config.port)))
            })
    }

    fn of(entries: &[ServiceEntry]) -> TableShape {
        TableShape {
            services: entries.iter().map(|e| e.service.config.key).collect(),
            real_servers: entries
                .iter()
                .flat_map(|e| {
                    e.destinations
                        .iter()
                        .map(|d| (d.config.addr, d.config.port))
                })
                .collect(),
            counts: entries.iter().map(|e| e.destinations.len()).collect(),
        }
    }
}

/// node_exporter's backends of a table: label sets and which backend
/// each real server (in dump order) adds to.
#[derive(Default)]
struct NodeBackends {
    labels: LabelSets,
    of_real_server: Vec<usize>,
}

/// Label text of the kernel's families for one table, kept between
/// scrapes while the table keeps its shape.
#[derive(Default)]
struct KernelLabels {
    shape: TableShape,
    /// `{service="..."}` per service.
    services: LabelSets,
    /// `{service="...",real_server="..."}` per real server.
    real_servers: LabelSets,
    /// node_exporter's backends, with and without the remote labels.
    node: [Option<NodeBackends>; 2],
}

impl KernelLabels {
    /// Makes the label text fit `entries` (rewritten only when the table
    /// changed).
    fn update(&mut self, entries: &[ServiceEntry]) {
        if self.services.len() == entries.len() && self.shape.matches(entries) {
            return;
        }
        self.shape = TableShape::of(entries);
        self.node = [None, None];
        self.services.clear();
        self.real_servers.clear();
        let mut svc = String::new();
        let mut rs = String::new();
        for e in entries {
            use fmt::Write as _;
            svc.clear();
            let _ = write!(svc, "{}", e.service.config.key);
            self.services.push(&[("service", &svc)]);
            for d in &e.destinations {
                rs.clear();
                let _ = write!(rs, "{}", SocketAddr::new(d.config.addr, d.config.port));
                self.real_servers
                    .push(&[("service", &svc), ("real_server", &rs)]);
            }
        }
    }

    /// node_exporter's backends: labelled as node_exporter labels them;
    /// without real servers, the remote labels are dropped and the
    /// backends of a service summed (several real servers, one backend).
    fn node(&mut self, entries: &[ServiceEntry], real_servers: bool) -> &NodeBackends {
        self.node[usize::from(real_servers)].get_or_insert_with(|| {
            let mut b = NodeBackends::default();
            let mut index: std::collections::HashMap<String, usize> =
                std::collections::HashMap::new();
            let mut labels = String::new();
            for e in entries {
                let key = &e.service.config.key;
                let (laddr, lport) = local_addr(key);
                let lport = lport.to_string();
                let (proto, mark) = protocol_label(key);
                for d in &e.destinations {
                    labels.clear();
                    if real_servers {
                        push_labels_open(
                            &mut labels,
                            &[
                                ("local_address", &laddr),
                                ("local_port", &lport),
                                ("remote_address", &d.config.addr.to_string()),
                                ("remote_port", &d.config.port.to_string()),
                                ("proto", proto),
                                ("local_mark", &mark),
                            ],
                        );
                    } else {
                        push_labels_open(
                            &mut labels,
                            &[
                                ("local_address", &laddr),
                                ("local_port", &lport),
                                ("proto", proto),
                                ("local_mark", &mark),
                            ],
                        );
                    }
                    labels.push('}');
                    let i = match index.get(&labels) {
                        Some(&i) => i,
                        None => {
                            let i = b.labels.len();
                            index.insert(labels.clone(), i);
                            b.labels.text.push_str(&labels);
                            b.labels.ends.push(b.labels.text.len());
                            i
                        }
                    };
                    b.of_real_server.push(i);
                }
            }
            b
        })
    }
}

/// Label text of the daemon's per-virtual-server and per-real-server
/// families, kept between scrapes while the configuration keeps its
/// virtual servers and real servers.
#[derive(Default)]
struct StatusLabels {
    /// Virtual server names and their real servers' addresses.
    shape: Vec<(String, Vec<SocketAddr>)>,
    /// `{virtual_server="..."` per virtual server (left open).
    virtual_servers: LabelSets,
    /// `lvsd_real_server_state{virtual_server="...",real_server="...",state="`
    /// per real server.
    states: LabelSets,
}

impl StatusLabels {
    fn update(&mut self, status: &Status) {
        let vs = &status.virtual_servers;
        let same = self.shape.len() == vs.len()
            && self.shape.iter().zip(vs).all(|((name, addrs), v)| {
                *name == v.name
                    && addrs.len() == v.real_servers.len()
                    && addrs.iter().zip(&v.real_servers).all(|(a, r)| *a == r.addr)
            });
        if same {
            return;
        }
        self.shape = vs
            .iter()
            .map(|v| {
                (
                    v.name.clone(),
                    v.real_servers.iter().map(|r| r.addr).collect(),
                )
            })
            .collect();
        self.virtual_servers.clear();
        self.states.clear();
        let mut rs = String::new();
        for v in vs {
            self.virtual_servers
                .push_open(&[("virtual_server", v.name.as_str())]);
            for r in &v.real_servers {
                use fmt::Write as _;
                rs.clear();
                let _ = write!(rs, "{}", r.addr);
                self.states.text.push_str(STATE_NAME);
                push_labels_open(
                    &mut self.states.text,
                    &[
                        ("virtual_server", v.name.as_str()),
                        ("real_server", rs.as_str()),
                    ],
                );
                self.states.text.push_str(",state=\"");
                self.states.ends.push(self.states.text.len());
            }
        }
    }
}

/// Label text kept between scrapes (see [`KernelLabels`],
/// [`StatusLabels`]).
#[derive(Default)]
struct LabelCache {
    kernel: KernelLabels,
    status: StatusLabels,
}

const STATE_NAME: &str = "lvsd_real_server_state";

fn write_kernel(
    out: &mut Vec<u8>,
    cache: &mut KernelLabels,
    entries: &[ServiceEntry],
    o: MetricsOptions,
) {
    cache.update(entries);
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
        let services = &cache.services;
        for (name, help, get) in TRAFFIC {
            let n = format!("lvsd_service_{name}_total");
            head(out, &n, &format!("{help}."), "counter");
            for (l, c) in services.iter().zip(&svc_counters) {
                sample(out, n.as_bytes(), l, get(c));
            }
        }
        for (name, help, get) in CONNS {
            let n = format!("lvsd_service_{name}");
            head(
                out,
                &n,
                &format!("{help}, summed over the service's real servers."),
                "gauge",
            );
            for (l, c) in services.iter().zip(&svc_counters) {
                sample(out, n.as_bytes(), l, get(c));
            }
        }
        const WEIGHT: &str = "lvsd_service_weight";
        head(
            out,
            WEIGHT,
            "Sum of the weights of the service's real servers in the kernel.",
            "gauge",
        );
        for (l, c) in services.iter().zip(&svc_counters) {
            sample(out, WEIGHT.as_bytes(), l, c.weight);
        }
        const REAL_SERVERS: &str = "lvsd_service_real_servers";
        head(
            out,
            REAL_SERVERS,
            "Real servers of the service in the kernel.",
            "gauge",
        );
        for (l, e) in services.iter().zip(entries) {
            sample(out, REAL_SERVERS.as_bytes(), l, e.destinations.len());
        }
        if o.real_servers {
            let counters: Vec<Counters> = entries
                .iter()
                .flat_map(|e| e.destinations.iter().map(Counters::of_dest))
                .collect();
            let labels = &cache.real_servers;
            for (name, help, get) in TRAFFIC {
                let n = format!("lvsd_real_server_{name}_total");
                head(out, &n, &format!("{help}."), "counter");
                for (l, c) in labels.iter().zip(&counters) {
                    sample(out, n.as_bytes(), l, get(c));
                }
            }
            for (name, help, get) in CONNS {
                let n = format!("lvsd_real_server_{name}");
                head(out, &n, &format!("{help}."), "gauge");
                for (l, c) in labels.iter().zip(&counters) {
                    sample(out, n.as_bytes(), l, get(c));
                }
            }
            const RS_WEIGHT: &str = "lvsd_real_server_weight";
            head(
                out,
                RS_WEIGHT,
                "The real server's weight in the kernel.",
                "gauge",
            );
            for (l, c) in labels.iter().zip(&counters) {
                sample(out, RS_WEIGHT.as_bytes(), l, c.weight);
            }
        }
    }
    if o.names.node() {
        let backends = cache.node(entries, o.real_servers);
        write_node(out, backends, entries, &svc_counters);
    }
}

/// node_exporter's ipvs collector: totals without labels (here the sums
/// over services), and per backend gauges labelled as node_exporter labels
/// them.
fn write_node(
    out: &mut Vec<u8>,
    backends: &NodeBackends,
    entries: &[ServiceEntry],
    svc: &[Counters],
) {
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
            "The total number of connections made.",
            total.conns,
        ),
        (
            "node_ipvs_incoming_packets_total",
            "The total number of incoming packets.",
            total.in_packets,
        ),
        (
            "node_ipvs_outgoing_packets_total",
            "The total number of outgoing packets.",
            total.out_packets,
        ),
        (
            "node_ipvs_incoming_bytes_total",
            "The total amount of incoming data.",
            total.in_bytes,
        ),
        (
            "node_ipvs_outgoing_bytes_total",
            "The total amount of outgoing data.",
            total.out_bytes,
        ),
    ];
    for (name, help, v) in totals {
        head(out, name, help, "counter");
        sample(out, name.as_bytes(), b"", v);
    }
    let mut sums = vec![Counters::default(); backends.labels.len()];
    let dests = entries.iter().flat_map(|e| &e.destinations);
    for (d, &i) in dests.zip(&backends.of_real_server) {
        sums[i].add_conns(&Counters::of_dest(d));
    }
    let gauges: [Field<i64>; 3] = [
        (
            "node_ipvs_backend_connections_active",
            "The current active connections by local and remote address.",
            |c| i64::try_from(c.active).unwrap_or(i64::MAX),
        ),
        (
            "node_ipvs_backend_connections_inactive",
            "The current inactive connections by local and remote address.",
            |c| i64::try_from(c.inactive).unwrap_or(i64::MAX),
        ),
        (
            "node_ipvs_backend_weight",
            "The current backend weight by local and remote address.",
            |c| c.weight,
        ),
    ];
    for (name, help, get) in gauges {
        head(out, name, help, "gauge");
        for (l, c) in backends.labels.iter().zip(&sums) {
            sample(out, name.as_bytes(), l, get(c));
        }
    }
}

/// The per-virtual-server families of the daemon's [`Status`] (as the
/// registry's collector would write them, after it), and
/// `lvsd_real_server_state` (one series per configured real server) when
/// `real_servers`.
fn write_status(out: &mut Vec<u8>, cache: &mut StatusLabels, status: &Status, real_servers: bool) {
    cache.update(status);
    let vs = &status.virtual_servers;
    let labels = &cache.virtual_servers;
    const QUORUM: &str = "lvsd_virtual_server_quorum_up";
    head(
        out,
        QUORUM,
        "Whether the virtual server's quorum holds",
        "gauge",
    );
    for (i, v) in vs.iter().enumerate() {
        out.extend_from_slice(QUORUM.as_bytes());
        out.extend_from_slice(labels.get(i));
        out.extend_from_slice(if v.quorum_up { b"} 1\n" } else { b"} 0\n" });
    }
    const LIVE: &str = "lvsd_virtual_server_live_weight";
    head(
        out,
        LIVE,
        "Sum of the weights of the virtual server's alive real servers",
        "gauge",
    );
    for (i, v) in vs.iter().enumerate() {
        out.extend_from_slice(LIVE.as_bytes());
        out.extend_from_slice(labels.get(i));
        out.extend_from_slice(b"} ");
        push_u64(out, v.live_weight.min(i64::MAX as u64));
        out.push(b'\n');
    }
    const BY_STATE: &str = "lvsd_virtual_server_real_servers";
    head(
        out,
        BY_STATE,
        "The virtual server's configured real servers, by state",
        "gauge",
    );
    for (i, v) in vs.iter().enumerate() {
        let mut n = [0usize; STATES.len()];
        for r in &v.real_servers {
            if let Some(k) = STATES.iter().position(|(s, _)| *s == r.state) {
                n[k] += 1;
            }
        }
        for ((_, label), n) in STATES.iter().zip(n) {
            out.extend_from_slice(BY_STATE.as_bytes());
            out.extend_from_slice(labels.get(i));
            out.extend_from_slice(b",state=\"");
            out.extend_from_slice(label.as_bytes());
            out.extend_from_slice(b"\"} ");
            push_u64(out, n as u64);
            out.push(b'\n');
        }
    }
    if !real_servers {
        return;
    }
    head(
        out,
        STATE_NAME,
        "The real server's state (alive, failed, inhibited, displaced): one series of value 1.",
        "gauge",
    );
    let rs = vs.iter().flat_map(|v| &v.real_servers);
    for (prefix, r) in cache.states.iter().zip(rs) {
        let state = STATES
            .iter()
            .find(|(s, _)| *s == r.state)
            .map_or("unknown", |(_, l)| l);
        out.extend_from_slice(prefix);
        out.extend_from_slice(state.as_bytes());
        out.extend_from_slice(b"\"} 1\n");
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
        // The per-virtual-server families follow, written by write_status.
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
    let mut out = Vec::new();
    render_into(
        &mut out,
        &mut LabelCache::default(),
        status,
        kernel,
        dump,
        recorder,
        options,
    );
    // Only `&str` pieces and ASCII digits were written.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// [`render`] appending to `out` (a buffer kept between scrapes: a large
/// table's scrape is megabytes, which a fresh allocation pays for again in
/// page faults each time), with the label text of `cache`.
fn render_into(
    out: &mut Vec<u8>,
    cache: &mut LabelCache,
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
    let mut text = String::with_capacity(8 * 1024);
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &registry);
    out.extend_from_slice(text.as_bytes());
    if let Some(status) = &status {
        write_status(out, &mut cache.status, status, options.real_servers);
    }
    if let Ok(entries) = &kernel {
        write_kernel(out, &mut cache.kernel, entries, options);
    }
}

/// The buffer of the last scrape, kept for the next one.
#[derive(Debug, Clone, Default)]
struct BufferPool(Arc<Mutex<Option<Vec<u8>>>>);

impl BufferPool {
    fn take(&self) -> Vec<u8> {
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
    fn give(&self, b: Vec<u8>) {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_none_or(|s| s.capacity() < b.capacity()) {
            *slot = Some(b);
        }
    }
}

/// A scrape's answer as the HTTP body: its buffer goes back to the pool
/// once the body is sent (no copy of the text on the way).
struct Pooled {
    text: Vec<u8>,
    pool: BufferPool,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.text
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
    labels: Mutex<LabelCache>,
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
            labels: Mutex::new(LabelCache::default()),
        }
    }

    /// One scrape: asks the loop for its status, dumps the kernel table
    /// (on the caller's thread) while the loop builds it, waits for the
    /// status (at most 5 s from the request), renders.
    pub async fn scrape(&self) -> String {
        let mut out = Vec::new();
        self.scrape_into(&mut out).await;
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
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

    async fn scrape_into(&self, out: &mut Vec<u8>) {
        let (tx, rx) = oneshot::channel();
        let asked = self.control.send(Control::Status(tx)).is_ok();
        let deadline = tokio::time::Instant::now() + self.status_timeout;
        let start = Instant::now();
        let kernel = {
            let mut k = self.kernel.lock().unwrap_or_else(|e| e.into_inner());
            k.dump().map_err(|e| e.to_string())
        };
        let dump = start.elapsed();
        let status = if asked {
            tokio::time::timeout_at(deadline, rx)
                .await
                .ok()
                .and_then(Result::ok)
        } else {
            None
        };
        let mut labels = self.labels.lock().unwrap_or_else(|e| e.into_inner());
        render_into(
            out,
            &mut labels,
            status,
            kernel,
            dump,
            &self.recorder,
            self.options,
        );
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

/// The send buffer asked for each connection (the kernel doubles it for
/// its bookkeeping): room for a large table's whole answer, so that it goes
/// to the kernel in one write, and the client then reads it without the
/// daemon being woken again for each part the client's reads make room for
/// (a scrape of 5,000 real servers is 6.4 MB, which busybox nc reads 1 KiB
/// at a time).
const SEND_BUFFER: libc::c_int = 4 << 20;

/// Sets [`SEND_BUFFER`] with `SO_SNDBUFFORCE` (the daemon runs with
/// CAP_NET_ADMIN for IPVS anyway). Without the capability nothing changes:
/// `SO_SNDBUF` would be capped at `net.core.wmem_max` (208 KiB by default)
/// and end the kernel's own sizing, which grows to 4 MiB.
fn force_send_buffer(stream: &impl std::os::fd::AsRawFd) {
    let n = SEND_BUFFER;
    // SAFETY: a valid socket descriptor, and a pointer to an int of the
    // length passed; setsockopt only reads it.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUFFORCE,
            std::ptr::from_ref(&n).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
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
    force_send_buffer(&stream);
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
            let mut s = b"x".to_vec();
            push_u64(&mut s, v);
            assert_eq!(s, format!("x{v}").into_bytes());
        }
    }

    /// With CAP_NET_ADMIN the send buffer is the one asked for (doubled by
    /// the kernel); without it, the kernel's own sizing is left alone.
    #[test]
    fn send_buffer_is_forced_when_permitted() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (conn, _) = listener.accept().unwrap();
        let before = socket2::SockRef::from(&conn).send_buffer_size().unwrap();
        force_send_buffer(&conn);
        let after = socket2::SockRef::from(&conn).send_buffer_size().unwrap();
        // CAP_NET_ADMIN is bit 12 of the effective capabilities.
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let cap_eff = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
            .unwrap();
        if cap_eff & (1 << 12) != 0 {
            assert_eq!(after, 2 * SEND_BUFFER as usize, "before: {before}");
        } else {
            assert_eq!(after, before);
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            label_set(&[("a", "plain"), ("b", "q\"b\\s\nn")]),
            "{a=\"plain\",b=\"q\\\"b\\\\s\\nn\"}"
        );
        let mut sets = LabelSets::default();
        sets.push(&[("service", "tcp:192.0.2.1:80")]);
        sets.push(&[("service", "fwm:7"), ("real_server", "[2001:db8::5]:80")]);
        assert_eq!(
            sets.iter().collect::<Vec<_>>(),
            [
                &b"{service=\"tcp:192.0.2.1:80\"}"[..],
                &b"{service=\"fwm:7\",real_server=\"[2001:db8::5]:80\"}"[..]
            ]
        );
    }
}
