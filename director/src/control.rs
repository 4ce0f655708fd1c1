//! The control socket: `lvsctl` talks to a running `lvsd` over a Unix
//! stream socket (no TCP listener).
//!
//! The socket ([`ControlSocket::bind`]) is created with mode 0600, owned by
//! the daemon's user (root): only that user (and root) can connect. It is
//! made in a private directory and renamed into place, so it is never
//! reachable with looser permissions; a stale socket left by a crash is
//! replaced, a live one (another daemon answers) is not. Peers are checked
//! once more with `SO_PEERCRED` (root or the daemon's own user).
//!
//! # Protocol (version [`PROTOCOL`])
//!
//! One JSON request per line, one JSON reply per line; a connection may
//! carry several requests, in order. A request:
//!
//! ```json
//! {"command": "status"}
//! {"command": "reload"}
//! {"command": "drain", "service": "tcp:192.0.2.1:80", "real_server": "198.51.100.2:8080"}
//! {"command": "enable", "service": "fwm:7", "real_server": "[2001:db8::2]:80"}
//! {"command": "weight", "service": "tcp:192.0.2.1:80", "real_server": "198.51.100.2:8080", "weight": 3}
//! {"command": "maintenance", "service": "tcp:192.0.2.1:80", "real_server": "198.51.100.2:8080", "on": true}
//! ```
//!
//! (`"protocol": 1` may be added; another version is refused.) Services are
//! the library's text form (`tcp:ADDR:PORT`, `udp:...`, `sctp:...`,
//! `fwm:N`, `fwm6:N`), real servers `ADDR:PORT` with brackets for IPv6. A
//! reply:
//!
//! ```json
//! {"protocol": 1, "ok": true, "message": "drain: real server ...", "status": null}
//! ```
//!
//! `ok` false means refused, and then nothing changed; `message` says why
//! (unknown service or real server, bad weight, bad request, refused
//! reload). `status` is the daemon's [`Status`] (schema
//! [`crate::status::STATUS_SCHEMA`]) for `status` requests, absent
//! otherwise. Requests go to the daemon's loop ([`Control::Request`]), the
//! one that reconciles, so status, control and metrics read the same state;
//! a control action is applied (and the table reconciled) before its reply.

use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use ipvs::ServiceKey;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use crate::director::Control;
use crate::status::Status;

/// The protocol's version.
pub const PROTOCOL: u32 = 1;

/// Where `lvsd` listens and `lvsctl` connects unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/lvsd/control.sock";

/// The longest request line accepted.
pub const MAX_REQUEST: u64 = 64 * 1024;

/// One request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Request {
    /// The daemon's view.
    Status,
    /// Reload the configuration file (as SIGHUP, with the outcome in the
    /// reply).
    Reload,
    /// Weight 0 until enabled.
    Drain {
        /// The service.
        service: ServiceKey,
        /// The real server.
        real_server: SocketAddr,
    },
    /// Undo any override (drain, maintenance, weight).
    Enable {
        /// The service.
        service: ServiceKey,
        /// The real server.
        real_server: SocketAddr,
    },
    /// This weight until enabled.
    Weight {
        /// The service.
        service: ServiceKey,
        /// The real server.
        real_server: SocketAddr,
        /// The weight (0 to [`crate::admin::MAX_WEIGHT`]).
        weight: i64,
    },
    /// Out of the table (on) or back (off).
    Maintenance {
        /// The service.
        service: ServiceKey,
        /// The real server.
        real_server: SocketAddr,
        /// On or off.
        on: bool,
    },
}

/// A request with its optional protocol version, as sent on the socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    /// The client's protocol version, if it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<u32>,
    /// The request.
    #[serde(flatten)]
    pub request: Request,
}

/// One reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// [`PROTOCOL`].
    pub protocol: u32,
    /// Done (false: refused, nothing changed).
    pub ok: bool,
    /// What happened, or why not.
    pub message: String,
    /// The daemon's view, for `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

impl Reply {
    /// Done.
    pub fn ok(message: impl Into<String>) -> Reply {
        Reply {
            protocol: PROTOCOL,
            ok: true,
            message: message.into(),
            status: None,
        }
    }

    /// Refused.
    pub fn refused(message: impl Into<String>) -> Reply {
        Reply {
            ok: false,
            ..Reply::ok(message)
        }
    }

    /// The daemon's view.
    pub fn status(status: Status) -> Reply {
        Reply {
            status: Some(status),
            ..Reply::ok("status")
        }
    }
}

/// Reads one request line: the request, or why it is refused.
pub fn parse_request(line: &str) -> Result<Request, String> {
    let e: Envelope = serde_json::from_str(line.trim()).map_err(|e| format!("bad request: {e}"))?;
    match e.protocol {
        Some(v) if v != PROTOCOL => Err(format!(
            "protocol {v} not supported (this daemon speaks {PROTOCOL})"
        )),
        _ => Ok(e.request),
    }
}

/// A bound control socket, not yet served.
#[derive(Debug)]
pub struct ControlSocket {
    listener: std::os::unix::net::UnixListener,
    /// Removes the file when dropped (served or not).
    unlink: Unlink,
}

impl ControlSocket {
    /// Creates the socket at `path` with mode 0600 (its directory is made,
    /// mode 0755, when missing). A stale socket there is replaced; one a
    /// daemon answers on is an error ([`io::ErrorKind::AddrInUse`]), as is
    /// a file that is not a socket.
    pub fn bind(path: &Path) -> io::Result<ControlSocket> {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_socket() => {
                match std::os::unix::net::UnixStream::connect(path) {
                    Ok(_) => {
                        return Err(io::Error::new(
                            io::ErrorKind::AddrInUse,
                            format!("{}: another daemon answers there", path.display()),
                        ))
                    }
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                        std::fs::remove_file(path)?
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{}: exists and is not a socket", path.display()),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !parent.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(&parent)?;
        }
        // Bound in a directory only the owner can enter, made 0600 there,
        // then renamed into place: never reachable with looser modes.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let private = parent.join(format!(".lvsd-control.{}.{nanos}", std::process::id()));
        std::fs::DirBuilder::new().mode(0o700).create(&private)?;
        let tmp = private.join("s");
        let made = (|| {
            let listener = std::os::unix::net::UnixListener::bind(&tmp)?;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
            std::fs::rename(&tmp, path)?;
            listener.set_nonblocking(true)?;
            let m = std::fs::symlink_metadata(path)?;
            Ok(ControlSocket {
                listener,
                unlink: Unlink {
                    path: path.to_path_buf(),
                    ino: (m.dev(), m.ino()),
                },
            })
        })();
        let _ = std::fs::remove_file(&tmp);
        let _ = std::fs::remove_dir(&private);
        made
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.unlink.path
    }

    /// Serves connections (inside the current tokio runtime) until the
    /// daemon's loop is gone or the future is dropped; forwards each
    /// request on `control` and writes the loop's reply. The socket file
    /// is removed at the end (unless another daemon replaced it), as it is
    /// when a [`ControlSocket`] is dropped unserved.
    pub async fn serve(self, control: UnboundedSender<Control>) -> io::Result<()> {
        let ControlSocket {
            listener,
            unlink: _unlink,
        } = self;
        let listener = tokio::net::UnixListener::from_std(listener)?;
        loop {
            let stream = tokio::select! {
                _ = control.closed() => return Ok(()),
                a = listener.accept() => match a {
                    Ok((s, _)) => s,
                    // Out of file descriptors and the like: go on.
                    Err(_) => {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let control = control.clone();
            tokio::spawn(async move {
                let _ = connection(stream, control).await;
            });
        }
    }
}

/// Removes the socket file when dropped, if it is still ours.
#[derive(Debug)]
struct Unlink {
    path: PathBuf,
    ino: (u64, u64),
}

impl Drop for Unlink {
    fn drop(&mut self) {
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            if (m.dev(), m.ino()) == self.ino {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

async fn connection(
    stream: tokio::net::UnixStream,
    control: UnboundedSender<Control>,
) -> io::Result<()> {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let allowed = stream
        .peer_cred()
        .is_ok_and(|c| c.uid() == 0 || c.uid() == me);
    let (read, mut write) = stream.into_split();
    if !allowed {
        let r = Reply::refused(
            "permission denied: the control socket is for root and the daemon's user",
        );
        return send(&mut write, &r).await;
    }
    let mut reader = BufReader::new(read);
    loop {
        let mut line = String::new();
        let n = (&mut reader).take(MAX_REQUEST).read_line(&mut line).await?;
        if n == 0 {
            return Ok(());
        }
        if !line.ends_with('\n') && n as u64 >= MAX_REQUEST {
            let r = Reply::refused(format!("bad request: longer than {MAX_REQUEST} bytes"));
            return send(&mut write, &r).await;
        }
        if line.trim().is_empty() {
            continue;
        }
        let reply = match parse_request(&line) {
            Err(e) => Reply::refused(e),
            Ok(req) => {
                let (tx, rx) = oneshot::channel();
                if control.send(Control::Request(req, tx)).is_err() {
                    Reply::refused("the daemon is stopping")
                } else {
                    rx.await
                        .unwrap_or_else(|_| Reply::refused("the daemon is stopping"))
                }
            }
        };
        send(&mut write, &reply).await?;
    }
}

async fn send(w: &mut tokio::net::unix::OwnedWriteHalf, r: &Reply) -> io::Result<()> {
    let mut v = serde_json::to_vec(r).map_err(io::Error::other)?;
    v.push(b'\n');
    w.write_all(&v).await?;
    w.flush().await
}

/// A blocking client for one request (what `lvsctl` uses): connects to
/// `path`, sends `request`, reads the reply. `timeout` bounds each read
/// and write.
pub fn request(path: &Path, request: &Request, timeout: std::time::Duration) -> io::Result<Reply> {
    use std::io::{BufRead, Write};
    let mut s = std::os::unix::net::UnixStream::connect(path)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let mut line = serde_json::to_vec(&Envelope {
        protocol: Some(PROTOCOL),
        request: request.clone(),
    })
    .map_err(io::Error::other)?;
    line.push(b'\n');
    s.write_all(&line)?;
    let mut reader = std::io::BufReader::new(s);
    let mut answer = String::new();
    reader.read_line(&mut answer)?;
    if answer.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the daemon closed the connection without a reply",
        ));
    }
    serde_json::from_str(&answer)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("bad reply: {e}")))
}
