//! Shared by the command-line host tests: an in-memory model of the kernel's
//! IPVS (the checks and errors of `ip_vs_ctl.c` that the command line can
//! reach), the lab guest's name resolution (its `/etc/hosts`, the host's
//! `/etc/services`, which the lab copies into the guest), and a tiny
//! interpreter for the shell lines of `fixtures/scenarios/*.scn`.
#![allow(dead_code)] // each test binary uses a part

use std::collections::HashMap;
use std::io::{self, BufRead};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipvs::{
    errno, AddressFamily, Change, DaemonState, Destination, DestinationStatus, ForwardMethod, Info,
    Netmask, Operation, Service, ServiceFlags, ServiceKey, ServiceStatus, Stats, SyncDaemon,
    Timeouts,
};
use ipvs_tools::ipvsadm::run::{Backend, Session};
use ipvs_tools::ipvsadm::sys::Resolver;

/// The kernel's IPVS state of one network namespace, as far as the command
/// line can see it.
#[derive(Debug, Clone)]
pub struct Model {
    /// Services in creation order with their real servers, newest first
    /// (the kernel's list order).
    pub table: Vec<(ServiceStatus, Vec<DestinationStatus>)>,
    pub timeouts: Timeouts,
    pub daemons: Vec<SyncDaemon>,
    /// Interfaces that exist (for `--start-daemon`).
    pub interfaces: Vec<String>,
    /// Schedulers and persistence engines the kernel has.
    pub schedulers: Vec<&'static str>,
    /// The text of `/proc/net/ip_vs_conn` (`None`: the file is missing).
    pub conn_table: Option<Vec<u8>>,
    /// Counts calls, for tests that care.
    pub calls: usize,
    /// Service key → position in `table`.
    index: HashMap<ServiceKey, usize>,
}

/// The kernel's header line of `/proc/net/ip_vs_conn`.
pub const CONN_HEADER: &str =
    "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n";

impl Default for Model {
    fn default() -> Self {
        Model {
            table: Vec::new(),
            timeouts: Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300,
            },
            daemons: Vec::new(),
            interfaces: vec!["lo".into(), "lab0".into()],
            schedulers: vec![
                "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf",
                "mh", "none",
            ],
            conn_table: Some(CONN_HEADER.as_bytes().to_vec()),
            calls: 0,
            index: HashMap::new(),
        }
    }
}

/// A kernel error with errno `e` for `op`, as the library reports it.
pub fn kernel(op: Operation, e: i32) -> ipvs::Error {
    ipvs::Error::Kernel {
        op,
        errno: e,
        target: None,
        ext_ack: None,
    }
}

/// Whether the kernel accepts `a` as a real-server address in the lab
/// (every unicast address is routable there).
fn unicast(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => !(v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast()),
        IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast()),
    }
}

fn same_dest(a: &Destination, b: &Destination) -> bool {
    a.addr == b.addr && a.port == b.port
}

impl Model {
    /// The position of a service in `table`.
    pub fn find(&self, key: &ServiceKey) -> Option<usize> {
        if self.index.len() != self.table.len() {
            // `table` was changed directly: look it up the slow way.
            return self.table.iter().position(|(s, _)| s.config.key == *key);
        }
        self.index.get(key).copied()
    }

    fn reindex(&mut self) {
        self.index = self
            .table
            .iter()
            .enumerate()
            .map(|(i, (s, _))| (s.config.key, i))
            .collect();
    }

    fn check_service(&self, svc: &Service, op: Operation) -> Result<(), ipvs::Error> {
        if !self.schedulers.contains(&svc.scheduler.as_str()) {
            return Err(kernel(op, errno::ENOENT));
        }
        if let Some(pe) = &svc.pe_name {
            if pe != "sip" {
                return Err(kernel(op, errno::ENOENT));
            }
        }
        if svc.key.family() == AddressFamily::Inet6 {
            if let Netmask::Ipv6Prefix(p) = svc.netmask {
                if !(1..=128).contains(&p) {
                    return Err(kernel(op, errno::EINVAL));
                }
            }
        }
        Ok(())
    }

    fn check_dest(&self, svc: &Service, d: &Destination, op: Operation) -> Result<(), ipvs::Error> {
        if d.weight < 0 || d.lower_threshold > d.upper_threshold {
            return Err(kernel(op, errno::ERANGE));
        }
        if !unicast(&d.addr) {
            return Err(kernel(op, errno::EINVAL));
        }
        let mixed = AddressFamily::of(&d.addr) != svc.key.family();
        if mixed && !self.daemons.is_empty() {
            return Err(kernel(op, errno::EINVAL));
        }
        if d.forward == ForwardMethod::Tunnel
            && d.tunnel_type == ipvs::TunnelType::Gue
            && d.tunnel_port == 0
        {
            return Err(kernel(op, errno::EINVAL));
        }
        Ok(())
    }

    /// The kernel's answer to one change.
    pub fn apply(&mut self, change: &Change) -> Result<(), ipvs::Error> {
        self.calls += 1;
        let op = change.operation();
        match change {
            Change::AddService(s) => {
                if self.find(&s.key).is_some() {
                    return Err(kernel(op, errno::EEXIST));
                }
                self.check_service(s, op)?;
                if self.index.len() == self.table.len() {
                    self.index.insert(s.key, self.table.len());
                }
                self.table.push((ServiceStatus::new(s.clone()), Vec::new()));
            }
            Change::EditService(s) => {
                let i = self.find(&s.key).ok_or_else(|| kernel(op, errno::ESRCH))?;
                self.check_service(s, op)?;
                self.table[i].0.config = s.clone();
            }
            Change::DeleteService(k) => {
                let i = self.find(k).ok_or_else(|| kernel(op, errno::ESRCH))?;
                self.table.remove(i);
                self.reindex();
            }
            Change::AddDestination(k, d) => {
                let i = self.find(k).ok_or_else(|| kernel(op, errno::ESRCH))?;
                let svc = self.table[i].0.config.clone();
                self.check_dest(&svc, d, op)?;
                if self.table[i].1.iter().any(|x| same_dest(&x.config, d)) {
                    return Err(kernel(op, errno::EEXIST));
                }
                self.table[i].1.insert(0, DestinationStatus::new(d.clone()));
            }
            Change::EditDestination(k, d) => {
                let i = self.find(k).ok_or_else(|| kernel(op, errno::ESRCH))?;
                let svc = self.table[i].0.config.clone();
                self.check_dest(&svc, d, op)?;
                let j = self.table[i]
                    .1
                    .iter()
                    .position(|x| same_dest(&x.config, d))
                    .ok_or_else(|| kernel(op, errno::ENOENT))?;
                self.table[i].1[j].config = d.clone();
            }
            Change::DeleteDestination(k, d) => {
                let i = self.find(k).ok_or_else(|| kernel(op, errno::ESRCH))?;
                let j = self.table[i]
                    .1
                    .iter()
                    .position(|x| same_dest(&x.config, d))
                    .ok_or_else(|| kernel(op, errno::ENOENT))?;
                self.table[i].1.remove(j);
            }
            Change::Zero(k) => match k {
                None => {
                    for (s, ds) in &mut self.table {
                        s.stats = Stats::default();
                        for d in ds {
                            d.stats = Stats::default();
                        }
                    }
                }
                Some(k) => {
                    let i = self.find(k).ok_or_else(|| kernel(op, errno::ESRCH))?;
                    self.table[i].0.stats = Stats::default();
                    for d in &mut self.table[i].1 {
                        d.stats = Stats::default();
                    }
                }
            },
            Change::Flush => {
                self.table.clear();
                self.index.clear();
            }
            Change::SetTimeouts(t) => {
                if t.tcp != 0 {
                    self.timeouts.tcp = t.tcp;
                }
                if t.tcp_fin != 0 {
                    self.timeouts.tcp_fin = t.tcp_fin;
                }
                if t.udp != 0 {
                    self.timeouts.udp = t.udp;
                }
            }
            Change::StartDaemon(d) => {
                if self.daemons.iter().any(|x| x.state == d.state) {
                    return Err(kernel(op, errno::EEXIST));
                }
                if !self.interfaces.iter().any(|i| i.as_bytes() == d.mcast_ifn) {
                    return Err(kernel(op, errno::ENODEV));
                }
                let mixed = self.table.iter().any(|(s, ds)| {
                    ds.iter()
                        .any(|d| AddressFamily::of(&d.config.addr) != s.config.key.family())
                });
                if mixed {
                    return Err(kernel(op, errno::EINVAL));
                }
                let mut d = d.clone();
                if d.mcast_group.is_none() {
                    d.mcast_group = Some(IpAddr::V4(Ipv4Addr::new(224, 0, 0, 81)));
                }
                if d.mcast_port == 0 {
                    d.mcast_port = 8848;
                }
                if d.mcast_ttl == 0 {
                    d.mcast_ttl = 1;
                }
                if d.sync_maxlen == 0 {
                    d.sync_maxlen = 1472;
                }
                self.daemons.push(d);
                self.daemons
                    .sort_by_key(|d| u32::from(d.state != DaemonState::Master));
            }
            Change::StopDaemon(state) => {
                let i = self
                    .daemons
                    .iter()
                    .position(|x| x.state == *state)
                    .ok_or_else(|| kernel(op, errno::ESRCH))?;
                self.daemons.remove(i);
            }
            other => panic!("the in-memory kernel does not know {other:?}"),
        }
        Ok(())
    }
}

/// The model behind the command line's [`Backend`] trait.
#[derive(Debug, Default)]
pub struct FakeKernel {
    pub model: Model,
    /// `init` fails with this errno.
    pub init_errno: Option<i32>,
}

impl Backend for FakeKernel {
    fn init(&mut self) -> Result<Info, i32> {
        match self.init_errno {
            Some(e) => Err(e),
            None => Ok(Info {
                version: 0x010201,
                conn_tab_size: 4096,
            }),
        }
    }
    fn services(&mut self) -> Result<Vec<ServiceStatus>, ipvs::Error> {
        Ok(self.model.table.iter().map(|(s, _)| s.clone()).collect())
    }
    fn service(&mut self, key: &ServiceKey) -> Result<ServiceStatus, ipvs::Error> {
        self.model
            .find(key)
            .map(|i| self.model.table[i].0.clone())
            .ok_or_else(|| kernel(Operation::GetService, errno::ESRCH))
    }
    fn destinations(&mut self, key: &ServiceKey) -> Result<Vec<DestinationStatus>, ipvs::Error> {
        Ok(self
            .model
            .find(key)
            .map(|i| self.model.table[i].1.clone())
            .unwrap_or_default())
    }
    fn timeouts(&mut self) -> Result<Timeouts, ipvs::Error> {
        Ok(self.model.timeouts)
    }
    fn daemons(&mut self) -> Result<Vec<SyncDaemon>, ipvs::Error> {
        Ok(self.model.daemons.clone())
    }
    fn change(&mut self, change: &Change) -> Result<(), ipvs::Error> {
        self.model.apply(change)
    }
    fn connection_table(&mut self) -> io::Result<Box<dyn BufRead>> {
        match &self.model.conn_table {
            Some(t) => Ok(Box::new(io::Cursor::new(t.clone()))),
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }
}

/// Name resolution as in the lab guest: its `/etc/hosts` (README of the
/// lab, plus the names `list-long-names.scn` adds) and `/etc/services`
/// (the host's, which the lab copies).
pub struct GuestResolver {
    hosts: Vec<(IpAddr, Vec<Vec<u8>>)>,
    /// (name or alias, proto) → port; (port, proto) → official name.
    by_name: HashMap<(String, String), u16>,
    by_port: HashMap<(u16, String), String>,
}

const GUEST_HOSTS: &str = "\
127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
192.0.2.1\tvip.lab.test
192.0.2.11\trs1.lab.test
192.0.2.12\trs2.lab.test
2001:db8::1\tvip6.lab.test
203.0.113.77\ta-very-long-host-name.example.lab.test
198.51.100.77\tanother-rather-long-real-server-name.lab.test
2001:db8::77\ta-long-ipv6-host-name.example.lab.test
";

/// The guest's names that are not UTF-8 (Latin-1), as `tests/lab/run`
/// writes them into its `/etc/hosts`.
pub const GUEST_LATIN1_HOSTS: &[(&str, &[u8])] = &[
    ("192.0.2.21", b"caf\xe9.lab.test"),
    ("198.51.100.21", b"r\xe9al-\xfcber.lab.test"),
];

impl GuestResolver {
    /// `None` when the host has no `/etc/services`.
    pub fn new() -> Option<Self> {
        let services = std::fs::read_to_string("/etc/services").ok()?;
        let mut by_name = HashMap::new();
        let mut by_port = HashMap::new();
        for line in services.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut w = line.split_whitespace();
            let (Some(name), Some(pp)) = (w.next(), w.next()) else {
                continue;
            };
            let Some((port, proto)) = pp.split_once('/') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            by_port
                .entry((port, proto.to_string()))
                .or_insert_with(|| name.to_string());
            for n in std::iter::once(name).chain(w) {
                by_name
                    .entry((n.to_string(), proto.to_string()))
                    .or_insert(port);
            }
        }
        let hosts = GUEST_HOSTS
            .lines()
            .map(|l| {
                let mut w = l.split_whitespace();
                let a: IpAddr = w.next().unwrap().parse().unwrap();
                (a, w.map(|n| n.as_bytes().to_vec()).collect())
            })
            .chain(
                GUEST_LATIN1_HOSTS
                    .iter()
                    .map(|(a, n)| (a.parse().unwrap(), vec![n.to_vec()])),
            )
            .collect();
        Some(GuestResolver {
            hosts,
            by_name,
            by_port,
        })
    }
}

impl Resolver for GuestResolver {
    fn host_to_ipv4(&self, name: &[u8]) -> Option<Ipv4Addr> {
        self.hosts.iter().find_map(|(a, names)| match a {
            IpAddr::V4(v4) if names.iter().any(|n| n == name) => Some(*v4),
            _ => None,
        })
    }
    fn service_to_port(&self, name: &[u8], proto: &str) -> Option<u16> {
        let name = std::str::from_utf8(name).ok()?;
        self.by_name
            .get(&(name.to_string(), proto.to_string()))
            .copied()
    }
    fn addr_to_host(&self, addr: IpAddr) -> Option<Vec<u8>> {
        self.hosts
            .iter()
            .find(|(a, _)| *a == addr)
            .map(|(_, n)| n[0].clone())
    }
    fn port_to_service(&self, port: u16, proto: &str) -> Option<Vec<u8>> {
        self.by_port
            .get(&(port, proto.to_string()))
            .map(|n| n.as_bytes().to_vec())
    }
}

/// One command's results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub status: i32,
}

/// Runs `ipvsadm` with `args` (argv\[0\] = `ipvsadm`) against `kernel`.
pub fn ipvsadm(
    kernel: &mut FakeKernel,
    resolver: &dyn Resolver,
    args: &[String],
    stdin: &[u8],
) -> Outcome {
    let argv: Vec<String> = std::iter::once("ipvsadm".to_string())
        .chain(args.iter().cloned())
        .collect();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let status = {
        let mut s = Session::new(b"ipvsadm", kernel, resolver, false, &mut out, &mut err);
        let mut input = stdin;
        s.run(&argv, &mut input)
    };
    Outcome {
        stdout: out,
        stderr: err,
        status,
    }
}

/// Splits a shell word list with '...' and "..." quoting (no expansions).
/// `None` when the text uses anything else the shell would interpret.
pub fn shell_words(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => cur.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '$' | '`' | '\\' => return None,
                        c => cur.push(c),
                    }
                }
            }
            '|' | '&' | ';' | '<' | '>' | '(' | ')' | '$' | '`' | '\\' | '*' | '?' | '[' | '~'
            | '#' | '{' | '}' => return None,
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Some(words)
}

/// The shell's `printf FORMAT ARGS...` for `%s` and the usual escapes
/// (the format is reused while arguments remain). `None` for anything
/// else.
pub fn shell_printf(args: &[String]) -> Option<Vec<u8>> {
    let mut args = args;
    if args.first().map(String::as_str) == Some("--") {
        args = &args[1..];
    }
    let (fmt, rest) = args.split_first()?;
    let fmt = fmt.as_bytes();
    let mut out = Vec::new();
    let mut next = 0;
    loop {
        let mut used = false;
        let mut i = 0;
        while i < fmt.len() {
            match fmt[i] {
                b'\\' => {
                    i += 1;
                    match *fmt.get(i)? {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'v' => out.push(0x0b),
                        b'f' => out.push(0x0c),
                        b'\\' => out.push(b'\\'),
                        b'0'..=b'7' => {
                            let mut v: u32 = 0;
                            let mut n = 0;
                            while n < 3 && i < fmt.len() && (b'0'..=b'7').contains(&fmt[i]) {
                                v = v * 8 + u32::from(fmt[i] - b'0');
                                i += 1;
                                n += 1;
                            }
                            out.push(v as u8);
                            continue;
                        }
                        _ => return None,
                    }
                    i += 1;
                }
                b'%' => {
                    i += 1;
                    match *fmt.get(i)? {
                        b's' => {
                            if let Some(a) = rest.get(next) {
                                out.extend_from_slice(a.as_bytes());
                                next += 1;
                            }
                            used = true;
                        }
                        b'%' => out.push(b'%'),
                        _ => return None,
                    }
                    i += 1;
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        if !used || next >= rest.len() {
            break;
        }
    }
    Some(out)
}

/// Runs one scenario line the interpreter understands against `kernel`:
/// `ipvsadm ARGS`, `printf ... | ipvsadm -R` (or `--restore`), each
/// optionally followed by `; echo "status $?"`. `None` for any other line.
pub fn run_line(kernel: &mut FakeKernel, resolver: &dyn Resolver, line: &str) -> Option<Outcome> {
    let (line, echo_status) = match line.strip_suffix("; echo \"status $?\"") {
        Some(l) => (l, true),
        None => (line, false),
    };
    let (input, command) = match line.split_once(" | ") {
        Some((left, right)) => {
            let words = shell_words(left)?;
            if words.first().map(String::as_str) != Some("printf") {
                return None;
            }
            (Some(shell_printf(&words[1..])?), right)
        }
        None => (None, line),
    };
    let words = shell_words(command)?;
    let (prog, args) = words.split_first()?;
    if prog != "ipvsadm" {
        return None;
    }
    if input.is_some() && !matches!(args, [a] if a == "-R" || a == "--restore") {
        return None;
    }
    let mut o = ipvsadm(kernel, resolver, args, input.as_deref().unwrap_or(b""));
    if echo_status {
        o.stdout
            .extend_from_slice(format!("status {}\n", o.status).as_bytes());
        o.status = 0;
    }
    Some(o)
}

/// An IPv6 address (test helper).
pub fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
}

/// Service flags (test helper).
pub fn flags(bits: u32) -> ServiceFlags {
    ServiceFlags(bits)
}

/// A resolver that knows no names: every address and port stays numeric,
/// every host or service name fails to resolve.
pub struct Numeric;

impl Resolver for Numeric {
    fn host_to_ipv4(&self, _: &[u8]) -> Option<std::net::Ipv4Addr> {
        None
    }
    fn service_to_port(&self, _: &[u8], _: &str) -> Option<u16> {
        None
    }
    fn addr_to_host(&self, _: std::net::IpAddr) -> Option<Vec<u8>> {
        None
    }
    fn port_to_service(&self, _: u16, _: &str) -> Option<Vec<u8>> {
        None
    }
}
