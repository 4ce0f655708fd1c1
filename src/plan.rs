//! Desired state apart from kernel state, and plans: the minimal ordered
//! list of changes that turns the kernel's table into the desired one.
//!
//! ```
//! use ipvs::plan::{plan, Table};
//! use ipvs::{Change, Destination, ForwardMethod, Service, ServiceKey};
//!
//! let key: ServiceKey = "tcp:192.0.2.1:80".parse().unwrap();
//! let rs = |a: &str| Destination::new(a.parse().unwrap(), 80, ForwardMethod::DirectRoute);
//!
//! let mut actual = Table::new();
//! actual.add_service(Service::new(key).with_scheduler("rr")).unwrap();
//! actual.add_destination(&key, rs("198.51.100.2")).unwrap();
//! actual.add_destination(&key, rs("198.51.100.3")).unwrap();
//!
//! let mut desired = actual.clone();
//! desired.add_destination(&key, rs("198.51.100.4")).unwrap();
//! desired.remove_destination(&key, &rs("198.51.100.2")).unwrap();
//!
//! let p = plan(&desired, &actual);
//! assert_eq!(p.changes(), [
//!     Change::DeleteDestination(key, rs("198.51.100.2")),
//!     Change::AddDestination(key, rs("198.51.100.4")),
//! ]);
//! assert!(plan(&desired, &desired).is_empty());
//! ```
//!
//! Reading the kernel's table with [`Ipvs::snapshot`](crate::Ipvs::snapshot)
//! and [`Table::from_snapshot`], planning, and applying the plan with
//! [`Ipvs::apply`](crate::Ipvs::apply) is a reconcile: changes made behind a
//! reconciler's back are repaired, and a table that already matches gets no
//! write at all.

use std::collections::HashMap;
use std::fmt;

use crate::change::Change;
use crate::client::ServiceEntry;
use crate::destination::Destination;
use crate::service::{Service, ServiceKey};

/// One virtual service's configuration with its real servers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ServiceConfig {
    /// The service.
    pub service: Service,
    /// Its real servers. In a table read from the kernel
    /// ([`Table::from_snapshot`]) or changed by [`Table::apply`] they are in
    /// the kernel's order, the newest first, which the schedulers of
    /// [`order_sensitive`] depend on; in a desired table the order carries
    /// no meaning (see [`plan`]).
    pub destinations: Vec<Destination>,
}

/// A table's configuration: virtual services with their real servers, no
/// kernel state. Services keep the order they were added in; a service
/// appears once, a real server (address and port) once per service.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(from = "Vec<ServiceConfig>", into = "Vec<ServiceConfig>")
)]
pub struct Table {
    services: Vec<ServiceConfig>,
    #[cfg_attr(feature = "serde", serde(skip))]
    index: HashMap<ServiceKey, usize>,
}

/// Why a [`Table`] refused an edit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The service is in the table already.
    #[error("service {0} is defined twice")]
    DuplicateService(ServiceKey),
    /// The real server is in the service already.
    #[error("real server {addr} port {port} of service {service} is defined twice")]
    DuplicateDestination {
        /// The service.
        service: ServiceKey,
        /// The real server's address.
        addr: std::net::IpAddr,
        /// The real server's port.
        port: u16,
    },
    /// The service is not in the table.
    #[error("service {0} is not defined")]
    NoSuchService(ServiceKey),
    /// The real server is not in the service.
    #[error("real server {addr} port {port} is not defined in service {service}")]
    NoSuchDestination {
        /// The service.
        service: ServiceKey,
        /// The real server's address.
        addr: std::net::IpAddr,
        /// The real server's port.
        port: u16,
    },
}

impl PartialEq for Table {
    /// Tables are equal when they hold the same services with the same real
    /// servers, whatever the order.
    fn eq(&self, other: &Table) -> bool {
        self.services.len() == other.services.len()
            && self.services.iter().all(|s| {
                other.service(&s.service.key).is_some_and(|o| {
                    o.service == s.service
                        && o.destinations.len() == s.destinations.len()
                        && s.destinations.iter().all(|d| o.destinations.contains(d))
                })
            })
    }
}

impl Eq for Table {}

impl From<Vec<ServiceConfig>> for Table {
    /// Builds a table from a list; of duplicates the last one wins.
    fn from(list: Vec<ServiceConfig>) -> Table {
        let mut t = Table::new();
        for s in list {
            t.put_service(s);
        }
        t
    }
}

impl From<Table> for Vec<ServiceConfig> {
    fn from(t: Table) -> Self {
        t.services
    }
}

fn same_destination(a: &Destination, b: &Destination) -> bool {
    a.addr == b.addr && a.port == b.port
}

impl Table {
    /// An empty table.
    pub fn new() -> Self {
        Table::default()
    }

    /// The configuration part of a kernel snapshot
    /// ([`Ipvs::snapshot`](crate::Ipvs::snapshot)).
    pub fn from_snapshot(entries: &[ServiceEntry]) -> Self {
        Table::from(
            entries
                .iter()
                .map(|e| ServiceConfig {
                    service: e.service.config.clone(),
                    destinations: e.destinations.iter().map(|d| d.config.clone()).collect(),
                })
                .collect::<Vec<_>>(),
        )
    }

    /// The services, in the order they were added.
    pub fn services(&self) -> &[ServiceConfig] {
        &self.services
    }

    /// One service with its real servers.
    pub fn service(&self, key: &ServiceKey) -> Option<&ServiceConfig> {
        self.index.get(key).map(|&i| &self.services[i])
    }

    /// The number of services.
    pub fn len(&self) -> usize {
        self.services.len()
    }

    /// Whether the table has no service.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// Adds a service without real servers.
    pub fn add_service(&mut self, service: Service) -> Result<(), TableError> {
        if self.index.contains_key(&service.key) {
            return Err(TableError::DuplicateService(service.key));
        }
        self.index.insert(service.key, self.services.len());
        self.services.push(ServiceConfig {
            service,
            destinations: Vec::new(),
        });
        Ok(())
    }

    /// Replaces a service's settings; its real servers stay.
    pub fn edit_service(&mut self, service: Service) -> Result<(), TableError> {
        let s = self.service_mut(&service.key)?;
        s.service = service;
        Ok(())
    }

    /// Removes a service with its real servers.
    pub fn remove_service(&mut self, key: &ServiceKey) -> Result<ServiceConfig, TableError> {
        let i = self
            .index
            .remove(key)
            .ok_or(TableError::NoSuchService(*key))?;
        let removed = self.services.remove(i);
        for (j, s) in self.services.iter().enumerate().skip(i) {
            self.index.insert(s.service.key, j);
        }
        Ok(removed)
    }

    /// Puts a service with its real servers in the table as given: it
    /// replaces the entry of the same key (keeping its place) or is added at
    /// the end. Of duplicate real servers the last one wins, as in
    /// `Table::from`. For keeping a table in step with fresh kernel reads
    /// service by service (see [`Table::retain_services`]).
    pub fn put_service(&mut self, mut entry: ServiceConfig) {
        let mut dests: Vec<Destination> = Vec::with_capacity(entry.destinations.len());
        for d in std::mem::take(&mut entry.destinations) {
            match dests.iter_mut().find(|x| same_destination(x, &d)) {
                Some(x) => *x = d,
                None => dests.push(d),
            }
        }
        entry.destinations = dests;
        match self.index.get(&entry.service.key) {
            Some(&i) => self.services[i] = entry,
            None => {
                self.index.insert(entry.service.key, self.services.len());
                self.services.push(entry);
            }
        }
    }

    /// Keeps only the services for which `keep` says yes, in their order.
    pub fn retain_services(&mut self, mut keep: impl FnMut(&ServiceKey) -> bool) {
        let before = self.services.len();
        self.services.retain(|s| keep(&s.service.key));
        if self.services.len() != before {
            self.index.clear();
            for (i, s) in self.services.iter().enumerate() {
                self.index.insert(s.service.key, i);
            }
        }
    }

    /// Adds a real server to a service.
    pub fn add_destination(
        &mut self,
        key: &ServiceKey,
        destination: Destination,
    ) -> Result<(), TableError> {
        let s = self.service_mut(key)?;
        if s.destinations
            .iter()
            .any(|d| same_destination(d, &destination))
        {
            return Err(TableError::DuplicateDestination {
                service: *key,
                addr: destination.addr,
                port: destination.port,
            });
        }
        s.destinations.push(destination);
        Ok(())
    }

    /// Replaces a real server's settings (found by address and port).
    pub fn edit_destination(
        &mut self,
        key: &ServiceKey,
        destination: Destination,
    ) -> Result<(), TableError> {
        let d = self.destination_mut(key, &destination)?;
        *d = destination;
        Ok(())
    }

    /// Removes a real server (found by address and port) from a service.
    pub fn remove_destination(
        &mut self,
        key: &ServiceKey,
        destination: &Destination,
    ) -> Result<Destination, TableError> {
        let s = self.service_mut(key)?;
        let i = s
            .destinations
            .iter()
            .position(|d| same_destination(d, destination))
            .ok_or(TableError::NoSuchDestination {
                service: *key,
                addr: destination.addr,
                port: destination.port,
            })?;
        Ok(s.destinations.remove(i))
    }

    fn service_mut(&mut self, key: &ServiceKey) -> Result<&mut ServiceConfig, TableError> {
        match self.index.get(key) {
            Some(&i) => Ok(&mut self.services[i]),
            None => Err(TableError::NoSuchService(*key)),
        }
    }

    fn destination_mut(
        &mut self,
        key: &ServiceKey,
        destination: &Destination,
    ) -> Result<&mut Destination, TableError> {
        let s = self.service_mut(key)?;
        s.destinations
            .iter_mut()
            .find(|d| same_destination(d, destination))
            .ok_or(TableError::NoSuchDestination {
                service: *key,
                addr: destination.addr,
                port: destination.port,
            })
    }

    /// Applies one service or real-server change to the table, as the
    /// kernel would: a new real server goes first in its service's list,
    /// like the kernel's; other changes (timeouts, daemons, zero) leave the
    /// table as it is. `Flush` empties it.
    pub fn apply(&mut self, change: &Change) -> Result<(), TableError> {
        match change {
            Change::AddService(s) => self.add_service(s.clone()),
            Change::EditService(s) => self.edit_service(s.clone()),
            Change::DeleteService(k) => self.remove_service(k).map(drop),
            Change::AddDestination(k, d) => {
                self.add_destination(k, d.clone())?;
                let s = self.service_mut(k)?;
                s.destinations.rotate_right(1);
                Ok(())
            }
            Change::EditDestination(k, d) => self.edit_destination(k, d.clone()),
            Change::DeleteDestination(k, d) => self.remove_destination(k, d).map(drop),
            Change::Flush => {
                *self = Table::new();
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// The changes that turn one table into another, in the order they must be
/// applied. Made by [`plan`]; prints as a readable diff, one change a line
/// (`+` add, `~` edit, `-` delete).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Plan {
    changes: Vec<Change>,
}

impl Plan {
    /// The changes, in order.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// The changes, owned.
    pub fn into_changes(self) -> Vec<Change> {
        self.changes
    }

    /// Whether there is nothing to change.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The number of changes (kernel writes) the plan makes.
    pub fn len(&self) -> usize {
        self.changes.len()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.changes {
            writeln!(f, "{c}")?;
        }
        Ok(())
    }
}

/// The minimal ordered list of changes that turns `actual` (usually the
/// kernel's table, [`Table::from_snapshot`]) into `desired`.
///
/// - Everything the kernel edits in place is an edit: a service's
///   scheduler, flags, persistence timeout, netmask and persistence engine
///   (`-E`); a real server's weight, thresholds, forwarding method and
///   tunnel settings (`-e`). A service is deleted and added only when its
///   key differs, a real server only when its address or port does. There
///   is never a flush.
/// - Order: real servers are deleted first, then services (which takes
///   their remaining real servers with them); then services are edited and
///   added, in `desired`'s order; then real servers are edited and added.
/// - New real servers of a service are added in the canonical order
///   (see [`canonical_order`]): sorted by address family, address and port.
/// - For a service whose scheduler depends on the kernel's real-server order
///   ([`order_sensitive`]: `mh`, `sh`, `dh`), the plan also repairs an order
///   that is not canonical (a table built by hand, by another tool, or by a
///   history of removals and re-additions): it deletes and re-adds the
///   fewest real servers that make the kernel's list canonical, each
///   delete immediately followed, in the same batch, by the adds; see
///   [`canonical_order`] for why this keeps established connections.
///   Directors with the same configuration then hold identical lookup
///   tables whatever their history.
pub fn plan(desired: &Table, actual: &Table) -> Plan {
    let mut deletes_dest = Vec::new();
    let mut deletes_svc = Vec::new();
    let mut services = Vec::new();
    let mut dests = Vec::new();

    for a in &actual.services {
        match desired.service(&a.service.key) {
            None => deletes_svc.push(Change::DeleteService(a.service.key)),
            Some(d) => {
                for ad in &a.destinations {
                    if !d.destinations.iter().any(|x| same_destination(x, ad)) {
                        deletes_dest.push(Change::DeleteDestination(a.service.key, ad.clone()));
                    }
                }
            }
        }
    }

    for d in &desired.services {
        let key = d.service.key;
        let current = actual.service(&key);
        match current {
            None => services.push(Change::AddService(d.service.clone())),
            Some(a) if a.service != d.service => {
                services.push(Change::EditService(d.service.clone()))
            }
            Some(_) => {}
        }
        // Real servers to delete and add again to make the order canonical.
        let rebuild: Vec<&Destination> = match current {
            Some(a) if order_sensitive(&d.service.scheduler) => {
                let kept: Vec<&Destination> = a
                    .destinations
                    .iter()
                    .filter(|x| d.destinations.iter().any(|y| same_destination(x, y)))
                    .collect();
                readd_for_canonical(&kept, &d.destinations)
            }
            _ => Vec::new(),
        };
        let mut added: Vec<&Destination> = Vec::new();
        for dd in &d.destinations {
            let existing =
                current.and_then(|a| a.destinations.iter().find(|x| same_destination(x, dd)));
            match existing {
                None => added.push(dd),
                Some(x) if rebuild.iter().any(|r| same_destination(r, x)) => added.push(dd),
                Some(x) if x != dd => dests.push(Change::EditDestination(key, dd.clone())),
                Some(_) => {}
            }
        }
        // The rebuild's deletes come right before the adds that take the
        // same real servers back from the kernel's trash.
        dests.extend(
            rebuild
                .into_iter()
                .map(|x| Change::DeleteDestination(key, x.clone())),
        );
        added.sort_by(|x, y| canonical_cmp(x, y));
        dests.extend(
            added
                .into_iter()
                .map(|x| Change::AddDestination(key, x.clone())),
        );
    }

    let mut changes = deletes_dest;
    changes.extend(deletes_svc);
    changes.extend(services);
    changes.extend(dests);
    Plan { changes }
}

/// Whether a scheduler's choice depends on the order of the kernel's list
/// of real servers, so that two directors with the same real servers added
/// in different orders schedule the same flow differently.
///
/// The kernel keeps a service's real servers in a list, the newest first
/// (`list_add_rcu` at the head in `__ip_vs_update_dest`), and these
/// schedulers build their lookup table by walking that list: `mh` (each
/// real server in turn claims its next preferred slot of the Maglev
/// table, so the first ones in the list win contested slots), `sh` and
/// `dh` (buckets are dealt out in list order). The other schedulers pick by
/// counters and weights (ties aside), not by a table built from the list.
pub fn order_sensitive(scheduler: &str) -> bool {
    matches!(scheduler, "mh" | "sh" | "dh")
}

/// The canonical order in which real servers are added: by address family
/// (IPv4 first), address, then port. [`plan`] adds real servers in this
/// order.
pub fn canonical_cmp(a: &Destination, b: &Destination) -> std::cmp::Ordering {
    (a.addr, a.port).cmp(&(b.addr, b.port))
}

/// The kernel's list order (the order of a dump) of real servers that
/// were added in the canonical order: since the kernel puts each new real
/// server first, that is the reverse of [`canonical_cmp`]'s order, the
/// highest address first.
///
/// A table whose order is not canonical is repaired by [`plan`] by
/// deleting and re-adding real servers (the fewest that make the list
/// canonical). That keeps established connections: a deleted real server
/// goes to the kernel's destination trash together with the connections
/// that point at it, and adding the same address and port to the same
/// service takes it back from the trash (`ip_vs_trash_get_dest`), with its
/// connections, counters and statistics. Only a packet that arrives in
/// the microseconds between the delete and the add of one batch finds its
/// real server unavailable: it is dropped (and retransmitted) with the
/// default `expire_nodest_conn = 0`, while with `expire_nodest_conn = 1`
/// that one connection would be expired. A real server re-added with
/// weight 0 loses its slots in the `mh` table (the kernel keeps the last
/// non-zero weight only across edits), as on a director that starts with
/// it quiesced. Deleting and re-adding the whole service instead would
/// leave a window with no service at all, and a change of scheduler does
/// not reorder the list.
pub fn canonical_order(destinations: &[Destination]) -> Vec<Destination> {
    let mut v = destinations.to_vec();
    v.sort_by(|x, y| canonical_cmp(y, x));
    v
}

/// Whether a service's real servers, in the kernel's order (as
/// [`Table::from_snapshot`] keeps them), are in the canonical order of
/// [`canonical_order`]. Services whose scheduler is not
/// [`order_sensitive`] are reported too: the order is a fact about the
/// table, whether or not the scheduler cares.
pub fn is_canonical_order(service: &ServiceConfig) -> bool {
    service
        .destinations
        .windows(2)
        .all(|w| canonical_cmp(&w[0], &w[1]) == std::cmp::Ordering::Greater)
}

/// The real servers of `kept` (the kernel's list, the newest first, once
/// the real servers to delete are gone) that must be deleted and added
/// again so that, with the new ones, the list is in canonical order: all
/// but the longest tail of the canonical list that `kept` already holds in
/// that order.
fn readd_for_canonical<'a>(
    kept: &[&'a Destination],
    desired: &[Destination],
) -> Vec<&'a Destination> {
    let target = canonical_order(desired);
    let mut next = kept.len();
    let mut tail = target.len();
    while tail > 0 {
        let want = &target[tail - 1];
        match kept[..next].iter().rposition(|x| same_destination(x, want)) {
            Some(p) => {
                next = p;
                tail -= 1;
            }
            None => break,
        }
    }
    let keep = &target[tail..];
    kept.iter()
        .filter(|x| !keep.iter().any(|k| same_destination(k, x)))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::destination::ForwardMethod;
    use crate::service::ServiceFlags;

    fn key(s: &str) -> ServiceKey {
        s.parse().unwrap()
    }

    fn rs(a: &str, port: u16) -> Destination {
        Destination::new(a.parse().unwrap(), port, ForwardMethod::Masquerade)
    }

    #[test]
    fn put_replaces_in_place_and_retain_reindexes() {
        let a = key("tcp:192.0.2.1:80");
        let b = key("tcp:192.0.2.2:80");
        let c = key("tcp:192.0.2.3:80");
        let mut t = Table::new();
        for k in [a, b] {
            t.add_service(Service::new(k)).unwrap();
            t.add_destination(&k, rs("198.51.100.1", 80)).unwrap();
        }
        t.put_service(ServiceConfig {
            service: Service::new(a).with_scheduler("wrr"),
            destinations: vec![rs("198.51.100.2", 80), rs("198.51.100.1", 80)],
        });
        t.put_service(ServiceConfig {
            service: Service::new(c),
            destinations: vec![
                rs("198.51.100.3", 80),
                rs("198.51.100.3", 80).with_weight(4),
            ],
        });
        let keys: Vec<ServiceKey> = t.services().iter().map(|s| s.service.key).collect();
        assert_eq!(
            keys,
            [a, b, c],
            "a replaced in its place, c added at the end"
        );
        assert_eq!(t.service(&a).unwrap().service.scheduler, "wrr");
        assert_eq!(
            t.service(&a).unwrap().destinations[0],
            rs("198.51.100.2", 80),
            "order as given"
        );
        assert_eq!(
            t.service(&c).unwrap().destinations,
            [rs("198.51.100.3", 80).with_weight(4)],
            "the last duplicate wins"
        );
        t.retain_services(|k| *k != a);
        assert!(t.service(&a).is_none());
        assert_eq!(t.service(&b).unwrap().service.key, b);
        assert_eq!(
            t.service(&c).unwrap().service.key,
            c,
            "the index follows the removal"
        );
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn edits_in_place_and_orders_deletes_first() {
        let web = key("tcp:192.0.2.1:80");
        let dns = key("udp:192.0.2.1:53");
        let gone = key("fwm:9");
        let mut actual = Table::new();
        actual.add_service(Service::new(web)).unwrap();
        actual
            .add_destination(&web, rs("198.51.100.2", 80))
            .unwrap();
        actual
            .add_destination(&web, rs("198.51.100.3", 80))
            .unwrap();
        actual.add_service(Service::new(gone)).unwrap();
        actual
            .add_destination(&gone, rs("198.51.100.9", 0))
            .unwrap();

        let mut desired = Table::new();
        desired
            .add_service(
                Service::new(web)
                    .with_scheduler("mh")
                    .with_flags(ServiceFlags::MH_PORT),
            )
            .unwrap();
        desired
            .add_destination(&web, rs("198.51.100.2", 80).with_weight(5))
            .unwrap();
        desired.add_service(Service::new(dns)).unwrap();
        desired
            .add_destination(&dns, rs("198.51.100.7", 53))
            .unwrap();
        desired
            .add_destination(&dns, rs("198.51.100.6", 53))
            .unwrap();

        let p = plan(&desired, &actual);
        assert_eq!(
            p.changes(),
            [
                Change::DeleteDestination(web, rs("198.51.100.3", 80)),
                Change::DeleteService(gone),
                Change::EditService(
                    Service::new(web)
                        .with_scheduler("mh")
                        .with_flags(ServiceFlags::MH_PORT)
                ),
                Change::AddService(Service::new(dns)),
                Change::EditDestination(web, rs("198.51.100.2", 80).with_weight(5)),
                // sorted by address, whatever the configuration's order
                Change::AddDestination(dns, rs("198.51.100.6", 53)),
                Change::AddDestination(dns, rs("198.51.100.7", 53)),
            ]
        );
        let mut t = actual.clone();
        for c in p.changes() {
            t.apply(c).unwrap();
        }
        assert_eq!(t, desired);
        assert!(plan(&desired, &t).is_empty());
    }

    #[test]
    fn the_table_refuses_duplicates_and_unknowns() {
        let web = key("tcp:192.0.2.1:80");
        let mut t = Table::new();
        t.add_service(Service::new(web)).unwrap();
        assert_eq!(
            t.add_service(Service::new(web)),
            Err(TableError::DuplicateService(web))
        );
        t.add_destination(&web, rs("198.51.100.2", 80)).unwrap();
        assert!(matches!(
            t.add_destination(&web, rs("198.51.100.2", 80).with_weight(3)),
            Err(TableError::DuplicateDestination { .. })
        ));
        assert_eq!(
            t.add_destination(&key("fwm:1"), rs("198.51.100.2", 80)),
            Err(TableError::NoSuchService(key("fwm:1")))
        );
        t.remove_service(&web).unwrap();
        assert!(t.is_empty());
    }

    fn kernel_after(actual: &Table, p: &Plan) -> Table {
        let mut t = actual.clone();
        for c in p.changes() {
            t.apply(c).unwrap();
        }
        t
    }

    fn addrs(t: &Table, k: &ServiceKey) -> Vec<String> {
        t.service(k)
            .unwrap()
            .destinations
            .iter()
            .map(|d| d.addr.to_string())
            .collect()
    }

    /// A kernel table built by adding the real servers in `order` (the
    /// last octets of 198.51.100.x), as a hand-configured director would.
    fn by_hand(k: ServiceKey, sched: &str, order: &[u8]) -> Table {
        let mut t = Table::new();
        t.apply(&Change::AddService(Service::new(k).with_scheduler(sched)))
            .unwrap();
        for o in order {
            t.apply(&Change::AddDestination(
                k,
                rs(&format!("198.51.100.{o}"), 80),
            ))
            .unwrap();
        }
        t
    }

    #[test]
    fn apply_puts_a_new_real_server_first_as_the_kernel_does() {
        let web = key("tcp:192.0.2.1:80");
        let t = by_hand(web, "rr", &[1, 3, 2]);
        assert_eq!(
            addrs(&t, &web),
            ["198.51.100.2", "198.51.100.3", "198.51.100.1"]
        );
        assert!(!is_canonical_order(t.service(&web).unwrap()));
        let t = by_hand(web, "rr", &[1, 2, 3]);
        assert!(is_canonical_order(t.service(&web).unwrap()));
    }

    #[test]
    fn only_table_schedulers_are_order_sensitive() {
        for s in ["mh", "sh", "dh"] {
            assert!(order_sensitive(s), "{s}");
        }
        for s in [
            "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "sed", "nq", "fo", "ovf", "twos",
        ] {
            assert!(!order_sensitive(s), "{s}");
        }
    }

    #[test]
    fn directors_with_different_histories_converge_on_one_order() {
        let web = key("tcp:192.0.2.1:80");
        let desired = by_hand(web, "mh", &[1, 2, 3, 4, 5]);
        let mut orders = Vec::new();
        for history in [
            &[5u8, 4, 3, 2, 1][..],
            &[3, 1, 4, 5, 2],
            &[1, 2, 3, 4, 5],
            &[2, 4],
        ] {
            let actual = by_hand(web, "mh", history);
            let p = plan(&desired, &actual);
            let after = kernel_after(&actual, &p);
            assert_eq!(after, desired);
            assert!(
                is_canonical_order(after.service(&web).unwrap()),
                "{history:?}"
            );
            assert!(plan(&desired, &after).is_empty(), "{history:?}\n{p}");
            orders.push(addrs(&after, &web));
        }
        assert!(orders.windows(2).all(|w| w[0] == w[1]), "{orders:?}");
        assert_eq!(
            orders[0],
            [
                "198.51.100.5",
                "198.51.100.4",
                "198.51.100.3",
                "198.51.100.2",
                "198.51.100.1"
            ]
        );
    }

    #[test]
    fn the_rebuild_readds_the_fewest_and_keeps_each_delete_next_to_the_adds() {
        let web = key("tcp:192.0.2.1:80");
        let desired = by_hand(web, "mh", &[1, 2, 3, 4, 5]);
        // Added 1 3 2 4 5: the kernel lists 5 4 2 3 1. The longest tail of the
        // canonical 5 4 3 2 1 that it holds in order is "2 1": 5, 4 and 3 are
        // deleted and added again on top of it, in canonical order.
        let actual = by_hand(web, "mh", &[1, 3, 2, 4, 5]);
        let p = plan(&desired, &actual);
        assert_eq!(
            p.changes(),
            [
                Change::DeleteDestination(web, rs("198.51.100.5", 80)),
                Change::DeleteDestination(web, rs("198.51.100.4", 80)),
                Change::DeleteDestination(web, rs("198.51.100.3", 80)),
                Change::AddDestination(web, rs("198.51.100.3", 80)),
                Change::AddDestination(web, rs("198.51.100.4", 80)),
                Change::AddDestination(web, rs("198.51.100.5", 80)),
            ],
            "{p}"
        );
        // Added 2 3 1 4 5: the kernel lists 5 4 1 3 2; "3 2" is in order but
        // not a tail, only "1" is: all but 1 are re-added.
        let actual = by_hand(web, "mh", &[2, 3, 1, 4, 5]);
        assert_eq!(plan(&desired, &actual).len(), 8);
        // A new highest address goes on top: one add, nothing re-added.
        let mut more = desired.clone();
        more.add_destination(&web, rs("198.51.100.9", 80)).unwrap();
        let p = plan(&more, &desired);
        assert_eq!(
            p.changes(),
            [Change::AddDestination(web, rs("198.51.100.9", 80))]
        );
        // A new lowest address must go under all the others: all re-added.
        let mut low = desired.clone();
        low.add_destination(&web, rs("198.51.100.0", 80)).unwrap();
        let p = plan(&low, &desired);
        assert_eq!(p.len(), 5 + 6, "{p}");
        assert!(is_canonical_order(
            kernel_after(&desired, &p).service(&web).unwrap()
        ));
        // Removing a real server never needs a rebuild.
        let mut fewer = desired.clone();
        fewer
            .remove_destination(&web, &rs("198.51.100.3", 80))
            .unwrap();
        let p = plan(&fewer, &desired);
        assert_eq!(
            p.changes(),
            [Change::DeleteDestination(web, rs("198.51.100.3", 80))]
        );
    }

    #[test]
    fn every_order_of_four_is_repaired_with_the_fewest_readds() {
        let web = key("tcp:192.0.2.1:80");
        let desired = by_hand(web, "sh", &[1, 2, 3, 4]);
        let canonical = addrs(&desired, &web);
        let mut perms: Vec<Vec<u8>> = vec![vec![]];
        for _ in 0..4 {
            let mut next = Vec::new();
            for p in &perms {
                for x in (1..=4u8).filter(|x| !p.contains(x)) {
                    let mut q = p.clone();
                    q.push(x);
                    next.push(q);
                }
            }
            perms = next;
        }
        assert_eq!(perms.len(), 24);
        let mut rebuilt = 0;
        for history in &perms {
            let actual = by_hand(web, "sh", history);
            let list = addrs(&actual, &web);
            // The longest tail of the canonical list that the kernel list
            // holds as a subsequence, by brute force.
            let tail = (0..=4)
                .filter(|&n| {
                    let want = &canonical[4 - n..];
                    let mut it = list.iter();
                    want.iter().all(|w| it.any(|x| x == w))
                })
                .max()
                .unwrap();
            let p = plan(&desired, &actual);
            let readds = 4 - tail;
            assert_eq!(p.len(), 2 * readds, "{history:?}\n{p}");
            let after = kernel_after(&actual, &p);
            assert_eq!(addrs(&after, &web), canonical, "{history:?}");
            if readds > 0 {
                rebuilt += 1;
            }
        }
        // Only the canonical history itself needs nothing.
        assert_eq!(rebuilt, 23);
        // The same tables under rr are left alone: order does not matter.
        let rr = by_hand(web, "rr", &[1, 2, 3, 4]);
        for history in &perms {
            assert!(plan(&rr, &by_hand(web, "rr", history)).is_empty());
        }
    }

    #[test]
    fn a_readded_real_server_carries_its_new_settings_and_a_scheduler_change_rebuilds() {
        let web = key("tcp:192.0.2.1:80");
        let actual = by_hand(web, "wlc", &[3, 1, 2]);
        let mut desired = by_hand(web, "mh", &[1, 2, 3]);
        desired
            .edit_destination(&web, rs("198.51.100.3", 80).with_weight(7))
            .unwrap();
        desired
            .edit_destination(&web, rs("198.51.100.1", 80).with_weight(2))
            .unwrap();
        let p = plan(&desired, &actual);
        let after = kernel_after(&actual, &p);
        assert_eq!(after, desired);
        assert!(is_canonical_order(after.service(&web).unwrap()));
        assert!(plan(&desired, &after).is_empty());
        // Kernel list 2 1 3: the canonical tail "2 1" stays (1 edited in
        // place), 3 is re-added with its new settings (no separate edit).
        assert_eq!(
            p.changes(),
            [
                Change::EditService(Service::new(web).with_scheduler("mh")),
                Change::EditDestination(web, rs("198.51.100.1", 80).with_weight(2)),
                Change::DeleteDestination(web, rs("198.51.100.3", 80)),
                Change::AddDestination(web, rs("198.51.100.3", 80).with_weight(7)),
            ],
            "{p}"
        );
    }

    #[test]
    fn ipv4_sorts_before_ipv6() {
        let a = rs("2001:db8::1", 80);
        let b = rs("198.51.100.200", 80);
        let c = rs("198.51.100.200", 81);
        assert_eq!(
            canonical_order(&[a.clone(), b.clone(), c.clone()]),
            [a, c, b]
        );
    }
}
