//! The director daemon's parts, built on the `ipvs` library's public API only.
//!
//! The flow, one module per concern:
//!
//! 1. configuration front ends: [`keepalived`] (`virtual_server` blocks of
//!    `keepalived.conf`) and [`ldirectord`] (`ldirectord.cf` and the
//!    `ldirectord` command line);
//! 2. the check engine: [`check`] (TCP, HTTP(S), DNS, UDP, ping, SMTP, scripts, files);
//!
//! then the real-server state machine, plans and the kernel (to come).
#![warn(missing_docs)]

pub mod check;
pub mod keepalived;
pub mod ldirectord;
