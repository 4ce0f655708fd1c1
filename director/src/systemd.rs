//! systemd integration without libsystemd: the `sd_notify(3)` protocol
//! ([`Notifier`]: `READY=1`, `RELOADING=1`, `STOPPING=1`, `STATUS=`,
//! `WATCHDOG=1`), the watchdog's settings ([`Watchdog`]) and its liveness
//! rule ([`Heartbeat`]), and journald's priority prefixes ([`Priority`],
//! [`journal_stderr`]).
//!
//! The notification protocol is one datagram per message on the
//! `AF_UNIX` socket named by `$NOTIFY_SOCKET` (a path, or an abstract
//! name written `@name`); messages are `KEY=VALUE` lines. Written on std's
//! `UnixDatagram` rather than with a crate: it is a few lines, it needs
//! abstract addresses and `MONOTONIC_USEC=` (the `RELOADING=1` companion
//! that `Type=notify-reload` in systemd 253 and later expects), and it adds
//! no dependency to a daemon running with CAP_NET_ADMIN.
//!
//! Nothing here prints or exits; a failed notification is returned as an
//! error for the caller to report (a daemon not started by systemd has no
//! `$NOTIFY_SOCKET` and gets no [`Notifier`] at all).

use std::ffi::OsString;
use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::director::Note;
use crate::notify::ScriptOutcome;

/// Where `sd_notify` messages go: the socket named by `$NOTIFY_SOCKET`.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    addr: SocketAddr,
}

impl Notifier {
    /// A notifier for the socket named `name` (`$NOTIFY_SOCKET`'s value):
    /// a path, or an abstract name when it starts with `@`. An empty name,
    /// or one that is neither (systemd also allows `vsock:`), is an error.
    pub fn new(name: &std::ffi::OsStr) -> io::Result<Notifier> {
        use std::os::unix::ffi::OsStrExt;
        let bytes = name.as_bytes();
        let addr = match bytes.first() {
            Some(b'/') => SocketAddr::from_pathname(name)?,
            Some(b'@') => {
                use std::os::linux::net::SocketAddrExt;
                SocketAddr::from_abstract_name(&bytes[1..])?
            }
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "NOTIFY_SOCKET={}: neither a path nor an abstract (@) socket",
                        name.to_string_lossy()
                    ),
                ))
            }
        };
        let socket = UnixDatagram::unbound()?;
        Ok(Notifier { socket, addr })
    }

    /// Sends one message (`KEY=VALUE` lines) in one datagram.
    pub fn send(&self, message: &str) -> io::Result<()> {
        self.socket
            .send_to_addr(message.as_bytes(), &self.addr)
            .map(|_| ())
    }

    /// `READY=1` with a status line.
    pub fn ready(&self, status: &str) -> io::Result<()> {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)))
    }

    /// `RELOADING=1` with `MONOTONIC_USEC=` now, and a status line.
    pub fn reloading(&self, status: &str) -> io::Result<()> {
        self.send(&format!(
            "RELOADING=1\nMONOTONIC_USEC={}\nSTATUS={}",
            monotonic_usec(),
            one_line(status)
        ))
    }

    /// `STOPPING=1` with a status line.
    pub fn stopping(&self, status: &str) -> io::Result<()> {
        self.send(&format!("STOPPING=1\nSTATUS={}", one_line(status)))
    }

    /// A status line alone (`STATUS=`).
    pub fn status(&self, status: &str) -> io::Result<()> {
        self.send(&format!("STATUS={}", one_line(status)))
    }

    /// `WATCHDOG=1`.
    pub fn watchdog(&self) -> io::Result<()> {
        self.send("WATCHDOG=1")
    }
}

/// A status value is one line: newlines become spaces.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// `CLOCK_MONOTONIC` in microseconds, as `MONOTONIC_USEC=` wants it.
pub fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own; CLOCK_MONOTONIC
    // always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000 + (ts.tv_nsec as u64) / 1_000
}

/// The watchdog systemd asks for (`WatchdogSec=`), from `$WATCHDOG_USEC`
/// and `$WATCHDOG_PID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watchdog {
    /// systemd's timeout (`WATCHDOG_USEC`).
    pub timeout: Duration,
}

impl Watchdog {
    /// The watchdog for process `pid` given the two variables' values:
    /// none when `usec` is missing, not a positive number, or when `pid`
    /// is set and names another process (as `sd_watchdog_enabled(3)`).
    pub fn from_values(usec: Option<&str>, watchdog_pid: Option<&str>, pid: u32) -> Option<Self> {
        let usec: u64 = usec?.trim().parse().ok().filter(|&u| u > 0)?;
        if let Some(p) = watchdog_pid {
            if p.trim().parse::<u32>().ok()? != pid {
                return None;
            }
        }
        Some(Watchdog {
            timeout: Duration::from_micros(usec),
        })
    }

    /// How often to look at the daemon's loop: a quarter of the timeout, so
    /// that a live loop is reported at least every half timeout (see
    /// [`Heartbeat`]).
    pub fn tick(&self) -> Duration {
        (self.timeout / 4).max(Duration::from_millis(1))
    }
}

/// The daemon's settings from systemd's environment, taken out of it so
/// that the scripts lvsd runs do not inherit them.
#[derive(Debug, Default)]
pub struct Environment {
    /// `$NOTIFY_SOCKET`.
    pub notify_socket: Option<OsString>,
    /// `$WATCHDOG_USEC` and `$WATCHDOG_PID`, read for this process.
    pub watchdog: Option<Watchdog>,
}

impl Environment {
    /// Reads and removes `NOTIFY_SOCKET`, `WATCHDOG_USEC` and
    /// `WATCHDOG_PID` from the process environment. Call it before any
    /// thread is started (it changes the environment).
    pub fn take() -> Environment {
        let notify_socket = std::env::var_os("NOTIFY_SOCKET").filter(|s| !s.is_empty());
        let usec = std::env::var("WATCHDOG_USEC").ok();
        let wpid = std::env::var("WATCHDOG_PID").ok();
        for v in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            std::env::remove_var(v);
        }
        Environment {
            notify_socket,
            watchdog: Watchdog::from_values(usec.as_deref(), wpid.as_deref(), std::process::id()),
        }
    }
}

/// The daemon loop's sign of life: a counter the loop advances at every
/// turn ([`crate::director::Options::heartbeat`]). The watchdog pings systemd only when it advanced since
/// the previous look; when it did not, it asks the loop for a reconcile
/// (a probe) and looks again a tick later. A hung loop answers no probe,
/// gets no ping, and systemd restarts it.
#[derive(Debug, Clone, Default)]
pub struct Heartbeat(Arc<AtomicU64>);

impl Heartbeat {
    /// A new counter at 0.
    pub fn new() -> Heartbeat {
        Heartbeat::default()
    }

    /// The loop is alive: advance.
    pub fn beat(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// The counter's value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What the watchdog does at a tick ([`WatchdogState::tick`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchdogAction {
    /// The loop advanced since the last tick: send `WATCHDOG=1`.
    Ping,
    /// It did not: ask the loop for a reconcile and look again next tick.
    Probe,
    /// It did not answer the probe either: send nothing (systemd will
    /// restart the service when the timeout passes); probe again.
    Silent,
}

/// The watchdog's memory between ticks.
#[derive(Debug, Clone)]
pub struct WatchdogState {
    seen: u64,
    probing: bool,
}

impl WatchdogState {
    /// Starts from the heartbeat's current value.
    pub fn new(heartbeat: &Heartbeat) -> WatchdogState {
        WatchdogState {
            seen: heartbeat.get(),
            probing: false,
        }
    }

    /// Decides the tick: [`WatchdogAction::Ping`] when the heartbeat
    /// advanced, else a probe (or silence after an unanswered probe).
    pub fn tick(&mut self, heartbeat: &Heartbeat) -> WatchdogAction {
        let now = heartbeat.get();
        if now != self.seen {
            self.seen = now;
            self.probing = false;
            WatchdogAction::Ping
        } else if self.probing {
            WatchdogAction::Silent
        } else {
            self.probing = true;
            WatchdogAction::Probe
        }
    }
}

/// A log line's priority, as `sd-daemon(3)`'s `<N>` prefixes number them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// `<3>`: errors (a refused configuration or reload, a kernel error, a
    /// script that cannot run).
    Error = 3,
    /// `<4>`: warnings (configuration warnings, a script skipped).
    Warning = 4,
    /// `<5>`: state changes (start, stop, health transitions, drains,
    /// reloads, flushes).
    Notice = 5,
    /// `<6>`: information (kernel changes written, scripts started).
    Info = 6,
}

impl Priority {
    /// The `<N>` prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            Priority::Error => "<3>",
            Priority::Warning => "<4>",
            Priority::Notice => "<5>",
            Priority::Info => "<6>",
        }
    }
}

/// A note's priority. Notes not named here (kinds other parts of the
/// daemon add) are information.
pub fn note_priority(note: &Note) -> Priority {
    match note {
        Note::ReloadFailed(_) | Note::KernelError(_) | Note::ChangeFailed { .. } => Priority::Error,
        Note::Script {
            outcome: ScriptOutcome::Failed(_),
            ..
        } => Priority::Error,
        Note::Warning(_)
        | Note::Script {
            outcome: ScriptOutcome::Skipped,
            ..
        } => Priority::Warning,
        Note::Applied { failed, .. } if *failed > 0 => Priority::Warning,
        Note::Started { .. }
        | Note::Stopped
        | Note::Health(_)
        | Note::DrainStart { .. }
        | Note::DrainEnd { .. }
        | Note::UdpRemoved { .. }
        | Note::Reloaded { .. }
        | Note::Flushed => Priority::Notice,
        _ => Priority::Info,
    }
}

/// Whether `JOURNAL_STREAM` (`DEVICE:INODE`, set by systemd when it
/// connects standard output or error to the journal) names the file
/// `fd` is open on: then lines written to `fd` should carry a `<N>`
/// priority prefix.
pub fn journal_stream_is(journal_stream: Option<&str>, fd: std::os::fd::RawFd) -> bool {
    let Some((dev, ino)) = journal_stream.and_then(|s| s.trim().split_once(':')) else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    // SAFETY: fstat writes the stat buffer we own; a bad fd is an error.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return false;
    }
    st.st_dev as u64 == dev && st.st_ino as u64 == ino
}

/// Whether standard error is connected to the journal (see
/// [`journal_stream_is`]).
pub fn journal_stderr() -> bool {
    journal_stream_is(std::env::var("JOURNAL_STREAM").ok().as_deref(), 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_values() {
        assert_eq!(
            Watchdog::from_values(Some("2000000"), None, 7),
            Some(Watchdog {
                timeout: Duration::from_secs(2)
            })
        );
        assert_eq!(
            Watchdog::from_values(Some("2000000"), Some("7"), 7).map(|w| w.tick()),
            Some(Duration::from_millis(500))
        );
        assert_eq!(Watchdog::from_values(Some("2000000"), Some("8"), 7), None);
        assert_eq!(Watchdog::from_values(Some("0"), None, 7), None);
        assert_eq!(Watchdog::from_values(Some("x"), None, 7), None);
        assert_eq!(Watchdog::from_values(None, Some("7"), 7), None);
    }

    #[test]
    fn a_loop_that_stops_beating_gets_no_ping() {
        let hb = Heartbeat::new();
        let mut w = WatchdogState::new(&hb);
        // Idle loop answering probes: a ping at least every second tick.
        assert_eq!(w.tick(&hb), WatchdogAction::Probe);
        hb.beat();
        assert_eq!(w.tick(&hb), WatchdogAction::Ping);
        hb.beat();
        assert_eq!(w.tick(&hb), WatchdogAction::Ping);
        // Hung: a probe, then silence for as long as it stays hung.
        assert_eq!(w.tick(&hb), WatchdogAction::Probe);
        for _ in 0..5 {
            assert_eq!(w.tick(&hb), WatchdogAction::Silent);
        }
        hb.beat();
        assert_eq!(w.tick(&hb), WatchdogAction::Ping);
    }

    #[test]
    fn journal_stream_matches_only_the_same_file() {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt;
        let f = std::fs::File::open("/").unwrap();
        let m = f.metadata().unwrap();
        let js = format!("{}:{}", m.dev(), m.ino());
        assert!(journal_stream_is(Some(&js), f.as_raw_fd()));
        let other = format!("{}:{}", m.dev(), m.ino() + 1);
        assert!(!journal_stream_is(Some(&other), f.as_raw_fd()));
        assert!(!journal_stream_is(Some("junk"), f.as_raw_fd()));
        assert!(!journal_stream_is(None, f.as_raw_fd()));
    }

    #[test]
    fn abstract_and_path_sockets() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("lvsd-test-{}", std::process::id());
        let server =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        let n = Notifier::new(format!("@{name}").as_ref()).unwrap();
        n.ready("up").unwrap();
        let mut buf = [0u8; 256];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=up");
        assert!(Notifier::new("".as_ref()).is_err());
        assert!(Notifier::new("vsock:2:3".as_ref()).is_err());
    }
}
