//! The network checkers against loopback servers: success and each failure reason.

mod check_support;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use check_support::*;
use ipvs_director::check::{
    CheckKind, DnsCheck, Failure, HttpCheck, HttpProtocol, ReplyPattern, SmtpCheck, Stage,
    UdpCheck, UrlCheck,
};

fn http(urls: Vec<UrlCheck>) -> HttpCheck {
    let mut h = HttpCheck::new(urls[0].clone());
    h.urls = urls;
    h
}

fn fixed(bytes: Vec<u8>) -> Handler {
    Arc::new(move |_| Some(bytes.clone()))
}

async fn outcome(target: SocketAddr, kind: CheckKind) -> Result<(), Failure> {
    probe_once(spec(target, kind, fast(0, 1)))
        .await
        .outcome
        .map(|w| assert_eq!(w, None, "no weight from a network check"))
}

// ---- TCP_CHECK ----

#[tokio::test]
async fn tcp_success_refused() {
    let (addr, count) = tcp_counter("127.0.0.1:0").await;
    assert_eq!(outcome(addr, CheckKind::Tcp).await, Ok(()));
    for _ in 0..100 {
        if count.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "one connection at the server"
    );
    let (addr6, _) = tcp_counter("[::1]:0").await;
    assert_eq!(outcome(addr6, CheckKind::Tcp).await, Ok(()));
    let closed = closed_tcp("127.0.0.1:0").await;
    assert_eq!(outcome(closed, CheckKind::Tcp).await, Err(Failure::Refused));
}

/// A listener on 127.0.0.1 that never accepts, with its accept queue filled by the
/// connections returned (held open): the kernel drops new SYNs to it.
async fn full_listener() -> (socket2::Socket, SocketAddr, Vec<tokio::net::TcpStream>) {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    sock.listen(0).unwrap();
    let addr = sock.local_addr().unwrap().as_socket().unwrap();
    let mut held = Vec::new();
    let mut filled = false;
    for _ in 0..16 {
        match tokio::time::timeout(
            Duration::from_millis(300),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            Ok(Ok(s)) => held.push(s),
            _ => {
                filled = true;
                break;
            }
        }
    }
    assert!(filled, "the accept queue fills up");
    (sock, addr, held)
}

#[tokio::test]
async fn tcp_timeout_when_syns_are_dropped() {
    // A listener that never accepts, with a full accept queue: the kernel drops new SYNs.
    let (_sock, addr, _held) = full_listener().await;
    let mut timing = fast(0, 1);
    timing.connect_timeout = Duration::from_millis(300);
    let r = probe_once(spec(addr, CheckKind::Tcp, timing)).await;
    assert_eq!(r.outcome, Err(Failure::Timeout(Stage::Connect)));
}

/// Whether a socket of this host is in SYN_SENT towards `port` on 127.0.0.1 (/proc/net/tcp).
fn syn_sent_to(port: u16) -> bool {
    let want = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap()
        .lines()
        .skip(1)
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[2] == want && f[3] == "02"
        })
}

#[tokio::test]
async fn tcp_check_waits_for_a_handshake_still_under_way() {
    // The handshake is not over when connect returns (its SYN is dropped by a listener whose
    // accept queue is full): the probe waits on the event loop, and succeeds once the queue
    // is drained and the retransmitted SYN is answered.
    let (sock, addr, held) = full_listener().await;
    // The filling attempt that timed out has gone; only the probe will be in SYN_SENT.
    for _ in 0..100 {
        if !syn_sent_to(addr.port()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!syn_sent_to(addr.port()));
    let mut timing = fast(0, 1);
    timing.connect_timeout = Duration::from_secs(10);
    let probe = tokio::spawn(probe_once(spec(addr, CheckKind::Tcp, timing)));
    let mut pending = false;
    for _ in 0..500 {
        if syn_sent_to(addr.port()) {
            pending = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(pending, "the probe's connection is pending (SYN_SENT)");
    // Drain the queue and keep accepting: the SYN's retransmission is answered.
    sock.set_nonblocking(true).unwrap();
    let l = tokio::net::TcpListener::from_std(std::net::TcpListener::from(sock)).unwrap();
    let server = tokio::spawn(async move {
        let mut accepted = Vec::new();
        loop {
            accepted.push(l.accept().await.unwrap().0);
        }
    });
    let r = probe.await.unwrap();
    server.abort();
    drop(held);
    assert_eq!(r.outcome, Ok(None));
}

#[tokio::test]
async fn tcp_connect_overrides_and_bind_address() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let peer = tokio::spawn(async move { l.accept().await.unwrap().1 });
    // The target is a closed port on another address; connect_ip/port redirect the probe.
    let closed = closed_tcp("127.0.0.3:0").await;
    let mut s = spec(closed, CheckKind::Tcp, fast(0, 1));
    s.connect.connect_ip = Some(addr.ip());
    s.connect.connect_port = Some(addr.port());
    s.connect.bind_ip = Some("127.0.0.2".parse().unwrap());
    assert_eq!(probe_once(s).await.outcome, Ok(None));
    let peer = peer.await.unwrap();
    assert_eq!(
        peer.ip().to_string(),
        "127.0.0.2",
        "the probe came from bindto"
    );
}

// ---- HTTP_GET ----

const BODY: &str = "<html>service OK</html>";

fn md5_hex(s: &str) -> String {
    // The test's own MD5 (same crate, independent of the checker's code path).
    use md5::{Digest, Md5};
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn http_success_digest_regex_host() {
    let handler: Handler = Arc::new(|path| match path {
        "/a" => Some(response(200, BODY)),
        "/b" => Some(response(301, "moved")),
        _ => Some(response(404, "")),
    });
    let (addr, log) = http_server("127.0.0.1:0", handler).await;
    let mut a = UrlCheck::new("/a");
    a.digest = Some(md5_hex(BODY).to_uppercase());
    a.regex = Some("service (OK|fine)".into());
    let mut b = UrlCheck::new("/b");
    b.status = vec![(200, 299), (301, 302)];
    b.virtualhost = Some("b.example.test".into());
    let mut check = http(vec![a, b]);
    check.virtualhost = Some("www.example.test".into());
    assert_eq!(outcome(addr, CheckKind::Http(check)).await, Ok(()));
    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "both URLs requested: {seen:?}");
    assert_eq!(seen[0].line, "GET /a HTTP/1.0");
    assert_eq!(seen[0].host.as_deref(), Some("www.example.test"));
    assert_eq!(seen[1].line, "GET /b HTTP/1.0");
    assert_eq!(seen[1].host.as_deref(), Some("b.example.test"));
    // Without virtualhost, Host is the probed address.
    let check = http(vec![UrlCheck::new("/a")]);
    assert_eq!(outcome(addr, CheckKind::Http(check)).await, Ok(()));
    assert_eq!(
        log.lock().unwrap()[2].host.as_deref(),
        Some(addr.to_string().as_str())
    );
}

#[tokio::test]
async fn http_failure_reasons() {
    let handler: Handler = Arc::new(|path| {
        match path {
        "/ok" => Some(response(200, BODY)),
        "/busy" => Some(response(503, "busy")),
        "/big" => Some(response(200, &"x".repeat(5000))),
        "/close" => Some(format!("HTTP/1.0 200 OK\r\n\r\n{BODY}").into_bytes()),
        "/chunked" => Some(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n<html>s\r\n10\r\nervice OK</html>\r\n0\r\n\r\n"
                .to_vec(),
        ),
        "/garbage" => Some(b"SSH-2.0-OpenSSH_9.6\r\n".to_vec()),
        "/silent" => None,
        _ => Some(response(404, "")),
    }
    });
    let (addr, _) = http_server("127.0.0.1:0", handler).await;
    let run = |url: UrlCheck| async move { outcome(addr, CheckKind::Http(http(vec![url]))).await };

    // Status outside the range; the same status accepted by a custom range.
    assert_eq!(
        run(UrlCheck::new("/busy")).await,
        Err(Failure::Status {
            path: "/busy".into(),
            code: 503,
            expected: vec![(200, 299)]
        })
    );
    let mut busy_ok = UrlCheck::new("/busy");
    busy_ok.status = vec![(500, 503)];
    assert_eq!(run(busy_ok).await, Ok(()));
    // The first failing URL fails the check.
    let two = http(vec![UrlCheck::new("/ok"), UrlCheck::new("/missing")]);
    assert!(matches!(
        outcome(addr, CheckKind::Http(two)).await,
        Err(Failure::Status { code: 404, .. })
    ));

    // Digest over each body framing.
    for path in ["/ok", "/close", "/chunked"] {
        let mut u = UrlCheck::new(path);
        u.digest = Some(md5_hex(BODY));
        assert_eq!(run(u).await, Ok(()), "{path}");
    }
    let mut u = UrlCheck::new("/ok");
    u.digest = Some(md5_hex("something else"));
    assert_eq!(
        run(u).await,
        Err(Failure::Digest {
            path: "/ok".into(),
            got: md5_hex(BODY),
            expected: md5_hex("something else")
        })
    );

    // Regex and regex_no_match.
    let mut u = UrlCheck::new("/ok");
    u.regex = Some("maintenance".into());
    assert_eq!(
        run(u.clone()).await,
        Err(Failure::RegexNoMatch("/ok".into()))
    );
    u.regex_no_match = true;
    assert_eq!(run(u.clone()).await, Ok(()));
    u.regex = Some("service OK".into());
    assert_eq!(run(u).await, Err(Failure::RegexMatched("/ok".into())));

    // A body over the limit, a non-HTTP reply, no reply.
    let mut big = http(vec![UrlCheck::new("/big")]);
    big.urls[0].regex = Some("x".into());
    big.max_body = 1000;
    assert_eq!(
        outcome(addr, CheckKind::Http(big)).await,
        Err(Failure::BodyTooLarge("/big".into()))
    );
    assert!(matches!(
        run(UrlCheck::new("/garbage")).await,
        Err(Failure::BadReply(_))
    ));
    let mut t = fast(0, 1);
    t.connect_timeout = Duration::from_millis(300);
    let r = probe_once(spec(
        addr,
        CheckKind::Http(http(vec![UrlCheck::new("/silent")])),
        t,
    ))
    .await;
    assert_eq!(r.outcome, Err(Failure::Timeout(Stage::Reply)));
    // Refused.
    let closed = closed_tcp("127.0.0.1:0").await;
    assert_eq!(
        outcome(closed, CheckKind::Http(http(vec![UrlCheck::new("/")]))).await,
        Err(Failure::Refused)
    );
}

#[tokio::test]
async fn http_over_ipv6_and_http11() {
    let (addr, log) = http_server("[::1]:0", fixed(response(204, ""))).await;
    let mut check = http(vec![UrlCheck::new("/v6")]);
    check.protocol = HttpProtocol::Http11;
    assert_eq!(outcome(addr, CheckKind::Http(check)).await, Ok(()));
    let seen = log.lock().unwrap()[0].clone();
    assert_eq!(seen.line, "GET /v6 HTTP/1.1");
    assert_eq!(seen.host, Some(format!("[::1]:{}", addr.port())));
}

// ---- SSL_GET ----

#[tokio::test]
async fn https_success_sni_and_failures() {
    let handler: Handler = Arc::new(|path| match path {
        "/ok" => Some(response(200, BODY)),
        _ => Some(response(500, "")),
    });
    let (addr, log, _) = https_server("127.0.0.1:0", handler).await;
    // Self-signed, for another name: accepted (not verified, as keepalived).
    let mut u = UrlCheck::new("/ok");
    u.digest = Some(md5_hex(BODY));
    let mut check = http(vec![u]);
    check.enable_sni = true;
    check.sni_name = Some("rs.example.test".into());
    assert_eq!(outcome(addr, CheckKind::Ssl(check.clone())).await, Ok(()));
    // SNI off: no server name sent.
    check.enable_sni = false;
    assert_eq!(outcome(addr, CheckKind::Ssl(check)).await, Ok(()));
    // The status is checked over TLS too.
    assert!(matches!(
        outcome(addr, CheckKind::Ssl(http(vec![UrlCheck::new("/x")]))).await,
        Err(Failure::Status { code: 500, .. })
    ));
    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].sni.as_deref(), Some("rs.example.test"));
    assert_eq!(seen[1].sni, None);
    // A server that accepts and says nothing: the handshake times out.
    let mute = mute_server("127.0.0.1:0").await;
    let mut t = fast(0, 1);
    t.connect_timeout = Duration::from_millis(300);
    assert_eq!(
        probe_once(spec(
            mute,
            CheckKind::Ssl(http(vec![UrlCheck::new("/")])),
            t
        ))
        .await
        .outcome,
        Err(Failure::Timeout(Stage::Tls))
    );
    // TLS to a plain HTTP server fails in the handshake.
    let (plain, _) = http_server("127.0.0.1:0", fixed(response(200, ""))).await;
    assert!(matches!(
        outcome(plain, CheckKind::Ssl(http(vec![UrlCheck::new("/")]))).await,
        Err(Failure::Tls(_))
    ));
}

// ---- SMTP_CHECK ----

#[tokio::test]
async fn smtp_success_and_failures() {
    let (addr, log) = smtp_server("127.0.0.1:0", "220 mx ESMTP\r\n", "250 hello\r\n").await;
    let helo = SmtpCheck {
        helo_name: "lvsd.example.test".into(),
        ehlo: false,
    };
    assert_eq!(outcome(addr, CheckKind::Smtp(helo.clone())).await, Ok(()));
    assert_eq!(
        *log.lock().unwrap(),
        ["HELO lvsd.example.test", "QUIT"],
        "the dialogue"
    );
    // EHLO with a multi-line reply and a multi-line banner.
    let (addr, log) = smtp_server(
        "127.0.0.1:0",
        "220-mx first\r\n220 mx ready\r\n",
        "250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
    )
    .await;
    let ehlo = SmtpCheck {
        ehlo: true,
        ..helo.clone()
    };
    assert_eq!(outcome(addr, CheckKind::Smtp(ehlo)).await, Ok(()));
    assert_eq!(*log.lock().unwrap(), ["EHLO lvsd.example.test", "QUIT"]);
    // A refusing banner, a refused HELO.
    let (addr, _) = smtp_server("127.0.0.1:0", "554 go away\r\n", "250 ok\r\n").await;
    assert_eq!(
        outcome(addr, CheckKind::Smtp(helo.clone())).await,
        Err(Failure::Smtp {
            stage: "banner",
            line: "554 go away".into()
        })
    );
    let (addr, _) = smtp_server("127.0.0.1:0", "220 mx\r\n", "501 bad name\r\n").await;
    assert_eq!(
        outcome(addr, CheckKind::Smtp(helo.clone())).await,
        Err(Failure::Smtp {
            stage: "HELO",
            line: "501 bad name".into()
        })
    );
    // No banner at all: a reply timeout; a server that closes at once: a bad reply.
    let (mute, _) = smtp_server("127.0.0.1:0", "", "250 ok\r\n").await;
    let mut t = fast(0, 1);
    t.connect_timeout = Duration::from_millis(300);
    assert_eq!(
        probe_once(spec(mute, CheckKind::Smtp(helo.clone()), t))
            .await
            .outcome,
        Err(Failure::Timeout(Stage::Reply))
    );
    let (closer, _) = tcp_counter("127.0.0.1:0").await;
    assert!(matches!(
        outcome(closer, CheckKind::Smtp(helo)).await,
        Err(Failure::BadReply(_))
    ));
}

// ---- DNS_CHECK ----

/// A reply to `query` with this RCODE and answer count, and optionally a different ID.
fn dns_reply(query: &[u8], rcode: u8, answers: u16, id_delta: u16) -> Vec<u8> {
    let mut r = query.to_vec();
    let id = u16::from_be_bytes([r[0], r[1]]).wrapping_add(id_delta);
    r[..2].copy_from_slice(&id.to_be_bytes());
    r[2] |= 0x80;
    r[3] = (r[3] & 0xf0) | rcode;
    r[6..8].copy_from_slice(&answers.to_be_bytes());
    if answers > 0 {
        // One A record pointing at the question's name.
        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
    }
    r
}

#[tokio::test]
async fn dns_success_and_failures() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    // A wrong ID first (ignored), then the right answer.
    let (addr, count) = udp_server("127.0.0.1:0", move |q| {
        s2.lock().unwrap().push(q.to_vec());
        vec![dns_reply(q, 0, 1, 1), dns_reply(q, 0, 1, 0)]
    })
    .await;
    let a = DnsCheck {
        qtype: DnsCheck::type_from_name("a").unwrap(),
        name: "www.example.test".into(),
    };
    assert_eq!(outcome(addr, CheckKind::Dns(a.clone())).await, Ok(()));
    assert_eq!(count.load(Ordering::SeqCst), 1);
    let q = seen.lock().unwrap()[0].clone();
    assert_eq!(&q[2..6], &[1, 0, 0, 1], "RD set, one question");
    assert_eq!(&q[12..], b"\x03www\x07example\x04test\x00\x00\x01\x00\x01");

    let (nx, _) = udp_server("127.0.0.1:0", |q| vec![dns_reply(q, 3, 0, 0)]).await;
    assert_eq!(
        outcome(nx, CheckKind::Dns(a.clone())).await,
        Err(Failure::DnsRcode(3))
    );
    let (empty, _) = udp_server("127.0.0.1:0", |q| vec![dns_reply(q, 0, 0, 0)]).await;
    assert_eq!(
        outcome(empty, CheckKind::Dns(a.clone())).await,
        Err(Failure::DnsNoAnswer)
    );
    let (wrong_id, _) = udp_server("127.0.0.1:0", |q| vec![dns_reply(q, 0, 1, 7)]).await;
    let mut t = fast(0, 1);
    t.connect_timeout = Duration::from_millis(300);
    assert_eq!(
        probe_once(spec(wrong_id, CheckKind::Dns(a.clone()), t.clone()))
            .await
            .outcome,
        Err(Failure::Timeout(Stage::Reply))
    );
    let closed = closed_udp("127.0.0.1:0").await;
    assert_eq!(
        outcome(closed, CheckKind::Dns(a)).await,
        Err(Failure::PortUnreachable)
    );
}

// ---- UDP_CHECK ----

#[tokio::test]
async fn udp_success_and_failures() {
    let (echo, count) = udp_server("127.0.0.1:0", |d| vec![d.to_vec()]).await;
    let (silent, _) = udp_server("127.0.0.1:0", |_| vec![]).await;
    let closed = closed_udp("127.0.0.1:0").await;
    let mut t = fast(0, 1);
    t.connect_timeout = Duration::from_millis(300);
    let run = |target, check: UdpCheck| {
        let t = t.clone();
        async move {
            probe_once(spec(target, CheckKind::Udp(check), t))
                .await
                .outcome
        }
    };
    let plain = UdpCheck {
        payload: b"ping".to_vec(),
        max_reply_len: 255,
        ..UdpCheck::default()
    };
    // No reply required: silence passes, an answer passes, ICMP port unreachable fails.
    assert_eq!(run(silent, plain.clone()).await, Ok(None));
    assert_eq!(run(echo, plain.clone()).await, Ok(None));
    assert_eq!(
        run(closed, plain.clone()).await,
        Err(Failure::PortUnreachable)
    );
    // A reply required and matched with don't-care nibbles ("p" = 0x70, "i" = 0x69).
    let mut need = plain.clone();
    need.require_reply = ReplyPattern::parse_hex("7X69");
    assert_eq!(run(echo, need.clone()).await, Ok(None));
    need.require_reply = ReplyPattern::parse_hex("706A");
    assert_eq!(run(echo, need.clone()).await, Err(Failure::ReplyMismatch));
    need.require_reply = ReplyPattern::parse_hex("70");
    need.min_reply_len = 5;
    assert_eq!(run(echo, need.clone()).await, Err(Failure::ReplyLength(4)));
    need.min_reply_len = 0;
    assert_eq!(
        run(silent, need.clone()).await,
        Err(Failure::Timeout(Stage::Reply))
    );
    assert_eq!(
        run(closed, need.clone()).await,
        Err(Failure::PortUnreachable)
    );
    let (echo6, _) = udp_server("[::1]:0", |d| vec![d.to_vec()]).await;
    assert_eq!(run(echo6, need).await, Ok(None));
    assert_eq!(
        run(closed_udp("[::1]:0").await, plain).await,
        Err(Failure::PortUnreachable)
    );
    assert_eq!(
        count.load(Ordering::SeqCst),
        4,
        "datagrams seen by the echo server"
    );
}

// ---- PING_CHECK ----

#[tokio::test]
async fn ping_loopback() {
    for target in ["127.0.0.1:0", "[::1]:0"] {
        let target: SocketAddr = target.parse().unwrap();
        match probe_once(spec(target, CheckKind::Ping, fast(0, 1)))
            .await
            .outcome
        {
            Err(Failure::Socket(e)) => {
                eprintln!("NOTICE: ping test skipped: {e}");
                return;
            }
            other => assert_eq!(other, Ok(None), "{target}"),
        }
    }
}

#[tokio::test]
async fn concurrent_pings_each_get_their_own_reply() {
    // Raw sockets see every echo reply of the host; each probe must pick its own.
    let (engine, mut rx) =
        ipvs_director::check::Engine::new(tokio::runtime::Handle::current(), true);
    let n = 20u16;
    for i in 0..n {
        let target = SocketAddr::from(([127, 0, 0, 1], 1000 + i));
        engine
            .add(i, spec(target, CheckKind::Ping, fast(0, 1)))
            .unwrap();
    }
    let mut got = std::collections::BTreeMap::new();
    while got.len() < usize::from(n) {
        let e = next(&mut rx).await;
        if let Err(Failure::Socket(e)) = &e.result.outcome {
            eprintln!("NOTICE: ping test skipped: {e}");
            return;
        }
        got.entry(e.key).or_insert(e.result.outcome);
    }
    assert!(got.values().all(|o| *o == Ok(None)), "{got:?}");
}

#[tokio::test]
async fn tcp_check_closes_with_a_reset() {
    use tokio::io::AsyncReadExt;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut buf = [0u8; 8];
        s.read(&mut buf).await.map_err(|e| e.kind())
    });
    assert_eq!(outcome(addr, CheckKind::Tcp).await, Ok(()));
    // A RST, not a FIN (which would read as Ok(0)): no TIME_WAIT left on the director.
    assert_eq!(
        server.await.unwrap(),
        Err(std::io::ErrorKind::ConnectionReset)
    );
}

#[tokio::test]
async fn https_verification_with_a_ca_file() {
    let (addr, _, pem) = https_server("127.0.0.1:0", fixed(response(200, BODY))).await;
    let dir = std::env::temp_dir().join(format!("lvsd-check-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &pem).unwrap();
    let other_ca = dir.join("other.pem");
    let other = rcgen::generate_simple_self_signed(vec!["rs.example.test".to_string()]).unwrap();
    std::fs::write(&other_ca, other.cert.pem()).unwrap();

    let mut check = http(vec![UrlCheck::new("/")]);
    check.ca_file = Some(ca.clone());
    check.sni_name = Some("rs.example.test".into());
    assert_eq!(outcome(addr, CheckKind::Ssl(check.clone())).await, Ok(()));
    // The name verified is the virtual host when there is no sni_name.
    check.sni_name = None;
    check.virtualhost = Some("rs.example.test".into());
    assert_eq!(outcome(addr, CheckKind::Ssl(check.clone())).await, Ok(()));
    // Another name, another CA: the handshake fails.
    check.virtualhost = Some("www.example.test".into());
    let wrong_name = outcome(addr, CheckKind::Ssl(check.clone())).await;
    assert!(
        matches!(&wrong_name, Err(Failure::Tls(e)) if e.contains("not valid for name")),
        "{wrong_name:?}"
    );
    check.virtualhost = Some("rs.example.test".into());
    check.ca_file = Some(other_ca);
    let wrong_ca = outcome(addr, CheckKind::Ssl(check.clone())).await;
    assert!(
        matches!(&wrong_ca, Err(Failure::Tls(e)) if e.contains("certificate")),
        "{wrong_ca:?}"
    );
    // An unreadable CA file is refused when the check is added.
    check.ca_file = Some(dir.join("missing.pem"));
    let (engine, _rx) =
        ipvs_director::check::Engine::<u8>::new(tokio::runtime::Handle::current(), false);
    assert!(matches!(
        engine.add(0, spec(addr, CheckKind::Ssl(check), fast(0, 1))),
        Err(ipvs_director::check::SpecError::Tls(_))
    ));
}

#[tokio::test]
async fn http_against_busybox_httpd() {
    if std::process::Command::new("busybox")
        .arg("true")
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        eprintln!("NOTICE: busybox not installed, busybox httpd test skipped");
        return;
    }
    let dir = std::env::temp_dir().join(format!("lvsd-check-www-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("health.html"), BODY).unwrap();
    let addr = closed_tcp("127.0.0.1:0").await;
    let mut httpd = tokio::process::Command::new("busybox")
        .args(["httpd", "-f", "-p", &addr.to_string(), "-h"])
        .arg(&dir)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(up, "busybox httpd listens on {addr}");
    let mut page = UrlCheck::new("/health.html");
    page.digest = Some(md5_hex(BODY));
    page.regex = Some("service OK".into());
    assert_eq!(
        outcome(addr, CheckKind::Http(http(vec![page]))).await,
        Ok(())
    );
    assert!(matches!(
        outcome(
            addr,
            CheckKind::Http(http(vec![UrlCheck::new("/missing.html")]))
        )
        .await,
        Err(Failure::Status { code: 404, .. })
    ));
    let _ = httpd.kill().await;
}
