//! Draining a real server: quiesce it (weight 0: no new connections), wait
//! until the kernel forwards no connection to it any more, then delete it.
//! The caller decides how long to wait.
//!
//! ```no_run
//! use std::time::{Duration, Instant};
//! use ipvs::drain::{Drain, DrainState};
//! use ipvs::{Destination, ForwardMethod, Ipvs, ServiceKey};
//!
//! let mut ipvs = Ipvs::open()?;
//! let key: ServiceKey = "tcp:192.0.2.1:80".parse().unwrap();
//! let rs = Destination::new("198.51.100.2".parse().unwrap(), 80, ForwardMethod::DirectRoute);
//! let drain = Drain::start(&mut ipvs, &key, &rs)?;
//! let deadline = Instant::now() + Duration::from_secs(300);
//! while let DrainState::Draining { connections } = drain.poll(&mut ipvs)? {
//!     if Instant::now() >= deadline {
//!         eprintln!("{connections} connections left, deleting anyway");
//!         break;
//!     }
//!     std::thread::sleep(Duration::from_secs(1));
//! }
//! drain.finish(&mut ipvs)?;
//! # Ok::<(), ipvs::Error>(())
//! ```
//!
//! **UDP** has no connections to break: a UDP "connection" is only the
//! kernel's memory of a flow, kept for the UDP timeout (300 s by default)
//! and counted as inactive. [`Drain::needs_wait`] is false for UDP services:
//! delete at once. After the delete, packets of such flows are dropped until
//! the entry expires, unless `net.ipv4.vs.expire_nodest_conn=1`, which makes
//! the kernel expire the entry at the next packet so that the flow is
//! scheduled to another real server.

use crate::change::Change;
use crate::client::Ipvs;
use crate::destination::Destination;
use crate::error::Error;
use crate::service::{Protocol, ServiceKey};

/// A real server being drained. Made by [`Drain::start`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drain {
    service: ServiceKey,
    destination: Destination,
}

/// Where a drain stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DrainState {
    /// The kernel still forwards this many connections (`ActiveConn +
    /// InActConn`) to the real server.
    Draining {
        /// Connections left.
        connections: u64,
    },
    /// No connection left: the real server can be deleted without breaking
    /// any.
    Empty,
    /// The real server (or its service) is gone from the kernel.
    Gone,
}

impl Drain {
    /// Sets the real server's weight to 0 (if it is not 0 already), so the
    /// kernel schedules no new connection to it, and returns the drain.
    /// Established connections go on.
    pub fn start(
        ipvs: &mut Ipvs,
        service: &ServiceKey,
        destination: &Destination,
    ) -> Result<Drain, Error> {
        let quiesced = destination.clone().with_weight(0);
        let current = ipvs
            .destinations(service)?
            .into_iter()
            .find(|d| d.config.addr == destination.addr && d.config.port == destination.port);
        match current {
            Some(d) if d.config.weight == 0 => {}
            Some(d) => ipvs.change(&Change::EditDestination(*service, d.config.with_weight(0)))?,
            None => {}
        }
        Ok(Drain {
            service: *service,
            destination: quiesced,
        })
    }

    /// The service.
    pub fn service(&self) -> &ServiceKey {
        &self.service
    }

    /// The real server (at weight 0).
    pub fn destination(&self) -> &Destination {
        &self.destination
    }

    /// Whether waiting serves any purpose: false for UDP services (see the
    /// module's documentation), true otherwise.
    pub fn needs_wait(&self) -> bool {
        !matches!(
            self.service,
            ServiceKey::Addr {
                protocol: Protocol::Udp,
                ..
            }
        )
    }

    /// Reads the real server's connection counts from the kernel.
    pub fn poll(&self, ipvs: &mut Ipvs) -> Result<DrainState, Error> {
        let found = match ipvs.destinations(&self.service) {
            Ok(list) => list.into_iter().find(|d| {
                d.config.addr == self.destination.addr && d.config.port == self.destination.port
            }),
            Err(e) if e.is_no_such_service() => None,
            Err(e) => return Err(e),
        };
        Ok(match found {
            None => DrainState::Gone,
            Some(d) if d.connections() == 0 => DrainState::Empty,
            Some(d) => DrainState::Draining {
                connections: d.connections(),
            },
        })
    }

    /// Deletes the real server. One that is already gone is not an error.
    pub fn finish(self, ipvs: &mut Ipvs) -> Result<(), Error> {
        match ipvs.change(&Change::DeleteDestination(self.service, self.destination)) {
            Err(e) if e.is_no_such_destination() || e.is_no_such_service() => Ok(()),
            other => other,
        }
    }
}
