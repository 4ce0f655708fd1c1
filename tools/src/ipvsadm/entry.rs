//! The programs' entry point.
//!
//! `ipvsadm`, `ipvsadm-save` and `ipvsadm-restore` define C's `main`
//! themselves (`#![no_main]`) and hand over to [`start`]. The Rust
//! runtime's own start-up is then skipped: it finds the main thread's stack
//! bounds (glibc reads `/proc/self/maps` for that), installs an alternate
//! signal stack for stack-overflow reports and ignores SIGPIPE. None of it
//! is needed here, and it is measurable for a tool that scripts start once
//! per rule: about 5 ms of each start in the lab's emulated guest. What
//! the C tool relies on is kept: signal dispositions are inherited (a
//! broken pipe ends the process quietly unless the caller ignores
//! SIGPIPE), and closed standard descriptors are reopened on `/dev/null`
//! as the Rust runtime would, so that a netlink socket never takes their
//! place.

use std::ffi::{c_char, c_int, CStr};

/// Runs `program` with the process's arguments and exits with the status
/// it returns (101 if it panicked, as a Rust `main` would; the message is
/// printed by the panic hook). Standard output is flushed on the way out.
///
/// # Safety
///
/// `argv` must point to `argc` pointers to NUL-terminated strings: what
/// the C runtime passes to `main`.
pub unsafe fn start(
    argc: c_int,
    argv: *const *const c_char,
    program: fn(Vec<Vec<u8>>) -> i32,
) -> ! {
    reopen_closed_standard_descriptors();
    let count = usize::try_from(argc).unwrap_or(0);
    // The arguments as bytes, whatever their encoding, as C sees them.
    let args: Vec<Vec<u8>> = (0..count)
        .map(|i| {
            // SAFETY: the caller passes C's argv, `argc` valid C strings.
            unsafe { CStr::from_ptr(*argv.add(i)) }.to_bytes().to_vec()
        })
        .collect();
    let status = std::panic::catch_unwind(|| program(args)).unwrap_or(101);
    std::process::exit(status)
}

/// Opens `/dev/null` on whichever of descriptors 0, 1 and 2 is closed, as
/// the Rust runtime does at start-up (one `poll` when all are open).
fn reopen_closed_standard_descriptors() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    let closed: [bool; 3] = loop {
        // SAFETY: `fds` is a valid array of three pollfd; no waiting.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) };
        if r != -1 {
            break fds.map(|p| p.revents & libc::POLLNVAL != 0);
        }
        if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        // poll refused (resource limits): ask about each descriptor.
        // SAFETY: F_GETFD only reads the descriptor's flags.
        break [0, 1, 2].map(|fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1);
    };
    for _ in closed.iter().filter(|&&c| c) {
        // Descriptors are allocated lowest first, so each open fills the
        // lowest closed one. If it fails, carry on as the C tool would.
        // SAFETY: a constant NUL-terminated path.
        unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
    }
}
