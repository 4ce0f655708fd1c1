//! The project's command-line tools, built on the `ipvs` library's public API only
//! (and, for `lvsctl`'s talk with `lvsd`, the director crate's control protocol).
//!
//! - [`ipvsadm`]: a drop-in `ipvsadm` 1.31 (also `ipvsadm-save`, `ipvsadm-restore`).
//! - [`lvsctl`]: `lvsctl apply`, a rules file applied as the minimal change (no flush);
//!   `lvsctl drain|enable|weight|maintenance|reload|status`, lvsd's control client.
//!
//! None of this is the library's API: embedders depend on `ipvs` alone.
//! [`lvsctl_surface`] describes `lvsctl`'s command line for its manual page.
#![warn(missing_docs)]

pub mod ipvsadm;
pub mod lvsctl;
pub mod lvsctl_surface;
