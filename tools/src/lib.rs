//! The project's command-line tools, built on the `ipvs` library's public API only.
//!
//! - [`ipvsadm`]: a drop-in `ipvsadm` 1.31 (also `ipvsadm-save`, `ipvsadm-restore`).
//! - [`lvsctl`]: `lvsctl apply`, a rules file applied as the minimal change (no flush).
//!
//! None of this is the library's API: embedders depend on `ipvs` alone.
//! [`lvsctl_surface`] describes `lvsctl`'s command line for its manual page.
#![warn(missing_docs)]

pub mod ipvsadm;
pub mod lvsctl;
pub mod lvsctl_surface;
