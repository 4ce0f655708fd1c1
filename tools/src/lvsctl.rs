//! `lvsctl`: operate an LVS table without breaking traffic.
//!
//! `lvsctl apply [--dry-run] [--json] FILE|-` reads a rules file in the
//! `ipvsadm -S` format (`-A` and `-a` lines) and changes the kernel's table
//! only where it differs, with the library's [`plan`]: no flush, so
//! established connections and new ones go on while it runs (where
//! `ipvsadm-restore` after `ipvsadm -C` leaves a moment with no service, in
//! which the kernel resets every connection to the virtual addresses).
//!
//! - Errors in the file are reported with their line numbers, and then
//!   nothing is changed (exit 1).
//! - `--dry-run` prints the plan and changes nothing: one change a line in
//!   ipvsadm's own syntax (`-E …`, `-e … -w 3`, `-d …`), so that `ipvsadm -R`
//!   of that output makes the same change; nothing when the table matches.
//!   `--json` prints the plan as JSON instead.
//! - A table that already matches gets no write at all; otherwise every
//!   change is sent (pipelined), each failure is reported, and the exit
//!   status is 0 only when every change was applied.
//!
//! `lvsctl drain|enable|weight|maintenance|reload|status` talk to a running
//! `lvsd` over its control socket (`--socket PATH`, default
//! [`DEFAULT_SOCKET`]; protocol in `ipvs_director::control`). The protocol
//! and the daemon's `Status` come from the `ipvs-director` crate itself, so
//! client and daemon cannot disagree on them. `lvsctl status` joins the
//! daemon's view with a fresh kernel dump; without a daemon it shows the
//! kernel's table alone.

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ipvs::plan::{plan, Plan, Table};
use ipvs::{
    BatchMode, Change, DestinationStatus, Direction, Ipvs, IpvsCmd, OpenOptions, ServiceStatus,
};

use ipvs_director::admin::Override;
pub use ipvs_director::control::DEFAULT_SOCKET;
use ipvs_director::control::{self, Reply, Request as DaemonRequest};
use ipvs_director::status::{RealServerState, Status};

use crate::ipvsadm::format;
use crate::ipvsadm::request::{quick_change, Format, Parser, Request};
use crate::ipvsadm::sys::SystemResolver;

/// `lvsctl`'s usage text.
pub const USAGE: &str = "\
Usage:
  lvsctl apply [--dry-run] [--json] FILE|-
      Make the kernel's IPVS table match FILE (rules as ipvsadm -S writes
      them; - for standard input), changing only what differs.
      --dry-run  print the changes in ipvsadm syntax, change nothing
      --json     with --dry-run: print the plan as JSON
      -v         say on standard error how many changes the plan has and how
                 many write requests went to the kernel
  lvsctl [--socket PATH] status [--json]
      With a running lvsd: the live table with the health of every real
      server (alive, failed: CHECK: reason, inhibited, draining N conns left,
      drained, maintenance, sorry server in), weights and connections (the
      daemon's view joined with a fresh kernel dump). Without one (says 'no
      daemon' on standard error): the kernel's table. --json: the same as
      JSON (schema 1, documented in director/README.md).
  lvsctl [--socket PATH] drain SERVICE REALSERVER
      Weight 0 for a real server (established connections go on, no new
      ones) until `lvsctl enable`; kept across reloads.
  lvsctl [--socket PATH] enable SERVICE REALSERVER
      Undo drain, maintenance or a weight override.
  lvsctl [--socket PATH] weight SERVICE REALSERVER N
      Weight N (0-65535) in place of the configured one until enabled.
  lvsctl [--socket PATH] maintenance SERVICE REALSERVER on|off
      Take a real server out of the table (on) or put it back (off).
  lvsctl [--socket PATH] reload
      Reload lvsd's configuration (as SIGHUP); says whether it was taken.
      SERVICE: tcp:ADDR:PORT, udp:ADDR:PORT, sctp:ADDR:PORT, fwm:N, fwm6:N;
      REALSERVER: ADDR:PORT ([ADDR]:PORT for IPv6). The socket is
      /run/lvsd/control.sock unless --socket says otherwise (lvsd --control).
      Exit status: 0 done, 1 refused by the daemon or no daemon, 2 usage.
  lvsctl -h|--help
";

/// A line of a rules file that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Reads a rules file (the `ipvsadm -S` format: `-A` and `-a` lines; blank
/// lines and `#` comments are skipped) into the table it describes. Every
/// faulty line is reported.
pub fn parse_rules(text: &[u8], parser: &Parser<'_>) -> Result<Table, Vec<LineError>> {
    let mut table = Table::new();
    let mut errors = Vec::new();
    for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let trimmed = raw.trim_ascii();
        if trimmed.is_empty() || trimmed.starts_with(b"#") {
            continue;
        }
        let change = match quick_change(trimmed) {
            Some(c) => Ok(c),
            None => parse_general(trimmed, parser),
        };
        let result = change.and_then(|c| match c {
            Change::AddService(s) => table.add_service(s).map_err(|e| e.to_string()),
            Change::AddDestination(k, d) => table.add_destination(&k, d).map_err(|e| e.to_string()),
            _ => Err("only -A and -a rules can be applied (the ipvsadm -S format)".into()),
        });
        if let Err(message) = result {
            errors.push(LineError { line, message });
        }
    }
    if errors.is_empty() {
        Ok(table)
    } else {
        Err(errors)
    }
}

/// A line through ipvsadm's general parser.
fn parse_general(line: &[u8], parser: &Parser<'_>) -> Result<Change, String> {
    let mut argv: Vec<&[u8]> = vec![b"ipvsadm"];
    argv.extend(
        line.split(u8::is_ascii_whitespace)
            .filter(|w| !w.is_empty()),
    );
    match parser.parse(&argv) {
        Ok(Request::AddService(s)) => Ok(Change::AddService(s)),
        Ok(Request::AddServer(k, d)) => Ok(Change::AddDestination(k, d)),
        Ok(_) => Err("only -A and -a rules can be applied (the ipvsadm -S format)".into()),
        Err(e) => Err(String::from_utf8_lossy(&e.message).into_owned()),
    }
}

/// One change in ipvsadm's syntax (`-A`, `-E`, `-D`, `-a`, `-e`, `-d`), with
/// its newline, numeric; `ipvsadm -R` of the line makes the change.
pub fn ipvsadm_line(change: &Change) -> Vec<u8> {
    let f = Format {
        rule: true,
        numeric: true,
        ..Format::default()
    };
    let resolver = SystemResolver;
    let replace_command = |mut line: Vec<u8>, command: &[u8]| {
        line[..2].copy_from_slice(command);
        line
    };
    match change {
        Change::AddService(s) | Change::EditService(s) => {
            let name = format::service_name(s, &f, &resolver);
            let line = format::service_line(&ServiceStatus::new(s.clone()), &name, &f);
            match change {
                Change::EditService(_) => replace_command(line, b"-E"),
                _ => line,
            }
        }
        Change::DeleteService(k) => {
            let name = format::service_name(&ipvs::Service::new(*k), &f, &resolver);
            let mut line = b"-D ".to_vec();
            line.extend_from_slice(&name);
            line.push(b'\n');
            line
        }
        Change::AddDestination(k, d) | Change::EditDestination(k, d) => {
            let name = format::service_name(&ipvs::Service::new(*k), &f, &resolver);
            let proto = match k {
                ipvs::ServiceKey::Addr { protocol, .. } => u16::from(*protocol),
                ipvs::ServiceKey::Fwmark { .. } => 0,
            };
            let status = DestinationStatus::new(d.clone());
            let mut line = format::destination_line(&status, &name, proto, &f, &resolver);
            // `ipvsadm -S` leaves the thresholds out (1.31 does); a change
            // must carry them.
            if d.upper_threshold != 0 || d.lower_threshold != 0 {
                line.pop();
                let x = format!(" -x {} -y {}\n", d.upper_threshold, d.lower_threshold);
                line.extend_from_slice(x.as_bytes());
            }
            match change {
                Change::EditDestination(..) => replace_command(line, b"-e"),
                _ => line,
            }
        }
        Change::DeleteDestination(k, d) => {
            let name = format::service_name(&ipvs::Service::new(*k), &f, &resolver);
            let mut line = b"-d ".to_vec();
            line.extend_from_slice(&name);
            line.extend_from_slice(b" -r ");
            line.extend_from_slice(&format::addrport(d.addr, d.port, 0, true, &resolver));
            line.push(b'\n');
            line
        }
        other => format!("# {other}\n").into_bytes(),
    }
}

/// The plan in ipvsadm's syntax, one change a line.
pub fn plan_as_ipvsadm(p: &Plan) -> Vec<u8> {
    p.changes().iter().flat_map(ipvsadm_line).collect()
}

/// What the command line asks for.
enum Command {
    Apply(Options),
    Status { json: bool },
    Daemon(DaemonRequest),
}

struct Options {
    dry_run: bool,
    json: bool,
    verbose: bool,
    /// The rules file as given (bytes: any file name works); `-` is stdin.
    file: PathBuf,
}

/// `SERVICE REALSERVER` of a control command.
fn target(
    it: &mut dyn Iterator<Item = &[u8]>,
) -> Result<(ipvs::ServiceKey, std::net::SocketAddr), String> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let service = it
        .next()
        .ok_or("a SERVICE is needed (tcp:ADDR:PORT, fwm:N, ...)")?;
    let service: ipvs::ServiceKey = text(service)
        .parse()
        .map_err(|e| format!("bad SERVICE {:?}: {e}", text(service)))?;
    let rs = it
        .next()
        .ok_or("a REALSERVER is needed (ADDR:PORT, [ADDR]:PORT for IPv6)")?;
    let rs: std::net::SocketAddr = text(rs).parse().map_err(|_| {
        format!(
            "bad REALSERVER {:?}: ADDR:PORT, [ADDR]:PORT for IPv6",
            text(rs)
        )
    })?;
    Ok((service, rs))
}

/// The arguments left over after a command.
fn no_more(it: &mut dyn Iterator<Item = &[u8]>) -> Result<(), String> {
    match it.next() {
        None => Ok(()),
        Some(a) => Err(format!(
            "unexpected argument {:?}",
            String::from_utf8_lossy(a)
        )),
    }
}

fn parse_daemon_command(
    cmd: &[u8],
    it: &mut dyn Iterator<Item = &[u8]>,
) -> Result<Option<DaemonRequest>, String> {
    let r = match cmd {
        b"reload" => DaemonRequest::Reload,
        b"drain" => {
            let (service, real_server) = target(it)?;
            DaemonRequest::Drain {
                service,
                real_server,
            }
        }
        b"enable" => {
            let (service, real_server) = target(it)?;
            DaemonRequest::Enable {
                service,
                real_server,
            }
        }
        b"weight" => {
            let (service, real_server) = target(it)?;
            let w = it.next().ok_or("a weight is needed (0-65535)")?;
            let w = String::from_utf8_lossy(w);
            let weight: i64 = w
                .parse()
                .ok()
                .filter(|n| (0..=i64::from(ipvs_director::admin::MAX_WEIGHT)).contains(n))
                .ok_or_else(|| format!("bad weight {w:?}: a weight is 0 to 65535"))?;
            DaemonRequest::Weight {
                service,
                real_server,
                weight,
            }
        }
        b"maintenance" => {
            let (service, real_server) = target(it)?;
            let on = match it.next() {
                Some(b"on") => true,
                Some(b"off") => false,
                Some(other) => {
                    return Err(format!(
                        "maintenance takes on or off, not {:?}",
                        String::from_utf8_lossy(other)
                    ))
                }
                None => return Err("maintenance needs on or off".into()),
            };
            DaemonRequest::Maintenance {
                service,
                real_server,
                on,
            }
        }
        _ => return Ok(None),
    };
    no_more(it)?;
    Ok(Some(r))
}

fn parse_args(args: &[Vec<u8>]) -> Result<(PathBuf, Option<Command>), String> {
    let mut socket = PathBuf::from(DEFAULT_SOCKET);
    let mut rest = &args[1.min(args.len())..];
    while let Some(first) = rest.first() {
        match first.as_slice() {
            b"-s" | b"--socket" => {
                let p = rest.get(1).ok_or("--socket needs a path")?;
                socket = PathBuf::from(OsStr::from_bytes(p));
                rest = &rest[2..];
            }
            a if a.starts_with(b"--socket=") => {
                socket = PathBuf::from(OsStr::from_bytes(&a[b"--socket=".len()..]));
                rest = &rest[1..];
            }
            _ => break,
        }
    }
    let mut it = rest.iter().map(Vec::as_slice);
    let c = parse_command(&mut it)?;
    Ok((socket, c))
}

fn parse_command<'a>(
    it: &mut (dyn Iterator<Item = &'a [u8]> + 'a),
) -> Result<Option<Command>, String> {
    let cmd = it.next();
    if let Some(c) = cmd {
        if let Some(r) = parse_daemon_command(c, it)? {
            return Ok(Some(Command::Daemon(r)));
        }
    }
    match cmd {
        Some(b"-h" | b"--help") => return Ok(None),
        Some(b"apply") => {}
        Some(b"status") => {
            let mut json = false;
            for a in it {
                match a {
                    b"--json" => json = true,
                    b"-h" | b"--help" => return Ok(None),
                    other => {
                        return Err(format!(
                            "unexpected argument {:?}",
                            String::from_utf8_lossy(other)
                        ))
                    }
                }
            }
            return Ok(Some(Command::Status { json }));
        }
        Some(other) => {
            return Err(format!(
                "unknown command {:?}",
                String::from_utf8_lossy(other)
            ))
        }
        None => return Err("a command is needed".into()),
    }
    let mut o = Options {
        dry_run: false,
        json: false,
        verbose: false,
        file: PathBuf::new(),
    };
    let mut file = None;
    for a in it {
        match a {
            b"--dry-run" | b"-n" => o.dry_run = true,
            b"--json" => o.json = true,
            b"-v" | b"--verbose" => o.verbose = true,
            b"-h" | b"--help" => return Ok(None),
            f if file.is_none() && (f == b"-" || !f.starts_with(b"-")) => {
                file = Some(PathBuf::from(OsStr::from_bytes(f)))
            }
            other => {
                return Err(format!(
                    "unexpected argument {:?}",
                    String::from_utf8_lossy(other)
                ))
            }
        }
    }
    if o.json && !o.dry_run {
        return Err("--json goes with --dry-run".into());
    }
    o.file = file.ok_or("apply needs a rules file (or - for standard input)")?;
    Ok(Some(Command::Apply(o)))
}

/// `lvsctl`'s entry: runs `args` (with the program name first) and returns
/// the exit status (0 done, 1 failed, 2 usage error).
pub fn main(args: Vec<Vec<u8>>) -> i32 {
    let stdout = io::stdout();
    let stderr = io::stderr();
    run(&args, &mut stdout.lock(), &mut stderr.lock(), &mut || {
        Ipvs::open_with(
            &OpenOptions::default()
                .with_batch_acks(ipvs::BatchAcks::ErrorsOnly)
                .with_batch_window(256),
        )
    })
}

/// [`main`] with its outputs and the kernel handle given (for tests).
pub fn run(
    args: &[Vec<u8>],
    out: &mut dyn Write,
    err: &mut dyn Write,
    open: &mut dyn FnMut() -> Result<Ipvs, ipvs::Error>,
) -> i32 {
    let (socket, command) = match parse_args(args) {
        Ok(x) => x,
        Err(e) => {
            let _ = writeln!(err, "lvsctl: {e}\n{USAGE}");
            return 2;
        }
    };
    let o = match command {
        Some(Command::Apply(o)) => o,
        Some(Command::Status { json }) => return status(&socket, json, out, err, open),
        Some(Command::Daemon(r)) => return daemon_command(&socket, &r, out, err),
        None => {
            let _ = out.write_all(USAGE.as_bytes());
            return 0;
        }
    };
    let mut text = Vec::new();
    let read = if o.file.as_os_str() == "-" {
        io::stdin().lock().read_to_end(&mut text)
    } else {
        std::fs::File::open(&o.file).and_then(|mut f| f.read_to_end(&mut text))
    };
    if let Err(e) = read {
        let _ = writeln!(err, "lvsctl: {}: {e}", o.file.display());
        return 1;
    }
    let desired = match parse_rules(&text, &Parser::default()) {
        Ok(t) => t,
        Err(errors) => {
            for e in &errors {
                let _ = writeln!(err, "lvsctl: {}: {e}", o.file.display());
            }
            let _ = writeln!(err, "lvsctl: nothing changed");
            return 1;
        }
    };
    let mut ipvs = match open() {
        Ok(i) => i,
        Err(e) => {
            let _ = writeln!(err, "lvsctl: {e}");
            return 1;
        }
    };
    let writes = Arc::new(AtomicU64::new(0));
    if o.verbose {
        let family = ipvs.family_id();
        let counter = Arc::clone(&writes);
        ipvs.set_tracer(Some(Box::new(move |direction, datagram| {
            if direction == Direction::Sent {
                counter.fetch_add(count_writes(datagram, family), Ordering::Relaxed);
            }
        })));
    }
    let report = |err: &mut dyn Write, changes: usize| {
        if o.verbose {
            let _ = writeln!(
                err,
                "lvsctl: {changes} changes, {} write requests sent",
                writes.load(Ordering::Relaxed)
            );
        }
    };
    let actual = match ipvs.snapshot() {
        Ok(s) => Table::from_snapshot(&s),
        Err(e) => {
            let _ = writeln!(err, "lvsctl: {e}");
            return 1;
        }
    };
    let p = plan(&desired, &actual);
    if o.dry_run {
        let bytes = if o.json {
            match serde_json::to_vec_pretty(&p) {
                Ok(mut v) => {
                    v.push(b'\n');
                    v
                }
                Err(e) => {
                    let _ = writeln!(err, "lvsctl: {e}");
                    return 1;
                }
            }
        } else {
            plan_as_ipvsadm(&p)
        };
        return match out.write_all(&bytes).and_then(|_| out.flush()) {
            Ok(()) => 0,
            Err(e) => {
                let _ = writeln!(err, "lvsctl: write error: {e}");
                1
            }
        };
    }
    if p.is_empty() {
        report(err, 0);
        return 0;
    }
    let results = match ipvs.apply(p.changes(), BatchMode::ContinueOnError) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "lvsctl: {e}");
            return 1;
        }
    };
    report(err, p.len());
    let mut status = 0;
    for (change, r) in p.changes().iter().zip(&results) {
        if let Err(e) = r {
            let _ = writeln!(err, "lvsctl: {change}: {e}");
            status = 1;
        }
    }
    if results.len() < p.len() {
        let _ = writeln!(
            err,
            "lvsctl: {} of {} changes were not attempted",
            p.len() - results.len(),
            p.len()
        );
        status = 1;
    }
    status
}

/// How many IPVS write requests (`NEW_*`, `SET_*`, `DEL_*`, `ZERO`, `FLUSH`)
/// one sent datagram holds: netlink messages of the IPVS family `family`
/// (16-byte `nlmsghdr`: length, type, ...), then the generic-netlink
/// header, whose first byte is the command.
pub fn count_writes(datagram: &[u8], family: u16) -> u64 {
    let mut n = 0;
    let mut at = 0;
    while datagram.len() >= at + 17 {
        let len = u32::from_ne_bytes([
            datagram[at],
            datagram[at + 1],
            datagram[at + 2],
            datagram[at + 3],
        ]) as usize;
        let kind = u16::from_ne_bytes([datagram[at + 4], datagram[at + 5]]);
        if len < 17 || at + len > datagram.len() {
            break;
        }
        if kind == family {
            let write = !matches!(
                IpvsCmd::from(datagram[at + 16]),
                IpvsCmd::GetService
                    | IpvsCmd::GetDest
                    | IpvsCmd::GetDaemon
                    | IpvsCmd::GetConfig
                    | IpvsCmd::GetInfo
            );
            n += u64::from(write);
        }
        // Messages are aligned to 4 bytes.
        at += (len + 3) & !3;
    }
    n
}

/// The version of `lvsctl status --json`'s document; it changes only when a
/// field changes meaning or goes away (fields may be added).
pub const STATUS_SCHEMA: u32 = 1;

/// How long lvsctl waits for the daemon (a reload validates every check).
const DAEMON_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// `lvsctl drain|enable|weight|maintenance|reload`: one request to the
/// daemon; its message on standard output when done (exit 0), on standard
/// error when refused (exit 1).
fn daemon_command(
    socket: &std::path::Path,
    request: &DaemonRequest,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    match control::request(socket, request, DAEMON_TIMEOUT) {
        Ok(Reply {
            ok: true, message, ..
        }) => {
            let _ = writeln!(out, "{message}");
            0
        }
        Ok(Reply { message, .. }) => {
            let _ = writeln!(err, "lvsctl: {message}");
            1
        }
        Err(e) => {
            let _ = writeln!(
                err,
                "lvsctl: cannot reach lvsd at {}: {e} (is it running? see --socket)",
                socket.display()
            );
            1
        }
    }
}

/// `lvsctl status`: the daemon's view joined with the kernel's table, or
/// the kernel's table alone when no daemon answers.
fn status(
    socket: &std::path::Path,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
    open: &mut dyn FnMut() -> Result<Ipvs, ipvs::Error>,
) -> i32 {
    let daemon = match control::request(socket, &DaemonRequest::Status, DAEMON_TIMEOUT) {
        Ok(Reply {
            ok: true,
            status: Some(s),
            ..
        }) => Some(s),
        Ok(r) => {
            let _ = writeln!(err, "lvsctl: no daemon status: {}", r.message);
            None
        }
        Err(e) => {
            let _ = writeln!(
                err,
                "lvsctl: no daemon ({}: {e}): showing the kernel's table",
                socket.display()
            );
            None
        }
    };
    let kernel = open().and_then(|mut ipvs| ipvs.snapshot());
    let bytes = match (daemon, kernel) {
        (None, Err(e)) => {
            let _ = writeln!(err, "lvsctl: {e}");
            return 1;
        }
        (None, Ok(entries)) => {
            if json {
                let mut v = status_json(&entries);
                v.push(b'\n');
                v
            } else {
                (status_table(&entries) + &order_lines(&order_checks(&entries))).into_bytes()
            }
        }
        (Some(daemon), kernel) => {
            let (entries, kernel_error) = match kernel {
                Ok(e) => (Some(e), None),
                Err(e) => {
                    let _ = writeln!(err, "lvsctl: kernel: {e}: weights and connections unknown");
                    (None, Some(e.to_string()))
                }
            };
            let rows = joined(&daemon, entries.as_deref());
            if json {
                let mut v = daemon_status_json(&daemon, entries.as_deref(), kernel_error, &rows);
                v.push(b'\n');
                v
            } else {
                (daemon_status_table(&rows)
                    + &order_lines(&order_checks(entries.as_deref().unwrap_or(&[]))))
                    .into_bytes()
            }
        }
    };
    match out.write_all(&bytes).and_then(|_| out.flush()) {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(err, "lvsctl: write error: {e}");
            1
        }
    }
}

/// One row of `lvsctl status` with a daemon: a real server of a service,
/// what the daemon does with it and what the kernel has.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Row {
    /// The service (`tcp:192.0.2.1:80`).
    pub service: String,
    /// The real server (`198.51.100.2:8080`).
    pub real_server: String,
    /// One word: `alive`, `failed`, `inhibited`, `displaced` (the sorry
    /// server is in), `draining` (drained, connections left), `drained`,
    /// `maintenance`, `sorry` (the sorry server itself), `removed` (left
    /// the configuration, being drained), `unmanaged` (a service the daemon
    /// does not configure).
    pub state: String,
    /// The state in words, as the table shows it (`failed: TCP_CHECK (line
    /// 12): connection refused`, `draining: 3 conns left`).
    pub text: String,
    /// The weight in the kernel (`None`: not in the kernel's table, or the
    /// kernel could not be read).
    pub weight: Option<i32>,
    /// Active connections in the kernel.
    pub active_conns: Option<u32>,
    /// Inactive connections in the kernel.
    pub inactive_conns: Option<u32>,
    /// The operator's override, if any.
    pub admin: Option<Override>,
}

fn addr_text(a: std::net::SocketAddr) -> String {
    a.to_string()
}

/// The daemon's view joined with the kernel's table (rows in the daemon's
/// configuration order; then real servers being removed; then services of
/// the kernel the daemon does not configure).
pub fn joined(status: &Status, kernel: Option<&[ipvs::ServiceEntry]>) -> Vec<Row> {
    let find = |key: &ipvs::ServiceKey, a: std::net::SocketAddr| {
        kernel?
            .iter()
            .find(|e| &e.service.config.key == key)?
            .destinations
            .iter()
            .find(|d| d.config.addr == a.ip() && d.config.port == a.port())
    };
    let with_port = |a: std::net::SocketAddr, key: &ipvs::ServiceKey| match key {
        ipvs::ServiceKey::Addr { port, .. } if a.port() == 0 => {
            std::net::SocketAddr::new(a.ip(), *port)
        }
        _ => a,
    };
    let counts = |d: Option<&ipvs::DestinationStatus>| {
        (
            d.map(|d| d.config.weight),
            d.map(|d| d.active_conns),
            d.map(|d| d.inactive_conns),
        )
    };
    let mut rows = Vec::new();
    for vs in &status.virtual_servers {
        for key in &vs.services {
            for rs in &vs.real_servers {
                let a = with_port(rs.addr, key);
                let d = find(key, a);
                let (weight, active, inactive) = counts(d);
                let admin = rs.admin.get(&key.to_string()).copied();
                let failing = rs
                    .checks
                    .iter()
                    .find(|c| !c.up)
                    .map(|c| {
                        format!(
                            "{}: {}",
                            c.checker,
                            c.reason.as_deref().unwrap_or("failing")
                        )
                    })
                    .unwrap_or_default();
                let conns = u64::from(active.unwrap_or(0)) + u64::from(inactive.unwrap_or(0));
                let (state, mut text) = match (rs.state, admin) {
                    (RealServerState::Failed, _) => ("failed", format!("failed: {failing}")),
                    (RealServerState::Inhibited, _) => {
                        ("inhibited", format!("inhibited: {failing}"))
                    }
                    (_, Some(Override::Maintenance)) => ("maintenance", "maintenance".into()),
                    (RealServerState::Displaced, _) => ("displaced", "sorry server in".into()),
                    (_, Some(Override::Drained)) if conns > 0 => {
                        ("draining", format!("draining: {conns} conns left"))
                    }
                    (_, Some(Override::Drained)) => ("drained", "drained".into()),
                    (_, Some(Override::Weight(w))) => {
                        ("alive", format!("alive (weight {w} set by lvsctl)"))
                    }
                    _ => ("alive", "alive".into()),
                };
                if let Some(o) = admin {
                    if matches!(state, "failed" | "inhibited" | "displaced") {
                        text.push_str(&format!(" (admin: {o})"));
                    }
                }
                rows.push(Row {
                    service: key.to_string(),
                    real_server: addr_text(a),
                    state: state.into(),
                    text,
                    weight,
                    active_conns: active,
                    inactive_conns: inactive,
                    admin,
                });
            }
            if let Some(sorry) = &vs.sorry_server {
                let a = with_port(sorry.addr, key);
                let d = find(key, a);
                if sorry.active || d.is_some() {
                    let (weight, active, inactive) = counts(d);
                    rows.push(Row {
                        service: key.to_string(),
                        real_server: addr_text(a),
                        state: "sorry".into(),
                        text: if sorry.active {
                            "sorry server in".into()
                        } else {
                            "sorry server (standing by)".into()
                        },
                        weight,
                        active_conns: active,
                        inactive_conns: inactive,
                        admin: None,
                    });
                }
            }
        }
    }
    for dr in &status.draining {
        let d = find(&dr.service, dr.addr);
        let (weight, active, inactive) = counts(d);
        let conns = u64::from(active.unwrap_or(0)) + u64::from(inactive.unwrap_or(0));
        rows.push(Row {
            service: dr.service.to_string(),
            real_server: addr_text(dr.addr),
            state: "removed".into(),
            text: format!(
                "removed: draining {conns} conns left (deleted in {} s at the latest)",
                dr.deadline_in.ceil()
            ),
            weight,
            active_conns: active,
            inactive_conns: inactive,
            admin: None,
        });
    }
    let ours: std::collections::HashSet<ipvs::ServiceKey> = status
        .virtual_servers
        .iter()
        .flat_map(|v| v.services.iter().copied())
        .chain(status.draining.iter().map(|d| d.service))
        .collect();
    for e in kernel.unwrap_or(&[]) {
        let key = e.service.config.key;
        if ours.contains(&key) {
            continue;
        }
        for d in &e.destinations {
            rows.push(Row {
                service: key.to_string(),
                real_server: addr_text(std::net::SocketAddr::new(d.config.addr, d.config.port)),
                state: "unmanaged".into(),
                text: "not in lvsd's configuration".into(),
                weight: Some(d.config.weight),
                active_conns: Some(d.active_conns),
                inactive_conns: Some(d.inactive_conns),
                admin: None,
            });
        }
    }
    rows
}

/// `lvsctl status` with a daemon, as a table: one row per real server.
pub fn daemon_status_table(rows: &[Row]) -> String {
    use comfy_table::{presets, Table};
    let mut t = Table::new();
    t.load_style(presets::ASCII_FULL_CONDENSED);
    t.set_header(vec![
        "Virtual service",
        "Real server",
        "State",
        "Weight",
        "ActiveConn",
        "InActConn",
    ]);
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let mut last = String::new();
    for r in rows {
        let service = if r.service == last {
            String::new()
        } else {
            r.service.clone()
        };
        last = r.service.clone();
        t.add_row(vec![
            service,
            r.real_server.clone(),
            r.text.clone(),
            opt(r.weight.map(|w| w.to_string())),
            opt(r.active_conns.map(|w| w.to_string())),
            opt(r.inactive_conns.map(|w| w.to_string())),
        ]);
    }
    format!("{t}\n")
}

/// `lvsctl status --json` with a daemon (schema [`STATUS_SCHEMA`]): the
/// kernel-only document's fields (`schema`, `source` = `"daemon"`,
/// `services`: the kernel's table, empty when it could not be read), plus
/// `kernel_error` (null or why the kernel could not be read), `daemon`
/// (the daemon's `Status`, its own `schema` inside) and `real_servers`
/// (the joined [`Row`]s the table shows).
pub fn daemon_status_json(
    daemon: &Status,
    kernel: Option<&[ipvs::ServiceEntry]>,
    kernel_error: Option<String>,
    rows: &[Row],
) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        schema: u32,
        source: &'static str,
        services: &'a [ipvs::ServiceEntry],
        kernel_error: Option<String>,
        daemon: &'a Status,
        real_servers: &'a [Row],
        order: Vec<OrderCheck>,
    }
    let doc = Doc {
        schema: STATUS_SCHEMA,
        source: "daemon",
        services: kernel.unwrap_or(&[]),
        kernel_error,
        daemon,
        real_servers: rows,
        order: order_checks(kernel.unwrap_or(&[])),
    };
    serde_json::to_vec_pretty(&doc).unwrap_or_default()
}

/// The real-server order of a service whose scheduler builds its lookup
/// table from it (`mh`, `sh`, `dh`; [`ipvs::plan::order_sensitive`]):
/// directors configured alike agree on every flow only when each holds its
/// real servers in the canonical order ([`ipvs::plan::is_canonical_order`];
/// `lvsd` and `lvsctl apply` add and rebuild them in that order).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderCheck {
    /// The service (`tcp:192.0.2.1:80`).
    pub service: String,
    /// Its scheduler.
    pub scheduler: String,
    /// Whether the kernel holds its real servers in the canonical order.
    pub canonical: bool,
}

/// [`OrderCheck`]s of the order-sensitive services of a kernel table, in
/// service order.
pub fn order_checks(entries: &[ipvs::ServiceEntry]) -> Vec<OrderCheck> {
    let table = ipvs::plan::Table::from_snapshot(entries);
    let mut v: Vec<OrderCheck> = table
        .services()
        .iter()
        .filter(|s| ipvs::plan::order_sensitive(&s.service.scheduler))
        .map(|s| OrderCheck {
            service: s.service.key.to_string(),
            scheduler: s.service.scheduler.clone(),
            canonical: ipvs::plan::is_canonical_order(s),
        })
        .collect();
    v.sort_by(|a, b| a.service.cmp(&b.service));
    v
}

/// The lines under the status table for [`order_checks`]: one per
/// order-sensitive service.
pub fn order_lines(checks: &[OrderCheck]) -> String {
    let mut out = String::new();
    for c in checks {
        if c.canonical {
            out.push_str(&format!(
                "{} ({}): real servers in canonical order\n",
                c.service, c.scheduler
            ));
        } else {
            out.push_str(&format!(
                "{} ({}): real servers NOT in canonical order: directors configured alike may send a flow to different real servers (lvsd or lvsctl apply rebuilds the order)\n",
                c.service, c.scheduler
            ));
        }
    }
    out
}

/// The table as `lvsctl status --json` prints it (schema
/// [`STATUS_SCHEMA`]): `{"schema", "source": "kernel", "services":
/// [{"service": {"config", "kernel_flags", "stats"}, "destinations":
/// [{"config", "active_conns", "inactive_conns", "persistent_conns",
/// "stats"}]}]}`, keys as `tcp:192.0.2.1:80`, in kernel order.
pub fn status_json(entries: &[ipvs::ServiceEntry]) -> Vec<u8> {
    /// The document, fields in this order (a struct keeps it; a JSON map
    /// would sort them).
    #[derive(serde::Serialize)]
    struct Status<'a> {
        schema: u32,
        source: &'static str,
        services: &'a [ipvs::ServiceEntry],
        order: Vec<OrderCheck>,
    }
    let doc = Status {
        schema: STATUS_SCHEMA,
        source: "kernel",
        services: entries,
        order: order_checks(entries),
    };
    serde_json::to_vec_pretty(&doc).unwrap_or_default()
}

/// The table as `lvsctl status` prints it: one row per real server (a
/// service without any has one row of its own), services sorted by key,
/// real servers by address and port.
pub fn status_table(entries: &[ipvs::ServiceEntry]) -> String {
    use comfy_table::{presets, Table};
    let mut t = Table::new();
    t.load_style(presets::ASCII_FULL_CONDENSED);
    t.set_header(vec![
        "Virtual service",
        "Scheduler",
        "Real server",
        "Forward",
        "Weight",
        "ActiveConn",
        "InActConn",
        "Health",
    ]);
    let mut entries: Vec<&ipvs::ServiceEntry> = entries.iter().collect();
    entries.sort_by_key(|e| e.service.config.key.to_string());
    for e in entries {
        let s = &e.service.config;
        let mut sched = s.scheduler.clone();
        if s.is_persistent() {
            sched.push_str(&format!(" persistent {}", s.timeout));
        }
        let mut dests: Vec<&ipvs::DestinationStatus> = e.destinations.iter().collect();
        dests.sort_by_key(|d| (d.config.addr, d.config.port));
        if dests.is_empty() {
            t.add_row(vec![s.key.to_string(), sched, String::new()]);
            continue;
        }
        for (i, d) in dests.into_iter().enumerate() {
            let (key, sched) = if i == 0 {
                (s.key.to_string(), sched.clone())
            } else {
                (String::new(), String::new())
            };
            let server = match d.config.addr {
                std::net::IpAddr::V4(a) => format!("{a}:{}", d.config.port),
                std::net::IpAddr::V6(a) => format!("[{a}]:{}", d.config.port),
            };
            t.add_row(vec![
                key,
                sched,
                server,
                d.config.forward.to_string(),
                d.config.weight.to_string(),
                d.active_conns.to_string(),
                d.inactive_conns.to_string(),
                // Without the daemon there is no health to show.
                "-".to_string(),
            ]);
        }
    }
    format!("{t}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A netlink message of `family` carrying `change`, as a handle sends it.
    fn message(family: u16, change: &Change) -> Vec<u8> {
        let mut attrs = Vec::new();
        let cmd = change.encode(&mut attrs).unwrap();
        let len = 16 + 4 + attrs.len();
        let mut m = Vec::new();
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&family.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(&[u8::from(cmd), 1, 0, 0]);
        m.extend_from_slice(&attrs);
        m.resize((len + 3) & !3, 0);
        m
    }

    fn sample() -> Vec<ipvs::ServiceEntry> {
        use ipvs::{DestinationStatus, Service, ServiceEntry, ServiceStatus};
        let web: ipvs::ServiceKey = "tcp:192.0.2.1:80".parse().unwrap();
        let dns: ipvs::ServiceKey = "udp:192.0.2.1:53".parse().unwrap();
        let rs = |a: &str, w| {
            ipvs::Destination::new(a.parse().unwrap(), 80, ipvs::ForwardMethod::DirectRoute)
                .with_weight(w)
        };
        vec![
            ServiceEntry::new(
                ServiceStatus::new(Service::new(web).with_scheduler("wrr").with_persistence(60)),
                vec![
                    DestinationStatus::new(rs("198.51.100.3", 0)).with_conns(2, 7, 0),
                    DestinationStatus::new(rs("198.51.100.2", 3)).with_conns(5, 1, 0),
                ],
            ),
            ServiceEntry::new(ServiceStatus::new(Service::new(dns)), vec![]),
        ]
    }

    #[test]
    fn status_says_whether_an_mh_service_holds_the_canonical_order() {
        use ipvs::{DestinationStatus, Service, ServiceEntry, ServiceStatus};
        let key: ipvs::ServiceKey = "tcp:192.0.2.9:80".parse().unwrap();
        let rs = |a: &str| {
            DestinationStatus::new(ipvs::Destination::new(
                a.parse().unwrap(),
                80,
                ipvs::ForwardMethod::DirectRoute,
            ))
        };
        let entry = |order: [&str; 3], sched: &str| {
            ServiceEntry::new(
                ServiceStatus::new(Service::new(key).with_scheduler(sched)),
                order.iter().map(|a| rs(a)).collect(),
            )
        };
        let one = [entry(
            ["198.51.100.1", "198.51.100.2", "198.51.100.3"],
            "mh",
        )];
        let other = [entry(
            ["198.51.100.3", "198.51.100.2", "198.51.100.1"],
            "mh",
        )];
        let (a, b) = (order_checks(&one), order_checks(&other));
        assert_eq!(a.len(), 1);
        assert_eq!(b.len(), 1);
        // Exactly one of two opposite orders is the canonical one.
        assert_ne!(a[0].canonical, b[0].canonical);
        let bad = if a[0].canonical { &other } else { &one };
        let lines = order_lines(&order_checks(bad));
        assert!(
            lines.contains("tcp:192.0.2.9:80 (mh): real servers NOT in canonical order"),
            "{lines}"
        );
        let json: serde_json::Value = serde_json::from_slice(&status_json(bad)).unwrap();
        assert_eq!(json["order"][0]["canonical"], false);
        assert_eq!(json["order"][0]["scheduler"], "mh");
        // A scheduler that does not build a table from the order: no check.
        let wrr = [entry(
            ["198.51.100.1", "198.51.100.2", "198.51.100.3"],
            "wrr",
        )];
        assert!(order_checks(&wrr).is_empty());
    }

    #[test]
    fn status_table_has_a_row_per_real_server_sorted() {
        let t = status_table(&sample());
        let rows: Vec<&str> = t.lines().filter(|l| l.starts_with("| ")).collect();
        assert_eq!(rows.len(), 4, "{t}");
        assert!(rows[0].contains("Virtual service"), "{t}");
        // tcp sorts before udp; within a service, by address.
        let cells = |r: &str| -> Vec<String> {
            r.split('|')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect()
        };
        assert_eq!(
            cells(rows[1]),
            [
                "tcp:192.0.2.1:80",
                "wrr persistent 60",
                "198.51.100.2:80",
                "Route",
                "3",
                "5",
                "1",
                "-"
            ]
        );
        assert_eq!(
            cells(rows[2]),
            ["198.51.100.3:80", "Route", "0", "2", "7", "-"]
        );
        assert_eq!(cells(rows[3]), ["udp:192.0.2.1:53", "wlc"]);
    }

    #[test]
    fn status_json_is_schema_1_with_the_library_serde_form() {
        let v: serde_json::Value = serde_json::from_slice(&status_json(&sample())).unwrap();
        assert_eq!(v["schema"], STATUS_SCHEMA);
        assert_eq!(v["source"], "kernel");
        let s = &v["services"][0];
        assert_eq!(s["service"]["config"]["key"], "tcp:192.0.2.1:80");
        assert_eq!(s["service"]["config"]["scheduler"], "wrr");
        assert_eq!(s["destinations"][0]["config"]["forward"], "Route");
        assert_eq!(s["destinations"][0]["config"]["weight"], 0);
        assert_eq!(s["destinations"][0]["inactive_conns"], 7);
        assert_eq!(v["services"][1]["destinations"], serde_json::json!([]));
        // The document reads back into the library's types.
        let back: Vec<ipvs::ServiceEntry> = serde_json::from_value(v["services"].clone()).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn writes_are_counted_per_request() {
        let k: ipvs::ServiceKey = "tcp:192.0.2.1:80".parse().unwrap();
        let d = ipvs::Destination::new(
            "198.51.100.2".parse().unwrap(),
            80,
            ipvs::ForwardMethod::DirectRoute,
        );
        let mut datagram = message(0x20, &Change::AddDestination(k, d.clone()));
        datagram.extend(message(0x20, &Change::EditService(ipvs::Service::new(k))));
        datagram.extend(message(0x20, &Change::DeleteDestination(k, d)));
        assert_eq!(count_writes(&datagram, 0x20), 3);
        // Another family's messages (the controller's) do not count.
        assert_eq!(count_writes(&datagram, 0x21), 0);
        // A truncated tail is not a request.
        assert_eq!(count_writes(&datagram[..datagram.len() - 30], 0x20), 2);
        assert_eq!(count_writes(&[], 0x20), 0);
    }
}
