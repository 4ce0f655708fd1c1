//! labnet: the small traffic tool of the lab's forwarding cases (busybox has no UDP server
//! or client, and cannot hold TCP connections open or choose a source port and address).
//! Built by tests/lab/run with plain `rustc` (std only) and installed as /lab/bin/labnet.
//!
//!   labnet serve NAME SPEC...   SPEC is tcp:PORT or udp:PORT (IPv4 and IPv6, any address),
//!       or PROTO:PORT@ADDR (that address only: UDP answers then come from it).
//!       TCP: writes "NAME\n" on accept, then answers every line L with "NAME L\n" and
//!       closes when the client does (connections stay open as long as the client wants).
//!       UDP: answers every datagram with "NAME\n" (from the address it was sent to).
//!       Also smtp:PORT (TCP: banner "220 NAME", HELO/EHLO -> 250, QUIT -> 221 and close,
//!       any other line -> 250) and dns:PORT (UDP: every query gets a reply with its id and
//!       question, rcode 0 and one answer of the asked type, empty data), for the director
//!       suite's SMTP_CHECK and DNS_CHECK.
//!   labnet ask [-n N] [-s SRC] [-p SPORT] [-w MS] [-d DATA] tcp|udp HOST PORT
//!       N requests, one after another; prints one line per request: the name that
//!       answered, or "none". -p: source port of the first request (+1 for each next one).
//!       -w: how long to wait for a connection and for an answer (default 3000 ms).
//!       -d: UDP payload (\r \n \t \\ escapes), default "hello".
//!       -u FILE: stop early, before the next request, once FILE exists (N stays the bound).
//!   labnet hold [-n N] [-s SRC] [-p SPORT] [-w MS] [-t SECS] [-r] HOST PORT
//!       opens N TCP connections one after another, each read up to its first line (so it
//!       is established before the next is opened), prints the name of each ("none" if it
//!       failed), then "held PID" (its process id), and keeps them all open for SECS seconds
//!       (default 60) or until killed. -r: the connections are reset when they close
//!       (SO_LINGER 0), so that the director's entries end in CLOSE (10 s) rather than in
//!       TIME_WAIT (2 minutes).
//!   labnet talk [-n N] [-i MS] [-w MS] [-u FILE] HOST PORT
//!       one long-lived TCP connection to a labnet server: prints the name that answered,
//!       then every MS ms (default 100) sends the line "I" (I = 1, 2, ...) and prints the
//!       answer, which must be "NAME I" within -w MS; after N lines (default 1) or once FILE
//!       exists it closes its side and waits for the server's close. Last line: "kept I"
//!       (exit 0), or "broken I WHY" (exit 1) when the connection failed after I good
//!       exchanges (WHY: reset, timeout, closed, wrong answer, connect).
//!   labnet count PORT FILE
//!       a TCP listener on 0.0.0.0:PORT (accept queue 4096) that accepts and closes every
//!       connection and keeps the number accepted so far in FILE (rewritten every 50 ms):
//!       health checks counted at the real server's side, for the director benchmark.
//!   labnet knock SECS HOST PORT
//!       for SECS seconds, one thread opens a TCP connection to HOST:PORT (blocking
//!       connect) and resets it (SO_LINGER 0), one after another, as a TCP health check
//!       does with nothing else around it; prints "knocked N in S s, R per second". The
//!       director benchmark's ceiling: how many checks a second this machine can run at all.
//!   labnet get HOST PORT PATH
//!       one HTTP/1.0 GET of PATH, read as a Prometheus server reads a scrape (256 KiB at a
//!       time), the whole answer (headers and body) written to stdout in writes of the same
//!       size; exit 1 if the connection fails. For the bench's metrics scrape: busybox nc
//!       reads and writes 1 KiB at a time, which at 6 MB is the client's cost, not the
//!       server's.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::fd::FromRawFd;
use std::process::exit;
use std::time::Duration;

fn die(msg: &str) -> ! {
    eprintln!("labnet: {msg}");
    exit(2);
}

fn usage() -> ! {
    die("usage: labnet serve NAME tcp|udp|smtp|dns:PORT... | ask [opts] tcp|udp HOST PORT | hold [opts] HOST PORT | talk [opts] HOST PORT | count PORT FILE | get HOST PORT PATH | knock SECS HOST PORT")
}

// ------------------------------------------------------------------ server

fn serve_tcp(name: String, addr: Option<IpAddr>, port: u16) {
    let listener = match addr {
        Some(a) => TcpListener::bind((a, port)),
        None => TcpListener::bind(("::", port)).or_else(|_| TcpListener::bind(("0.0.0.0", port))),
    }
    .unwrap_or_else(|e| die(&format!("tcp port {port}: {e}")));
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        let name = name.clone();
        std::thread::spawn(move || {
            if conn.write_all(format!("{name}\n").as_bytes()).is_err() {
                return;
            }
            let Ok(read_half) = conn.try_clone() else {
                return;
            };
            for line in BufReader::new(read_half).lines() {
                let Ok(line) = line else { break };
                if conn
                    .write_all(format!("{name} {}\n", line.trim_end()).as_bytes())
                    .is_err()
                {
                    break;
                }
            }
        });
    }
}

fn serve_smtp(name: String, addr: Option<IpAddr>, port: u16) {
    let listener = match addr {
        Some(a) => TcpListener::bind((a, port)),
        None => TcpListener::bind(("::", port)).or_else(|_| TcpListener::bind(("0.0.0.0", port))),
    }
    .unwrap_or_else(|e| die(&format!("smtp port {port}: {e}")));
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        let name = name.clone();
        std::thread::spawn(move || {
            if conn
                .write_all(format!("220 {name} ESMTP\r\n").as_bytes())
                .is_err()
            {
                return;
            }
            let Ok(read_half) = conn.try_clone() else {
                return;
            };
            for line in BufReader::new(read_half).lines() {
                let Ok(line) = line else { break };
                let verb = line
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                let quit = verb == "QUIT";
                let answer = match verb.as_str() {
                    "QUIT" => "221 bye".to_string(),
                    "HELO" | "EHLO" => format!("250 {name}"),
                    _ => "250 ok".to_string(),
                };
                if conn.write_all(format!("{answer}\r\n").as_bytes()).is_err() || quit {
                    break;
                }
            }
        });
    }
}

/// The end of the question section of DNS message `m` (one question), if well formed.
fn dns_question_end(m: &[u8]) -> Option<usize> {
    let mut i = 12;
    loop {
        let len = *m.get(i)? as usize;
        i += 1;
        if len == 0 {
            break;
        }
        i += len;
    }
    (i + 4 <= m.len()).then_some(i + 4)
}

fn serve_dns(addr: Option<IpAddr>, port: u16) {
    let sock = match addr {
        Some(a) => UdpSocket::bind((a, port)),
        None => UdpSocket::bind(("::", port)).or_else(|_| UdpSocket::bind(("0.0.0.0", port))),
    }
    .unwrap_or_else(|e| die(&format!("dns port {port}: {e}")));
    let mut buf = [0u8; 65536];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let q = &buf[..n];
        let Some(end) = dns_question_end(q) else {
            continue;
        };
        let mut r = Vec::with_capacity(end + 12);
        r.extend_from_slice(&q[..2]); // id
        r.extend_from_slice(&[0x84, 0x00]); // QR, AA, rcode 0
        r.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0]); // 1 question, 1 answer
        r.extend_from_slice(&q[12..end]);
        r.extend_from_slice(&[0xc0, 0x0c]); // the question's name
        r.extend_from_slice(&q[end - 4..end - 2]); // its type
        r.extend_from_slice(&[0, 1, 0, 0, 0, 60, 0, 0]); // IN, ttl 60, no data
        let _ = sock.send_to(&r, peer);
    }
}

fn serve_udp(name: String, addr: Option<IpAddr>, port: u16) {
    let sock = match addr {
        Some(a) => UdpSocket::bind((a, port)),
        None => UdpSocket::bind(("::", port)).or_else(|_| UdpSocket::bind(("0.0.0.0", port))),
    }
    .unwrap_or_else(|e| die(&format!("udp port {port}: {e}")));
    let mut buf = [0u8; 65536];
    loop {
        let Ok((_, peer)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let _ = sock.send_to(format!("{name}\n").as_bytes(), peer);
    }
}

fn serve(args: &[String]) -> ! {
    if args.len() < 2 {
        usage();
    }
    let name = args[0].clone();
    let mut threads = Vec::new();
    for spec in &args[1..] {
        let (proto, port) = spec.split_once(':').unwrap_or_else(|| usage());
        let (port, addr) = match port.split_once('@') {
            Some((p, a)) => (p, Some(a.parse().unwrap_or_else(|_| usage()))),
            None => (port, None),
        };
        let port: u16 = port.parse().unwrap_or_else(|_| usage());
        let name = name.clone();
        threads.push(match proto {
            "tcp" => std::thread::spawn(move || serve_tcp(name, addr, port)),
            "udp" => std::thread::spawn(move || serve_udp(name, addr, port)),
            "smtp" => std::thread::spawn(move || serve_smtp(name, addr, port)),
            "dns" => std::thread::spawn(move || serve_dns(addr, port)),
            _ => usage(),
        });
    }
    for t in threads {
        let _ = t.join();
    }
    exit(0)
}

// ------------------------------------------------------------------ client

struct Opts {
    count: u32,
    src: Option<IpAddr>,
    sport: u16,
    wait: Duration,
    data: String,
    hold_secs: u64,
    interval: Duration,
    until: Option<String>,
    reset: bool,
    rest: Vec<String>,
}

impl Opts {
    /// Whether the -u FILE exists (never without -u).
    fn told_to_stop(&self) -> bool {
        self.until
            .as_ref()
            .is_some_and(|f| std::path::Path::new(f).exists())
    }
}

fn parse_opts(args: &[String]) -> Opts {
    let mut o = Opts {
        count: 1,
        src: None,
        sport: 0,
        wait: Duration::from_millis(3000),
        data: "hello".into(),
        hold_secs: 60,
        interval: Duration::from_millis(100),
        until: None,
        reset: false,
        rest: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().unwrap_or_else(|| usage());
        match a.as_str() {
            "-n" => o.count = val().parse().unwrap_or_else(|_| usage()),
            "-s" => o.src = Some(val().parse().unwrap_or_else(|_| usage())),
            "-p" => o.sport = val().parse().unwrap_or_else(|_| usage()),
            "-w" => o.wait = Duration::from_millis(val().parse().unwrap_or_else(|_| usage())),
            "-d" => o.data = unescape(&val()),
            "-t" => o.hold_secs = val().parse().unwrap_or_else(|_| usage()),
            "-i" => o.interval = Duration::from_millis(val().parse().unwrap_or_else(|_| usage())),
            "-u" => o.until = Some(val()),
            "-r" => o.reset = true,
            _ => o.rest.push(a.clone()),
        }
    }
    o
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

fn target(host: &str, port: &str) -> SocketAddr {
    let port: u16 = port.parse().unwrap_or_else(|_| usage());
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| die(&format!("cannot resolve {host}")))
}

// The few libc calls std does not offer: a TCP socket bound to a chosen source address and
// port before it connects.
mod sys {
    use std::ffi::c_void;
    extern "C" {
        pub fn socket(domain: i32, ty: i32, proto: i32) -> i32;
        pub fn setsockopt(fd: i32, level: i32, name: i32, val: *const c_void, len: u32) -> i32;
        pub fn bind(fd: i32, addr: *const c_void, len: u32) -> i32;
        pub fn connect(fd: i32, addr: *const c_void, len: u32) -> i32;
        pub fn close(fd: i32) -> i32;
        pub fn listen(fd: i32, backlog: i32) -> i32;
    }
    pub const AF_INET: i32 = 2;
    pub const AF_INET6: i32 = 10;
    pub const SOCK_STREAM: i32 = 1;
    pub const SOCK_CLOEXEC: i32 = 0o2000000;
    pub const SOL_SOCKET: i32 = 1;
    pub const SO_REUSEADDR: i32 = 2;
    pub const SO_SNDTIMEO: i32 = 21;
    pub const SO_LINGER: i32 = 13;
}

/// A `struct sockaddr_in` / `sockaddr_in6` in memory.
fn raw_sockaddr(a: &SocketAddr) -> Vec<u8> {
    let mut v = Vec::new();
    match a {
        SocketAddr::V4(a) => {
            v.extend_from_slice(&(sys::AF_INET as u16).to_ne_bytes());
            v.extend_from_slice(&a.port().to_be_bytes());
            v.extend_from_slice(&a.ip().octets());
            v.extend_from_slice(&[0; 8]);
        }
        SocketAddr::V6(a) => {
            v.extend_from_slice(&(sys::AF_INET6 as u16).to_ne_bytes());
            v.extend_from_slice(&a.port().to_be_bytes());
            v.extend_from_slice(&a.flowinfo().to_be_bytes());
            v.extend_from_slice(&a.ip().octets());
            v.extend_from_slice(&a.scope_id().to_ne_bytes());
        }
    }
    v
}

fn tcp_connect(
    dst: SocketAddr,
    src: Option<IpAddr>,
    sport: u16,
    wait: Duration,
) -> Option<TcpStream> {
    if src.is_none() && sport == 0 {
        return TcpStream::connect_timeout(&dst, wait).ok();
    }
    let domain = if dst.is_ipv4() {
        sys::AF_INET
    } else {
        sys::AF_INET6
    };
    let local = match src {
        Some(ip) => SocketAddr::new(ip, sport),
        None if dst.is_ipv4() => SocketAddr::new(IpAddr::from([0u8; 4]), sport),
        None => SocketAddr::new(IpAddr::from([0u8; 16]), sport),
    };
    // SAFETY: plain socket syscalls on a descriptor this function owns; the address buffers
    // outlive the calls; on success the descriptor is handed to TcpStream, which closes it.
    unsafe {
        let fd = sys::socket(domain, sys::SOCK_STREAM | sys::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return None;
        }
        let one: i32 = 1;
        sys::setsockopt(
            fd,
            sys::SOL_SOCKET,
            sys::SO_REUSEADDR,
            (&one as *const i32).cast(),
            4,
        );
        // Linux bounds a blocking connect() by SO_SNDTIMEO.
        let tv: [i64; 2] = [wait.as_secs() as i64, i64::from(wait.subsec_micros())];
        sys::setsockopt(
            fd,
            sys::SOL_SOCKET,
            sys::SO_SNDTIMEO,
            tv.as_ptr().cast(),
            16,
        );
        let l = raw_sockaddr(&local);
        let d = raw_sockaddr(&dst);
        if sys::bind(fd, l.as_ptr().cast(), l.len() as u32) != 0
            || sys::connect(fd, d.as_ptr().cast(), d.len() as u32) != 0
        {
            sys::close(fd);
            return None;
        }
        let s = TcpStream::from_raw_fd(fd);
        let _ = s.set_write_timeout(None);
        Some(s)
    }
}

/// Connects and reads the first line: the answering server's name.
fn tcp_open(o: &Opts, dst: SocketAddr, sport: u16) -> (String, Option<TcpStream>) {
    let Some(mut s) = tcp_connect(dst, o.src, sport, o.wait) else {
        return ("none".into(), None);
    };
    let _ = s.set_read_timeout(Some(o.wait));
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while let Ok(1) = s.read(&mut byte) {
        if byte[0] == b'\n' {
            break;
        }
        line.push(byte[0]);
    }
    let name = String::from_utf8_lossy(&line).trim().to_string();
    if name.is_empty() {
        return ("none".into(), None);
    }
    (name, Some(s))
}

fn udp_ask(o: &Opts, dst: SocketAddr, sport: u16) -> String {
    let local = match o.src {
        Some(ip) => SocketAddr::new(ip, sport),
        None if dst.is_ipv4() => SocketAddr::new(IpAddr::from([0u8; 4]), sport),
        None => SocketAddr::new(IpAddr::from([0u8; 16]), sport),
    };
    let Ok(sock) = UdpSocket::bind(local) else {
        return "none".into();
    };
    if sock.connect(dst).is_err() || sock.send(o.data.as_bytes()).is_err() {
        return "none".into();
    }
    let _ = sock.set_read_timeout(Some(o.wait));
    let mut buf = [0u8; 2048];
    match sock.recv(&mut buf) {
        Ok(n) if n > 0 => {
            let s = String::from_utf8_lossy(&buf[..n]).trim().to_string();
            if s.is_empty() {
                "none".into()
            } else {
                s
            }
        }
        _ => "none".into(),
    }
}

fn next_port(o: &Opts, i: u32) -> u16 {
    if o.sport == 0 {
        0
    } else {
        o.sport.wrapping_add(i as u16)
    }
}

fn ask(args: &[String]) -> ! {
    let o = parse_opts(args);
    let [proto, host, port] = o.rest.as_slice() else {
        usage()
    };
    let dst = target(host, port);
    let out = std::io::stdout();
    for i in 0..o.count {
        if o.told_to_stop() {
            break;
        }
        let who = match proto.as_str() {
            "tcp" => tcp_open(&o, dst, next_port(&o, i)).0,
            "udp" => udp_ask(&o, dst, next_port(&o, i)),
            _ => usage(),
        };
        let mut out = out.lock();
        let _ = writeln!(out, "{who}");
        let _ = out.flush();
    }
    exit(0)
}

fn hold(args: &[String]) -> ! {
    let o = parse_opts(args);
    let [host, port] = o.rest.as_slice() else {
        usage()
    };
    let dst = target(host, port);
    let mut held = Vec::new();
    let out = std::io::stdout();
    for i in 0..o.count {
        let (who, s) = tcp_open(&o, dst, next_port(&o, i));
        if o.reset {
            if let Some(s) = &s {
                reset_on_close(s);
            }
        }
        held.extend(s);
        let mut out = out.lock();
        let _ = writeln!(out, "{who}");
        let _ = out.flush();
    }
    {
        let mut out = out.lock();
        let _ = writeln!(out, "held {}", std::process::id());
        let _ = out.flush();
    }
    std::thread::sleep(Duration::from_secs(o.hold_secs));
    drop(held);
    exit(0)
}

/// Why a talk connection failed, from an I/O error.
fn why(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
            "reset".into()
        }
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => "timeout".into(),
        _ => e.to_string(),
    }
}

fn talk(args: &[String]) -> ! {
    let o = parse_opts(args);
    let [host, port] = o.rest.as_slice() else {
        usage()
    };
    let dst = target(host, port);
    let (name, conn) = tcp_open(&o, dst, o.sport);
    println!("{name}");
    let Some(mut conn) = conn else {
        println!("broken 0 connect");
        exit(1)
    };
    let mut lines = BufReader::new(conn.try_clone().unwrap_or_else(|e| die(&e.to_string())));
    let mut done = 0u32;
    let mut line = String::new();
    let failure = loop {
        if done >= o.count || o.told_to_stop() {
            break None;
        }
        std::thread::sleep(o.interval);
        let i = done + 1;
        if let Err(e) = conn.write_all(format!("{i}\n").as_bytes()) {
            break Some(why(&e));
        }
        line.clear();
        match lines.read_line(&mut line) {
            Ok(0) => break Some("closed".into()),
            Err(e) => break Some(why(&e)),
            Ok(_) if line.trim_end() != format!("{name} {i}") => {
                break Some(format!("wrong answer {:?}", line.trim_end()))
            }
            Ok(_) => {
                println!("{}", line.trim_end());
                done = i;
            }
        }
    };
    if let Some(failure) = failure {
        println!("broken {done} {failure}");
        exit(1)
    }
    // A complete connection: our close, then the server's (end of file, no reset).
    let _ = conn.shutdown(std::net::Shutdown::Write);
    line.clear();
    match lines.read_line(&mut line) {
        Ok(0) => {
            println!("kept {done}");
            exit(0)
        }
        Ok(_) => println!("broken {done} wrong answer {:?}", line.trim_end()),
        Err(e) => println!("broken {done} {} at close", why(&e)),
    }
    exit(1)
}

/// `labnet count PORT FILE`: counts accepted connections (see the top of the file).
/// SO_LINGER 0: the connection is reset when it closes (no FIN, no TIME_WAIT).
fn reset_on_close(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    // struct linger { int l_onoff = 1; int l_linger = 0; }
    let linger = [1i32, 0i32];
    // SAFETY: setsockopt on the stream's own open descriptor, with a pointer to 8 bytes that
    // live across the call.
    unsafe {
        sys::setsockopt(
            s.as_raw_fd(),
            sys::SOL_SOCKET,
            sys::SO_LINGER,
            linger.as_ptr().cast(),
            8,
        )
    };
}

fn knock(args: &[String]) -> ! {
    let [secs, host, port] = args else { usage() };
    let secs: f64 = secs.parse().unwrap_or_else(|_| usage());
    let dst = target(host, port);
    let start = std::time::Instant::now();
    let mut n: u64 = 0;
    let mut failed: u64 = 0;
    while start.elapsed().as_secs_f64() < secs {
        match TcpStream::connect_timeout(&dst, Duration::from_secs(3)) {
            Ok(s) => {
                reset_on_close(&s);
                n += 1;
            }
            Err(_) => failed += 1,
        }
    }
    let t = start.elapsed().as_secs_f64();
    println!(
        "knocked {n} in {t:.2} s, {:.0} per second, {failed} failed",
        n as f64 / t
    );
    exit(if n > 0 { 0 } else { 1 })
}

fn count(args: &[String]) -> ! {
    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let [port, file] = args else { usage() };
    let port: u16 = port.parse().unwrap_or_else(|_| usage());
    let listener = TcpListener::bind(("0.0.0.0", port))
        .unwrap_or_else(|e| die(&format!("tcp port {port}: {e}")));
    // std listens with a queue of 128; thousands of checks a second need more.
    // SAFETY: listen() on the listener's own open descriptor.
    unsafe { sys::listen(listener.as_raw_fd(), 4096) };
    let accepted = Arc::new(AtomicU64::new(0));
    let seen = accepted.clone();
    let file = file.clone();
    std::thread::spawn(move || {
        let tmp = format!("{file}.tmp");
        loop {
            let n = seen.load(Ordering::Relaxed);
            if std::fs::write(&tmp, format!("{n}\n")).is_ok() {
                let _ = std::fs::rename(&tmp, &file);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    for conn in listener.incoming() {
        if conn.is_ok() {
            accepted.fetch_add(1, Ordering::Relaxed);
        }
    }
    exit(0)
}

fn get(args: &[String]) -> ! {
    let [host, port, path] = args else { usage() };
    let mut conn = TcpStream::connect(target(host, port))
        .unwrap_or_else(|e| die(&format!("connect {host}:{port}: {e}")));
    let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n");
    conn.write_all(request.as_bytes())
        .unwrap_or_else(|e| die(&format!("send: {e}")));
    let mut buf = vec![0u8; 256 * 1024];
    let mut out = std::io::stdout().lock();
    loop {
        // Fill the buffer before writing it out, as a reader that parses in memory would.
        let mut filled = 0;
        while filled < buf.len() {
            match conn.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => die(&format!("read: {e}")),
            }
        }
        if filled == 0 {
            break;
        }
        out.write_all(&buf[..filled])
            .unwrap_or_else(|e| die(&format!("write: {e}")));
    }
    out.flush().unwrap_or_else(|e| die(&format!("write: {e}")));
    exit(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("ask") => ask(&args[1..]),
        Some("hold") => hold(&args[1..]),
        Some("talk") => talk(&args[1..]),
        Some("count") => count(&args[1..]),
        Some("get") => get(&args[1..]),
        Some("knock") => knock(&args[1..]),
        _ => usage(),
    }
}
