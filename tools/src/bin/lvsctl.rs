//! `lvsctl`: apply a rules file to the kernel's IPVS table without a flush, and talk to lvsd
//! (see `ipvs_tools::lvsctl`).
#![no_main]

use std::ffi::{c_char, c_int};

/// The process's entry, called by the C runtime.
#[no_mangle]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    // SAFETY: argc and argv are what the C runtime passes to `main`.
    unsafe { ipvs_tools::ipvsadm::entry::start(argc, argv, ipvs_tools::lvsctl::main) }
}
