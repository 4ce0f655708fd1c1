//! ldirectord's negotiate checks that run on the engine, against loopback
//! servers: simpletcp, httpmethod=HEAD, http_proxy, pop and nntp. Each
//! check is built from an `ldirectord.cf` as the daemon builds it.

mod check_support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use check_support::*;
use ipvs_director::check::{CheckSpec, Failure};
use ipvs_director::ldirectord::{self, EngineCheck};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
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

/// A line server: `banner` first, then `answer(line)` to every line (none:
/// close).
async fn line_server(banner: &'static str, answer: fn(&str) -> Option<String>) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(async move {
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
