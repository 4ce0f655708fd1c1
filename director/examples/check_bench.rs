//! Benchmark of the check engine: N concurrent TCP_CHECKs, then N HTTP_GETs, on one core.
//!
//! ```text
//! cargo run --release -p ipvs-director --example check_bench -- [--checks N] [--seconds S] [--kind tcp|http|both] [--hold-ms MS] [--delay-ms MS] [--warmup-ms MS]
//! ```
//!
//! The engine runs on a `current_thread` runtime on the main thread; the listeners run in a
//! child process (its own descriptor limit), on 127.0.0.1-127.0.0.20, five ports each, so the
//! client's ephemeral ports are reused across destinations. Every check has its own identity
//! (a distinct target in 198.18.0.0/15, probed through `connect_ip`/`connect_port` on
//! loopback), so nothing is shared: N checks are N probes per period. By default all start at
//! once (`--warmup-ms 0`) to show the peak in flight; with `--warmup-ms` = `--delay-ms` they
//! spread over the period as keepalived's default warm-up does; the HTTP server holds each answer `--hold-ms` so the
//! probes stay in flight together. Bounded: N ≤ 50,000, S ≤ 60 per kind.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use ipvs_director::check::{CheckKind, CheckSpec, Engine, EventKind, HttpCheck, Timing, UrlCheck};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ADDRESSES: u8 = 20;
const PORTS_PER_ADDRESS: u16 = 5;

fn rusage(who: i32) -> libc::rusage {
    // SAFETY: getrusage fills the struct it is given; a zeroed rusage is a valid value.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut u);
        u
    }
}

fn cpu_seconds(u: &libc::rusage) -> f64 {
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn raise_nofile(want: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit on a local struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        let raised = libc::rlimit {
            rlim_cur: want,
            rlim_max: want.max(lim.rlim_max),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            return want;
        }
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        lim.rlim_cur
    }
}

fn listen_addrs() -> Vec<SocketAddr> {
    let mut v = Vec::new();
    for a in 1..=ADDRESSES {
        for p in 0..PORTS_PER_ADDRESS {
            v.push(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(127, 0, 0, a)),
                20000 + p,
            ));
        }
    }
    v
}

/// The listeners (`--serve tcp|http`, a child process with its own descriptor limit): TCP
/// ports accept and close; HTTP ports answer 200 after `hold`. Prints "ready", serves until
/// stdin closes, then prints its CPU seconds.
fn serve(http: bool, hold: Duration) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        for addr in listen_addrs() {
            let sock = tokio::net::TcpSocket::new_v4().expect("socket");
            sock.set_reuseaddr(true).expect("reuseaddr");
            sock.bind(addr).expect("bind");
            let l = sock.listen(4096).expect("listen");
            tokio::spawn(async move {
                loop {
                    let mut s = match l.accept().await {
                        Ok((s, _)) => s,
                        Err(e) => {
                            eprintln!("accept: {e}");
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    };
                    if !http {
                        drop(s);
                        continue;
                    }
                    tokio::spawn(async move {
                        let mut buf = [0u8; 1024];
                        let mut got = Vec::new();
                        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                            match s.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => got.extend_from_slice(&buf[..n]),
                            }
                        }
                        tokio::time::sleep(hold).await;
                        let _ = s
                            .write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
                            .await;
                    });
                }
            });
        }
        println!("ready");
        let _ = tokio::task::spawn_blocking(|| {
            use std::io::Read;
            let mut buf = [0u8; 16];
            while std::io::stdin()
                .read(&mut buf)
                .map(|n| n > 0)
                .unwrap_or(false)
            {}
        })
        .await;
    });
    println!("{}", cpu_seconds(&rusage(libc::RUSAGE_SELF)));
}

/// Starts the listeners' process and waits until it listens.
fn servers(http: bool, hold: Duration) -> std::process::Child {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().expect("own path"))
        .args(["--serve", if http { "http" } else { "tcp" }])
        .args(["--hold-ms", &hold.as_millis().to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("listeners");
    let mut out = std::io::BufReader::new(child.stdout.as_mut().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("ready line");
    assert_eq!(line.trim(), "ready", "listeners up");
    child
}

fn spec(i: usize, http: bool, delay: Duration, warmup: Duration) -> CheckSpec {
    let addrs = listen_addrs();
    let dst = addrs[i % addrs.len()];
    // A distinct real server per check (198.18.0.0/15), probed on loopback.
    let target = SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(
            198,
            18 + (i >> 16) as u8,
            (i >> 8) as u8,
            i as u8,
        )),
        80,
    );
    let kind = if http {
        CheckKind::Http(HttpCheck::new(UrlCheck::new("/health")))
    } else {
        CheckKind::Tcp
    };
    let mut s = CheckSpec::new(target, kind);
    s.connect.connect_ip = Some(dst.ip());
    s.connect.connect_port = Some(dst.port());
    s.timing = Timing {
        delay_loop: delay,
        connect_timeout: Duration::from_secs(10),
        retry: 1,
        delay_before_retry: Duration::from_secs(1),
        warmup,
        rise: 1,
        alpha: false,
    };
    s
}

fn run(kind: &str, checks: usize, seconds: u64, hold: Duration, delay: Duration, warmup: Duration) {
    let http = kind == "http";
    let mut server = servers(http, hold);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let u0 = rusage(libc::RUSAGE_THREAD);
    let (ok, failed, first_failure, stats, elapsed, (p50, p99, max)) = rt.block_on(async {
        let (engine, mut rx) = Engine::new(tokio::runtime::Handle::current(), true);
        let start = Instant::now();
        for i in 0..checks {
            engine
                .add(i, spec(i, http, delay, warmup))
                .expect("valid spec");
        }
        let deadline = start + Duration::from_secs(seconds);
        let (mut ok, mut failed, mut first_failure) = (0u64, 0u64, None);
        let mut durations: Vec<Duration> = Vec::new();
        while let Ok(Some(e)) = tokio::time::timeout_at(deadline.into(), rx.recv()).await {
            if e.kind == EventKind::Result {
                durations.push(e.result.duration);
                match e.result.outcome {
                    Ok(_) => ok += 1,
                    Err(f) => {
                        failed += 1;
                        first_failure.get_or_insert(f.to_string());
                    }
                }
            }
        }
        let stats = engine.stats();
        let elapsed = start.elapsed();
        drop(engine);
        durations.sort();
        let pct = |p: f64| {
            durations
                .get(((durations.len() as f64 * p) as usize).min(durations.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        let percentiles = (
            pct(0.5),
            pct(0.99),
            durations.last().copied().unwrap_or_default(),
        );
        (ok, failed, first_failure, stats, elapsed, percentiles)
    });
    let u1 = rusage(libc::RUSAGE_THREAD);
    let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    let user = secs(u1.ru_utime) - secs(u0.ru_utime);
    let sys = secs(u1.ru_stime) - secs(u0.ru_stime);
    let cpu = user + sys;
    drop(rt);
    drop(server.stdin.take());
    let mut rest = String::new();
    use std::io::Read;
    let _ = server
        .stdout
        .take()
        .map(|mut o| o.read_to_string(&mut rest));
    let _ = server.wait();
    let server_cpu: f64 = rest.trim().parse().unwrap_or(f64::NAN);
    let done = ok + failed;
    println!(
        "== {kind}: {checks} checks, delay_loop {delay:?}, warm-up {warmup:?}, {seconds} s{}",
        if http {
            format!(", server holds each answer {hold:?}")
        } else {
            String::new()
        }
    );
    println!("  probes finished        {done} ({ok} ok, {failed} failed)");
    if let Some(f) = first_failure {
        println!("  first failure          {f}");
    }
    println!("  peak in flight         {}", stats.peak_in_flight);
    println!("  probe duration         p50 {p50:.1?}, p99 {p99:.1?}, max {max:.1?}");
    println!(
        "  probes/s               {:.0}",
        done as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  checker CPU            {cpu:.2} s ({user:.2} user + {sys:.2} sys) on one thread ({:.1}% of one core)",
        100.0 * cpu / elapsed.as_secs_f64()
    );
    println!(
        "  CPU s per 1000 checks  {:.4}",
        if done > 0 {
            cpu * 1000.0 / done as f64
        } else {
            f64::NAN
        }
    );
    println!("  listeners' CPU         {server_cpu:.2} s (another process)");
}

fn main() {
    let mut checks = 10_000usize;
    let mut seconds = 10u64;
    let mut kind = "both".to_string();
    let mut hold_ms = 500u64;
    let mut serve_kind = None;
    let mut delay_ms = 1000u64;
    let mut warmup_ms = 0u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--checks" => checks = v.parse().unwrap_or(checks).min(50_000),
            "--seconds" => seconds = v.parse().unwrap_or(seconds).clamp(1, 60),
            "--kind" => kind = v,
            "--hold-ms" => hold_ms = v.parse().unwrap_or(hold_ms).min(5_000),
            "--serve" => serve_kind = Some(v),
            "--warmup-ms" => warmup_ms = v.parse().unwrap_or(warmup_ms).min(60_000),
            "--delay-ms" => delay_ms = v.parse().unwrap_or(delay_ms).clamp(10, 60_000),
            _ => {
                eprintln!("usage: check_bench [--checks N] [--seconds S] [--kind tcp|http|both] [--hold-ms MS] [--delay-ms MS] [--warmup-ms MS]");
                std::process::exit(2);
            }
        }
    }
    let nofile = raise_nofile(2 * checks as u64 + 1024);
    if let Some(k) = serve_kind {
        serve(k == "http", Duration::from_millis(hold_ms));
        return;
    }
    println!("RLIMIT_NOFILE {nofile}");
    let kinds: Vec<&str> = match kind.as_str() {
        "both" => vec!["tcp", "http"],
        "tcp" => vec!["tcp"],
        "http" => vec!["http"],
        _ => {
            eprintln!("--kind tcp|http|both");
            std::process::exit(2);
        }
    };
    for k in kinds {
        run(
            k,
            checks,
            seconds,
            Duration::from_millis(hold_ms),
            Duration::from_millis(delay_ms),
            Duration::from_millis(warmup_ms),
        );
    }
    let maxrss_kib = rusage(libc::RUSAGE_SELF).ru_maxrss;
    println!(
        "peak RSS of the checker process {:.1} MiB",
        maxrss_kib as f64 / 1024.0
    );
}
