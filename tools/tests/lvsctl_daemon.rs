//! lvsctl against a running director (in this process, on `MemoryKernel`,
//! with its real control socket): the commands, their exit statuses and
//! messages, `status` as a table and as JSON joined with a kernel table,
//! and no daemon.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipvs::{DestinationStatus, ServiceEntry, ServiceStatus};
use ipvs_director::control::ControlSocket;
use ipvs_director::director::{Control, Director, Options};
use ipvs_director::keepalived;
use ipvs_director::kernel::MemoryKernel;
use ipvs_tools::lvsctl;

const CONF: &str = "
virtual_server 192.0.2.1 80 {
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    sorry_server 198.51.100.9 80
    real_server 198.51.100.2 8080 {
        weight 2
    }
    real_server 198.51.100.3 8080 {
        weight 3
    }
    real_server 198.51.100.4 8080 {
        weight 4
    }
    real_server 127.0.0.1 9 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
            delay_loop 3600
            alpha
        }
    }
}
";

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lvsctl-daemon-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A director with its control socket on a runtime of its own.
struct Daemon {
    kernel: MemoryKernel,
    socket: PathBuf,
    control: tokio::sync::mpsc::UnboundedSender<Control>,
    runtime: tokio::runtime::Runtime,
    task: tokio::task::JoinHandle<()>,
}

impl Daemon {
    fn start(dir: &Path) -> Daemon {
        let conf = dir.join("keepalived.conf");
        std::fs::write(&conf, CONF).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let kernel = MemoryKernel::new();
        let socket = dir.join("control.sock");
        let (control, task) = runtime.block_on(async {
            let parsed = keepalived::parse_file(&conf).unwrap_or_else(|e| panic!("{e}"));
            let (d, _notes) = Director::start(
                kernel.clone(),
                &parsed.config,
                Some(conf.clone()),
                Options {
                    reconcile_interval: Duration::from_secs(3600),
                    ..Options::default()
                },
            )
            .unwrap_or_else(|e| panic!("{e}"));
            let (control, rx) = tokio::sync::mpsc::unbounded_channel();
            let task = tokio::spawn(d.run(rx));
            let s = ControlSocket::bind(&socket).unwrap();
            tokio::spawn(s.serve(control.clone()));
            (control, task)
        });
        Daemon {
            kernel,
            socket,
            control,
            runtime,
            task,
        }
    }

    fn stop(self) {
        self.control.send(Control::Stop).unwrap();
        self.runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(20), self.task).await })
            .unwrap()
            .unwrap();
    }

    /// The in-memory table as a kernel dump, with these connection counts
    /// (address, active, inactive).
    fn dump(&self, conns: &[(&str, u32, u32)]) -> Vec<ServiceEntry> {
        self.kernel
            .table()
            .services()
            .iter()
            .map(|s| {
                ServiceEntry::new(
                    ServiceStatus::new(s.service.clone()),
                    s.destinations
                        .iter()
                        .map(|d| {
                            let a = SocketAddr::new(d.addr, d.port).to_string();
                            let (act, inact) = conns
                                .iter()
                                .find(|c| c.0 == a)
                                .map_or((0, 0), |c| (c.1, c.2));
                            DestinationStatus::new(d.clone()).with_conns(act, inact, 0)
                        })
                        .collect(),
                )
            })
            .collect()
    }
}

/// Runs lvsctl (the library entry, no kernel: the host has no IPVS);
/// returns (exit, stdout, stderr).
fn lvsctl(socket: &Path, args: &[&str]) -> (i32, String, String) {
    let mut argv: Vec<Vec<u8>> = vec![b"lvsctl".to_vec(), b"--socket".to_vec()];
    argv.push(socket.as_os_str().as_encoded_bytes().to_vec());
    argv.extend(args.iter().map(|a| a.as_bytes().to_vec()));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = lvsctl::run(&argv, &mut out, &mut err, &mut || {
        Err(ipvs::Error::NotAvailable)
    });
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn weight(d: &Daemon, a: &str) -> Option<i32> {
    let a: SocketAddr = a.parse().unwrap();
    d.kernel
        .table()
        .service(&"tcp:192.0.2.1:80".parse().unwrap())?
        .destinations
        .iter()
        .find(|x| x.addr == a.ip() && x.port == a.port())
        .map(|x| x.weight)
}

#[test]
fn commands_exit_statuses_and_messages() {
    let dir = temp_dir("commands");
    let d = Daemon::start(&dir);
    let s = &d.socket;
    const SVC: &str = "tcp:192.0.2.1:80";

    let (code, out, err) = lvsctl(s, &["drain", SVC, "198.51.100.2:8080"]);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert!(
        out.starts_with(
            "drain: real server 198.51.100.2:8080 of tcp:192.0.2.1:80: weight 0 until enabled"
        ),
        "{out}"
    );
    assert_eq!(weight(&d, "198.51.100.2:8080"), Some(0));

    let (code, out, _) = lvsctl(s, &["weight", SVC, "198.51.100.3:8080", "9"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(weight(&d, "198.51.100.3:8080"), Some(9));

    let (code, _, _) = lvsctl(s, &["maintenance", SVC, "198.51.100.4:8080", "on"]);
    assert_eq!(code, 0);
    assert_eq!(weight(&d, "198.51.100.4:8080"), None);

    // Refused by the daemon: exit 1, the reason on stderr, nothing changes.
    let before = d.kernel.table();
    let writes = d.kernel.write_count();
    let (code, out, err) = lvsctl(s, &["drain", SVC, "198.51.100.7:8080"]);
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert!(
        err.starts_with("lvsctl: unknown real server 198.51.100.7:8080 of tcp:192.0.2.1:80"),
        "{err}"
    );
    let (code, _, err) = lvsctl(s, &["enable", "tcp:192.0.2.9:80", "198.51.100.2:8080"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown service tcp:192.0.2.9:80"), "{err}");
    // Bad values: refused before asking (usage, exit 2).
    for (args, want) in [
        (
            vec!["weight", SVC, "198.51.100.3:8080", "-1"],
            "bad weight \"-1\"",
        ),
        (
            vec!["weight", SVC, "198.51.100.3:8080", "65536"],
            "bad weight \"65536\"",
        ),
        (vec!["weight", SVC, "198.51.100.3:8080", "x"], "bad weight"),
        (
            vec!["weight", SVC, "198.51.100.3:8080"],
            "a weight is needed",
        ),
        (
            vec!["drain", "tcp:192.0.2.1", "198.51.100.3:8080"],
            "bad SERVICE",
        ),
        (vec!["drain", SVC, "198.51.100.3"], "bad REALSERVER"),
        (vec!["drain", SVC, "2001:db8::1:80"], "bad REALSERVER"),
        (vec!["drain", SVC], "a REALSERVER is needed"),
        (
            vec!["maintenance", SVC, "198.51.100.3:8080", "maybe"],
            "on or off",
        ),
        (
            vec!["drain", SVC, "198.51.100.3:8080", "extra"],
            "unexpected argument",
        ),
    ] {
        let (code, out, err) = lvsctl(s, &args);
        assert_eq!(code, 2, "{args:?}: {out} {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    assert_eq!(d.kernel.table(), before);
    assert_eq!(d.kernel.write_count(), writes);

    // Reload through lvsctl: taken, overrides kept.
    let (code, out, _) = lvsctl(s, &["reload"]);
    assert_eq!((code, out.as_str()), (0, "reload: ok\n"));
    assert_eq!(weight(&d, "198.51.100.2:8080"), Some(0));
    assert_eq!(weight(&d, "198.51.100.3:8080"), Some(9));

    let (code, _, _) = lvsctl(s, &["enable", SVC, "198.51.100.3:8080"]);
    assert_eq!(code, 0);
    assert_eq!(weight(&d, "198.51.100.3:8080"), Some(3));

    // status without a kernel: the daemon's view, counts unknown.
    let (code, out, err) = lvsctl(s, &["status"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("kernel:") && err.contains("weights and connections unknown"),
        "{err}"
    );
    assert!(out.contains("| drained "), "{out}");
    assert!(out.contains("| maintenance "), "{out}");
    assert!(out.contains("failed: TCP_CHECK (line "), "{out}");

    // No daemon: said in one line, then the kernel (none here: exit 1).
    let (code, _, err) = lvsctl(&dir.join("nothing.sock"), &["status"]);
    assert_eq!(code, 1);
    let first = err.lines().next().unwrap();
    assert!(
        first.starts_with("lvsctl: no daemon (") && first.ends_with("showing the kernel's table"),
        "{err}"
    );
    let (code, _, err) = lvsctl(
        &dir.join("nothing.sock"),
        &["drain", SVC, "198.51.100.2:8080"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("cannot reach lvsd at"), "{err}");
    d.stop();
}

#[test]
fn status_joins_the_daemon_and_the_kernel() {
    let dir = temp_dir("join");
    let d = Daemon::start(&dir);
    let s = &d.socket;
    const SVC: &str = "tcp:192.0.2.1:80";
    assert_eq!(lvsctl(s, &["drain", SVC, "198.51.100.2:8080"]).0, 0);
    assert_eq!(lvsctl(s, &["drain", SVC, "198.51.100.3:8080"]).0, 0);
    assert_eq!(
        lvsctl(s, &["maintenance", SVC, "198.51.100.4:8080", "on"]).0,
        0
    );
    let status = ipvs_director::control::request(
        s,
        &ipvs_director::control::Request::Status,
        Duration::from_secs(20),
    )
    .unwrap()
    .status
    .unwrap();
    // .2 drained with connections left, .3 drained and idle; a foreign
    // service in the kernel.
    let mut dump = d.dump(&[("198.51.100.2:8080", 3, 4)]);
    let foreign: ipvs::ServiceKey = "udp:192.0.2.53:53".parse().unwrap();
    dump.push(ServiceEntry::new(
        ServiceStatus::new(ipvs::Service::new(foreign)),
        vec![DestinationStatus::new(ipvs::Destination::new(
            "198.51.100.53".parse().unwrap(),
            53,
            ipvs::ForwardMethod::Masquerade,
        ))
        .with_conns(0, 2, 0)],
    ));
    let rows = lvsctl::joined(&status, Some(&dump));
    let brief: Vec<(String, String, Option<i32>, Option<u32>)> = rows
        .iter()
        .map(|r| {
            (
                r.real_server.clone(),
                r.text.clone(),
                r.weight,
                r.inactive_conns,
            )
        })
        .collect();
    let failed = &rows[3].text;
    assert!(
        failed.starts_with("failed: TCP_CHECK (line 18): "),
        "{failed}"
    );
    assert_eq!(
        brief,
        vec![
            (
                "198.51.100.2:8080".into(),
                "draining: 7 conns left".into(),
                Some(0),
                Some(4)
            ),
            (
                "198.51.100.3:8080".into(),
                "drained".into(),
                Some(0),
                Some(0)
            ),
            ("198.51.100.4:8080".into(), "maintenance".into(), None, None),
            ("127.0.0.1:9".into(), failed.clone(), None, None),
            (
                "198.51.100.53:53".into(),
                "not in lvsd's configuration".into(),
                Some(1),
                Some(2)
            ),
        ]
    );
    let states: Vec<&str> = rows.iter().map(|r| r.state.as_str()).collect();
    assert_eq!(
        states,
        ["draining", "drained", "maintenance", "failed", "unmanaged"]
    );
    // The table: one row per real server, the service named once.
    let table = lvsctl::daemon_status_table(&rows);
    let lines: Vec<&str> = table.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(lines.len(), 6, "{table}");
    let cells = |r: &str| -> Vec<String> {
        r.split('|')
            .map(|c| c.trim().to_string())
            .collect::<Vec<_>>()[1..7]
            .to_vec()
    };
    assert_eq!(
        cells(lines[1]),
        [
            "tcp:192.0.2.1:80",
            "198.51.100.2:8080",
            "draining: 7 conns left",
            "0",
            "3",
            "4"
        ]
    );
    assert_eq!(
        cells(lines[3]),
        ["", "198.51.100.4:8080", "maintenance", "-", "-", "-"]
    );
    // JSON: schema 1, the kernel part, the daemon's Status, the rows.
    let v: serde_json::Value = serde_json::from_slice(&lvsctl::daemon_status_json(
        &status,
        Some(&dump),
        None,
        &rows,
    ))
    .unwrap();
    assert_eq!(v["schema"], lvsctl::STATUS_SCHEMA);
    assert_eq!(v["source"], "daemon");
    assert_eq!(v["kernel_error"], serde_json::Value::Null);
    assert_eq!(v["services"][0]["service"]["config"]["key"], SVC);
    assert_eq!(v["daemon"]["schema"], ipvs_director::status::STATUS_SCHEMA);
    assert_eq!(
        v["daemon"]["virtual_servers"][0]["real_servers"][0]["admin"][SVC],
        "drained"
    );
    assert_eq!(v["real_servers"][0]["state"], "draining");
    assert_eq!(v["real_servers"][0]["active_conns"], 3);
    assert_eq!(v["real_servers"][0]["admin"], "drained");
    assert_eq!(v["real_servers"][2]["weight"], serde_json::Value::Null);
    let back: Vec<lvsctl::Row> = serde_json::from_value(v["real_servers"].clone()).unwrap();
    assert_eq!(back, rows);
    // Through lvsctl (no kernel here): the same document with the error.
    let (code, out, _) = lvsctl(s, &["status", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["source"], "daemon");
    assert_eq!(v["services"], serde_json::json!([]));
    assert!(
        v["kernel_error"]
            .as_str()
            .is_some_and(|e| e.contains("IPVS is not available")),
        "{v}"
    );
    assert_eq!(v["real_servers"][1]["state"], "drained");
    d.stop();
}

/// The binary as nobody: the socket's mode refuses the connection.
#[test]
fn lvsctl_as_another_user_cannot_use_the_socket() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: skipped");
        return;
    }
    let dir = temp_dir("nobody");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let d = Daemon::start(&dir);
    let writes = d.kernel.write_count();
    let run = |user: Option<&str>| {
        let mut c = match user {
            Some(u) => {
                let mut c = std::process::Command::new("setpriv");
                c.args([
                    format!("--reuid={u}"),
                    format!("--regid={u}"),
                    "--clear-groups".into(),
                    "--".into(),
                ]);
                c.arg(env!("CARGO_BIN_EXE_lvsctl"));
                c
            }
            None => std::process::Command::new(env!("CARGO_BIN_EXE_lvsctl")),
        };
        c.arg("--socket")
            .arg(&d.socket)
            .args(["drain", "tcp:192.0.2.1:80", "198.51.100.2:8080"])
            .output()
            .expect("setpriv runs")
    };
    let o = run(Some("65534"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot reach lvsd at") && err.contains("Permission denied"),
        "{err}"
    );
    assert_eq!(d.kernel.write_count(), writes, "nothing changed");
    // root can, with the same binary.
    let o = run(None);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(weight(&d, "198.51.100.2:8080"), Some(0));
    d.stop();
}
