//! The director daemon's parts, built on the `ipvs` library's public API only.
//! The `lvsd` binary's command line is [`lvsd_cli`], its systemd integration
//! (`sd_notify`, watchdog, journald priorities) [`systemd`].
//!
//! The flow, one module per concern:
//!
//! 1. configuration front ends: [`keepalived`] (`virtual_server` blocks of
//!    `keepalived.conf`) and [`ldirectord`] (`ldirectord.cf` and the
//!    `ldirectord` command line, on the same model and daemon: the binary is `ldirectord`);
//! 2. desired state from the configuration: [`desired`] (virtual and real
//!    servers with stable identities, the checks' specs, the wanted table);
//! 3. the check engine: [`check`] (TCP, HTTP(S), DNS, UDP, ping, SMTP, scripts, files);
//! 4. health per real server and quorum per virtual server: [`health`];
//! 5. the kernel seam: [`kernel`] (the real one, and an in-memory one for tests);
//! 6. the daemon that ties them: [`director`] (reconcile, reload, drain, stop),
//!    with notify scripts in [`notify`]; the binary is `lvsd`;
//! 7. operating it: [`status`] (the daemon's view), [`control`] (the control
//!    socket `lvsctl` talks to), [`admin`] (operator overrides) and
//!    [`metrics`] (Prometheus).
#![warn(missing_docs)]

pub mod active_active;
pub mod admin;
pub mod check;
pub mod control;
pub mod desired;
pub mod director;
pub mod health;

// lvsd's command line and its service-manager side.
pub mod lvsd_cli;
pub mod systemd;

pub mod keepalived;
pub mod kernel;
pub mod ldirectord;
pub mod metrics;
pub mod notify;
pub mod one_or_many;
mod sorted_map;
pub mod status;
