//! Robustness of the command line, on the host against the in-memory
//! kernel model: no panic on any argument list (randomized), on binary
//! garbage, on huge `-R` input (a 10,000-token line, 100,000 lines, read as
//! a stream in bounded batches), on odd connection-table contents, and on
//! failing output streams.

mod cli_support;
#[path = "../../tests/rng/mod.rs"]
mod rng;

use std::cell::Cell;
use std::io::{self, BufRead, Read, Write};
use std::net::IpAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use cli_support::{ipvsadm, FakeKernel, Outcome};
use ipvs::{Change, Info, Service, ServiceKey, SyncDaemon, Timeouts};
use ipvs_tools::ipvsadm::run::{Backend, Session};
use ipvs_tools::ipvsadm::sys::Resolver;
use rng::Rng;

/// A resolver with fixed answers (no system lookups in randomized runs).
struct Fixed;

impl Resolver for Fixed {
    fn host_to_ipv4(&self, name: &[u8]) -> Option<std::net::Ipv4Addr> {
        (name == b"vip.lab.test").then(|| "192.0.2.1".parse().unwrap())
    }
    fn service_to_port(&self, name: &[u8], _: &str) -> Option<u16> {
        (name == b"http").then_some(80)
    }
    fn addr_to_host(&self, addr: IpAddr) -> Option<Vec<u8>> {
        (addr.to_string() == "192.0.2.1").then(|| "vip.lab.test".into())
    }
    fn port_to_service(&self, port: u16, _: &str) -> Option<Vec<u8>> {
        (port == 80).then(|| "http".into())
    }
}

const WORDS: &[&str] = &[
    "-A",
    "-E",
    "-D",
    "-C",
    "-L",
    "-l",
    "-Z",
    "-a",
    "-e",
    "-d",
    "-R",
    "-S",
    "-h",
    "-v",
    "--set",
    "--start-daemon",
    "--stop-daemon",
    "-t",
    "-u",
    "--sctp-service",
    "-f",
    "-6",
    "-s",
    "-p",
    "-M",
    "--pe",
    "-b",
    "-o",
    "-r",
    "-g",
    "-i",
    "-m",
    "-w",
    "-x",
    "-y",
    "--tun-type",
    "--tun-port",
    "--tun-nocsum",
    "--tun-csum",
    "--tun-remcsum",
    "-c",
    "--timeout",
    "--daemon",
    "--stats",
    "--rate",
    "--thresholds",
    "--persistent-conn",
    "--tun-info",
    "--nosort",
    "--sort",
    "-X",
    "--exact",
    "-n",
    "--numeric",
    "--mcast-interface",
    "--syncid",
    "--sync-maxlen",
    "--mcast-group",
    "--mcast-port",
    "--mcast-ttl",
    "--",
    "-",
    "-Ln",
    "-Lnc",
    "-Ltn",
    "-p100",
    "--scheduler=rr",
    "--weight=",
    "-t=1",
    "-Ln=1",
    "--foo",
    "---",
    "!#:+",
    "a!#:+b",
    "master",
    "backup",
    "192.0.2.1:80",
    "192.0.2.1",
    "[2001:db8::1]:80",
    "2001:db8::1",
    "[2001:db8::1]",
    "vip.lab.test:http",
    "198.51.100.1:8080",
    "0",
    "1",
    "-1",
    "65535",
    "65536",
    "4294967295",
    "3000000000",
    "2147483648",
    "rr",
    "sh",
    "mh",
    "sh-port,sh-fallback",
    "mh-port",
    "flag-1,,x",
    ",",
    "",
    " ",
    "sip",
    "gue",
    "gre",
    "ipip",
    "lab0",
    "255.255.255.0",
    "64",
    "239.1.1.1",
    "ff02::1",
    "\u{e9}\u{e9}",
    "x\u{0}y",
    "%s%n",
    "\u{7f}",
    "9999999999999999999999",
];

/// Runs a session, catching panics.
fn session(k: &mut FakeKernel, argv: &[String], stdin: &[u8]) -> Result<Outcome, String> {
    catch_unwind(AssertUnwindSafe(|| {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let status = {
            let mut s = Session::new(b"ipvsadm", k, &Fixed, false, &mut out, &mut err);
            let mut input = stdin;
            s.run(argv, &mut input)
        };
        Outcome {
            stdout: out,
            stderr: err,
            status,
        }
    }))
    .map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

#[test]
fn random_argument_lists_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut k = FakeKernel::default();
    for round in 0..20_000 {
        if round % 500 == 0 {
            k = FakeKernel::default();
        }
        let n = rng.below(9);
        let mut argv = vec!["ipvsadm".to_string()];
        for _ in 0..n {
            let mut w = rng.pick(WORDS).to_string();
            if rng.below(8) == 0 {
                // Glue two words, or cut one.
                w.push_str(rng.pick(WORDS));
            }
            argv.push(w);
        }
        let stdin: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
        match session(&mut k, &argv, &stdin) {
            Ok(o) => assert!(
                matches!(o.status, 0 | 1 | 2 | 255),
                "{argv:?}: status {}",
                o.status
            ),
            Err(p) => panic!("{argv:?} panicked: {p}"),
        }
    }
}

#[test]
fn restore_of_binary_garbage_never_panics() {
    let mut rng = Rng(42);
    for size in [1usize, 7, 100, 4095, 4096, 4097, 65536, 300_000] {
        let mut input: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
        // Some real commands in between.
        if size > 100 {
            input.extend_from_slice(b"\n-A -t 192.0.2.1:80\n\xff\xfe-C\n");
        }
        let mut k = FakeKernel::default();
        let argv = vec!["ipvsadm".to_string(), "-R".to_string()];
        let o = session(&mut k, &argv, &input).unwrap_or_else(|p| panic!("size {size}: {p}"));
        assert!(matches!(o.status, 0 | 1 | 2 | 255), "size {size}");
    }
    // Bytes that are not UTF-8 inside tokens reach the messages byte for
    // byte, as in the C tool, and NUL ends a token.
    let mut k = FakeKernel::default();
    let o = ipvsadm(
        &mut k,
        &Fixed,
        &["-R".into()],
        b"-A -t 192.0.2.1:80 -s rr\x00junk\n-A -t 192.0.2.2:80 \xff\n",
    );
    assert_eq!(o.status, 2);
    assert_eq!(o.stderr, b"unexpected argument \xff\n");
    assert_eq!(k.model.table.len(), 1);
    assert_eq!(k.model.table[0].0.config.scheduler, "rr");
}

#[test]
fn restore_of_a_10000_token_line() {
    let mut k = FakeKernel::default();
    let mut line = String::from("-A -f 1");
    for _ in 0..10_000 {
        line.push_str(" -6");
    }
    line.push('\n');
    line.push_str("-A -t 192.0.2.1:80");
    for _ in 0..10_000 {
        line.push_str(" --sort");
    }
    line.push('\n');
    let o = ipvsadm(&mut k, &Fixed, &["-R".into()], line.as_bytes());
    assert_eq!((o.status, o.stderr.len()), (0, 0));
    assert_eq!(k.model.table.len(), 2);
    // 10,000 commands on one line: the first is the command, the next one
    // an invalid option.
    let line = "-L ".repeat(10_000) + "\n";
    let o = ipvsadm(&mut k, &Fixed, &["-R".into()], line.as_bytes());
    assert_eq!(
        (o.status, o.stderr.as_slice()),
        (2, b"invalid option `-L'\n".as_slice())
    );
}

/// Generates `-A -t 10.a.b.c:80` lines lazily, counting the bytes handed
/// out, so the test sees how far the reader got.
struct Generated {
    next: u32,
    total: u32,
    buf: Vec<u8>,
    pos: usize,
    consumed: Rc<Cell<usize>>,
}

impl Read for Generated {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let b = self.fill_buf()?;
            let n = b.len().min(out.len());
            out[..n].copy_from_slice(&b[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Generated {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.buf.len() && self.next < self.total {
            self.buf.clear();
            self.pos = 0;
            // One line at a time.
            let i = self.next;
            self.next += 1;
            writeln!(
                self.buf,
                "-A -t 10.{}.{}.{}:80 -s rr",
                i >> 16,
                (i >> 8) & 255,
                i & 255
            )?;
        }
        Ok(&self.buf[self.pos..])
    }
    fn consume(&mut self, n: usize) {
        self.pos += n;
        self.consumed.set(self.consumed.get() + n);
    }
}

/// A backend that records, for each batch `-R` sends, its size and how much
/// input had been read by then.
struct Streaming {
    inner: FakeKernel,
    consumed: Rc<Cell<usize>>,
    batches: Vec<(usize, usize)>,
}

impl Backend for Streaming {
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
    fn apply(&mut self, changes: &[Change]) -> Result<Vec<Result<(), ipvs::Error>>, ipvs::Error> {
        self.batches.push((changes.len(), self.consumed.get()));
        Ok(changes.iter().map(|c| self.inner.change(c)).collect())
    }
    fn connection_table(&mut self) -> io::Result<Box<dyn BufRead>> {
        self.inner.connection_table()
    }
}

#[test]
fn restore_of_100000_lines_streams_in_bounded_batches() {
    const LINES: u32 = 100_000;
    let consumed = Rc::new(Cell::new(0));
    let mut input = Generated {
        next: 0,
        total: LINES,
        buf: Vec::new(),
        pos: 0,
        consumed: consumed.clone(),
    };
    let mut backend = Streaming {
        inner: FakeKernel::default(),
        consumed: consumed.clone(),
        batches: Vec::new(),
    };
    let mut out = Vec::new();
    let mut err = Vec::new();
    let status = {
        let mut s = Session::new(b"ipvsadm", &mut backend, &Fixed, false, &mut out, &mut err);
        s.run(&["ipvsadm", "-R"], &mut input)
    };
    assert_eq!((status, out.len(), err.len()), (0, 0, 0));
    assert_eq!(backend.inner.model.table.len(), LINES as usize);
    let sizes: usize = backend.batches.iter().map(|b| b.0).sum();
    assert_eq!(sizes, LINES as usize);
    // Bounded batches, sent while the input is still being read: the
    // whole input is never held at once.
    assert!(backend.batches.len() >= 20, "{:?}", backend.batches.len());
    let total = consumed.get();
    for (i, (size, read)) in backend.batches.iter().enumerate() {
        assert!(*size <= 4096, "batch {i}: {size}");
        if i + 1 < backend.batches.len() {
            assert!(
                *read < total,
                "batch {i} was sent after the whole input was read"
            );
        }
    }
    let (first_size, first_read) = backend.batches[0];
    assert!(first_read < total / 10, "{first_size} {first_read} {total}");
    // And listing the 100,000 services works.
    let o = ipvsadm(&mut backend.inner, &Fixed, &["-Sn".into()], b"");
    assert_eq!(o.status, 0);
    assert_eq!(
        o.stdout.iter().filter(|&&b| b == b'\n').count(),
        LINES as usize
    );
}

#[test]
fn odd_connection_tables() {
    let header = cli_support::CONN_HEADER;
    let cases: Vec<(Option<Vec<u8>>, i32, &str)> = vec![
        (None, 1, "cannot open file /proc/net/ip_vs_conn\n"),
        (Some(Vec::new()), 1, "unexpected input from /proc/net/ip_vs_conn\n"),
        (Some(header.as_bytes().to_vec()), 0, ""),
        (Some(format!("{header}\n").into_bytes()), 1, ""),
        (Some(format!("{header}TCP\n").into_bytes()), 0, ""),
        (
            Some(format!("{header}TCP 0A000001 zz 0A000002 0050 0A000003 0050 ESTABLISHED 10\n").into_bytes()),
            0,
            "",
        ),
        (
            Some(format!("{header}TCP ffffffffffffffffffff ffff 0A000002 -1 ::ffff 99999 X -5 sip\n").into_bytes()),
            0,
            "",
        ),
        (Some(vec![b'x'; 100_000]), 0, ""),
        (Some([header.as_bytes(), &[0xff; 1000], b"\n\x00\x01 \t\n"].concat()), 1, ""),
        (
            Some(
                format!(
                    "{header}UDP [2001:db8::1] 0035 2001:0db8:0000:0000:0000:0000:0000:0001 0035 2001:db8::2 0035 UDP 4294967295 sip {}\n",
                    "y".repeat(500)
                )
                .into_bytes(),
            ),
            0,
            "",
        ),
    ];
    for (i, (table, status, err)) in cases.into_iter().enumerate() {
        for args in [&["-Lnc"][..], &["-Lc", "--persistent-conn"][..]] {
            let mut k = FakeKernel::default();
            k.model.conn_table = table.clone();
            let argv: Vec<String> = std::iter::once("ipvsadm")
                .chain(args.iter().copied())
                .map(String::from)
                .collect();
            let o = session(&mut k, &argv, b"").unwrap_or_else(|p| panic!("case {i}: {p}"));
            assert_eq!(
                (o.status, String::from_utf8_lossy(&o.stderr).as_ref()),
                (status, err),
                "case {i} {args:?}"
            );
        }
    }
    // A real row keeps its exact format.
    let mut k = FakeKernel::default();
    k.model.conn_table = Some(
        format!("{header}TCP C0000201 9C40 CB007101 0050 C000020B 0050 ESTABLISHED     899\n")
            .into_bytes(),
    );
    let o = ipvsadm(&mut k, &Fixed, &["-Lnc".into()], b"");
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        "IPVS connection entries\n\
         pro expire state       source             virtual            destination\n\
         TCP 14:59  ESTABLISHED 192.0.2.1:40000    203.0.113.1:80     192.0.2.11:80\n"
    );
}

/// A writer that fails like a closed or full standard output.
struct Failing(i32);

impl Write for Failing {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::from_raw_os_error(self.0))
    }
    fn flush(&mut self) -> io::Result<()> {
        Err(io::Error::from_raw_os_error(self.0))
    }
}

#[test]
fn failing_standard_output_is_an_error_not_a_panic() {
    for (errno, text) in [
        (libc::EPIPE, "Broken pipe"),
        (libc::EBADF, "Bad file descriptor"),
        (libc::ENOSPC, "No space left on device"),
    ] {
        for args in [
            &["-Ln"][..],
            &["-Sn"][..],
            &["-h"][..],
            &["-R"][..],
            &["-L", "--timeout"][..],
        ] {
            let mut k = FakeKernel::default();
            k.model
                .apply(&Change::AddService(Service::new(ServiceKey::tcp(
                    "192.0.2.1".parse().unwrap(),
                    80,
                ))))
                .unwrap();
            let mut out = Failing(errno);
            let mut err = Vec::new();
            let argv: Vec<String> = std::iter::once("ipvsadm")
                .chain(args.iter().copied())
                .map(String::from)
                .collect();
            let status = catch_unwind(AssertUnwindSafe(|| {
                let mut s = Session::new(b"ipvsadm", &mut k, &Fixed, false, &mut out, &mut err);
                s.run(&argv, &mut &b"-Sn\n"[..])
            }))
            .unwrap_or_else(|_| panic!("{args:?} panicked"));
            assert_eq!(status, 1, "{args:?}");
            assert_eq!(
                String::from_utf8(err).unwrap(),
                format!("ipvsadm: write error: {text}\n"),
                "{args:?}"
            );
        }
    }
}
