//! ldirectord's negotiate checks that run on the engine, against loopback
//! servers: simpletcp, httpmethod=HEAD, http_proxy, pop, pops, imaps, nntp,
//! ftp, sip (UDP and TCP), ldap, ldaps and radius. Each
//! check is built from an `ldirectord.cf` as the daemon builds it.

mod check_support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use check_support::*;
use ipvs_director::check::{CheckSpec, Failure};
use ipvs_director::ldirectord::{self, EngineCheck};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// The spec of the first real server of the only virtual of `text`.
fn spec_of(text: &str) -> CheckSpec {
    let p = ldirectord::parse_str(text, "t.cf").unwrap_or_else(|e| panic!("{e}"));
    let v = &p.config.virtuals[0];
    match v.reals[0].check.engine_check(v) {
        Ok(EngineCheck::Probe(s)) => *s,
        other => panic!("{other:?}"),
    }
}

fn conf(port: u16, lines: &str) -> String {
    format!("checktimeout=2\nnegotiatetimeout=2\nvirtual=192.0.2.1:{port}\n\treal=127.0.0.1:{port} masq\n{lines}")
}

/// A server that reads the whole request (until the client half-closes),
/// keeps it, then answers with `reply(request)`.
async fn eof_server(reply: fn(&[u8]) -> Vec<u8>) -> (SocketAddr, Arc<Mutex<Vec<Vec<u8>>>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut req = Vec::new();
            let _ = s.read_to_end(&mut req).await;
            s2.lock().unwrap().push(req.clone());
            let _ = s.write_all(&reply(&req)).await;
            let _ = s.shutdown().await;
        }
    });
    (addr, seen)
}

/// Writes `banner`, then `answer(line)` to every line read (none: close).
async fn serve_lines<S: AsyncRead + AsyncWrite + Unpin>(
    s: S,
    banner: &str,
    answer: fn(&str) -> Option<String>,
) {
    let mut r = BufReader::new(s);
    let _ = r.get_mut().write_all(banner.as_bytes()).await;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        match answer(line.trim_end()) {
            Some(a) => {
                let _ = r.get_mut().write_all(a.as_bytes()).await;
            }
            None => return,
        }
    }
}

/// A line server: `banner` first, then `answer(line)` to every line (none:
/// close).
async fn line_server(banner: &'static str, answer: fn(&str) -> Option<String>) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(serve_lines(s, banner, answer));
        }
    });
    addr
}

/// `line_server` over TLS (a self-signed certificate).
async fn tls_line_server(banner: &'static str, answer: fn(&str) -> Option<String>) -> SocketAddr {
    let acceptor = tls_acceptor();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(s).await {
                    serve_lines(tls, banner, answer).await;
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "current_thread")]
async fn simpletcp_sends_half_closes_and_matches_any_reply_line() {
    let (addr, seen) = eof_server(|req| {
        if req == b"ping\nme\n" {
            b"hello\nstatus: PONG\nbye\n".to_vec()
        } else {
            b"what?\n".to_vec()
        }
    })
    .await;
    let text = conf(
        addr.port(),
        "\tservice=simpletcp\n\trequest=\"ping\\nme\\n\"\n\treceive=\"^status: P.NG\"\n",
    );
    let r = probe_once(spec_of(&text)).await;
    assert_eq!(r.outcome, Ok(None), "{r:?}");
    // The server only answered because the request ended (half-close).
    assert_eq!(seen.lock().unwrap()[0], b"ping\nme\n");

    let text = conf(
        addr.port(),
        "\tservice=simpletcp\n\trequest=\"other\"\n\treceive=\"PONG\"\n",
    );
    let r = probe_once(spec_of(&text)).await;
    match r.outcome {
        Err(Failure::BadReply(m)) => assert!(m.contains("PONG"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn httpmethod_head_sends_head() {
    let (addr, log) = http_server("127.0.0.1:0", Arc::new(|_| Some(response(200, "ok")))).await;
    let text = conf(addr.port(), "\tservice=http\n\thttpmethod=HEAD\n");
    let r = probe_once(spec_of(&text)).await;
    assert_eq!(r.outcome, Ok(None), "{r:?}");
    assert_eq!(log.lock().unwrap()[0].line, "HEAD / HTTP/1.0");
    // A 503 to HEAD is down as to GET.
    let (addr, _) = http_server("127.0.0.1:0", Arc::new(|_| Some(response(503, "")))).await;
    let text = conf(addr.port(), "\tservice=http\n\thttpmethod=HEAD\n");
    let r = probe_once(spec_of(&text)).await;
    assert!(
        matches!(r.outcome, Err(Failure::Status { code: 503, .. })),
        "{r:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn http_proxy_asks_the_real_server_for_the_absolute_url() {
    let (addr, log) = http_server(
        "127.0.0.1:0",
        Arc::new(|p| {
            Some(if p == "http://www.example.com/probe" {
                response(200, "proxied fine")
            } else {
                response(404, "")
            })
        }),
    )
    .await;
    let text = conf(
        addr.port(),
        "\tservice=http_proxy\n\trequest=\"http://www.example.com/probe\"\n\treceive=\"fine\"\n",
    );
    let r = probe_once(spec_of(&text)).await;
    assert_eq!(r.outcome, Ok(None), "{r:?}");
    let seen = log.lock().unwrap()[0].clone();
    assert_eq!(seen.line, "GET http://www.example.com/probe HTTP/1.0");
    assert_eq!(seen.host.as_deref(), Some("www.example.com"));
}

#[tokio::test(flavor = "current_thread")]
async fn pop_banner_and_login() {
    let addr = line_server("+OK POP3 ready\r\n", |l| {
        Some(match l {
            "USER u" => "+OK\r\n".into(),
            "PASS right" => "+OK logged in\r\n".into(),
            "QUIT" => "+OK bye\r\n".into(),
            _ => "-ERR no\r\n".into(),
        })
    })
    .await;
    let ok = conf(
        addr.port(),
        "\tservice=pop\n\tlogin=\"u\"\n\tpasswd=\"right\"\n",
    );
    assert_eq!(probe_once(spec_of(&ok)).await.outcome, Ok(None));
    let bad = conf(
        addr.port(),
        "\tservice=pop\n\tlogin=\"u\"\n\tpasswd=\"wrong\"\n",
    );
    match probe_once(spec_of(&bad)).await.outcome {
        Err(Failure::BadReply(m)) => assert!(m.contains("-ERR"), "{m}"),
        other => panic!("{other:?}"),
    }
    // Without a login only the banner counts.
    let anon = conf(addr.port(), "\tservice=pop\n");
    assert_eq!(probe_once(spec_of(&anon)).await.outcome, Ok(None));
    let busy = line_server("-ERR busy\r\n", |_| None).await;
    let text = conf(busy.port(), "\tservice=pop\n");
    assert!(probe_once(spec_of(&text)).await.outcome.is_err());
}

#[tokio::test(flavor = "current_thread")]
async fn nntp_greeting_starts_with_2() {
    let up = line_server("200 news ready\r\n", |_| None).await;
    let text = conf(up.port(), "\tservice=nntp\n");
    assert_eq!(probe_once(spec_of(&text)).await.outcome, Ok(None));
    let down = line_server("502 go away\r\n", |_| None).await;
    let text = conf(down.port(), "\tservice=nntp\n");
    assert!(probe_once(spec_of(&text)).await.outcome.is_err());
}

fn pop_answer(l: &str) -> Option<String> {
    Some(match l {
        "USER u" => "+OK\r\n".into(),
        "PASS right" => "+OK logged in\r\n".into(),
        "QUIT" => "+OK bye\r\n".into(),
        _ => "-ERR no\r\n".into(),
    })
}

#[tokio::test(flavor = "current_thread")]
async fn pops_is_pop_over_tls() {
    let addr = tls_line_server("+OK POP3 ready\r\n", pop_answer).await;
    let ok = conf(
        addr.port(),
        "\tservice=pops\n\tlogin=\"u\"\n\tpasswd=\"right\"\n",
    );
    assert_eq!(probe_once(spec_of(&ok)).await.outcome, Ok(None));
    let bad = conf(
        addr.port(),
        "\tservice=pops\n\tlogin=\"u\"\n\tpasswd=\"wrong\"\n",
    );
    match probe_once(spec_of(&bad)).await.outcome {
        Err(Failure::BadReply(m)) => assert!(m.contains("-ERR"), "{m}"),
        other => panic!("{other:?}"),
    }
    // A plain POP3 server does not pass a pops check.
    let plain = line_server("+OK POP3 ready\r\n", pop_answer).await;
    let text = conf(plain.port(), "\tservice=pops\n");
    match probe_once(spec_of(&text)).await.outcome {
        Err(Failure::Tls(_)) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn imaps_greeting_and_login_over_tls() {
    let addr = tls_line_server("* OK IMAP4rev1 ready\r\n", |l| {
        Some(match l {
            "1 LOGIN u right" => "1 OK logged in\r\n".into(),
            "2 LOGOUT" => "* BYE\r\n2 OK bye\r\n".into(),
            l => format!("{} NO denied\r\n", l.split(' ').next().unwrap_or("*")),
        })
    })
    .await;
    let ok = conf(
        addr.port(),
        "\tservice=imaps\n\tlogin=\"u\"\n\tpasswd=\"right\"\n",
    );
    assert_eq!(probe_once(spec_of(&ok)).await.outcome, Ok(None));
    let bad = conf(
        addr.port(),
        "\tservice=imaps\n\tlogin=\"u\"\n\tpasswd=\"wrong\"\n",
    );
    match probe_once(spec_of(&bad)).await.outcome {
        Err(Failure::BadReply(m)) => assert!(m.contains("1 NO"), "{m}"),
        other => panic!("{other:?}"),
    }
    let busy = tls_line_server("* BYE overloaded\r\n", |_| None).await;
    let text = conf(busy.port(), "\tservice=imaps\n");
    assert!(probe_once(spec_of(&text)).await.outcome.is_err());
}

/// A small FTP server: greeting `greeting`, user `u` with password `right`
/// (or `anonymous` with any password), `RETR /pub/f` gives `file` through a
/// passive data connection. The commands received are logged.
async fn ftp_server(
    greeting: &'static str,
    file: &'static str,
) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let lg = log.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let lg = lg.clone();
            tokio::spawn(async move {
                let mut r = BufReader::new(s);
                let _ = r.get_mut().write_all(greeting.as_bytes()).await;
                let mut user = String::new();
                let mut data: Option<TcpListener> = None;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end().to_string();
                    lg.lock().unwrap().push(line.clone());
                    let (verb, arg) = line.split_once(' ').unwrap_or((&line, ""));
                    let answer: String = match verb {
                        "USER" => {
                            user = arg.to_string();
                            "331 password please\r\n".into()
                        }
                        "PASS" if user == "anonymous" || (user == "u" && arg == "right") => {
                            "230 logged in\r\n".into()
                        }
                        "PASS" => "530 login incorrect\r\n".into(),
                        "CWD" => "250-directory\r\n250 changed\r\n".into(),
                        "TYPE" => "200 binary\r\n".into(),
                        "PASV" => {
                            let d = TcpListener::bind("127.0.0.1:0").await.unwrap();
                            let p = d.local_addr().unwrap().port();
                            data = Some(d);
                            format!(
                                "227 Entering Passive Mode (127,0,0,1,{},{})\r\n",
                                p >> 8,
                                p & 255
                            )
                        }
                        "RETR" if arg == "/pub/f" => match data.take() {
                            Some(d) => {
                                let _ = r.get_mut().write_all(b"150 opening\r\n").await;
                                if let Ok((mut ds, _)) = d.accept().await {
                                    let _ = ds.write_all(file.as_bytes()).await;
                                    let _ = ds.shutdown().await;
                                }
                                "226 done\r\n".into()
                            }
                            None => "425 use PASV first\r\n".into(),
                        },
                        "RETR" => "550 no such file\r\n".into(),
                        "QUIT" => "221 bye\r\n".into(),
                        _ => "500 what\r\n".into(),
                    };
                    let _ = r.get_mut().write_all(answer.as_bytes()).await;
                }
            });
        }
    });
    (addr, log)
}

#[tokio::test(flavor = "current_thread")]
async fn ftp_logs_in_fetches_the_request_and_matches_receive() {
    let (addr, log) = ftp_server("220 FTP ready\r\n", "hello ftp world\n").await;
    let ok = conf(
        addr.port(),
        "\tservice=ftp\n\tlogin=\"u\"\n\tpasswd=\"right\"\n\trequest=\"pub/f\"\n\treceive=\"ftp w.rld\"\n",
    );
    assert_eq!(probe_once(spec_of(&ok)).await.outcome, Ok(None));
    let seen = log.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "USER u",
            "PASS right",
            "CWD /",
            "TYPE I",
            "PASV",
            "RETR /pub/f",
            "QUIT"
        ]
    );
    // The file does not match.
    let text = conf(
        addr.port(),
        "\tservice=ftp\n\tlogin=\"u\"\n\tpasswd=\"right\"\n\trequest=\"pub/f\"\n\treceive=\"goodbye\"\n",
    );
    match probe_once(spec_of(&text)).await.outcome {
        Err(Failure::RegexNoMatch(m)) => assert!(m.contains("/pub/f"), "{m}"),
        other => panic!("{other:?}"),
    }
    // No such file: nothing to match.
    let text = conf(
        addr.port(),
        "\tservice=ftp\n\tlogin=\"u\"\n\tpasswd=\"right\"\n\trequest=\"nope\"\n\treceive=\"hello\"\n",
    );
    match probe_once(spec_of(&text)).await.outcome {
        Err(Failure::RegexNoMatch(m)) => assert!(m.contains("550"), "{m}"),
        other => panic!("{other:?}"),
    }
    // A wrong password.
    let text = conf(
        addr.port(),
        "\tservice=ftp\n\tlogin=\"u\"\n\tpasswd=\"wrong\"\n\trequest=\"pub/f\"\n\treceive=\"hello\"\n",
    );
    match probe_once(spec_of(&text)).await.outcome {
        Err(Failure::BadReply(m)) => assert!(m.contains("530"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn ftp_without_receive_is_greeting_and_anonymous_login() {
    let (addr, log) = ftp_server("220-Welcome\r\n220 FTP ready\r\n", "").await;
    let text = conf(addr.port(), "\tservice=ftp\n");
    assert_eq!(probe_once(spec_of(&text)).await.outcome, Ok(None));
    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[0], "USER anonymous");
    assert!(seen[1].starts_with("PASS ldirectord@"), "{seen:?}");
    assert_eq!(seen[2], "QUIT");
    let (down, _) = ftp_server("421 too many users\r\n", "").await;
    let text = conf(down.port(), "\tservice=ftp\n");
    match probe_once(spec_of(&text)).await.outcome {
        Err(Failure::BadReply(m)) => assert!(m.contains("421"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// A SIP server over UDP answering every request with `status`; the requests.
async fn sip_udp_server(status: &'static str) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let lg = log.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            lg.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let reply = format!("{status}\r\nCSeq: 63104 OPTIONS\r\nContent-Length: 0\r\n\r\n");
            let _ = sock.send_to(reply.as_bytes(), from).await;
        }
    });
    (addr, log)
}

fn sip_conf(port: u16, protocol: &str) -> String {
    format!(
        "checktimeout=2\nnegotiatetimeout=2\nvirtual=192.0.2.1:{port}\n\treal=127.0.0.1:{port} masq\n\tservice=sip\n\tprotocol={protocol}\n"
    )
}

#[tokio::test(flavor = "current_thread")]
async fn sip_options_over_udp_needs_200_ok() {
    let (addr, log) = sip_udp_server("SIP/2.0 200 OK").await;
    assert_eq!(
        probe_once(spec_of(&sip_conf(addr.port(), "udp")))
            .await
            .outcome,
        Ok(None)
    );
    let req = log.lock().unwrap()[0].clone();
    assert!(req.starts_with("OPTIONS sip:ldirectord@"), "{req}");
    assert!(req.contains("\r\nVia: SIP/2.0/UDP 127.0.0.1:"), "{req}");
    assert!(req.contains("\r\nCSeq: 63104 OPTIONS\r\n"), "{req}");
    assert!(req.ends_with("Content-Length: 0\r\n\r\n"), "{req}");
    let (busy, _) = sip_udp_server("SIP/2.0 503 Service Unavailable").await;
    match probe_once(spec_of(&sip_conf(busy.port(), "udp")))
        .await
        .outcome
    {
        Err(Failure::BadReply(m)) => assert!(m.contains("503"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn sip_options_over_tcp_needs_200_ok() {
    // The request ends with an empty line: then the status.
    fn answer(l: &str) -> Option<String> {
        Some(if l.is_empty() {
            "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n".to_string()
        } else {
            String::new()
        })
    }
    let up = line_server("", answer).await;
    assert_eq!(
        probe_once(spec_of(&sip_conf(up.port(), "tcp")))
            .await
            .outcome,
        Ok(None)
    );
    let down = line_server("", |l| {
        Some(if l.is_empty() {
            "SIP/2.0 404 Not Found\r\n\r\n".to_string()
        } else {
            String::new()
        })
    })
    .await;
    match probe_once(spec_of(&sip_conf(down.port(), "tcp")))
        .await
        .outcome
    {
        Err(Failure::BadReply(m)) => assert!(m.contains("404"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// One BER element of `buf`: (tag, content, rest).
fn ber(buf: &[u8]) -> (u8, &[u8], &[u8]) {
    let (tag, first) = (buf[0], buf[1]);
    let (len, at) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        (
            buf[2..2 + n].iter().fold(0, |a, &b| a << 8 | b as usize),
            2 + n,
        )
    };
    (tag, &buf[at..at + len], &buf[at + len..])
}

fn ber_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    assert!(content.len() < 0x80);
    [&[tag, content.len() as u8][..], content].concat()
}

fn ldap_msg(id: u8, op: Vec<u8>) -> Vec<u8> {
    ber_tlv(0x30, &[ber_tlv(0x02, &[id]), op].concat())
}

fn ldap_result(tag: u8, code: u8) -> Vec<u8> {
    ber_tlv(
        tag,
        &[
            ber_tlv(0x0a, &[code]),
            ber_tlv(0x04, b""),
            ber_tlv(0x04, b""),
        ]
        .concat(),
    )
}

/// A small LDAP server: a bind of `cn=admin` needs password `right`
/// (anonymous binds pass); a base search of `dc=example,dc=org` finds that
/// entry, of anything else nothing. The (dn, password) of the binds and the
/// bases searched are logged.
async fn ldap_server(tls: bool) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, log: Arc<Mutex<Vec<String>>>) {
        loop {
            let mut head = [0u8; 2];
            if s.read_exact(&mut head).await.is_err() {
                return;
            }
            let mut body = vec![0u8; head[1] as usize];
            if head[1] >= 0x80 || s.read_exact(&mut body).await.is_err() {
                return;
            }
            let (_, id, rest) = ber(&body);
            let id = id[0];
            let (op, content, _) = ber(rest);
            let reply = match op {
                0x60 => {
                    let (_, _version, rest) = ber(content);
                    let (_, dn, rest) = ber(rest);
                    let (_, pw, _) = ber(rest);
                    let (dn, pw) = (String::from_utf8_lossy(dn), String::from_utf8_lossy(pw));
                    log.lock().unwrap().push(format!("bind {dn:?} {pw:?}"));
                    let ok = dn.is_empty() || (dn == "cn=admin" && pw == "right");
                    ldap_msg(id, ldap_result(0x61, if ok { 0 } else { 49 }))
                }
                0x63 => {
                    let (_, base, rest) = ber(content);
                    let (_, scope, _) = ber(rest);
                    let base = String::from_utf8_lossy(base).into_owned();
                    log.lock()
                        .unwrap()
                        .push(format!("search {base:?} scope {}", scope[0]));
                    let mut out = Vec::new();
                    if base == "dc=example,dc=org" {
                        out = ldap_msg(
                            id,
                            ber_tlv(
                                0x64,
                                &[ber_tlv(0x04, base.as_bytes()), ber_tlv(0x30, &[])].concat(),
                            ),
                        );
                    }
                    out.extend(ldap_msg(
                        id,
                        ldap_result(0x65, if out.is_empty() { 32 } else { 0 }),
                    ));
                    out
                }
                _ => return,
            };
            if s.write_all(&reply).await.is_err() {
                return;
            }
        }
    }
    let acceptor = tls_acceptor();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let lg = log.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let (acceptor, lg) = (acceptor.clone(), lg.clone());
            tokio::spawn(async move {
                if tls {
                    if let Ok(t) = acceptor.accept(s).await {
                        serve(t, lg).await;
                    }
                } else {
                    serve(s, lg).await;
                }
            });
        }
    });
    (addr, log)
}

#[tokio::test(flavor = "current_thread")]
async fn ldap_binds_and_finds_one_entry() {
    let (addr, log) = ldap_server(false).await;
    let ok = conf(
        addr.port(),
        "\tservice=ldap\n\trequest=\"dc=example,dc=org\"\n\treceive=\"example\"\n",
    );
    assert_eq!(probe_once(spec_of(&ok)).await.outcome, Ok(None));
    assert_eq!(
        log.lock().unwrap().clone(),
        ["bind \"\" \"\"", "search \"dc=example,dc=org\" scope 0"]
    );
    let login = conf(
        addr.port(),
        "\tservice=ldap\n\tlogin=\"cn=admin\"\n\tpasswd=\"right\"\n\trequest=\"dc=example,dc=org\"\n",
    );
    assert_eq!(probe_once(spec_of(&login)).await.outcome, Ok(None));
    let wrong = conf(
        addr.port(),
        "\tservice=ldap\n\tlogin=\"cn=admin\"\n\tpasswd=\"wrong\"\n\trequest=\"dc=example,dc=org\"\n",
    );
    match probe_once(spec_of(&wrong)).await.outcome {
        Err(Failure::BadReply(m)) => assert!(m.contains("resultCode 49"), "{m}"),
        other => panic!("{other:?}"),
    }
    let missing = conf(addr.port(), "\tservice=ldap\n\trequest=\"dc=other\"\n");
    match probe_once(spec_of(&missing)).await.outcome {
        Err(Failure::BadReply(m)) => assert!(m.contains("0 entries"), "{m}"),
        other => panic!("{other:?}"),
    }
    let mismatch = conf(
        addr.port(),
        "\tservice=ldap\n\trequest=\"dc=example,dc=org\"\n\treceive=\"^ou=\"\n",
    );
    match probe_once(spec_of(&mismatch)).await.outcome {
        Err(Failure::RegexNoMatch(_)) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn ldaps_is_ldap_over_tls() {
    let (addr, log) = ldap_server(true).await;
    let ok = conf(
        addr.port(),
        "\tservice=ldaps\n\trequest=\"dc=example,dc=org\"\n",
    );
    assert_eq!(probe_once(spec_of(&ok)).await.outcome, Ok(None));
    assert_eq!(log.lock().unwrap().len(), 2);
    let (plain, _) = ldap_server(false).await;
    let text = conf(
        plain.port(),
        "\tservice=ldaps\n\trequest=\"dc=example,dc=org\"\n",
    );
    assert!(probe_once(spec_of(&text)).await.outcome.is_err());
}

/// A RADIUS server with secret `secret`: accepts user `u` with password
/// `right` (recovered from User-Password), rejects anything else; answers
/// with a response authenticator made with `secret`.
async fn radius_server(secret: &'static str) -> SocketAddr {
    use md5::{Digest, Md5};
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let p = buf[..n].to_vec();
            assert_eq!(p[0], 1, "Access-Request");
            assert_eq!(u16::from_be_bytes([p[2], p[3]]) as usize, n);
            let auth = &p[4..20];
            let (mut user, mut pass) = (Vec::new(), Vec::new());
            let mut a = &p[20..];
            while a.len() >= 2 {
                let (t, l) = (a[0], a[1] as usize);
                match t {
                    1 => user = a[2..l].to_vec(),
                    2 => {
                        let mut prev = auth.to_vec();
                        for block in a[2..l].chunks(16) {
                            let k = Md5::new()
                                .chain_update(secret)
                                .chain_update(&prev)
                                .finalize();
                            pass.extend(block.iter().zip(k.iter()).map(|(c, k)| c ^ k));
                            prev = block.to_vec();
                        }
                        while pass.last() == Some(&0) {
                            pass.pop();
                        }
                    }
                    _ => {}
                }
                a = &a[l..];
            }
            let code = if user == b"u" && pass == b"right" {
                2
            } else {
                3
            };
            let mut reply = vec![code, p[1], 0, 20];
            let ra = Md5::new()
                .chain_update(&reply[..4])
                .chain_update(auth)
                .chain_update(secret)
                .finalize();
            reply.extend_from_slice(&ra);
            let _ = sock.send_to(&reply, from).await;
        }
    });
    addr
}

fn radius_conf(port: u16, passwd: &str, secret: &str) -> String {
    format!(
        "checktimeout=2\nnegotiatetimeout=2\nvirtual=192.0.2.1:{port}\n\treal=127.0.0.1:{port} masq\n\tservice=radius\n\tprotocol=udp\n\tlogin=\"u\"\n\tpasswd=\"{passwd}\"\n\tsecret=\"{secret}\"\n"
    )
}

#[tokio::test(flavor = "current_thread")]
async fn radius_access_accept_is_up_reject_and_wrong_secret_are_down() {
    let addr = radius_server("s3cret").await;
    let ok = radius_conf(addr.port(), "right", "s3cret");
    assert_eq!(probe_once(spec_of(&ok)).await.outcome, Ok(None));
    let reject = radius_conf(addr.port(), "wrong", "s3cret");
    match probe_once(spec_of(&reject)).await.outcome {
        Err(Failure::BadReply(m)) => assert!(m.contains("Access-Reject"), "{m}"),
        other => panic!("{other:?}"),
    }
    // Another secret: the password does not decode, and the answer's
    // authenticator does not verify.
    let secret = radius_conf(addr.port(), "right", "other");
    match probe_once(spec_of(&secret)).await.outcome {
        Err(Failure::BadReply(m)) => assert!(m.contains("authenticator"), "{m}"),
        other => panic!("{other:?}"),
    }
}
