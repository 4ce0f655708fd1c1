//! HTTP_GET and SSL_GET: a small HTTP/1.x client over any async stream.

use std::net::SocketAddr;

use md5::{Digest, Md5};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_rustls::rustls::pki_types::ServerName;

use super::net::{connect_tcp, failure};
use super::{tls, CheckSpec, Failure, HttpCheck, HttpProtocol, SpecError, Stage, UrlCheck};

/// The largest status line or header line, and the largest header block.
const MAX_LINE: usize = 8 << 10;
const MAX_HEADERS: usize = 64 << 10;

/// A URL's compiled regex.
#[derive(Debug)]
pub(crate) struct PreparedUrl {
    regex: Option<regex::bytes::Regex>,
}

/// An HTTP check's compiled parts: the URLs' regexes and, for SSL_GET, the TLS connector.
pub(crate) struct PreparedHttp {
    urls: Vec<PreparedUrl>,
    tls: Option<tokio_rustls::TlsConnector>,
}

/// Checks the URLs' regexes and digests; for SSL_GET, reads the CA file if there is one.
pub(crate) fn prepare(check: &HttpCheck, ssl: bool) -> Result<PreparedHttp, SpecError> {
    let tls = match ssl {
        false => None,
        true => Some(
            match &check.ca_file {
                None => tls::connector(check.enable_sni),
                Some(ca) => tls::verifying_connector(ca, check.enable_sni),
            }
            .map_err(SpecError::Tls)?,
        ),
    };
    Ok(PreparedHttp {
        urls: prepare_urls(check)?,
        tls,
    })
}

fn prepare_urls(check: &HttpCheck) -> Result<Vec<PreparedUrl>, SpecError> {
    if check.urls.is_empty() {
        return Err(SpecError::NoUrl);
    }
    check
        .urls
        .iter()
        .map(|url| {
            if let Some(d) = &url.digest {
                if d.len() != 32 || !d.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(SpecError::Digest(d.clone()));
                }
            }
            let regex = match &url.regex {
                Some(r) => {
                    Some(regex::bytes::Regex::new(r).map_err(|e| SpecError::Regex(e.to_string()))?)
                }
                None => None,
            };
            Ok(PreparedUrl { regex })
        })
        .collect()
}

fn host_header(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// The request keepalived sends: a GET with its user agent and the Host header.
pub(crate) fn request(check: &HttpCheck, url: &UrlCheck, addr: SocketAddr) -> Vec<u8> {
    let host = url
        .virtualhost
        .clone()
        .or_else(|| check.virtualhost.clone())
        .unwrap_or_else(|| host_header(addr));
    let (minor, close) = match check.protocol {
        HttpProtocol::Http10 => (0, ""),
        HttpProtocol::Http10Close => (0, "Connection: close\r\n"),
        HttpProtocol::Http11 => (1, "Connection: close\r\n"),
    };
    let method = if check.head { "HEAD" } else { "GET" };
    format!(
        "{method} {} HTTP/1.{minor}\r\nUser-Agent: KeepAliveClient\r\nHost: {host}\r\n{close}\r\n",
        url.path
    )
    .into_bytes()
}

/// HTTP_GET / SSL_GET: every URL in turn, each bounded by the connect timeout.
pub(crate) async fn check(
    spec: &CheckSpec,
    check: &HttpCheck,
    prepared: &PreparedHttp,
) -> Result<(), Failure> {
    for (url, prep) in check.urls.iter().zip(&prepared.urls) {
        let mut stage = Stage::Connect;
        let limit = spec.timing.connect_timeout;
        let tls = prepared.tls.as_ref();
        let r = tokio::time::timeout(limit, one_url(spec, check, url, prep, tls, &mut stage)).await;
        match r {
            Ok(Ok(())) => {}
            Ok(Err(f)) => return Err(f),
            Err(_) => return Err(Failure::Timeout(stage)),
        }
    }
    Ok(())
}

async fn one_url(
    spec: &CheckSpec,
    check: &HttpCheck,
    url: &UrlCheck,
    prep: &PreparedUrl,
    tls: Option<&tokio_rustls::TlsConnector>,
    stage: &mut Stage,
) -> Result<(), Failure> {
    *stage = Stage::Connect;
    let tcp = connect_tcp(spec).await?;
    let req = request(check, url, spec.probe_addr());
    if let Some(connector) = tls {
        *stage = Stage::Tls;
        // The name sent as SNI (when enabled) and verified (with a CA file): `sni_name`,
        // else the virtual host, else the address.
        let name = check
            .sni_name
            .clone()
            .or_else(|| url.virtualhost.clone())
            .or_else(|| check.virtualhost.clone())
            .and_then(|n| ServerName::try_from(n).ok())
            .unwrap_or_else(|| ServerName::IpAddress(spec.probe_addr().ip().into()));
        let stream = connector
            .connect(name, tcp)
            .await
            .map_err(|e| Failure::Tls(e.to_string()))?;
        exchange(stream, &req, url, prep, check, stage).await
    } else {
        exchange(tcp, &req, url, prep, check, stage).await
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    req: &[u8],
    url: &UrlCheck,
    prep: &PreparedUrl,
    check: &HttpCheck,
    stage: &mut Stage,
) -> Result<(), Failure> {
    let max_body = check.max_body;
    *stage = Stage::Request;
    stream
        .write_all(req)
        .await
        .map_err(|e| failure(Stage::Request, &e))?;
    stream
        .flush()
        .await
        .map_err(|e| failure(Stage::Request, &e))?;
    *stage = Stage::Reply;
    // A reply to HEAD has no body, whatever its Content-Length says.
    let need_body = !check.head && (url.digest.is_some() || prep.regex.is_some());
    let mut reader = BufReader::with_capacity(2048, stream);
    let response = read_response(&mut reader, need_body, max_body)
        .await
        .map_err(|e| match e {
            ReadError::Io(e) => failure(Stage::Reply, &e),
            ReadError::Bad(m) => Failure::BadReply(m),
            ReadError::TooLarge => Failure::BodyTooLarge(url.path.clone()),
        })?;
    verify(url, prep, &response)
}

/// The status and the body's checks of one URL.
fn verify(url: &UrlCheck, prep: &PreparedUrl, response: &Response) -> Result<(), Failure> {
    if !url
        .status
        .iter()
        .any(|&(lo, hi)| (lo..=hi).contains(&response.status))
    {
        return Err(Failure::Status {
            path: url.path.clone(),
            code: response.status,
            expected: url.status.clone(),
        });
    }
    let body = response.body.as_deref().unwrap_or_default();
    if let Some(expected) = &url.digest {
        let got = hex(&Md5::digest(body));
        if !got.eq_ignore_ascii_case(expected) {
            return Err(Failure::Digest {
                path: url.path.clone(),
                got,
                expected: expected.to_ascii_lowercase(),
            });
        }
    }
    if let Some(re) = &prep.regex {
        match (re.is_match(body), url.regex_no_match) {
            (false, false) => return Err(Failure::RegexNoMatch(url.path.clone())),
            (true, true) => return Err(Failure::RegexMatched(url.path.clone())),
            _ => {}
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A response: its status and, if asked for, its body.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Option<Vec<u8>>,
}

#[derive(Debug)]
pub(crate) enum ReadError {
    Io(std::io::Error),
    Bad(String),
    TooLarge,
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> ReadError {
        ReadError::Io(e)
    }
}

/// One line without its CRLF (or LF), at most `max` bytes.
async fn read_line<R: AsyncBufReadExt + Unpin>(
    r: &mut R,
    max: usize,
) -> Result<Vec<u8>, ReadError> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Err(ReadError::Bad("connection closed in the header".into()));
        }
        let (take, done) = match memchr(b'\n', buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        line.extend_from_slice(&buf[..take]);
        r.consume(take);
        if line.len() > max {
            return Err(ReadError::Bad("header line too long".into()));
        }
        if done {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(line);
        }
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Reads a response: status line, headers, and the body (Content-Length, chunked, or until
/// close) when `need_body`. Interim 1xx responses are skipped.
pub(crate) async fn read_response<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    need_body: bool,
    max_body: usize,
) -> Result<Response, ReadError> {
    loop {
        let line = read_line(r, MAX_LINE).await?;
        let text = String::from_utf8_lossy(&line);
        let mut parts = text.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        if !version.starts_with("HTTP/1.") {
            return Err(ReadError::Bad(format!("status line {text:?}")));
        }
        let status: u16 = parts
            .next()
            .filter(|s| s.len() == 3)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| ReadError::Bad(format!("status line {text:?}")))?;
        let mut length: Option<usize> = None;
        let mut chunked = false;
        let mut total = 0;
        loop {
            let h = read_line(r, MAX_LINE).await?;
            if h.is_empty() {
                break;
            }
            total += h.len();
            if total > MAX_HEADERS {
                return Err(ReadError::Bad("header too large".into()));
            }
            let h = String::from_utf8_lossy(&h);
            let Some((name, value)) = h.split_once(':') else {
                return Err(ReadError::Bad(format!("header line {h:?}")));
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(
                    value
                        .parse()
                        .map_err(|_| ReadError::Bad(format!("Content-Length {value:?}")))?,
                );
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value
                    .rsplit(',')
                    .next()
                    .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
            }
        }
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        if !need_body {
            return Ok(Response { status, body: None });
        }
        let body = if chunked {
            read_chunked(r, max_body).await?
        } else if let Some(n) = length {
            if n > max_body {
                return Err(ReadError::TooLarge);
            }
            let mut body = vec![0; n];
            r.read_exact(&mut body).await?;
            body
        } else {
            read_to_close(r, max_body).await?
        };
        return Ok(Response {
            status,
            body: Some(body),
        });
    }
}

async fn read_chunked<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    max_body: usize,
) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r, MAX_LINE).await?;
        let text = String::from_utf8_lossy(&line);
        let size = text.split(';').next().unwrap_or_default().trim();
        let n = usize::from_str_radix(size, 16)
            .map_err(|_| ReadError::Bad(format!("chunk size {size:?}")))?;
        if n == 0 {
            // Trailers, up to the empty line.
            while !read_line(r, MAX_LINE).await?.is_empty() {}
            return Ok(body);
        }
        if body.len() + n > max_body {
            return Err(ReadError::TooLarge);
        }
        let start = body.len();
        body.resize(start + n, 0);
        r.read_exact(&mut body[start..]).await?;
        if !read_line(r, 2).await?.is_empty() {
            return Err(ReadError::Bad("chunk not followed by CRLF".into()));
        }
    }
}

async fn read_to_close<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    max_body: usize,
) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    let mut buf = vec![0u8; 8192];
    loop {
        let n = match r.read(&mut buf).await {
            Ok(n) => n,
            // A TLS peer that closes without close_notify ends the body too.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            return Ok(body);
        }
        if body.len() + n > max_body {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(raw: &[u8], max: usize) -> Result<Response, ReadError> {
        let mut r = BufReader::new(raw);
        read_response(&mut r, true, max).await
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn bodies_by_length_chunks_and_close() {
        rt().block_on(async {
            let r = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloXX", 100)
                .await
                .unwrap();
            assert_eq!((r.status, r.body.unwrap()), (200, b"hello".to_vec()));
            let r = parse(
                b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n",
                100,
            )
            .await
            .unwrap();
            assert_eq!((r.status, r.body.unwrap()), (201, b"abcde".to_vec()));
            let r = parse(b"HTTP/1.0 503 Busy\nServer: x\n\nuntil close", 100)
                .await
                .unwrap();
            assert_eq!((r.status, r.body.unwrap()), (503, b"until close".to_vec()));
            let r = parse(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No\r\nContent-Length: 0\r\n\r\n", 100)
                .await
                .unwrap();
            assert_eq!((r.status, r.body.unwrap()), (204, vec![]));
        });
    }

    #[test]
    fn limits_and_garbage() {
        rt().block_on(async {
            assert!(matches!(
                parse(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", 10).await,
                Err(ReadError::TooLarge)
            ));
            assert!(matches!(
                parse(b"HTTP/1.1 200 OK\r\n\r\n0123456789abc", 10).await,
                Err(ReadError::TooLarge)
            ));
            assert!(matches!(
                parse(b"SSH-2.0-OpenSSH\r\n", 10).await,
                Err(ReadError::Bad(_))
            ));
            assert!(matches!(
                parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", 100).await,
                Err(ReadError::Io(_))
            ));
        });
    }

    #[test]
    fn request_has_host_and_protocol() {
        let mut check = HttpCheck::new(UrlCheck::new("/h"));
        let addr: SocketAddr = "[::1]:8080".parse().unwrap();
        assert_eq!(
            request(&check, &check.urls[0], addr),
            b"GET /h HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: [::1]:8080\r\n\r\n"
        );
        check.virtualhost = Some("www.example.com".into());
        check.protocol = HttpProtocol::Http11;
        assert_eq!(
            request(&check, &check.urls[0], addr),
            b"GET /h HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nHost: www.example.com\r\nConnection: close\r\n\r\n".to_vec()
        );
    }
}
