//! The director daemon's parts, built on the `ipvs` library's public API only.
//!
//! The flow, one module per concern:
//!
//! 1. configuration front ends: [`keepalived`] (`virtual_server` blocks of
//!    `keepalived.conf`) and [`ldirectord`] (`ldirectord.cf` and the
//!    `ldirectord` command line; not yet wired to the daemon);
//! 2. desired state from the configuration: [`desired`] (virtual and real
//!    servers with stable identities, the checks' specs, the wanted table);
//! 3. the check engine: [`check`] (TCP, HTTP(S), DNS, UDP, ping, SMTP, scripts, files);
//! 4. health per real server and quorum per virtual server: [`health`];
//! 5. the kernel seam: [`kernel`] (the real one, and an in-memory one for tests);
//! 6. the daemon that ties them: [`director`] (reconcile, reload, drain, stop),
//!    with notify scripts in [`notify`]; the binary is `lvsd`;
//! 7. what it shows: [`status`] (the daemon's view) and [`metrics`] (Prometheus).
#![warn(missing_docs)]

pub mod check;
pub mod desired;
pub mod director;
pub mod health;
pub mod keepalived;
pub mod kernel;
pub mod ldirectord;
pub mod metrics;
pub mod notify;
pub mod status;
