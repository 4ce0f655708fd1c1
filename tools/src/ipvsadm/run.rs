//! Execution: [`Request`] → library calls → formatted output, with
//! ipvsadm's exit statuses, its error texts (including libipvs's "last
//! function" quirk) and `-R`'s continue/abort rules.

use std::io::{self, BufRead, Write};

use super::format::{self, ConnListingError};
use super::request::{quick_change, CliError, Format, ListTarget, Parser, Request};
use super::restore::{tokenize, Line, LineReader};
use super::stdio;
use super::sys::{self, Resolver};
use super::table::{self, limits, msg};
use ipvs::{
    ipvsadm_strerror, BatchAcks, BatchMode, Change, DestinationStatus, Info, Ipvs, OpenOptions,
    Operation, ServiceKey, ServiceStatus, SyncDaemon, Timeouts,
};

/// The kernel side of the command line: the library calls ipvsadm makes.
/// A trait so the command line can be tested without a kernel.
pub trait Backend {
    /// ipvsadm's `ipvs_init`: reach the kernel and read its version and
    /// connection table size. The error is the errno ipvsadm would report.
    fn init(&mut self) -> Result<Info, i32>;
    /// All services (dump).
    fn services(&mut self) -> Result<Vec<ServiceStatus>, ipvs::Error>;
    /// One service.
    fn service(&mut self, key: &ServiceKey) -> Result<ServiceStatus, ipvs::Error>;
    /// A service's real servers.
    fn destinations(&mut self, key: &ServiceKey) -> Result<Vec<DestinationStatus>, ipvs::Error>;
    /// `-L --timeout`.
    fn timeouts(&mut self) -> Result<Timeouts, ipvs::Error>;
    /// `-L --daemon`.
    fn daemons(&mut self) -> Result<Vec<SyncDaemon>, ipvs::Error>;
    /// One change (`-A -E -D -a -e -d -Z -C --set --start-daemon
    /// --stop-daemon`).
    fn change(&mut self, change: &Change) -> Result<(), ipvs::Error>;
    /// Many changes in order, every one attempted (`-R`), one result per
    /// change; `Err` when the batch failed as a whole (the socket failed:
    /// what happened to each change is unknown). The default sends them
    /// one at a time.
    fn apply(&mut self, changes: &[Change]) -> Result<Vec<Result<(), ipvs::Error>>, ipvs::Error> {
        Ok(changes.iter().map(|c| self.change(c)).collect())
    }
    /// The connection table (`-c`) as text, or the error opening it.
    fn connection_table(&mut self) -> io::Result<Box<dyn BufRead>>;
}

/// The real kernel, through [`Ipvs`].
#[derive(Debug, Default)]
pub struct KernelBackend {
    ipvs: Option<Ipvs>,
}

impl KernelBackend {
    fn ipvs(&mut self) -> Result<&mut Ipvs, ipvs::Error> {
        self.ipvs.as_mut().ok_or(ipvs::Error::NotAvailable)
    }

    fn try_init(&mut self) -> Result<Info, i32> {
        // -R's batches: the kernel reports every failed request anyway, so
        // only the last request of each sendmsg needs an ACK.
        let options = OpenOptions::default()
            .with_modprobe(false)
            .with_batch_acks(BatchAcks::ErrorsOnly)
            .with_batch_window(RESTORE_WINDOW);
        let mut ipvs = Ipvs::open_with(&options).map_err(|e| match e {
            ipvs::Error::NotAvailable => sys::legacy_init_errno(),
            other => errno_of(&other),
        })?;
        let info = ipvs.info().map_err(|e| errno_of(&e))?;
        self.ipvs = Some(ipvs);
        Ok(info)
    }
}

/// Requests per `sendmsg` for `-R` (the library lowers it further when
/// the socket buffers cannot hold a window). Only failed requests are answered
/// (errors-only ACKs), so a window where every request fails must still
/// fit its error replies in the socket's receive buffer: with capped ACKs
/// each takes about 0.75 KiB of it, and the handle asks for 1 MiB (the
/// kernel grants at least twice `net.core.rmem_max`, 416 KiB by default),
/// so 256 leaves room to spare even at a 208 KiB buffer. Bigger windows
/// save only system calls, which stopped mattering at this size.
const RESTORE_WINDOW: usize = 256;

/// Loads `ip_vs` as ipvsadm does when the first contact with the kernel
/// fails (`modprobe -- ip_vs`, output inherited), through the library's one
/// module-loader helper: the kernel's configured loader
/// (`/proc/sys/kernel/modprobe`, `/sbin/modprobe` by default, the path 1.31
/// hard-codes), waited for at most a minute.
fn modprobe_ipvs() -> bool {
    ipvs::modprobe_ip_vs(std::time::Duration::from_secs(60), true).is_ok()
}

impl Backend for KernelBackend {
    fn init(&mut self) -> Result<Info, i32> {
        match self.try_init() {
            Ok(info) => Ok(info),
            Err(first) => {
                if !modprobe_ipvs() {
                    return Err(first);
                }
                self.try_init()
            }
        }
    }
    fn services(&mut self) -> Result<Vec<ServiceStatus>, ipvs::Error> {
        self.ipvs()?.services()
    }
    fn service(&mut self, key: &ServiceKey) -> Result<ServiceStatus, ipvs::Error> {
        self.ipvs()?.service(key)
    }
    fn destinations(&mut self, key: &ServiceKey) -> Result<Vec<DestinationStatus>, ipvs::Error> {
        self.ipvs()?.destinations(key)
    }
    fn timeouts(&mut self) -> Result<Timeouts, ipvs::Error> {
        self.ipvs()?.timeouts()
    }
    fn daemons(&mut self) -> Result<Vec<SyncDaemon>, ipvs::Error> {
        self.ipvs()?.daemons()
    }
    fn change(&mut self, change: &Change) -> Result<(), ipvs::Error> {
        self.ipvs()?.change(change)
    }
    fn apply(&mut self, changes: &[Change]) -> Result<Vec<Result<(), ipvs::Error>>, ipvs::Error> {
        let mut results = self.ipvs()?.apply(changes, BatchMode::ContinueOnError)?;
        // Every change is attempted in this mode; should fewer results
        // come back, the batch did not complete.
        if results.len() < changes.len() {
            results.clear();
            return Err(ipvs::Error::NotAvailable);
        }
        Ok(results)
    }
    fn connection_table(&mut self) -> io::Result<Box<dyn BufRead>> {
        let f = std::fs::File::open(table::CONN_PROC_FILE)?;
        Ok(Box::new(io::BufReader::new(f)))
    }
}

/// The errno libipvs would have left for a failed call: the kernel's for a
/// NACK, `EINVAL` for everything else (libnl failures, bad replies).
pub fn errno_of(e: &ipvs::Error) -> i32 {
    match e {
        ipvs::Error::Kernel { errno, .. } => *errno,
        ipvs::Error::PermissionDenied { .. } => ipvs::errno::EPERM,
        _ => ipvs::errno::EINVAL,
    }
}

/// The C library's text for an I/O error.
fn io_error_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => ipvs::strerror(n),
        None => e.to_string(),
    }
}

/// How many `-R` changes are collected before they are sent (in windows
/// of the handle's batch size): enough to keep the pipeline full, few enough
/// that the pending changes stay in a few pages of memory.
const RESTORE_BATCH: usize = 256;

/// The kernel change a request makes, or the request back if it makes
/// none.
// Both variants are about the same size (a service or a real server):
// nothing to gain from boxing either.
#[allow(clippy::result_large_err)]
pub fn change_of(request: Request) -> Result<Change, Request> {
    Ok(match request {
        Request::Flush => Change::Flush,
        Request::AddService(s) => Change::AddService(s),
        Request::EditService(s) => Change::EditService(s),
        Request::DeleteService(k) => Change::DeleteService(k),
        Request::Zero(k) => Change::Zero(k),
        Request::AddServer(k, d) => Change::AddDestination(k, d),
        Request::EditServer(k, d) => Change::EditDestination(k, d),
        Request::DeleteServer(k, d) => Change::DeleteDestination(k, d),
        Request::SetTimeouts(t) => Change::SetTimeouts(t),
        Request::StartDaemon(d) => Change::StartDaemon(d),
        Request::StopDaemon(d) => Change::StopDaemon(d.state),
        Request::Help
        | Request::Version
        | Request::List { .. }
        | Request::Save { .. }
        | Request::Restore => return Err(request),
    })
}

/// The libipvs function that records itself for a change (`None` for
/// flush, which does not).
fn marker_of(change: &Change) -> Option<Operation> {
    match change {
        Change::Flush => None,
        other => Some(other.operation()),
    }
}

/// What processing one invocation (or one `-R` line) led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Finished with this status; `-R` goes on with the next line.
    Done(i32),
    /// The process ends with this status (ipvsadm's `exit()`).
    Exit(i32),
}

/// One run of the command line: output streams, the kernel, and libipvs's
/// state (the "last function" marker that picks error texts).
pub struct Session<'a> {
    program: Vec<u8>,
    backend: &'a mut dyn Backend,
    resolver: &'a dyn Resolver,
    parser: Parser<'a>,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    info: Option<Info>,
    /// The last libipvs function that recorded itself (`None`: only
    /// `ipvs_init` did; flush, get-info and get-services never do).
    marker: Option<Operation>,
}

impl<'a> Session<'a> {
    /// A session printing to `out`/`err`, talking to `backend`, resolving
    /// names with `resolver`.
    pub fn new(
        program: &[u8],
        backend: &'a mut dyn Backend,
        resolver: &'a dyn Resolver,
        posix_me_harder: bool,
        out: &'a mut dyn Write,
        err: &'a mut dyn Write,
    ) -> Self {
        Session {
            program: program.to_vec(),
            backend,
            resolver,
            parser: Parser {
                resolver,
                posix_me_harder,
            },
            out,
            err,
            info: None,
            marker: None,
        }
    }

    fn eprintln(&mut self, text: impl AsRef<[u8]>) {
        // stderr is unbuffered (one write per message, as glibc writes one
        // fprintf); stdout is buffered as glibc's (see `stdio`).
        stdio::eprintln_bytes(self.err, text.as_ref());
    }

    fn print(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)
    }

    /// Runs one invocation from its argv and returns the exit status.
    /// `stdin` is read for `-R`.
    pub fn run<S: AsRef<[u8]>>(&mut self, argv: &[S], stdin: &mut dyn BufRead) -> i32 {
        let parsed = self.parser.parse(argv);
        let code = match self.process(parsed, stdin, false) {
            Ok(Outcome::Done(c)) | Ok(Outcome::Exit(c)) => c,
            Err(e) => {
                // Reported once; the final flush would only fail again.
                let text = msg::write_error(&self.program, &io_error_text(&e));
                self.eprintln(text);
                return 1;
            }
        };
        if let Err(e) = self.out.flush() {
            let text = msg::write_error(&self.program, &io_error_text(&e));
            self.eprintln(text);
            return if code == 0 { 1 } else { code };
        }
        code
    }

    fn kernel_failed(&mut self, e: &ipvs::Error) -> i32 {
        let text = ipvsadm_strerror(self.marker, errno_of(e));
        self.eprintln(&text);
        255
    }

    /// Records the libipvs function a change goes through, as libipvs does.
    fn set_marker(&mut self, change: &Change) {
        if let Some(op) = marker_of(change) {
            self.marker = Some(op);
        }
    }

    fn ensure_init(&mut self) -> Option<Outcome> {
        if self.info.is_some() {
            return None;
        }
        match self.backend.init() {
            Ok(info) => {
                if info.version < limits::MIN_IPVS_VERSION {
                    let min = Info {
                        version: limits::MIN_IPVS_VERSION,
                        conn_tab_size: 0,
                    };
                    let text = msg::version_mismatch(info.version_triple(), min.version_triple());
                    self.eprintln(&text);
                }
                self.info = Some(info);
                self.marker = None;
                None
            }
            Err(errno) => {
                let text = msg::cannot_initialize(&ipvsadm_strerror(None, errno));
                self.eprintln(&text);
                Some(Outcome::Exit(2))
            }
        }
    }

    /// ipvsadm's `process_options` after parsing: one invocation or one
    /// `-R` line (`reading_stdin`).
    fn process(
        &mut self,
        parsed: Result<Request, CliError>,
        stdin: &mut dyn BufRead,
        reading_stdin: bool,
    ) -> io::Result<Outcome> {
        let request = match parsed {
            Ok(r) => r,
            Err(e) => {
                match &e.echo {
                    None => self.eprintln(&e.message),
                    // An argument too large to build: repeated piece by
                    // piece (glibc's unbuffered stderr writes a long
                    // message in pieces too).
                    Some(echo) => {
                        let _ = self.err.write_all(&e.message);
                        let _ = echo.write_to(self.err);
                        let _ = self.err.write_all(b"\n");
                    }
                }
                return Ok(if e.continues {
                    Outcome::Done(e.exit_code)
                } else {
                    Outcome::Exit(e.exit_code)
                });
            }
        };
        match request {
            Request::Help => {
                let text = table::usage(&self.program);
                self.print(&text)?;
                return Ok(Outcome::Exit(0));
            }
            Request::Version => {
                let text = format!("{}\n", table::version_line());
                self.print(text.as_bytes())?;
                return Ok(Outcome::Exit(0));
            }
            _ => {}
        }
        if let Some(o) = self.ensure_init() {
            return Ok(o);
        }
        let request = match change_of(request) {
            Ok(change) => {
                self.set_marker(&change);
                return Ok(match self.backend.change(&change) {
                    Ok(()) => Outcome::Done(0),
                    Err(e) => Outcome::Done(self.kernel_failed(&e)),
                });
            }
            Err(request) => request,
        };
        match request {
            Request::List { target, format } => self.list(target, &format),
            Request::Save { format } => self.list_all(&format),
            Request::Restore if reading_stdin => {
                let text = msg::try_help(&self.program);
                self.eprintln(text);
                Ok(Outcome::Exit(255))
            }
            Request::Restore => self.restore(stdin),
            _ => Ok(Outcome::Done(0)),
        }
    }

    fn list(&mut self, target: ListTarget, format: &Format) -> io::Result<Outcome> {
        match target {
            ListTarget::All => self.list_all(format),
            ListTarget::Service(key) => {
                self.marker = Some(Operation::GetService);
                let svc = match self.backend.service(&key) {
                    Ok(s) => s,
                    Err(e) => {
                        let text = ipvsadm_strerror(self.marker, errno_of(&e));
                        self.eprintln(&text);
                        return Ok(Outcome::Exit(1));
                    }
                };
                self.print(&format::title(format))?;
                self.service_entry(&svc, format)
            }
            ListTarget::Timeouts => {
                self.marker = Some(Operation::GetTimeouts);
                match self.backend.timeouts() {
                    Ok(t) => {
                        self.print(&format::timeouts_line(&t))?;
                        Ok(Outcome::Done(0))
                    }
                    Err(_) => Ok(Outcome::Exit(1)),
                }
            }
            ListTarget::Daemons => {
                self.marker = Some(Operation::GetDaemons);
                match self.backend.daemons() {
                    Ok(d) => {
                        self.print(&format::daemon_lines(&d))?;
                        Ok(Outcome::Done(0))
                    }
                    Err(_) => Ok(Outcome::Exit(1)),
                }
            }
            ListTarget::Connections => {
                let mut table = match self.backend.connection_table() {
                    Ok(t) => t,
                    Err(_) => {
                        let text = msg::cannot_open(table::CONN_PROC_FILE);
                        self.eprintln(&text);
                        return Ok(Outcome::Exit(1));
                    }
                };
                let end = format::connections_to(&mut *table, self.out, format, self.resolver)?;
                match end {
                    None => Ok(Outcome::Done(0)),
                    Some(ConnListingError::Empty) => {
                        let text = msg::unexpected_input(table::CONN_PROC_FILE);
                        self.eprintln(&text);
                        Ok(Outcome::Exit(1))
                    }
                    Some(ConnListingError::BlankLine) => Ok(Outcome::Exit(1)),
                }
            }
        }
    }

    /// ipvsadm's `list_all` (also `-S`).
    fn list_all(&mut self, format: &Format) -> io::Result<Outcome> {
        if !format.rule {
            if let Some(info) = self.info {
                self.print(&format::header(&info))?;
            }
        }
        // ipvs_get_services does not record itself.
        let mut services = match self.backend.services() {
            Ok(s) => s,
            Err(e) => {
                let text = ipvsadm_strerror(self.marker, errno_of(&e));
                self.eprintln(&text);
                return Ok(Outcome::Exit(1));
            }
        };
        if !format.nosort {
            format::sort_services(&mut services);
        }
        self.print(&format::title(format))?;
        for svc in &services {
            if let Outcome::Exit(c) = self.service_entry(svc, format)? {
                return Ok(Outcome::Exit(c));
            }
        }
        Ok(Outcome::Done(0))
    }

    fn service_entry(&mut self, svc: &ServiceStatus, format: &Format) -> io::Result<Outcome> {
        self.marker = Some(Operation::GetDestinations);
        let mut dests = match self.backend.destinations(&svc.config.key) {
            Ok(d) => d,
            Err(e) => {
                let text = ipvsadm_strerror(self.marker, errno_of(&e));
                self.eprintln(&text);
                return Ok(Outcome::Exit(1));
            }
        };
        let bytes = format::service_entry(svc, &mut dests, format, self.resolver);
        self.print(&bytes)?;
        Ok(Outcome::Done(0))
    }

    /// ipvsadm's `restore_table`: every line is an invocation; the status
    /// is the last line's unless a line ends the process.
    ///
    /// Consecutive kernel changes are sent in batches (many requests per
    /// `sendmsg`, each acknowledged), much faster than ipvsadm's socket per
    /// line but with the same results: a batch is always completed, and its
    /// error messages printed in order, before anything else is printed or
    /// run.
    fn restore(&mut self, stdin: &mut dyn BufRead) -> io::Result<Outcome> {
        let mut reader = LineReader::new(stdin);
        let mut line = Line::default();
        let program = self.program.clone();
        let mut pending: Vec<Change> = Vec::with_capacity(RESTORE_BATCH);
        let mut result = 0;
        loop {
            // Changes read are held only while more input is already
            // there: before waiting for input, they are sent and their
            // errors printed, as the C tool has applied and reported every
            // line it has read (a slow writer, or a restore killed while it
            // waits, must find them applied).
            if !pending.is_empty() && !reader.has_line() {
                result = self.apply_pending(&mut pending);
            }
            let Some((raw, newline)) = reader.raw_line() else {
                break;
            };
            // Most lines take one of the quick paths, which answer as the
            // general one would. The quickest one's change goes straight
            // into the batch.
            if let Some(change) = quick_change(raw) {
                if let Some(status) = self.batch(&mut pending, change) {
                    result = status;
                }
                continue;
            }
            let parsed = match self.parser.parse_plain_line(raw) {
                Some(parsed) => parsed.map(change_of),
                None => {
                    if !tokenize(raw, newline, &mut line) {
                        break;
                    }
                    if line.is_empty() || line.comment {
                        continue;
                    }
                    let mut argv: Vec<&[u8]> = Vec::with_capacity(line.len() + 1);
                    argv.push(&program);
                    argv.extend(line.tokens());
                    self.parser.parse(&argv).map(change_of)
                }
            };
            let parsed = match parsed {
                Ok(Ok(change)) => {
                    if let Some(status) = self.batch(&mut pending, change) {
                        result = status;
                    }
                    continue;
                }
                Ok(Err(request)) => Ok(request),
                Err(e) => Err(e),
            };
            if !pending.is_empty() {
                self.apply_pending(&mut pending);
            }
            let mut no_input: &[u8] = &[];
            match self.process(parsed, &mut no_input, true)? {
                Outcome::Done(c) => result = c,
                Outcome::Exit(c) => return Ok(Outcome::Exit(c)),
            }
        }
        if !pending.is_empty() {
            result = self.apply_pending(&mut pending);
        }
        Ok(Outcome::Done(result))
    }

    /// Adds `change` to the batch, and sends the batch once it is full:
    /// then the status of its last change.
    #[inline(always)]
    fn batch(&mut self, pending: &mut Vec<Change>, change: Change) -> Option<i32> {
        pending.push(change);
        (pending.len() >= RESTORE_BATCH).then(|| self.apply_pending(pending))
    }

    /// Sends the batched changes, prints each failure in order, and returns
    /// the status of the last one. When the batch fails as a whole (the
    /// socket failed: the kernel's answers are lost), the changes are sent
    /// again one at a time, so that every line gets its own result.
    fn apply_pending(&mut self, pending: &mut Vec<Change>) -> i32 {
        let results = match self.backend.apply(pending) {
            Ok(results) => results,
            Err(_) => pending.iter().map(|c| self.backend.change(c)).collect(),
        };
        let mut last = 0;
        for (change, r) in pending.iter().zip(results) {
            self.set_marker(change);
            last = match r {
                Ok(()) => 0,
                Err(e) => self.kernel_failed(&e),
            };
        }
        pending.clear();
        last
    }
}

/// The process's buffered standard output. Write errors (a full disk, a
/// broken pipe when SIGPIPE is ignored) are reported, never a panic. A
/// standard output closed at start-up cannot be told apart: the entry
/// point ([`super::entry`]) reopens it on `/dev/null`, so output is
/// discarded, as the C tool's is.
pub fn stdout() -> Box<dyn Write> {
    Box::new(stdio::CStdout::stdout())
}

/// Whether popt's `POSIXLY_CORRECT` behaviour is on.
pub fn posix_me_harder() -> bool {
    std::env::var_os("POSIXLY_CORRECT").is_some() || std::env::var_os("POSIX_ME_HARDER").is_some()
}

/// `ipvsadm`'s `main`: runs the command line `argv` (program name first)
/// on the process's stdin, stdout and stderr, against the kernel, and
/// returns the exit status. The binary calls it through [`super::entry`].
pub fn main(argv: Vec<Vec<u8>>) -> i32 {
    let program = argv.first().cloned().unwrap_or_else(|| b"ipvsadm".to_vec());
    let mut backend = KernelBackend::default();
    let resolver = sys::SystemResolver;
    let mut out = stdout();
    let mut err = io::stderr();
    // `-R` reads 32 KiB at a time into its own buffer; reads that large
    // bypass stdin's 8 KiB one.
    let mut input = io::stdin().lock();
    let mut session = Session::new(
        &program,
        &mut backend,
        &resolver,
        posix_me_harder(),
        &mut *out,
        &mut err,
    );
    session.run(&argv, &mut input)
}
