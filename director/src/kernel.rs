//! The seam between the daemon and the kernel: [`Kernel`] reads the IPVS
//! table (configuration and connection counts) and the running sync
//! daemons, and applies changes. It is
//! implemented by [`ipvs::Ipvs`] (the real kernel, batched writes) and by
//! [`MemoryKernel`], an in-memory table built on [`ipvs::plan::Table::apply`]
//! that counts writes and can simulate connections and failures, so that the
//! daemon's reconcile, health, reload and drain logic runs in host tests.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use ipvs::plan::{ServiceConfig, Table, TableError};
use ipvs::{
    BatchMode, Change, DaemonState, Destination, Error, Ipvs, Operation, ServiceKey, SyncDaemon,
    Timeouts,
};

/// A real server's identity inside a service: service, address, port.
pub type DestinationId = (ServiceKey, IpAddr, u16);

/// What the daemon reads from the kernel: the table's configuration and,
/// per real server, `ActiveConn + InActConn`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelTable {
    /// Services and real servers as configured in the kernel.
    pub table: Table,
    /// Connections per real server (absent = 0).
    pub connections: HashMap<DestinationId, u64>,
}

impl KernelTable {
    /// The connections the kernel forwards to one real server.
    pub fn connections(&self, service: &ServiceKey, d: &Destination) -> u64 {
        self.connections
            .get(&(*service, d.addr, d.port))
            .copied()
            .unwrap_or(0)
    }
}

/// The kernel as the daemon uses it.
pub trait Kernel {
    /// Reads the whole table.
    fn snapshot(&mut self) -> Result<KernelTable, Error>;

    /// Applies changes in order, attempting every one; one result per change.
    /// The outer error is for a failure of the channel itself.
    fn apply(&mut self, changes: &[Change]) -> Result<Vec<Result<(), Error>>, Error>;

    /// Brings `known` up to the kernel's table and connection counts, as
    /// [`Kernel::snapshot`] would read them. On an error `known` is in doubt.
    /// The default reads a snapshot; an implementation may instead replace
    /// only the services that differ, so that a read of an unchanged table
    /// builds no second copy of it.
    fn refresh(&mut self, known: &mut KernelTable) -> Result<(), Error> {
        *known = self.snapshot()?;
        Ok(())
    }

    /// Reads the connection timeouts.
    fn timeouts(&mut self) -> Result<Timeouts, Error>;

    /// Reads the running connection-sync daemons, as the kernel reports
    /// them (its defaults filled in). The default implementation says the
    /// kernel cannot tell (`EOPNOTSUPP`), and the daemon then leaves the
    /// sync daemons alone.
    fn daemons(&mut self) -> Result<Vec<SyncDaemon>, Error> {
        Err(Error::Kernel {
            op: Operation::GetDaemons,
            errno: libc::EOPNOTSUPP,
            target: None,
            ext_ack: None,
        })
    }
}

impl Kernel for Ipvs {
    /// [`Kernel::refresh`] of an empty table: the same dumps as
    /// [`Ipvs::snapshot`], without holding every real server's status at once.
    fn snapshot(&mut self) -> Result<KernelTable, Error> {
        let mut table = KernelTable::default();
        Kernel::refresh(self, &mut table)?;
        Ok(table)
    }

    /// The services, then one service's real servers at a time, each
    /// reduced to its configuration (and connection count) as soon as it is
    /// read: the statuses of the whole table (counters and rates, three times
    /// the size of the configuration) are never held at once. A service whose
    /// configuration and real servers (in the kernel's order) are those of
    /// `known` keeps its entry untouched.
    fn refresh(&mut self, known: &mut KernelTable) -> Result<(), Error> {
        let services = self.services()?;
        let mut seen = HashSet::with_capacity(services.len());
        known.connections.clear();
        for s in services {
            let key = s.config.key;
            let read = self.destinations(&key)?;
            for d in &read {
                let n = d.connections();
                if n > 0 {
                    known
                        .connections
                        .insert((key, d.config.addr, d.config.port), n);
                }
            }
            seen.insert(key);
            let same = known.table.service(&key).is_some_and(|k| {
                k.service == s.config
                    && k.destinations.len() == read.len()
                    && k.destinations
                        .iter()
                        .zip(&read)
                        .all(|(a, b)| *a == b.config)
            });
            if !same {
                let destinations = read.iter().map(|d| d.config.clone()).collect();
                known.table.put_service(ServiceConfig {
                    service: s.config,
                    destinations,
                });
            }
        }
        known.table.retain_services(|k| seen.contains(k));
        Ok(())
    }

    fn apply(&mut self, changes: &[Change]) -> Result<Vec<Result<(), Error>>, Error> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        Ipvs::apply(self, changes, BatchMode::ContinueOnError)
    }

    fn timeouts(&mut self) -> Result<Timeouts, Error> {
        Ipvs::timeouts(self)
    }

    fn daemons(&mut self) -> Result<Vec<SyncDaemon>, Error> {
        Ipvs::daemons(self)
    }
}

/// The state of a [`MemoryKernel`].
#[derive(Debug, Clone)]
pub struct MemoryState {
    /// The table.
    pub table: Table,
    /// Simulated connections per real server (kept across a delete and
    /// re-add only if the test leaves them).
    pub connections: HashMap<DestinationId, u64>,
    /// Timeouts (the kernel's defaults at first).
    pub timeouts: Timeouts,
    /// Every change applied successfully, in order (the kernel writes).
    pub writes: Vec<Change>,
    /// Changes attempted and refused.
    pub failures: Vec<Change>,
    /// Snapshots taken.
    pub snapshots: u64,
    /// Services whose writes fail with `EINVAL` (to simulate a change the
    /// kernel refuses).
    pub refuse: HashSet<ServiceKey>,
    /// Running sync daemons, with the kernel's defaults filled in as it
    /// reports them (group 224.0.0.81, port 8848, TTL 1, maxlen 1472).
    pub daemons: Vec<SyncDaemon>,
    /// Whether starting a sync daemon fails with `ENODEV` (as for an
    /// interface that does not exist).
    pub refuse_daemons: bool,
}

/// An in-memory kernel: a [`Table`] changed with [`Table::apply`], as the
/// kernel would change it. Cloning gives another handle on the same state,
/// so a test keeps one to look at and change the "kernel" (drift, connections,
/// refused writes) while the daemon owns the other.
#[derive(Debug, Clone)]
pub struct MemoryKernel {
    state: Arc<Mutex<MemoryState>>,
}

impl Default for MemoryKernel {
    fn default() -> Self {
        MemoryKernel::new()
    }
}

impl MemoryKernel {
    /// An empty table with the kernel's default timeouts (900, 120, 300).
    pub fn new() -> MemoryKernel {
        MemoryKernel::with_table(Table::new())
    }

    /// A kernel holding `table` already (as after an earlier run).
    pub fn with_table(table: Table) -> MemoryKernel {
        MemoryKernel {
            state: Arc::new(Mutex::new(MemoryState {
                table,
                connections: HashMap::new(),
                timeouts: Timeouts {
                    tcp: 900,
                    tcp_fin: 120,
                    udp: 300,
                },
                writes: Vec::new(),
                failures: Vec::new(),
                snapshots: 0,
                refuse: HashSet::new(),
                daemons: Vec::new(),
                refuse_daemons: false,
            })),
        }
    }

    /// The state, locked.
    pub fn state(&self) -> MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the table.
    pub fn table(&self) -> Table {
        self.state().table.clone()
    }

    /// The number of successful writes so far.
    pub fn write_count(&self) -> usize {
        self.state().writes.len()
    }

    /// Sets the simulated connection count of a real server.
    pub fn set_connections(&self, service: ServiceKey, addr: IpAddr, port: u16, n: u64) {
        let mut s = self.state();
        if n == 0 {
            s.connections.remove(&(service, addr, port));
        } else {
            s.connections.insert((service, addr, port), n);
        }
    }

    /// Applies a change behind the daemon's back (as `ipvsadm` would),
    /// without counting it as the daemon's write.
    pub fn tamper(&self, change: &Change) -> Result<(), TableError> {
        self.state().table.apply(change)
    }
}

/// A daemon as the kernel reports it once started: unset fields get the
/// kernel's defaults (maxlen: what an Ethernet MTU of 1500 gives).
pub fn with_kernel_defaults(d: &SyncDaemon) -> SyncDaemon {
    let mut d = d.clone();
    if d.sync_maxlen == 0 {
        d.sync_maxlen = 1472;
    }
    if d.mcast_port == 0 {
        d.mcast_port = 8848;
    }
    if d.mcast_ttl == 0 {
        d.mcast_ttl = 1;
    }
    if d.mcast_group.is_none() {
        d.mcast_group = Some(std::net::Ipv4Addr::new(224, 0, 0, 81).into());
    }
    d
}

fn refused(change: &Change, errno: i32) -> Error {
    Error::Kernel {
        op: change.operation(),
        errno,
        target: change.target(),
        ext_ack: None,
    }
}

fn service_of(change: &Change) -> Option<ServiceKey> {
    match change {
        Change::AddService(s) | Change::EditService(s) => Some(s.key),
        Change::DeleteService(k)
        | Change::AddDestination(k, _)
        | Change::EditDestination(k, _)
        | Change::DeleteDestination(k, _) => Some(*k),
        _ => None,
    }
}

impl Kernel for MemoryKernel {
    fn snapshot(&mut self) -> Result<KernelTable, Error> {
        let mut s = self.state();
        s.snapshots += 1;
        let table = s.table.clone();
        // Only connections of real servers that exist, as the kernel reports.
        let connections = s
            .connections
            .iter()
            .filter(|((k, a, p), _)| {
                table
                    .service(k)
                    .is_some_and(|c| c.destinations.iter().any(|d| d.addr == *a && d.port == *p))
            })
            .map(|(k, v)| (*k, *v))
            .collect();
        Ok(KernelTable { table, connections })
    }

    fn apply(&mut self, changes: &[Change]) -> Result<Vec<Result<(), Error>>, Error> {
        let mut s = self.state();
        let mut out = Vec::with_capacity(changes.len());
        for c in changes {
            if service_of(c).is_some_and(|k| s.refuse.contains(&k)) {
                s.failures.push(c.clone());
                out.push(Err(refused(c, ipvs::errno::EINVAL)));
                continue;
            }
            match c {
                Change::StartDaemon(d) => {
                    if s.refuse_daemons {
                        s.failures.push(c.clone());
                        out.push(Err(refused(c, libc::ENODEV)));
                    } else if s.daemons.iter().any(|x| x.state == d.state) {
                        s.failures.push(c.clone());
                        out.push(Err(refused(c, ipvs::errno::EEXIST)));
                    } else {
                        s.daemons.push(with_kernel_defaults(d));
                        s.daemons.sort_by_key(|x| x.state != DaemonState::Master);
                        s.writes.push(c.clone());
                        out.push(Ok(()));
                    }
                    continue;
                }
                Change::StopDaemon(state) => {
                    if let Some(i) = s.daemons.iter().position(|x| x.state == *state) {
                        s.daemons.remove(i);
                        s.writes.push(c.clone());
                        out.push(Ok(()));
                    } else {
                        s.failures.push(c.clone());
                        out.push(Err(refused(c, ipvs::errno::ESRCH)));
                    }
                    continue;
                }
                _ => {}
            }
            if let Change::SetTimeouts(t) = c {
                let cur = &mut s.timeouts;
                for (slot, v) in [
                    (&mut cur.tcp, t.tcp),
                    (&mut cur.tcp_fin, t.tcp_fin),
                    (&mut cur.udp, t.udp),
                ] {
                    if v != 0 {
                        *slot = v;
                    }
                }
                s.writes.push(c.clone());
                out.push(Ok(()));
                continue;
            }
            match s.table.apply(c) {
                Ok(()) => {
                    s.writes.push(c.clone());
                    out.push(Ok(()));
                }
                Err(e) => {
                    let errno = match e {
                        TableError::DuplicateService(_)
                        | TableError::DuplicateDestination { .. } => ipvs::errno::EEXIST,
                        TableError::NoSuchService(_) => ipvs::errno::ESRCH,
                        _ => ipvs::errno::ENOENT,
                    };
                    s.failures.push(c.clone());
                    out.push(Err(refused(c, errno)));
                }
            }
        }
        Ok(out)
    }

    fn timeouts(&mut self) -> Result<Timeouts, Error> {
        Ok(self.state().timeouts)
    }

    fn daemons(&mut self) -> Result<Vec<SyncDaemon>, Error> {
        Ok(self.state().daemons.clone())
    }
}
