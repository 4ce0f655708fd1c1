//! The binaries' own entry (`ipvs_tools::ipvsadm::entry`): what a process of the C
//! tool relies on at start-up, checked on the real executables (host, no
//! kernel needed: `-h` and `-v` never open it).

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};

fn ipvsadm() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ipvsadm"))
}

/// Writing to a pipe nobody reads ends the process by SIGPIPE, as it ends
/// the C tool (the disposition is inherited, here the default).
#[test]
fn a_broken_pipe_ends_the_process_quietly() {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both are ours; the read end is closed at once, and the
    // write end is handed to the child (and closed here by Stdio).
    unsafe { libc::close(fds[0]) };
    let write_end =
        unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fds[1]) };
    let out = ipvsadm()
        .arg("-h")
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::piped())
        .output()
        .expect("run ipvsadm");
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

/// Arguments reach the command line as given (program name first), bytes
/// that are not UTF-8 replaced rather than refused.
#[test]
fn arguments_come_from_argv() {
    use std::os::unix::ffi::OsStrExt;
    let out = ipvsadm()
        .arg0("/sbin/ipvsadm")
        .arg(std::ffi::OsStr::from_bytes(b"-L\xff"))
        .output()
        .expect("run ipvsadm");
    assert_eq!(out.status.code(), Some(255));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\u{fffd}"));
    let out = ipvsadm()
        .arg0("/sbin/ipvsadm")
        .arg("--nosuch")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Try `/sbin/ipvsadm -h' or '/sbin/ipvsadm --help' for more information.\n"
    );
}
