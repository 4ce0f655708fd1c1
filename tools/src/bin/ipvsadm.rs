//! `ipvsadm`: a drop-in replacement for ipvsadm 1.31 (see `ipvs_tools::ipvsadm`).
//!
//! C's `main` is defined here, so that the Rust runtime's start-up is
//! skipped (see `ipvs_tools::ipvsadm::entry` for what that saves and what is kept).
#![no_main]

use std::ffi::{c_char, c_int};

/// The process's entry, called by the C runtime.
#[no_mangle]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    // SAFETY: argc and argv are what the C runtime passes to `main`.
    unsafe { ipvs_tools::ipvsadm::entry::start(argc, argv, ipvs_tools::ipvsadm::main) }
}
