//! Loopback servers and helpers for the check engine's tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipvs_director::check::{CheckKind, CheckSpec, Engine, Event, EventKind, ProbeResult, Timing};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc::UnboundedReceiver;

/// The longest a test waits for something that must happen (liveness only, never asserted as
/// a duration).
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Fast timing: no warm-up, short periods, the given retry and rise.
pub fn fast(retry: u32, rise: u32) -> Timing {
    Timing {
        delay_loop: Duration::from_millis(50),
        connect_timeout: Duration::from_secs(2),
        retry,
        delay_before_retry: Duration::from_millis(10),
        warmup: Duration::ZERO,
        rise,
        alpha: false,
    }
}

/// A spec with `timing`.
pub fn spec(target: SocketAddr, kind: CheckKind, timing: Timing) -> CheckSpec {
    let mut s = CheckSpec::new(target, kind);
    s.timing = timing;
    s
}

/// The next event, or a panic after [`PATIENCE`].
pub async fn next<K: std::fmt::Debug>(rx: &mut UnboundedReceiver<Event<K>>) -> Event<K> {
    tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .expect("an event in time")
        .expect("the engine is alive")
}

/// The next event that is not a plain result.
pub async fn next_transition<K: std::fmt::Debug>(rx: &mut UnboundedReceiver<Event<K>>) -> Event<K> {
    loop {
        let e = next(rx).await;
        if e.kind != EventKind::Result {
            return e;
        }
    }
}

/// Runs `spec` once (a fresh engine reporting results) and returns the first result.
pub async fn probe_once(spec: CheckSpec) -> ProbeResult {
    let (engine, mut rx) = Engine::new(tokio::runtime::Handle::current(), true);
    engine.add(0u32, spec).expect("a valid spec");
    loop {
        let e = next(&mut rx).await;
        if e.kind == EventKind::Result {
            return e.result;
        }
    }
}

/// A TCP listener that accepts and counts connections, then closes them.
pub async fn tcp_counter(bind: &str) -> (SocketAddr, Arc<AtomicUsize>) {
    let l = TcpListener::bind(bind).await.unwrap();
    let addr = l.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            drop(s);
        }
    });
    (addr, count)
}

/// A TCP server that accepts and keeps every connection open without a word.
pub async fn mute_server(bind: &str) -> SocketAddr {
    let l = TcpListener::bind(bind).await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    addr
}

/// An address where nothing listens (a port just released).
pub async fn closed_tcp(bind: &str) -> SocketAddr {
    let l = TcpListener::bind(bind).await.unwrap();
    l.local_addr().unwrap()
}

/// One request seen by the HTTP server.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// The request line.
    pub line: String,
    /// The Host header.
    pub host: Option<String>,
    /// The TLS server name (HTTPS).
    pub sni: Option<String>,
}

/// What the HTTP server answers: a function of the request path giving the raw response, or
/// `None` to never answer.
pub type Handler = Arc<dyn Fn(&str) -> Option<Vec<u8>> + Send + Sync>;

/// A response with this status and body, with Content-Length.
pub fn response(status: u16, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn serve_http<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    handler: Handler,
    log: Arc<Mutex<Vec<Seen>>>,
    sni: Option<String>,
) {
    let mut r = BufReader::new(stream);
    let mut seen = Seen {
        sni,
        ..Seen::default()
    };
    let mut first = true;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end().to_string();
        if line.is_empty() {
            break;
        }
        if first {
            seen.line = line;
            first = false;
        } else if let Some((n, v)) = line.split_once(':') {
            if n.eq_ignore_ascii_case("host") {
                seen.host = Some(v.trim().to_string());
            }
        }
    }
    let path = seen.line.split(' ').nth(1).unwrap_or("").to_string();
    log.lock().unwrap().push(seen);
    match handler(&path) {
        Some(bytes) => {
            let _ = r.get_mut().write_all(&bytes).await;
            let _ = r.get_mut().shutdown().await;
        }
        None => {
            // Never answer; hold the connection until the client leaves.
            let mut sink = [0u8; 64];
            while r.read(&mut sink).await.unwrap_or(0) > 0 {}
        }
    }
}

/// An HTTP server on `bind` answering with `handler`; its request log.
pub async fn http_server(bind: &str, handler: Handler) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let l = TcpListener::bind(bind).await.unwrap();
    let addr = l.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let lg = log.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(serve_http(s, handler.clone(), lg.clone(), None));
        }
    });
    (addr, log)
}

/// A TLS acceptor with a self-signed certificate for `rs.example.test` made now.
pub fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    use tokio_rustls::rustls::crypto::ring;
    use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio_rustls::rustls::ServerConfig;
    let cert = rcgen::generate_simple_self_signed(vec!["rs.example.test".to_string()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// An HTTPS server with a self-signed certificate for `rs.example.test` made now; its
/// request log (with SNI) and its certificate (PEM).
pub async fn https_server(
    bind: &str,
    handler: Handler,
) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>, String) {
    use tokio_rustls::rustls::crypto::ring;
    use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio_rustls::rustls::ServerConfig;
    let cert = rcgen::generate_simple_self_signed(vec!["rs.example.test".to_string()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let pem = cert.cert.pem();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let l = TcpListener::bind(bind).await.unwrap();
    let addr = l.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let lg = log.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let (acceptor, handler, lg) = (acceptor.clone(), handler.clone(), lg.clone());
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(s).await {
                    let sni = tls.get_ref().1.server_name().map(str::to_string);
                    serve_http(tls, handler, lg, sni).await;
                }
            });
        }
    });
    (addr, log, pem)
}

/// A UDP socket answering each datagram with `answer(datagram)` (nothing for `None`); the
/// count of datagrams received.
pub async fn udp_server(
    bind: &str,
    answer: impl Fn(&[u8]) -> Vec<Vec<u8>> + Send + 'static,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let s = UdpSocket::bind(bind).await.unwrap();
    let addr = s.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = s.recv_from(&mut buf).await {
            c.fetch_add(1, Ordering::SeqCst);
            for reply in answer(&buf[..n]) {
                let _ = s.send_to(&reply, from).await;
            }
        }
    });
    (addr, count)
}

/// A UDP port where nothing listens.
pub async fn closed_udp(bind: &str) -> SocketAddr {
    let s = UdpSocket::bind(bind).await.unwrap();
    s.local_addr().unwrap()
}

/// An SMTP responder: `banner`, then `helo` to HELO/EHLO, `221` to QUIT; the commands seen.
pub async fn smtp_server(
    bind: &str,
    banner: &'static str,
    helo: &'static str,
) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind(bind).await.unwrap();
    let addr = l.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let lg = log.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let lg = lg.clone();
            tokio::spawn(async move {
                let mut r = BufReader::new(s);
                let _ = r.get_mut().write_all(banner.as_bytes()).await;
                let mut line = String::new();
                while r.read_line(&mut line).await.unwrap_or(0) > 0 {
                    let cmd = line.trim_end().to_string();
                    line.clear();
                    lg.lock().unwrap().push(cmd.clone());
                    let answer = if cmd.starts_with("HELO") || cmd.starts_with("EHLO") {
                        helo
                    } else if cmd == "QUIT" {
                        "221 bye\r\n"
                    } else {
                        "500 what\r\n"
                    };
                    let _ = r.get_mut().write_all(answer.as_bytes()).await;
                    if cmd == "QUIT" {
                        return;
                    }
                }
            });
        }
    });
    (addr, log)
}
