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
    /// Its real servers; order carries no meaning (see [`plan`]).
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
        for mut s in list {
            let mut dests: Vec<Destination> = Vec::with_capacity(s.destinations.len());
            for d in s.destinations {
                match dests.iter_mut().find(|x| same_destination(x, &d)) {
                    Some(x) => *x = d,
                    None => dests.push(d),
                }
            }
            s.destinations = dests;
            match t.index.get(&s.service.key) {
                Some(&i) => t.services[i] = s,
                None => {
                    t.index.insert(s.service.key, t.services.len());
                    t.services.push(s);
                }
            }
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
    /// kernel would; other changes (timeouts, daemons, zero) leave the
    /// table as it is. `Flush` empties it.
    pub fn apply(&mut self, change: &Change) -> Result<(), TableError> {
        match change {
            Change::AddService(s) => self.add_service(s.clone()),
            Change::EditService(s) => self.edit_service(s.clone()),
            Change::DeleteService(k) => self.remove_service(k).map(drop),
            Change::AddDestination(k, d) => self.add_destination(k, d.clone()),
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
/// - New real servers of a service are added sorted by address and port.
///   The kernel lists real servers newest first and the `mh` scheduler
///   fills its lookup table in that order, so directors that add them in
///   one canonical order build identical tables.
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
        let mut added: Vec<&Destination> = Vec::new();
        for dd in &d.destinations {
            let existing =
                current.and_then(|a| a.destinations.iter().find(|x| same_destination(x, dd)));
            match existing {
                None => added.push(dd),
                Some(x) if x != dd => dests.push(Change::EditDestination(key, dd.clone())),
                Some(_) => {}
            }
        }
        added.sort_by_key(|x| (x.addr, x.port));
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
}
