//! The control socket against a running director on `MemoryKernel`,
//! through the real socket: drain, weight, maintenance, enable, reload,
//! status; refusals that change nothing; overrides across reloads; the
//! socket's permissions; the protocol's JSON form.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipvs::plan::Table;
use ipvs::ServiceKey;
use ipvs_director::admin::Override;
use ipvs_director::control::{self, ControlSocket, Reply, Request, PROTOCOL};
use ipvs_director::director::{Control, Director, Note, Options};
use ipvs_director::keepalived;
use ipvs_director::kernel::MemoryKernel;
use ipvs_director::status::{RealServerState, Status};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

const BOUND: Duration = Duration::from_secs(20);

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lvsd-control-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Three real servers without checks (always alive), one with a check on
/// a port nothing listens on and `alpha` (starts failed), and a sorry
/// server.
fn conf(real_servers: &[u16]) -> String {
    let mut s = String::from(
        "virtual_server 192.0.2.1 80 {\n    lb_algo wrr\n    lb_kind NAT\n    protocol TCP\n    sorry_server 198.51.100.9 80\n",
    );
    for p in real_servers {
        s.push_str(&format!(
            "    real_server 198.51.100.{p} 8080 {{\n        weight {p}\n    }}\n"
        ));
    }
    s.push_str(
        "    real_server 127.0.0.1 9 {\n        weight 4\n        TCP_CHECK {\n            connect_timeout 1\n            delay_loop 3600\n            alpha\n        }\n    }\n}\n",
    );
    s
}

const SVC: &str = "tcp:192.0.2.1:80";

fn key() -> ServiceKey {
    SVC.parse().unwrap()
}

fn rs(n: u8) -> SocketAddr {
    format!("198.51.100.{n}:8080").parse().unwrap()
}

fn weight(t: &Table, a: SocketAddr) -> Option<i32> {
    t.service(&key())?
        .destinations
        .iter()
        .find(|d| d.addr == a.ip() && d.port == a.port())
        .map(|d| d.weight)
}

struct Rig {
    kernel: MemoryKernel,
    notes: UnboundedReceiver<Note>,
    control: UnboundedSender<Control>,
    task: JoinHandle<()>,
    server: JoinHandle<std::io::Result<()>>,
    socket: PathBuf,
    conf: PathBuf,
}

impl Rig {
    async fn start(dir: &Path, text: &str) -> Rig {
        let conf = dir.join("keepalived.conf");
        std::fs::write(&conf, text).unwrap();
        let parsed = keepalived::parse_file(&conf).unwrap_or_else(|e| panic!("{e}"));
        let kernel = MemoryKernel::new();
        let options = Options {
            reconcile_interval: Duration::from_secs(3600),
            retry_interval: Duration::from_secs(3600),
            ..Options::default()
        };
        let (d, notes) =
            Director::start(kernel.clone(), &parsed.config, Some(conf.clone()), options)
                .unwrap_or_else(|e| panic!("{e}"));
        let (control, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(d.run(rx));
        let socket = dir.join("run").join("control.sock");
        let bound = ControlSocket::bind(&socket).expect("bind");
        let server = tokio::spawn(bound.serve(control.clone()));
        Rig {
            kernel,
            notes,
            control,
            task,
            server,
            socket,
            conf,
        }
    }

    /// One request through the socket, with the blocking client `lvsctl`
    /// uses.
    async fn ask(&self, r: Request) -> Reply {
        let path = self.socket.clone();
        tokio::time::timeout(
            BOUND,
            tokio::task::spawn_blocking(move || control::request(&path, &r, BOUND)),
        )
        .await
        .expect("no reply in time")
        .unwrap()
        .expect("request failed")
    }

    /// A raw line through the socket; the raw reply line.
    async fn raw(&self, line: &str) -> String {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let mut s = tokio::net::UnixStream::connect(&self.socket).await.unwrap();
        s.write_all(line.as_bytes()).await.unwrap();
        let mut r = tokio::io::BufReader::new(s);
        let mut out = String::new();
        tokio::time::timeout(BOUND, r.read_line(&mut out))
            .await
            .unwrap()
            .unwrap();
        out
    }

    async fn status(&self) -> Status {
        let r = self.ask(Request::Status).await;
        assert!(r.ok, "{r:?}");
        r.status.expect("a status")
    }

    fn notes(&mut self) -> Vec<String> {
        let mut v = Vec::new();
        while let Ok(n) = self.notes.try_recv() {
            v.push(n.to_string());
        }
        v
    }

    async fn stop(self) {
        self.control.send(Control::Stop).unwrap();
        tokio::time::timeout(BOUND, self.task)
            .await
            .unwrap()
            .unwrap();
        drop(self.control);
        tokio::time::timeout(BOUND, self.server)
            .await
            .expect("the server did not end with the loop")
            .unwrap()
            .unwrap();
        assert!(
            !self.socket.exists(),
            "the socket file is removed when serving ends"
        );
    }
}

fn drain(n: u8) -> Request {
    Request::Drain {
        service: key(),
        real_server: rs(n),
    }
}

fn admin_of(s: &Status, a: SocketAddr) -> Option<Override> {
    s.virtual_servers[0]
        .real_servers
        .iter()
        .find(|r| r.addr == a)
        .and_then(|r| r.admin.get(SVC).copied())
}

#[tokio::test(flavor = "current_thread")]
async fn drain_weight_maintenance_enable_through_the_socket() {
    let dir = temp_dir("round-trip");
    let mut rig = Rig::start(&dir, &conf(&[2, 3])).await;
    let t = rig.kernel.table();
    assert_eq!(weight(&t, rs(2)), Some(2));
    assert_eq!(weight(&t, rs(3)), Some(3));
    rig.notes();

    // Drain: weight 0, applied before the reply.
    let r = rig.ask(drain(2)).await;
    assert!(r.ok, "{r:?}");
    assert_eq!(r.protocol, PROTOCOL);
    assert!(r.message.contains("weight 0 until enabled"), "{r:?}");
    assert_eq!(weight(&rig.kernel.table(), rs(2)), Some(0));
    assert_eq!(weight(&rig.kernel.table(), rs(3)), Some(3));
    let s = rig.status().await;
    assert_eq!(admin_of(&s, rs(2)), Some(Override::Drained));
    assert_eq!(admin_of(&s, rs(3)), None);
    // The checks' view is unchanged: still alive.
    assert_eq!(
        s.virtual_servers[0].real_servers[0].state,
        RealServerState::Alive
    );
    let notes = rig.notes();
    assert!(
        notes
            .iter()
            .any(|n| n
                .starts_with("control: drain: real server 198.51.100.2:8080 of tcp:192.0.2.1:80")),
        "{notes:?}"
    );

    // Weight override.
    let r = rig
        .ask(Request::Weight {
            service: key(),
            real_server: rs(3),
            weight: 7,
        })
        .await;
    assert!(r.ok, "{r:?}");
    assert_eq!(weight(&rig.kernel.table(), rs(3)), Some(7));
    assert_eq!(
        admin_of(&rig.status().await, rs(3)),
        Some(Override::Weight(7))
    );

    // Maintenance on: out of the table; off: back at the configured weight.
    let r = rig
        .ask(Request::Maintenance {
            service: key(),
            real_server: rs(2),
            on: true,
        })
        .await;
    assert!(r.ok && r.message.contains("(was: drained)"), "{r:?}");
    assert_eq!(weight(&rig.kernel.table(), rs(2)), None);
    assert_eq!(
        admin_of(&rig.status().await, rs(2)),
        Some(Override::Maintenance)
    );
    // maintenance off on a server that is not in maintenance: nothing.
    let writes = rig.kernel.write_count();
    let r = rig
        .ask(Request::Maintenance {
            service: key(),
            real_server: rs(3),
            on: false,
        })
        .await;
    assert!(r.ok && r.message.contains("nothing changed"), "{r:?}");
    assert_eq!(rig.kernel.write_count(), writes);
    assert_eq!(weight(&rig.kernel.table(), rs(3)), Some(7));
    let r = rig
        .ask(Request::Maintenance {
            service: key(),
            real_server: rs(2),
            on: false,
        })
        .await;
    assert!(r.ok, "{r:?}");
    assert_eq!(weight(&rig.kernel.table(), rs(2)), Some(2));

    // Enable undoes the weight.
    let r = rig
        .ask(Request::Enable {
            service: key(),
            real_server: rs(3),
        })
        .await;
    assert!(
        r.ok && r.message.contains("override weight 7 removed"),
        "{r:?}"
    );
    assert_eq!(weight(&rig.kernel.table(), rs(3)), Some(3));
    let s = rig.status().await;
    assert!(s.virtual_servers[0]
        .real_servers
        .iter()
        .all(|r| r.admin.is_empty()));

    // A failed real server stays out whatever its override; the override
    // is kept and shows.
    let failed: SocketAddr = "127.0.0.1:9".parse().unwrap();
    assert_eq!(weight(&rig.kernel.table(), failed), None);
    for req in [
        Request::Weight {
            service: key(),
            real_server: failed,
            weight: 9,
        },
        Request::Drain {
            service: key(),
            real_server: failed,
        },
    ] {
        let r = rig.ask(req).await;
        assert!(r.ok && r.message.contains("it is failed"), "{r:?}");
        assert_eq!(weight(&rig.kernel.table(), failed), None);
    }
    let s = rig.status().await;
    assert_eq!(admin_of(&s, failed), Some(Override::Drained));
    assert_eq!(
        s.virtual_servers[0].real_servers[2].state,
        RealServerState::Failed
    );

    // Several requests on one connection, in order.
    let both = {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let mut s = tokio::net::UnixStream::connect(&rig.socket).await.unwrap();
        s.write_all(b"{\"command\":\"status\"}\n\n{\"command\":\"enable\",\"service\":\"tcp:192.0.2.1:80\",\"real_server\":\"127.0.0.1:9\"}\n")
            .await
            .unwrap();
        let mut r = tokio::io::BufReader::new(s);
        let mut lines = Vec::new();
        for _ in 0..2 {
            let mut l = String::new();
            tokio::time::timeout(BOUND, r.read_line(&mut l))
                .await
                .unwrap()
                .unwrap();
            lines.push(serde_json::from_str::<Reply>(&l).unwrap());
        }
        lines
    };
    assert!(both[0].status.is_some());
    assert!(
        both[1].ok && both[1].message.starts_with("enable:"),
        "{:?}",
        both[1]
    );
    rig.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn refusals_change_nothing() {
    let dir = temp_dir("refusals");
    let mut rig = Rig::start(&dir, &conf(&[2, 3])).await;
    rig.ask(drain(3)).await;
    let table = rig.kernel.table();
    let writes = rig.kernel.write_count();
    let before = rig.status().await;
    rig.notes();
    let sorry: SocketAddr = "198.51.100.9:80".parse().unwrap();
    let cases: Vec<(Request, &str)> = vec![
        (
            Request::Drain {
                service: "tcp:192.0.2.99:80".parse().unwrap(),
                real_server: rs(2),
            },
            "unknown service tcp:192.0.2.99:80",
        ),
        (
            Request::Drain {
                service: "udp:192.0.2.1:80".parse().unwrap(),
                real_server: rs(2),
            },
            "unknown service udp:192.0.2.1:80",
        ),
        (drain(7), "unknown real server 198.51.100.7:8080 of tcp:192.0.2.1:80 (configured: 198.51.100.2:8080, 198.51.100.3:8080, 127.0.0.1:9)"),
        (
            Request::Enable {
                service: key(),
                real_server: "198.51.100.2:8081".parse().unwrap(),
            },
            "unknown real server 198.51.100.2:8081",
        ),
        (
            Request::Maintenance {
                service: key(),
                real_server: sorry,
                on: true,
            },
            "198.51.100.9:80 is the sorry server of tcp:192.0.2.1:80",
        ),
        (
            Request::Weight {
                service: key(),
                real_server: rs(2),
                weight: -1,
            },
            "bad weight -1",
        ),
        (
            Request::Weight {
                service: key(),
                real_server: rs(2),
                weight: 65536,
            },
            "bad weight 65536",
        ),
        // Bad values are checked before the real server.
        (
            Request::Weight {
                service: key(),
                real_server: rs(7),
                weight: 1 << 40,
            },
            "bad weight",
        ),
    ];
    for (req, want) in cases {
        let r = rig.ask(req.clone()).await;
        assert!(!r.ok, "{req:?} accepted: {r:?}");
        assert!(
            r.message.contains(want),
            "{req:?}: {:?} lacks {want:?}",
            r.message
        );
    }
    for (line, want) in [
        ("not json\n", "bad request"),
        ("{\"command\":\"explode\"}\n", "bad request"),
        ("{\"command\":\"drain\",\"service\":\"tcp:192.0.2.1\",\"real_server\":\"198.51.100.2:8080\"}\n", "bad request"),
        ("{\"command\":\"drain\",\"service\":\"tcp:192.0.2.1:80\",\"real_server\":\"198.51.100.2\"}\n", "bad request"),
        ("{\"command\":\"weight\",\"service\":\"tcp:192.0.2.1:80\",\"real_server\":\"198.51.100.2:8080\",\"weight\":\"x\"}\n", "bad request"),
        ("{\"protocol\":2,\"command\":\"status\"}\n", "protocol 2 not supported"),
    ] {
        let r: Reply = serde_json::from_str(&rig.raw(line).await).unwrap();
        assert!(!r.ok && r.message.contains(want), "{line}: {r:?}");
    }
    // Nothing changed: table, writes, overrides, log.
    assert_eq!(rig.kernel.table(), table);
    assert_eq!(rig.kernel.write_count(), writes);
    let after = rig.status().await;
    assert_eq!(after.virtual_servers, before.virtual_servers);
    assert_eq!(rig.notes(), Vec::<String>::new());
    rig.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn overrides_survive_reloads_until_their_server_leaves() {
    let dir = temp_dir("reload");
    let mut rig = Rig::start(&dir, &conf(&[2, 3])).await;
    assert!(rig.ask(drain(2)).await.ok);
    assert!(
        rig.ask(Request::Maintenance {
            service: key(),
            real_server: rs(3),
            on: true,
        })
        .await
        .ok
    );
    // A reload through the socket that adds a real server.
    std::fs::write(&rig.conf, conf(&[2, 3, 5])).unwrap();
    let r = rig.ask(Request::Reload).await;
    assert!(r.ok, "{r:?}");
    let t = rig.kernel.table();
    assert_eq!(weight(&t, rs(5)), Some(5), "the reload was taken");
    assert_eq!(weight(&t, rs(2)), Some(0), "drained across the reload");
    assert_eq!(weight(&t, rs(3)), None, "in maintenance across the reload");
    let s = rig.status().await;
    assert_eq!(admin_of(&s, rs(2)), Some(Override::Drained));
    assert_eq!(admin_of(&s, rs(3)), Some(Override::Maintenance));
    assert!(s.daemon.last_reload.as_ref().is_some_and(|r| r.ok));

    // A refused reload: nothing changes, the reply says why.
    std::fs::write(&rig.conf, "virtual_server {\n").unwrap();
    let r = rig.ask(Request::Reload).await;
    assert!(
        !r.ok && r.message.starts_with("reload: refused, nothing changed"),
        "{r:?}"
    );
    assert_eq!(rig.kernel.table(), t);

    // A reload without 198.51.100.2: its override is dropped (said in the
    // log); maintenance on .3 stays.
    rig.notes();
    std::fs::write(&rig.conf, conf(&[3, 5])).unwrap();
    let r = rig.ask(Request::Reload).await;
    assert_eq!(
        (r.ok, r.message.as_str()),
        (true, "reload: ok; override drained of real server 198.51.100.2:8080 of tcp:192.0.2.1:80 dropped: no longer in the configuration"),
    );
    let notes = rig.notes();
    assert!(
        notes.iter().any(|n| n == "control: override drained of real server 198.51.100.2:8080 of tcp:192.0.2.1:80 dropped: no longer in the configuration"),
        "{notes:?}"
    );
    let s = rig.status().await;
    assert_eq!(admin_of(&s, rs(3)), Some(Override::Maintenance));
    assert_eq!(weight(&rig.kernel.table(), rs(3)), None);
    // Back in the configuration: no override any more (configured weight;
    // the reload's drain of it is cancelled).
    std::fs::write(&rig.conf, conf(&[2, 3, 5])).unwrap();
    assert!(rig.ask(Request::Reload).await.ok);
    assert_eq!(weight(&rig.kernel.table(), rs(2)), Some(2));
    assert_eq!(admin_of(&rig.status().await, rs(2)), None);
    rig.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_stale_socket_is_replaced_a_live_one_is_not() {
    let dir = temp_dir("stale");
    let path = dir.join("c.sock");
    // A socket file nobody listens on (its listener is gone).
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let s = ControlSocket::bind(&path).expect("a stale socket is replaced");
    let e = ControlSocket::bind(&path).expect_err("a live socket is kept");
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse, "{e}");
    drop(s);
    assert!(!path.exists(), "dropped unserved: the file goes too");
    std::fs::write(&path, "x").unwrap();
    let e = ControlSocket::bind(&path).expect_err("not a socket");
    assert!(e.to_string().contains("not a socket"), "{e}");
    // No private directory is left behind.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("c.sock")]);
}

/// Connects to `path` from a forked child that first becomes `uid`/`gid`;
/// returns the child's errno of `connect` (0: connected).
fn connect_as(path: &Path, uid: u32, gid: u32) -> i32 {
    use std::os::unix::ffi::OsStrExt;
    // Everything the child needs is prepared before the fork: it only
    // calls async-signal-safe functions.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    assert!(bytes.len() < addr.sun_path.len());
    for (i, b) in bytes.iter().enumerate() {
        addr.sun_path[i] = *b as libc::c_char;
    }
    // SAFETY: the child calls only setgroups, setgid, setuid, socket,
    // connect, __errno_location and _exit, all async-signal-safe, on memory
    // prepared before the fork.
    unsafe {
        let pid = libc::fork();
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                libc::_exit(200);
            }
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
            if fd < 0 {
                libc::_exit(201);
            }
            let rc = libc::connect(
                fd,
                (&addr as *const libc::sockaddr_un).cast(),
                std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
            );
            libc::_exit(if rc == 0 {
                0
            } else {
                *libc::__errno_location()
            });
        }
        let mut status = 0;
        assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
        assert!(libc::WIFEXITED(status));
        libc::WEXITSTATUS(status)
    }
}

/// As [`connect_as`], then sends `request` and reads the reply: exit code 0
/// when the reply holds `want`, 1 when not, other codes for failures.
fn ask_as(path: &Path, uid: u32, gid: u32, request: &[u8], want: &[u8]) -> i32 {
    use std::os::unix::ffi::OsStrExt;
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    assert!(bytes.len() < addr.sun_path.len());
    for (i, b) in bytes.iter().enumerate() {
        addr.sun_path[i] = *b as libc::c_char;
    }
    let mut buf = vec![0u8; 4096];
    // SAFETY: as in connect_as; the child also calls write and read on its
    // own socket into a buffer allocated before the fork.
    unsafe {
        let pid = libc::fork();
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                libc::_exit(200);
            }
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
            if fd < 0
                || libc::connect(
                    fd,
                    (&addr as *const libc::sockaddr_un).cast(),
                    std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
                ) != 0
            {
                libc::_exit(201);
            }
            // The daemon may refuse (and close) before the request is
            // written: the write may fail, the refusal is read all the same.
            let _ = libc::write(fd, request.as_ptr().cast(), request.len());
            let mut got = 0usize;
            loop {
                let n = libc::read(fd, buf.as_mut_ptr().add(got).cast(), buf.len() - got);
                if n <= 0 {
                    break;
                }
                got += n as usize;
                if got == buf.len() || buf[got - 1] == b'\n' {
                    break;
                }
            }
            let found = got >= want.len()
                && (0..=got - want.len()).any(|i| &buf[i..i + want.len()] == want);
            libc::_exit(if found { 0 } else { 1 });
        }
        let mut status = 0;
        assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
        assert!(libc::WIFEXITED(status));
        libc::WEXITSTATUS(status)
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_socket_is_0600_and_other_users_cannot_connect() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = temp_dir("perm");
    // The directory must let others reach the socket, so that only the
    // socket's own mode stops them.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let rig = Rig::start(&dir, &conf(&[2])).await;
    let m = std::fs::metadata(&rig.socket).unwrap();
    assert_eq!(m.mode() & 0o777, 0o600, "mode {:o}", m.mode());
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    assert_eq!(m.uid(), me, "owned by the daemon's user");
    if me != 0 {
        eprintln!("not root: the test of another user's connect is skipped");
        rig.stop().await;
        return;
    }
    // root itself can.
    assert_eq!(connect_as(&rig.socket, 0, 0), 0);
    // nobody cannot: EACCES from the socket's mode.
    assert_eq!(connect_as(&rig.socket, 65534, 65534), libc::EACCES);
    // Nor when the file is opened up behind the daemon's back: the peer
    // credentials are checked too.
    std::fs::set_permissions(&rig.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_eq!(
        connect_as(&rig.socket, 65534, 65534),
        0,
        "connect works at 0666"
    );
    let writes = rig.kernel.write_count();
    let socket = rig.socket.clone();
    let code = tokio::task::spawn_blocking(move || {
        ask_as(
            &socket,
            65534,
            65534,
            b"{\"command\":\"drain\",\"service\":\"tcp:192.0.2.1:80\",\"real_server\":\"198.51.100.2:8080\"}\n",
            b"permission denied",
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "nobody's request refused with permission denied");
    assert_eq!(rig.kernel.write_count(), writes);
    rig.stop().await;
}

#[test]
fn the_protocol_in_json() {
    let r = Request::Drain {
        service: "tcp:192.0.2.1:80".parse().unwrap(),
        real_server: "198.51.100.2:8080".parse().unwrap(),
    };
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        serde_json::json!({"command": "drain", "service": "tcp:192.0.2.1:80", "real_server": "198.51.100.2:8080"})
    );
    let r = Request::Weight {
        service: "fwm:7".parse().unwrap(),
        real_server: "[2001:db8::2]:80".parse().unwrap(),
        weight: 3,
    };
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        serde_json::json!({"command": "weight", "service": "fwm:7", "real_server": "[2001:db8::2]:80", "weight": 3})
    );
    assert_eq!(
        serde_json::to_value(Request::Maintenance {
            service: "udp:[2001:db8::1]:53".parse().unwrap(),
            real_server: "[2001:db8::2]:53".parse().unwrap(),
            on: false
        })
        .unwrap(),
        serde_json::json!({"command": "maintenance", "service": "udp:[2001:db8::1]:53", "real_server": "[2001:db8::2]:53", "on": false})
    );
    assert_eq!(
        serde_json::to_value(Request::Reload).unwrap(),
        serde_json::json!({"command": "reload"})
    );
    // Parsed with and without the protocol version.
    assert_eq!(
        control::parse_request("{\"command\":\"status\"}").unwrap(),
        Request::Status
    );
    assert_eq!(
        control::parse_request("{\"protocol\":1,\"command\":\"enable\",\"service\":\"fwm:7\",\"real_server\":\"192.0.2.5:0\"}").unwrap(),
        Request::Enable {
            service: "fwm:7".parse().unwrap(),
            real_server: "192.0.2.5:0".parse().unwrap()
        }
    );
    // Replies: status only when there is one.
    assert_eq!(
        serde_json::to_value(Reply::refused("no")).unwrap(),
        serde_json::json!({"protocol": 1, "ok": false, "message": "no"})
    );
    // Overrides in the status form.
    assert_eq!(serde_json::to_value(Override::Drained).unwrap(), "drained");
    assert_eq!(
        serde_json::to_value(Override::Maintenance).unwrap(),
        "maintenance"
    );
    assert_eq!(
        serde_json::to_value(Override::Weight(3)).unwrap(),
        serde_json::json!({"weight": 3})
    );
}

#[tokio::test(flavor = "current_thread")]
async fn status_json_carries_overrides_and_reads_back() {
    let dir = temp_dir("json");
    let rig = Rig::start(&dir, &conf(&[2, 3])).await;
    rig.ask(drain(2)).await;
    rig.ask(Request::Weight {
        service: key(),
        real_server: rs(3),
        weight: 11,
    })
    .await;
    let line = rig.raw("{\"command\":\"status\"}\n").await;
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["protocol"], 1);
    assert_eq!(v["ok"], true);
    let s = &v["status"];
    assert_eq!(s["schema"], ipvs_director::status::STATUS_SCHEMA);
    let rss = &s["virtual_servers"][0]["real_servers"];
    assert_eq!(rss[0]["addr"], "198.51.100.2:8080");
    assert_eq!(
        rss[0]["admin"],
        serde_json::json!({"tcp:192.0.2.1:80": "drained"})
    );
    assert_eq!(
        rss[1]["admin"],
        serde_json::json!({"tcp:192.0.2.1:80": {"weight": 11}})
    );
    assert_eq!(rss[2]["admin"], serde_json::json!({}));
    assert_eq!(rss[0]["state"], "alive");
    let back: Status = serde_json::from_value(s.clone()).unwrap();
    assert_eq!(back, rig.status().await);
    // A status of before the admin field (schema 1 without it) still reads.
    let mut old = s.clone();
    for r in old["virtual_servers"][0]["real_servers"]
        .as_array_mut()
        .unwrap()
    {
        r.as_object_mut().unwrap().remove("admin");
    }
    let old: Status = serde_json::from_value(old).unwrap();
    assert!(old.virtual_servers[0].real_servers[0].admin.is_empty());
    rig.stop().await;
}

/// The binary: `--control PATH` serves lvsctl's requests, logs them and
/// removes the socket at stop; a `--control` that cannot be made stops it.
#[test]
fn the_binary_serves_its_control_socket() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = temp_dir("binary");
    let conf = dir.join("k.conf");
    std::fs::write(&conf, conf_text()).unwrap();
    let socket = dir.join("run").join("c.sock");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg("--dry-run")
        .arg("--control")
        .arg(&socket)
        .arg("-f")
        .arg(&conf)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    struct Reap(Option<u32>);
    impl Drop for Reap {
        fn drop(&mut self) {
            if let Some(pid) = self.0 {
                // SAFETY: kill(2) on our own child, not yet waited for.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            }
        }
    }
    let mut reap = Reap(Some(child.id()));
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    let mut wait_line = |what: &str| {
        let end = std::time::Instant::now() + BOUND;
        loop {
            let left = end.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(what);
                    log.push(l);
                    if hit {
                        return;
                    }
                }
                Err(_) => panic!("no line with {what:?}; log: {log:#?}"),
            }
        }
    };
    wait_line("lvsd: started: 1 services");
    let r = control::request(&socket, &drain(2), BOUND).unwrap();
    assert!(r.ok, "{r:?}");
    wait_line("lvsd: control: drain: real server 198.51.100.2:8080 of tcp:192.0.2.1:80: weight 0 until enabled");
    wait_line("lvsd: kernel: 1 changes applied: ~ real server tcp:192.0.2.1:80 -> 198.51.100.2:8080 Masq weight 0");
    let s = control::request(&socket, &Request::Status, BOUND)
        .unwrap()
        .status
        .unwrap();
    assert_eq!(s.daemon.pid, child.id());
    assert_eq!(admin_of(&s, rs(2)), Some(Override::Drained));
    // SAFETY: kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    wait_line("lvsd: stopped");
    let status = child.wait().unwrap();
    reap.0 = None;
    assert!(status.success(), "{status:?}");
    assert!(!socket.exists(), "removed at stop");

    // An explicit socket that cannot be made: exit 1 before anything.
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(["--dry-run", "--control"])
        .arg(&conf)
        .arg("-f")
        .arg(&conf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("exists and is not a socket"), "{err}");
    assert!(!err.contains("started:"), "{err}");
}

fn conf_text() -> String {
    conf(&[2, 3])
}

/// Checks keep running under an override: a failed real server drained
/// while down comes back at weight 0, not at its configured weight; an
/// inhibited one in maintenance leaves the table and comes back at 0.
#[tokio::test(flavor = "current_thread")]
async fn overrides_wait_for_health_and_checks_keep_running() {
    // A free loopback port, closed for now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let text = format!(
        "virtual_server 192.0.2.1 80 {{
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server 127.0.0.1 {port} {{
        weight 5
        TCP_CHECK {{
            connect_timeout 1
            retry 0
            delay_loop 0.1
            alpha
        }}
    }}
    real_server 127.0.0.2 9 {{
        weight 6
        inhibit_on_failure
        TCP_CHECK {{
            connect_timeout 1
            delay_loop 3600
            alpha
        }}
    }}
}}
"
    );
    let dir = temp_dir("health");
    let rig = Rig::start(&dir, &text).await;
    let a: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let inhibited: SocketAddr = "127.0.0.2:9".parse().unwrap();
    let t = rig.kernel.table();
    assert_eq!(weight(&t, a), None, "starts failed (alpha)");
    assert_eq!(weight(&t, inhibited), Some(0), "inhibited at 0");

    let r = rig
        .ask(Request::Drain {
            service: key(),
            real_server: a,
        })
        .await;
    assert!(r.ok && r.message.contains("it is failed"), "{r:?}");
    assert_eq!(
        weight(&rig.kernel.table(), a),
        None,
        "a failed server stays out"
    );

    // Its check passes: it comes in, at the override's weight 0.
    let listener = tokio::net::TcpListener::bind(a).await.unwrap();
    let accept = tokio::spawn(async move {
        loop {
            let _ = listener.accept().await;
        }
    });
    let t = tokio::time::timeout(BOUND, async {
        loop {
            let t = rig.kernel.table();
            if weight(&t, a).is_some() {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the check never came up");
    assert_eq!(weight(&t, a), Some(0), "up, but drained");
    let s = rig.status().await;
    assert_eq!(
        s.virtual_servers[0].real_servers[0].state,
        RealServerState::Alive
    );
    assert!(
        rig.ask(Request::Enable {
            service: key(),
            real_server: a
        })
        .await
        .ok
    );
    assert_eq!(weight(&rig.kernel.table(), a), Some(5));

    // Maintenance takes an inhibited server out; off puts it back at 0.
    let m = |on| Request::Maintenance {
        service: key(),
        real_server: inhibited,
        on,
    };
    assert!(rig.ask(m(true)).await.ok);
    assert_eq!(weight(&rig.kernel.table(), inhibited), None);
    assert!(rig.ask(m(false)).await.ok);
    assert_eq!(weight(&rig.kernel.table(), inhibited), Some(0));
    accept.abort();
    rig.stop().await;
}
