//! Fidelity to ipvsadm 1.31 in what a careful operator sees (issue 16 and
//! two items of issue 11), on the host against the in-memory kernel:
//!
//! * `-R` never waits for input with changes it has read and not sent
//!   (a slow writer sees each change applied and each error reported
//!   before it writes the next line), and still batches input that is
//!   already there;
//! * a read error ends `-R`'s input silently;
//! * a batch that fails as a whole is sent again one change at a time,
//!   so each line gets its own error;
//! * standard output is buffered as glibc's (checked against glibc's own
//!   `FILE` on the same kind of descriptor);
//! * arguments, `-R` words and resolver answers are bytes;
//! * popt's `!#:+` expansion takes memory linear in argv;
//! * the system resolver can be used from several threads.

mod cli_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::RefCell;
use std::io::{self, BufRead, Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, FromRawFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use cli_support::{ipvsadm, FakeKernel, GuestResolver, Outcome, GUEST_LATIN1_HOSTS};
use ipvs::{Change, Info, ServiceKey, SyncDaemon, Timeouts};
use ipvs_tools::ipvsadm::request::Parser;
use ipvs_tools::ipvsadm::run::{Backend, Session};
use ipvs_tools::ipvsadm::stdio::{buffer_mode, CStdout};
use ipvs_tools::ipvsadm::sys::{Resolver, SystemResolver};
use ipvs_tools::ipvsadm::Request;

// ------------------------------------------------------------------ memory

/// Counts the bytes allocated and the peak, for the memory test.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counters are only statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result and the most memory it had allocated
/// at once beyond what was allocated before (other tests running at the
/// same time can only add to it).
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let r = f();
    (r, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

// ------------------------------------------------------------------ helpers

fn words(line: &str) -> Vec<Vec<u8>> {
    std::iter::once("ipvsadm")
        .chain(line.split_whitespace())
        .map(|w| w.as_bytes().to_vec())
        .collect()
}

fn guest() -> GuestResolver {
    GuestResolver::new().expect("the host has /etc/services")
}

fn run(k: &mut FakeKernel, argv: &[Vec<u8>], stdin: &[u8]) -> Outcome {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let r = guest();
    let status = {
        let mut s = Session::new(b"ipvsadm", k, &r, false, &mut out, &mut err);
        s.run(argv, &mut &stdin[..])
    };
    Outcome {
        stdout: out,
        stderr: err,
        status,
    }
}

// ------------------------------------------------------------- -R pacing

/// What the kernel has been asked, shared with the input.
#[derive(Default)]
struct Seen {
    /// Changes the backend has applied (in batches or one by one).
    applied: usize,
    /// Sizes of the batches.
    batches: Vec<usize>,
}

/// A backend over the fake kernel that counts what it applies.
struct Counted {
    inner: FakeKernel,
    seen: Rc<RefCell<Seen>>,
}

impl Backend for Counted {
    fn init(&mut self) -> Result<Info, i32> {
        self.inner.init()
    }
    fn services(&mut self) -> Result<Vec<ipvs::ServiceStatus>, ipvs::Error> {
        self.inner.services()
    }
    fn service(&mut self, key: &ServiceKey) -> Result<ipvs::ServiceStatus, ipvs::Error> {
        self.inner.service(key)
    }
    fn destinations(
        &mut self,
        key: &ServiceKey,
    ) -> Result<Vec<ipvs::DestinationStatus>, ipvs::Error> {
        self.inner.destinations(key)
    }
    fn timeouts(&mut self) -> Result<Timeouts, ipvs::Error> {
        self.inner.timeouts()
    }
    fn daemons(&mut self) -> Result<Vec<SyncDaemon>, ipvs::Error> {
        self.inner.daemons()
    }
    fn change(&mut self, change: &Change) -> Result<(), ipvs::Error> {
        self.seen.borrow_mut().applied += 1;
        self.inner.change(change)
    }
    fn apply(&mut self, changes: &[Change]) -> Result<Vec<Result<(), ipvs::Error>>, ipvs::Error> {
        let mut seen = self.seen.borrow_mut();
        seen.applied += changes.len();
        seen.batches.push(changes.len());
        Ok(changes.iter().map(|c| self.inner.change(c)).collect())
    }
    fn connection_table(&mut self) -> io::Result<Box<dyn BufRead>> {
        self.inner.connection_table()
    }
}

/// Input that arrives in pieces, each piece one `read`: a `read` is where
/// the C tool would wait for a slow writer. Every `read` checks that every
/// change line handed out before has been applied, and its error (if any)
/// printed.
struct Arrivals {
    pieces: std::vec::IntoIter<(Vec<u8>, usize)>,
    /// Change lines handed out so far.
    handed_out: usize,
    seen: Rc<RefCell<Seen>>,
    /// (changes handed out, changes applied) at each read.
    checks: Rc<RefCell<Vec<(usize, usize)>>>,
}

impl Read for Arrivals {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.checks
            .borrow_mut()
            .push((self.handed_out, self.seen.borrow().applied));
        match self.pieces.next() {
            None => Ok(0),
            Some((piece, changes)) => {
                assert!(piece.len() <= buf.len());
                buf[..piece.len()].copy_from_slice(&piece);
                self.handed_out += changes;
                Ok(piece.len())
            }
        }
    }
}

impl BufRead for Arrivals {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        unreachable!("-R reads with read()")
    }
    fn consume(&mut self, _: usize) {}
}

/// Runs `-R` on `pieces` (text, number of change lines in it); returns the
/// outcome, the (handed out, applied) pairs seen at every read, and the
/// batch sizes.
fn restore_in_pieces(pieces: &[(&str, usize)]) -> (Outcome, Vec<(usize, usize)>, Vec<usize>) {
    let seen = Rc::new(RefCell::new(Seen::default()));
    let checks = Rc::new(RefCell::new(Vec::new()));
    let mut backend = Counted {
        inner: FakeKernel::default(),
        seen: seen.clone(),
    };
    let mut input = Arrivals {
        pieces: pieces
            .iter()
            .map(|(t, n)| (t.as_bytes().to_vec(), *n))
            .collect::<Vec<_>>()
            .into_iter(),
        handed_out: 0,
        seen: seen.clone(),
        checks: checks.clone(),
    };
    let mut out = Vec::new();
    let mut err = Vec::new();
    let r = guest();
    let status = {
        let mut s = Session::new(b"ipvsadm", &mut backend, &r, false, &mut out, &mut err);
        s.run(&["ipvsadm", "-R"], &mut input)
    };
    let batches = seen.borrow().batches.clone();
    let checks = checks.borrow().clone();
    (
        Outcome {
            stdout: out,
            stderr: err,
            status,
        },
        checks,
        batches,
    )
}

#[test]
fn restore_never_waits_for_input_with_changes_unsent() {
    let pieces = [
        ("-A -t 192.0.2.1:80 -s rr\n", 1),
        (
            "-a -t 192.0.2.1:80 -r 192.0.2.11 -m\n-D -t 192.0.2.9:80\n",
            2,
        ),
        // A line in two pieces: the first half is no line yet.
        ("-A -t 192.0.2.2:", 0),
        ("80\n", 1),
        ("-L -n\n", 0),
        ("-A -t 192.0.2.1:80\n-a -t 192.0.2.2:80 -r 192.0.2.12\n", 2),
        // The last line without a newline: a line only once the input
        // ends, after the last read.
        ("-E -t 192.0.2.2:80 -s wlc", 0),
    ];
    let (o, checks, _) = restore_in_pieces(&pieces);
    // Every read found everything handed out before applied.
    assert_eq!(checks.len(), pieces.len() + 1);
    for (i, (handed_out, applied)) in checks.iter().enumerate() {
        assert_eq!(handed_out, applied, "read {i}: {checks:?}");
    }
    assert_eq!(checks.last(), Some(&(6, 6)));
    // The errors, in order, and the status of the last line.
    assert_eq!(
        String::from_utf8(o.stderr).unwrap(),
        "No such service\nService already exists\n"
    );
    assert_eq!(o.status, 0);
    // The same input at once gives the same output.
    let all: String = pieces.iter().map(|p| p.0).collect();
    let mut k = FakeKernel::default();
    let at_once = run(&mut k, &words("-R"), all.as_bytes());
    assert_eq!(
        String::from_utf8(at_once.stdout).unwrap(),
        String::from_utf8(o.stdout).unwrap()
    );
}

#[test]
fn restore_batches_input_that_is_already_there() {
    // 300 change lines in one piece, then more in another: the first
    // piece's lines go out in batches larger than one, and all of them
    // before the second read.
    let mut first = String::new();
    for i in 0..300 {
        first.push_str(&format!("-A -t 10.0.{}.{}:80\n", i / 250, i % 250));
    }
    let (o, checks, batches) = restore_in_pieces(&[(&first, 300), ("-A -t 10.1.0.1:80\n-C\n", 2)]);
    assert_eq!((o.status, o.stderr.len()), (0, 0));
    assert_eq!(checks, vec![(0, 0), (300, 300), (302, 302)]);
    assert!(batches.iter().any(|&b| b > 100), "{batches:?}");
    assert_eq!(batches.iter().sum::<usize>(), 302);
}

/// A backend over a kernel shared with another thread.
struct Shared(Arc<Mutex<FakeKernel>>);

impl Backend for Shared {
    fn init(&mut self) -> Result<Info, i32> {
        self.0.lock().unwrap().init()
    }
    fn services(&mut self) -> Result<Vec<ipvs::ServiceStatus>, ipvs::Error> {
        self.0.lock().unwrap().services()
    }
    fn service(&mut self, key: &ServiceKey) -> Result<ipvs::ServiceStatus, ipvs::Error> {
        self.0.lock().unwrap().service(key)
    }
    fn destinations(
        &mut self,
        key: &ServiceKey,
    ) -> Result<Vec<ipvs::DestinationStatus>, ipvs::Error> {
        self.0.lock().unwrap().destinations(key)
    }
    fn timeouts(&mut self) -> Result<Timeouts, ipvs::Error> {
        self.0.lock().unwrap().timeouts()
    }
    fn daemons(&mut self) -> Result<Vec<SyncDaemon>, ipvs::Error> {
        self.0.lock().unwrap().daemons()
    }
    fn change(&mut self, change: &Change) -> Result<(), ipvs::Error> {
        self.0.lock().unwrap().change(change)
    }
    fn connection_table(&mut self) -> io::Result<Box<dyn BufRead>> {
        self.0.lock().unwrap().connection_table()
    }
    fn apply(&mut self, changes: &[Change]) -> Result<Vec<Result<(), ipvs::Error>>, ipvs::Error> {
        let mut k = self.0.lock().unwrap();
        Ok(changes.iter().map(|c| k.change(c)).collect())
    }
}

/// A pipe: (read end, write end).
fn pipe() -> (std::fs::File, std::fs::File) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors are new and owned by nobody else.
    unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    }
}

/// A real pipe and a writer thread that writes one line, then waits until
/// the table shows it (or gives up after 30 s, so that a restore holding it
/// fails the test instead of hanging), then writes the next.
#[test]
fn slow_writer_through_a_pipe_sees_each_line_applied() {
    let kernel = Arc::new(Mutex::new(FakeKernel::default()));
    let (rd, mut wr) = pipe();
    let watched = kernel.clone();
    let writer = std::thread::spawn(move || {
        let lines = [
            ("-A -t 192.0.2.1:80 -s rr\n", 1usize, 0usize),
            ("-a -t 192.0.2.1:80 -r 192.0.2.11 -m\n", 1, 1),
            ("-A -t 192.0.2.2:80\n", 2, 1),
        ];
        let mut waited_out = Vec::new();
        for (line, services, servers) in lines {
            wr.write_all(line.as_bytes()).unwrap();
            let mut tries = 0;
            loop {
                let (s, d) = {
                    let k = watched.lock().unwrap();
                    let s = k.model.table.len();
                    let d = k.model.table.iter().map(|e| e.1.len()).sum::<usize>();
                    (s, d)
                };
                if (s, d) == (services, servers) {
                    break;
                }
                tries += 1;
                if tries == 3000 {
                    waited_out.push(line);
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        drop(wr);
        waited_out
    });
    let mut backend = Shared(kernel.clone());
    let mut out = Vec::new();
    let mut err = Vec::new();
    let r = guest();
    let status = {
        let mut input = io::BufReader::new(rd);
        let mut s = Session::new(b"ipvsadm", &mut backend, &r, false, &mut out, &mut err);
        s.run(&["ipvsadm", "-R"], &mut input)
    };
    let waited_out = writer.join().unwrap();
    assert!(
        waited_out.is_empty(),
        "lines not applied while the restore waited: {waited_out:?}"
    );
    assert_eq!((status, out.len(), err.len()), (0, 0, 0));
    assert_eq!(kernel.lock().unwrap().model.table.len(), 2);
}

// ------------------------------------------------------------ read errors

#[test]
fn an_unreadable_restore_input_ends_it_silently() {
    // A directory: read() fails with EISDIR.
    let dir = std::fs::File::open("/").unwrap();
    let mut k = FakeKernel::default();
    let r = guest();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let status = {
        let mut s = Session::new(b"ipvsadm", &mut k, &r, false, &mut out, &mut err);
        s.run(&["ipvsadm", "-R"], &mut io::BufReader::new(dir))
    };
    assert_eq!(
        (status, out.as_slice(), err.as_slice()),
        (0, &b""[..], &b""[..])
    );

    /// Hands out `data`, then fails.
    struct ThenFails(&'static [u8]);
    impl Read for ThenFails {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::from_raw_os_error(libc::EIO));
            }
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    impl BufRead for ThenFails {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            unreachable!()
        }
        fn consume(&mut self, _: usize) {}
    }
    // The lines before the error are applied; the status is the last
    // line's; the piece of a line before the error is a last line.
    let mut out = Vec::new();
    let mut err = Vec::new();
    let status = {
        let mut s = Session::new(b"ipvsadm", &mut k, &r, false, &mut out, &mut err);
        s.run(
            &["ipvsadm", "-R"],
            &mut ThenFails(b"-A -t 192.0.2.1:80\n-D -t 192.0.2.9:80\n-A -t 192.0.2.2:80"),
        )
    };
    assert_eq!(status, 0);
    assert_eq!(err, b"No such service\n");
    assert_eq!(k.model.table.len(), 2);
    let mut out = Vec::new();
    let mut err = Vec::new();
    let status = {
        let mut s = Session::new(b"ipvsadm", &mut k, &r, false, &mut out, &mut err);
        s.run(&["ipvsadm", "-R"], &mut ThenFails(b"-D -t 192.0.2.9:80\n"))
    };
    assert_eq!((status, err.as_slice()), (255, &b"No such service\n"[..]));
}

// --------------------------------------------------------- batch fallback

/// A backend whose batches fail as a whole (the socket lost the answers),
/// while single changes work.
struct BatchesFail {
    inner: FakeKernel,
    batches: usize,
}

impl Backend for BatchesFail {
    fn init(&mut self) -> Result<Info, i32> {
        self.inner.init()
    }
    fn services(&mut self) -> Result<Vec<ipvs::ServiceStatus>, ipvs::Error> {
        self.inner.services()
    }
    fn service(&mut self, key: &ServiceKey) -> Result<ipvs::ServiceStatus, ipvs::Error> {
        self.inner.service(key)
    }
    fn destinations(
        &mut self,
        key: &ServiceKey,
    ) -> Result<Vec<ipvs::DestinationStatus>, ipvs::Error> {
        self.inner.destinations(key)
    }
    fn timeouts(&mut self) -> Result<Timeouts, ipvs::Error> {
        self.inner.timeouts()
    }
    fn daemons(&mut self) -> Result<Vec<SyncDaemon>, ipvs::Error> {
        self.inner.daemons()
    }
    fn change(&mut self, change: &Change) -> Result<(), ipvs::Error> {
        self.inner.change(change)
    }
    fn apply(&mut self, _: &[Change]) -> Result<Vec<Result<(), ipvs::Error>>, ipvs::Error> {
        self.batches += 1;
        Err(ipvs::Error::Io {
            op: ipvs::Operation::AddService,
            source: io::Error::from_raw_os_error(libc::ENOBUFS),
        })
    }
    fn connection_table(&mut self) -> io::Result<Box<dyn BufRead>> {
        self.inner.connection_table()
    }
}

#[test]
fn a_batch_that_fails_as_a_whole_reports_each_lines_own_error() {
    let input = "-A -t 192.0.2.1:80\n-A -t 192.0.2.1:80\n-a -t 192.0.2.1:80 -r 192.0.2.11\n\
                 -d -t 192.0.2.1:80 -r 192.0.2.12\n-E -t 192.0.2.9:80\n-A -t 192.0.2.2:80\n";
    let mut reference = FakeKernel::default();
    let want = run(&mut reference, &words("-R"), input.as_bytes());
    // The reference has real per-line errors to compare with.
    assert_eq!(want.stderr.iter().filter(|&&b| b == b'\n').count(), 3);
    let mut backend = BatchesFail {
        inner: FakeKernel::default(),
        batches: 0,
    };
    let r = guest();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let status = {
        let mut s = Session::new(b"ipvsadm", &mut backend, &r, false, &mut out, &mut err);
        s.run(&["ipvsadm", "-R"], &mut input.as_bytes())
    };
    assert!(backend.batches >= 1);
    assert_eq!(
        String::from_utf8(err).unwrap(),
        String::from_utf8(want.stderr).unwrap()
    );
    assert_eq!(status, want.status);
    assert_eq!(backend.inner.model.table, reference.model.table);
}

// ------------------------------------------------------------------ stdio

/// A temporary file, removed on drop.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "ipvs-fidelity-{}-{tag}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        TempFile(p)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// One step of a program's output: stdout bytes, or a stderr message
/// (written at once, unbuffered).
#[derive(Debug, Clone)]
enum Step {
    Out(Vec<u8>),
    Err(Vec<u8>),
}

/// Random steps: stdout pieces of 0 to 9,000 bytes (lines and odd pieces)
/// and stderr messages.
fn random_steps(seed: u64) -> Vec<Step> {
    let mut x = seed;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut steps = Vec::new();
    let mut counter = 0u32;
    for _ in 0..200 {
        let kind = next() % 10;
        if kind == 0 {
            counter += 1;
            steps.push(Step::Err(format!("error {counter}\n").into_bytes()));
        } else {
            let len = match kind {
                1 => (next() % 9000) as usize,
                2 => 4096,
                3 => 0,
                _ => (next() % 90) as usize,
            };
            let mut piece: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            if len > 0 {
                piece[len - 1] = b'\n';
            }
            steps.push(Step::Out(piece));
        }
    }
    steps
}

/// The file's contents after `steps` are written with glibc's own stdout
/// machinery: a `FILE` from `fdopen` for stdout, write(2) for stderr, both
/// on one open file (`2>&1`).
fn with_glibc(steps: &[Step], path: &std::path::Path) -> Vec<u8> {
    let file = std::fs::File::create(path).unwrap();
    let fd = file.as_raw_fd();
    // SAFETY: `dup` returns a new descriptor that the FILE owns and closes.
    let out = unsafe { libc::fdopen(libc::dup(fd), c"w".as_ptr()) };
    assert!(!out.is_null());
    for step in steps {
        match step {
            // SAFETY: `out` is an open FILE; the data is a valid slice.
            Step::Out(b) => unsafe {
                assert_eq!(libc::fwrite(b.as_ptr().cast(), 1, b.len(), out), b.len());
            },
            Step::Err(b) => (&file).write_all(b).unwrap(),
        }
    }
    // SAFETY: `out` is open; fclose flushes and closes it.
    assert_eq!(unsafe { libc::fclose(out) }, 0);
    drop(file);
    std::fs::read(path).unwrap()
}

/// The same with [`CStdout`].
fn with_ours(steps: &[Step], path: &std::path::Path) -> Vec<u8> {
    let file = std::fs::File::create(path).unwrap();
    let mut out = CStdout::new(file.as_raw_fd());
    for step in steps {
        match step {
            Step::Out(b) => out.write_all(b).unwrap(),
            Step::Err(b) => (&file).write_all(b).unwrap(),
        }
    }
    out.flush().unwrap();
    drop(out);
    drop(file);
    std::fs::read(path).unwrap()
}

#[test]
fn stdout_is_buffered_as_glibc_buffers_a_file() {
    let t1 = TempFile::new("glibc");
    let t2 = TempFile::new("ours");
    // The rule itself: a regular file is fully buffered, in blocks of its
    // st_blksize up to BUFSIZ.
    let f = std::fs::File::create(&t1.0).unwrap();
    let (size, line) = buffer_mode(f.as_raw_fd());
    drop(f);
    assert!(!line);
    assert!(size > 0 && size <= 8192);
    let mut differing = Vec::new();
    for seed in 1..40u64 {
        let steps = random_steps(seed * 0x9e37_79b9);
        let want = with_glibc(&steps, &t1.0);
        let got = with_ours(&steps, &t2.0);
        if want != got {
            differing.push(seed);
        }
        // Non-vacuous: the messages do not all land at the end.
        if seed == 1 {
            let tail = &want[want.len().saturating_sub(200)..];
            assert!(!tail.starts_with(b"error 1\n"));
        }
    }
    assert!(differing.is_empty(), "seeds {differing:?}");
}

#[test]
fn stdout_to_a_pipe_is_written_in_blocks() {
    // Through a pipe the reader sees the bytes in the order and grouping
    // of the writes; an error message written between two stdout pieces
    // lands where glibc would put it: after the last full block.
    let (rd, wr) = pipe();
    let (size, line) = buffer_mode(wr.as_raw_fd());
    assert!(!line);
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut rd = rd;
        rd.read_to_end(&mut all).unwrap();
        all
    });
    let listing: Vec<u8> = (0..size * 2 + 100)
        .map(|i| if i % 50 == 49 { b'\n' } else { b'x' })
        .collect();
    let mut out = CStdout::new(wr.as_raw_fd());
    for line in listing.split_inclusive(|&b| b == b'\n') {
        out.write_all(line).unwrap();
    }
    (&wr).write_all(b"ERROR\n").unwrap();
    out.write_all(b"tail\n").unwrap();
    out.flush().unwrap();
    drop(out);
    drop(wr);
    let all = reader.join().unwrap();
    let at = all.windows(6).position(|w| w == b"ERROR\n").unwrap();
    assert_eq!(at, size * 2);
    assert_eq!(all.len(), listing.len() + 6 + 5);
}

// ------------------------------------------------------------------ bytes

#[test]
fn latin1_host_names_resolve_and_print_byte_for_byte() {
    let (ip, name) = GUEST_LATIN1_HOSTS[0];
    let (rip, rname) = GUEST_LATIN1_HOSTS[1];
    assert!(std::str::from_utf8(name).is_err());
    let mut k = FakeKernel::default();
    let mut add = b"ipvsadm -A -t ".to_vec();
    add.extend_from_slice(name);
    add.extend_from_slice(b":80 -s rr");
    let argv: Vec<Vec<u8>> = add.split(|&b| b == b' ').map(<[u8]>::to_vec).collect();
    let o = run(&mut k, &argv, b"");
    assert_eq!((o.status, o.stderr.len()), (0, 0), "{:?}", o);
    let mut rs = b"-a -t ".to_vec();
    rs.extend_from_slice(ip.as_bytes());
    rs.extend_from_slice(b":80 -r ");
    rs.extend_from_slice(rname);
    rs.extend_from_slice(b" -m\n");
    let o = run(&mut k, &words("-R"), &rs);
    assert_eq!((o.status, o.stderr.len()), (0, 0), "{:?}", o);
    let listed = run(&mut k, &words("-S"), b"");
    let mut want = b"-A -t ".to_vec();
    want.extend_from_slice(name);
    want.extend_from_slice(b":http -s rr\n-a -t ");
    want.extend_from_slice(name);
    want.extend_from_slice(b":http -r ");
    want.extend_from_slice(rname);
    want.extend_from_slice(b":http -m -w 1\n");
    assert_eq!(listed.stdout, want);
    let numeric = run(&mut k, &words("-Sn"), b"");
    assert_eq!(
        String::from_utf8(numeric.stdout).unwrap(),
        format!("-A -t {ip}:80 -s rr\n-a -t {ip}:80 -r {rip}:80 -m -w 1\n")
    );
}

#[test]
fn messages_echo_arguments_and_restore_words_byte_for_byte() {
    let cases: [(&[&[u8]], &[u8]); 6] = [
        (
            &[b"-A", b"-f", b"7\xe9"],
            b"invalid fwmark value `7\xe9' specified\n",
        ),
        (
            &[b"-A", b"-t", b"192.0.2.1:80", b"-p", b"\xff60"],
            b"invalid timeout value `\xff60' specified\n",
        ),
        (&[b"-L", b"\xff\xfe"], b"unexpected argument \xff\xfe\n"),
        (&[b"-L", b"--n\xe9"], b"--n\xe9: unknown option\n"),
        (
            &[
                b"-A",
                b"-t",
                b"192.0.2.1:80",
                b"-s",
                b"rr",
                b"-b",
                b"fl\xe4g",
            ],
            b"invalid scheduler flag `fl\xe4g'\n",
        ),
        (
            &[
                b"--start-daemon",
                b"master",
                b"--mcast-group",
                b"224.0.0.\xe9",
            ],
            b"invalid IPv4 mcast-group `224.0.0.\xe9'\n",
        ),
    ];
    for (args, want) in cases {
        let argv: Vec<Vec<u8>> = std::iter::once(&b"ipvsadm"[..])
            .chain(args.iter().copied())
            .map(<[u8]>::to_vec)
            .collect();
        let mut k = FakeKernel::default();
        let o = run(&mut k, &argv, b"");
        assert_eq!(o.stderr, want, "{args:?}");
        // The same words as a -R line.
        let line: Vec<u8> = args.join(&b' ');
        let o = run(&mut k, &words("-R"), &[line.as_slice(), b"\n"].concat());
        assert_eq!(o.stderr, want, "-R {args:?}");
    }
}

#[test]
fn cuts_are_at_byte_positions() {
    // -b keeps 127 bytes: a two-byte character across the cut leaves its
    // first byte, which the message echoes.
    let p = Parser {
        resolver: &guest(),
        posix_me_harder: false,
    };
    let mut flags = b"sh-port,".to_vec();
    flags.extend(std::iter::repeat_n(b'0', 127 - flags.len() - 1));
    flags.extend_from_slice("\u{e9}".as_bytes());
    assert_eq!(flags.len(), 128);
    let argv: Vec<&[u8]> = vec![
        b"ipvsadm",
        b"-A",
        b"-t",
        b"192.0.2.1:80",
        b"-s",
        b"sh",
        b"-b",
        &flags,
    ];
    let e = p.parse(&argv).unwrap_err();
    let mut want = b"invalid scheduler flag `".to_vec();
    want.extend_from_slice(&flags[8..127]);
    want.extend_from_slice(b"'");
    assert_eq!(e.message, want);
    // -s keeps 15 bytes: the name the kernel gets is 15 bytes long.
    let mut sched = b"abcdefghijklmn".to_vec();
    sched.extend_from_slice("\u{e9}".as_bytes());
    let argv: Vec<&[u8]> = vec![b"ipvsadm", b"-A", b"-t", b"192.0.2.1:80", b"-s", &sched];
    match p.parse(&argv).unwrap() {
        Request::AddService(s) => assert_eq!(s.scheduler.len(), 15, "{:?}", s.scheduler),
        other => panic!("{other:?}"),
    }
}

// ------------------------------------------------------------- popt !#:+

#[test]
fn bang_hash_expansion_takes_memory_linear_in_argv() {
    // 32 KiB of marks and a 32 KiB word: popt's text would be 256 MiB.
    let marks = "!#:+".repeat(8192);
    let word = "x".repeat(32 * 1024);
    let argv: Vec<&[u8]> = vec![
        b"ipvsadm",
        b"-A",
        b"-t",
        b"192.0.2.1:80",
        b"-s",
        marks.as_bytes(),
        word.as_bytes(),
    ];
    let p = Parser {
        resolver: &cli_support::Numeric,
        posix_me_harder: false,
    };
    let (parsed, peak) = peak_during(|| p.parse(&argv));
    match parsed.unwrap() {
        Request::AddService(s) => assert_eq!(s.scheduler, "x".repeat(15)),
        other => panic!("{other:?}"),
    }
    assert!(peak < 16 << 20, "peak {peak} bytes");
    // The same for -b, --pe and --mcast-interface, whose texts are cut too.
    for (opt, extra) in [(&b"-b"[..], &[b"-s".as_slice(), b"sh"][..]), (b"--pe", &[])] {
        let mut argv: Vec<&[u8]> = vec![b"ipvsadm", b"-A", b"-t", b"192.0.2.1:80"];
        argv.extend_from_slice(extra);
        argv.extend_from_slice(&[opt, marks.as_bytes(), word.as_bytes()]);
        let (_, peak) = peak_during(|| p.parse(&argv));
        assert!(peak < 16 << 20, "{opt:?}: peak {peak} bytes");
    }
    let argv: Vec<&[u8]> = vec![
        b"ipvsadm",
        b"--start-daemon",
        b"master",
        b"--mcast-interface",
        marks.as_bytes(),
        word.as_bytes(),
    ];
    let (parsed, peak) = peak_during(|| p.parse(&argv));
    match parsed.unwrap() {
        Request::StartDaemon(d) => assert_eq!(d.mcast_ifn, b"x".repeat(15)),
        other => panic!("{other:?}"),
    }
    assert!(peak < 16 << 20, "peak {peak} bytes");
}

// --------------------------------------------------------------- resolver

#[test]
fn the_system_resolver_answers_the_same_from_many_threads() {
    fn answers(r: &SystemResolver) -> (Option<Ipv4Addr>, Option<Vec<u8>>, Option<u16>) {
        (
            r.host_to_ipv4(b"localhost"),
            r.addr_to_host(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            r.service_to_port(b"http", "tcp"),
        )
    }
    fn assert_sync<T: Sync + Send>(_: &T) {}
    let r = SystemResolver;
    assert_sync(&r);
    let want = answers(&r);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let r = SystemResolver;
                (0..200).map(|_| answers(&r)).collect::<Vec<_>>()
            })
        })
        .collect();
    for t in threads {
        for got in t.join().unwrap() {
            assert_eq!(got, want);
        }
    }
    // And the answers are the C library's: the port of "http" is 80
    // wherever /etc/services exists.
    if std::path::Path::new("/etc/services").exists() {
        assert_eq!(want.2, Some(80));
    }
    let _ = ipvsadm; // shared helper, unused here
}

/// Checks what is written against the expected bytes without keeping it.
struct Expect<'a> {
    want: &'a mut dyn Iterator<Item = u8>,
    written: usize,
    mismatch: Option<usize>,
}

impl Write for Expect<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for &b in buf {
            if self.mismatch.is_none() && self.want.next() != Some(b) {
                self.mismatch = Some(self.written);
            }
            self.written += 1;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn large_expansions_are_read_and_repeated_without_being_built() {
    // 2048 marks and a 16 KiB word: 32 MiB of text, twice the limit below.
    let marks = "!#:+".repeat(2048);
    let word = "9".repeat(16 * 1024);
    let p = Parser {
        resolver: &cli_support::Numeric,
        posix_me_harder: false,
    };
    // Numbers are read a byte at a time: 32 Mi nines overflow.
    for (opt, head, tail) in [
        ("-f", "invalid fwmark value `", "' specified\n"),
        ("-p", "invalid timeout value `", "' specified\n"),
    ] {
        let mut argv: Vec<&[u8]> = vec![b"ipvsadm", b"-A"];
        if opt == "-p" {
            argv.extend_from_slice(&[b"-t", b"192.0.2.1:80"]);
        }
        argv.extend_from_slice(&[opt.as_bytes(), marks.as_bytes(), word.as_bytes()]);
        let mut k = FakeKernel::default();
        let ((status, check), peak) = peak_during(|| {
            let mut want = head
                .bytes()
                .chain(std::iter::repeat_n(b'9', 2048 * 16 * 1024))
                .chain(tail.bytes());
            let mut err = Expect {
                want: &mut want,
                written: 0,
                mismatch: None,
            };
            let mut out = Vec::new();
            let status = {
                let r = cli_support::Numeric;
                let mut s = Session::new(b"ipvsadm", &mut k, &r, false, &mut out, &mut err);
                s.run(&argv, &mut &b""[..])
            };
            let (written, mismatch) = (err.written, err.mismatch);
            let rest = want.count();
            (status, (written, mismatch, rest))
        });
        assert_eq!(status, 2, "{opt}");
        assert_eq!(
            check,
            (head.len() + 2048 * 16 * 1024 + tail.len(), None, 0),
            "{opt}"
        );
        assert!(peak < 16 << 20, "{opt}: peak {peak} bytes");
        let _ = &p;
    }
    // Leading zeros and a small number: valid, whatever the length.
    let zeros = "0".repeat(16 * 1024);
    let mut marks_then_7 = "!#:+".repeat(2048);
    marks_then_7.push('7');
    let argv: Vec<&[u8]> = vec![
        b"ipvsadm",
        b"-A",
        b"-f",
        marks_then_7.as_bytes(),
        zeros.as_bytes(),
    ];
    let (parsed, peak) = peak_during(|| p.parse(&argv));
    match parsed.unwrap() {
        Request::AddService(s) => assert_eq!(s.key, ServiceKey::fwmark(7)),
        other => panic!("{other:?}"),
    }
    assert!(peak < 16 << 20, "peak {peak} bytes");
    // A small expansion is an ordinary message.
    let argv: Vec<&[u8]> = vec![b"ipvsadm", b"-A", b"-f", b"!#:+x!#:+", b"ab"];
    let e = p.parse(&argv).unwrap_err();
    assert_eq!(
        (e.message.as_slice(), e.echo),
        (&b"invalid fwmark value `abxab' specified"[..], None)
    );
}

#[test]
fn large_expansions_in_addresses_are_read_without_being_built() {
    // 1024 marks replaced by 16 KiB of zeros: 16 MiB of leading zeros
    // (octal), then the address; inet_aton reads it as 7.1.2.3. Reading it
    // may take a tenth of that.
    let mut service = "!#:+".repeat(1024);
    service.push_str("7.1.2.3:80");
    let zeros = "0".repeat(16 * 1024);
    let p = Parser {
        resolver: &cli_support::Numeric,
        posix_me_harder: false,
    };
    for opt in ["-t", "-u"] {
        let argv: Vec<&[u8]> = vec![
            b"ipvsadm",
            b"-A",
            opt.as_bytes(),
            service.as_bytes(),
            zeros.as_bytes(),
        ];
        let (parsed, peak) = peak_during(|| p.parse(&argv));
        let want = "7.1.2.3:80".parse::<std::net::SocketAddrV4>().unwrap();
        match parsed.unwrap() {
            Request::AddService(s) => match s.key {
                ServiceKey::Addr { addr, port, .. } => {
                    assert_eq!((addr, port), (IpAddr::V4(*want.ip()), 80))
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
        assert!(peak < 2 << 20, "{opt}: peak {peak} bytes");
    }
    // A real server, and a netmask (0377 octal after the zeros: 0.0.0.255).
    let mut mask = "!#:+".repeat(1024);
    mask.push_str("377");
    let argv: Vec<&[u8]> = vec![
        b"ipvsadm",
        b"-a",
        b"-t",
        b"192.0.2.1:80",
        b"-r",
        service.as_bytes(),
        zeros.as_bytes(),
    ];
    let (parsed, peak) = peak_during(|| p.parse(&argv));
    assert!(
        matches!(parsed, Ok(Request::AddServer(_, ref d)) if d.addr == IpAddr::V4(Ipv4Addr::new(7, 1, 2, 3))),
        "{parsed:?}"
    );
    assert!(peak < 2 << 20, "-r: peak {peak} bytes");
    let argv: Vec<&[u8]> = vec![
        b"ipvsadm",
        b"-A",
        b"-t",
        b"192.0.2.1:80",
        b"-p",
        b"-M",
        mask.as_bytes(),
        zeros.as_bytes(),
    ];
    let (parsed, peak) = peak_during(|| p.parse(&argv));
    match parsed.unwrap() {
        Request::AddService(s) => {
            assert_eq!(s.netmask, ipvs::Netmask::Ipv4(Ipv4Addr::new(0, 0, 0, 255)))
        }
        other => panic!("{other:?}"),
    }
    assert!(peak < 2 << 20, "-M: peak {peak} bytes");
}
