//! Execution without a kernel: a fake backend stands in for IPVS so exit
//! statuses, error texts (libipvs's "last function" quirk included) and
//! `-R`'s continue/abort rules can be checked on the host.

use std::collections::HashMap;
use std::io;

mod cli_support;

use cli_support::{kernel, Numeric};
use ipvs::{
    errno, Change, Destination, DestinationStatus, ForwardMethod, Info, Operation, Service,
    ServiceKey, ServiceStatus, SyncDaemon, Timeouts,
};
use ipvs_tools::ipvsadm::run::{Backend, Session};

#[derive(Default)]
struct Fake {
    init: Option<i32>,
    version: Option<u32>,
    table: Vec<(ServiceStatus, Vec<DestinationStatus>)>,
    /// op name → errno to fail with.
    fail: HashMap<&'static str, i32>,
    calls: Vec<String>,
    conn: Option<Vec<u8>>,
    /// Sizes of the batches `-R` sent.
    batches: Vec<usize>,
}

impl Fake {
    fn op(&mut self, name: &'static str, op: Operation) -> Result<(), ipvs::Error> {
        self.calls.push(name.to_string());
        match self.fail.get(name) {
            Some(&e) if e == errno::EPERM => {
                Err(ipvs::Error::PermissionDenied { op, target: None })
            }
            Some(&e) => Err(kernel(op, e)),
            None => Ok(()),
        }
    }
}

impl Backend for Fake {
    fn init(&mut self) -> Result<Info, i32> {
        self.calls.push("init".into());
        match self.init {
            Some(e) => Err(e),
            None => Ok(Info {
                version: self.version.unwrap_or(0x010201),
                conn_tab_size: 4096,
            }),
        }
    }
    fn services(&mut self) -> Result<Vec<ServiceStatus>, ipvs::Error> {
        self.op("services", Operation::GetServices)?;
        Ok(self.table.iter().map(|(s, _)| s.clone()).collect())
    }
    fn service(&mut self, key: &ServiceKey) -> Result<ServiceStatus, ipvs::Error> {
        self.op("service", Operation::GetService)?;
        self.table
            .iter()
            .find(|(s, _)| s.config.key == *key)
            .map(|(s, _)| s.clone())
            .ok_or_else(|| kernel(Operation::GetService, errno::ESRCH))
    }
    fn destinations(&mut self, key: &ServiceKey) -> Result<Vec<DestinationStatus>, ipvs::Error> {
        self.op("destinations", Operation::GetDestinations)?;
        Ok(self
            .table
            .iter()
            .find(|(s, _)| s.config.key == *key)
            .map(|(_, d)| d.clone())
            .unwrap_or_default())
    }
    fn timeouts(&mut self) -> Result<Timeouts, ipvs::Error> {
        self.op("timeouts", Operation::GetTimeouts)?;
        Ok(Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300,
        })
    }
    fn daemons(&mut self) -> Result<Vec<SyncDaemon>, ipvs::Error> {
        self.op("daemons", Operation::GetDaemons)?;
        Ok(vec![])
    }
    fn change(&mut self, change: &Change) -> Result<(), ipvs::Error> {
        let name = match change {
            Change::AddService(_) => "add_service",
            Change::EditService(_) => "edit_service",
            Change::DeleteService(_) => "delete_service",
            Change::AddDestination(..) => "add_destination",
            Change::EditDestination(..) => "edit_destination",
            Change::DeleteDestination(..) => "delete_destination",
            Change::Zero(_) => "zero",
            Change::Flush => "flush",
            Change::SetTimeouts(_) => "set_timeouts",
            Change::StartDaemon(_) => "start_daemon",
            Change::StopDaemon(_) => "stop_daemon",
            other => panic!("unexpected change {other:?}"),
        };
        self.op(name, change.operation())
    }
    fn apply(&mut self, changes: &[Change]) -> Result<Vec<Result<(), ipvs::Error>>, ipvs::Error> {
        self.batches.push(changes.len());
        Ok(changes.iter().map(|c| self.change(c)).collect())
    }
    fn connection_table(&mut self) -> io::Result<Box<dyn io::BufRead>> {
        let text = self
            .conn
            .clone()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        Ok(Box::new(io::Cursor::new(text)))
    }
}

struct Run {
    code: i32,
    out: String,
    err: String,
    calls: Vec<String>,
}

fn run_with(fake: &mut Fake, line: &str, stdin: &str) -> Run {
    let argv: Vec<String> = std::iter::once("ipvsadm")
        .chain(line.split_whitespace())
        .map(String::from)
        .collect();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = {
        let mut s = Session::new(b"ipvsadm", fake, &Numeric, false, &mut out, &mut err);
        s.run(&argv, &mut stdin.as_bytes())
    };
    Run {
        code,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
        calls: std::mem::take(&mut fake.calls),
    }
}

fn run(line: &str) -> Run {
    run_with(&mut Fake::default(), line, "")
}

fn failing(pairs: &[(&'static str, i32)]) -> Fake {
    Fake {
        fail: pairs.iter().copied().collect(),
        ..Fake::default()
    }
}

#[test]
fn help_version_and_argument_errors_need_no_kernel() {
    let mut f = Fake {
        init: Some(libc::ENOPROTOOPT),
        ..Fake::default()
    };
    let r = run_with(&mut f, "-h", "");
    assert_eq!(r.code, 0);
    assert!(r.out.starts_with("ipvsadm v1.31 (ipvs-rs "));
    assert!(r.calls.is_empty());
    let r = run_with(&mut f, "-v", "");
    assert_eq!((r.code, r.out.lines().count()), (0, 1));
    let r = run_with(&mut f, "-A -t x", "");
    assert_eq!(
        (r.code, r.err.as_str()),
        (2, "illegal virtual server address[:port] specified\n")
    );
    assert!(r.calls.is_empty());
    let r = run_with(&mut f, "-L", "");
    assert_eq!(r.code, 2);
    assert_eq!(
        r.err,
        "Can't initialize ipvs: Protocol not available\nAre you sure that IP Virtual Server is built in the kernel or as module?\n"
    );
    let mut f = Fake {
        init: Some(errno::EPERM),
        ..Fake::default()
    };
    let r = run_with(&mut f, "-C", "");
    assert!(r
        .err
        .starts_with("Can't initialize ipvs: Permission denied (you must be root)\n"));
}

#[test]
fn version_warning() {
    let mut f = Fake {
        version: Some(0x010103),
        ..Fake::default()
    };
    let r = run_with(&mut f, "-C", "");
    assert_eq!(r.code, 0);
    assert_eq!(
        r.err,
        "Warning: IPVS version mismatch: \n  Kernel compiled with IPVS version 1.1.3\n  ipvsadm v1.31  requires minimum IPVS version 1.1.4\n\n"
    );
}

#[test]
fn kernel_errors_exit_255_with_ipvsadm_texts() {
    for (line, op, e, text) in [
        (
            "-A -t 1.2.3.4:80",
            "add_service",
            errno::EEXIST,
            "Service already exists",
        ),
        (
            "-A -t 1.2.3.4:80",
            "add_service",
            errno::ENOENT,
            "Scheduler or persistence engine not found",
        ),
        (
            "-E -t 1.2.3.4:80",
            "edit_service",
            errno::ESRCH,
            "No such service",
        ),
        (
            "-D -t 1.2.3.4:80",
            "delete_service",
            errno::ESRCH,
            "No such service",
        ),
        ("-Z -t 1.2.3.4:80", "zero", errno::ESRCH, "No such service"),
        (
            "-a -t 1.2.3.4:80 -r 5.6.7.8",
            "add_destination",
            errno::ESRCH,
            "Service not defined",
        ),
        (
            "-a -t 1.2.3.4:80 -r 5.6.7.8",
            "add_destination",
            errno::EEXIST,
            "Destination already exists",
        ),
        (
            "-e -t 1.2.3.4:80 -r 5.6.7.8",
            "edit_destination",
            errno::ENOENT,
            "No such destination",
        ),
        (
            "-d -t 1.2.3.4:80 -r 5.6.7.8",
            "delete_destination",
            errno::ENOENT,
            "No such destination",
        ),
        (
            "-a -t 1.2.3.4:80 -r 5.6.7.8 -w 1",
            "add_destination",
            errno::ERANGE,
            "Numerical result out of range",
        ),
        (
            "--start-daemon master",
            "start_daemon",
            errno::EEXIST,
            "Daemon has already run",
        ),
        (
            "--start-daemon master",
            "start_daemon",
            errno::ENODEV,
            "No such device",
        ),
        (
            "--stop-daemon master",
            "stop_daemon",
            errno::ESRCH,
            "No daemon is running",
        ),
        (
            "--set 1 2 3",
            "set_timeouts",
            errno::EINVAL,
            "Invalid operation.  Possibly wrong module version, address not unicast, ...",
        ),
        (
            "-C",
            "flush",
            errno::EPERM,
            "Permission denied (you must be root)",
        ),
        // flush does not record itself: no specific row applies.
        ("-C", "flush", errno::ESRCH, "No such process"),
    ] {
        let r = run_with(&mut failing(&[(op, e)]), line, "");
        assert_eq!(
            (r.code, r.err.as_str()),
            (255, format!("{text}\n").as_str()),
            "{line}"
        );
        assert!(r.out.is_empty());
    }
}

fn sample() -> Vec<(ServiceStatus, Vec<DestinationStatus>)> {
    let k = ServiceKey::tcp("10.0.0.1".parse().unwrap(), 80);
    vec![(
        ServiceStatus::new(Service::new(k)),
        vec![DestinationStatus::new(Destination::new(
            "192.168.1.2".parse().unwrap(),
            80,
            ForwardMethod::Masquerade,
        ))],
    )]
}

#[test]
fn listings() {
    let mut f = Fake {
        table: sample(),
        ..Fake::default()
    };
    let r = run_with(&mut f, "-Ln", "");
    assert_eq!(r.code, 0);
    assert_eq!(
        r.out,
        "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\nTCP  10.0.0.1:80 wlc\n  -> 192.168.1.2:80               Masq    1      0          0         \n"
    );
    assert_eq!(r.calls, ["init", "services", "destinations"]);
    let r = run_with(&mut f, "-Sn", "");
    assert_eq!(
        r.out,
        "-A -t 10.0.0.1:80 -s wlc\n-a -t 10.0.0.1:80 -r 192.168.1.2:80 -m -w 1\n"
    );
    let r = run_with(&mut f, "-Ln -t 10.0.0.1:80", "");
    assert!(r
        .out
        .starts_with("Prot LocalAddress:Port Scheduler Flags\n"));
    let r = run_with(&mut f, "-L -t 10.0.0.2:80", "");
    assert_eq!(
        (r.code, r.out.as_str(), r.err.as_str()),
        (1, "", "No such service\n")
    );
    let r = run_with(&mut f, "-L --timeout", "");
    assert_eq!(
        (r.code, r.out.as_str()),
        (0, "Timeout (tcp tcpfin udp): 900 120 300\n")
    );
    let r = run_with(&mut f, "-L --daemon", "");
    assert_eq!((r.code, r.out.as_str()), (0, ""));
}

#[test]
fn listing_failures_exit_1() {
    let mut f = Fake {
        table: sample(),
        ..failing(&[("services", errno::EPERM)])
    };
    let r = run_with(&mut f, "-L", "");
    assert_eq!(r.code, 1);
    assert_eq!(r.out, "IP Virtual Server version 1.2.1 (size=4096)\n");
    assert_eq!(r.err, "Permission denied (you must be root)\n");
    let mut f = Fake {
        table: sample(),
        ..failing(&[("destinations", errno::ESRCH)])
    };
    let r = run_with(&mut f, "-Ln", "");
    assert_eq!((r.code, r.err.as_str()), (1, "No such service\n"));
    assert!(r.out.ends_with("InActConn\n"));
    let r = run_with(
        &mut failing(&[("timeouts", errno::EINVAL)]),
        "-L --timeout",
        "",
    );
    assert_eq!((r.code, r.out.as_str(), r.err.as_str()), (1, "", ""));
    let r = run_with(
        &mut failing(&[("daemons", errno::EINVAL)]),
        "-L --daemon",
        "",
    );
    assert_eq!((r.code, r.out.as_str(), r.err.as_str()), (1, "", ""));
}

#[test]
fn connections() {
    let r = run("-Lnc");
    assert_eq!(
        (r.code, r.err.as_str()),
        (1, "cannot open file /proc/net/ip_vs_conn\n")
    );
    let mut f = Fake {
        conn: Some(Vec::new()),
        ..Fake::default()
    };
    let r = run_with(&mut f, "-Lnc", "");
    assert_eq!(
        (r.code, r.err.as_str()),
        (1, "unexpected input from /proc/net/ip_vs_conn\n")
    );
    let mut f = Fake {
        conn: Some(b"Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\nTCP C0A80A05 C822 0A000001 0050 C0A80102 0050 ESTABLISHED     899\n".to_vec()),
        ..Fake::default()
    };
    let r = run_with(&mut f, "-Lnc", "");
    assert_eq!(r.code, 0);
    assert!(r.out.ends_with(
        "TCP 14:59  ESTABLISHED 192.168.10.5:51234 10.0.0.1:80        192.168.1.2:80\n"
    ));
}

#[test]
fn restore_continues_after_kernel_and_popt_errors() {
    let mut f = failing(&[("add_service", errno::EEXIST)]);
    let r = run_with(&mut f, "-R", "-A -t 1.2.3.4:80\n-L --foo\n-C\n");
    assert_eq!(r.code, 0);
    assert_eq!(r.err, "Service already exists\n--foo: unknown option\n");
    assert_eq!(r.calls, ["init", "add_service", "flush"]);
    // The status is the last line's.
    let r = run_with(&mut f, "-R", "-C\n-A -t 1.2.3.4:80\n");
    assert_eq!(r.code, 255);
    let r = run_with(&mut f, "-R", "-C\n-L --foo");
    assert_eq!(r.code, 255);
}

#[test]
fn restore_aborts_on_argument_errors() {
    let mut f = Fake::default();
    let r = run_with(&mut f, "-R", "-C\n-A -t bad\n-C\n");
    assert_eq!(
        (r.code, r.err.as_str()),
        (2, "illegal virtual server address[:port] specified\n")
    );
    assert_eq!(r.calls, ["init", "flush"]);
    let r = run_with(&mut f, "-R", "-A -t 1.2.3.4:80 # web\n-C\n");
    assert_eq!((r.code, r.err.as_str()), (2, "unexpected argument #\n"));
    let r = run_with(&mut f, "-R", "foo -C\n");
    assert_eq!((r.code, r.err.as_str()), (2, "unexpected argument foo\n"));
    let r = run_with(&mut f, "-R", "-n\n-C\n");
    assert_eq!(r.code, 255);
    assert_eq!(
        r.err,
        "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n"
    );
    let r = run_with(&mut f, "-R", "-R\n-C\n");
    assert_eq!((r.code, r.calls.len()), (255, 1));
    let r = run_with(&mut f, "-R", "-h\n-C\n");
    assert_eq!(r.code, 0);
    assert!(r.out.starts_with("ipvsadm v1.31"));
    assert_eq!(r.calls, ["init"]);
}

#[test]
fn restore_skips_blank_and_comment_lines_and_ipvsadm_tokens() {
    let mut f = Fake::default();
    let r = run_with(
        &mut f,
        "-R",
        "# rules\n\n   \n  # more\nipvsadm -C\nipvsadm\n-Z\n",
    );
    assert_eq!((r.code, r.err.as_str()), (0, ""));
    assert_eq!(r.calls, ["init", "flush", "zero"]);
    // The last line is lost when it has no newline and ends in 2+ blanks.
    let r = run_with(&mut f, "-R", "-C\n-Z  ");
    assert_eq!(r.calls, ["init", "flush"]);
    let r = run_with(&mut f, "-R", "-C\n-Z ");
    assert_eq!(r.calls, ["init", "flush", "zero"]);
}

#[test]
fn restore_lines_can_list() {
    let mut f = Fake {
        table: sample(),
        ..Fake::default()
    };
    let r = run_with(&mut f, "-R", "-Sn\n");
    assert_eq!(
        (r.code, r.out.as_str()),
        (
            0,
            "-A -t 10.0.0.1:80 -s wlc\n-a -t 10.0.0.1:80 -r 192.168.1.2:80 -m -w 1\n"
        )
    );
    // A failing listing ends the run with 1.
    let mut f = Fake {
        table: sample(),
        ..failing(&[("timeouts", errno::EINVAL)])
    };
    let r = run_with(&mut f, "-R", "-L --timeout\n-C\n");
    assert_eq!(r.code, 1);
    assert_eq!(r.calls, ["init", "timeouts"]);
}

#[test]
fn last_function_marker_persists_across_restore_lines() {
    // ipvs_flush does not record itself, so its ESRCH is read against the
    // previous line's add-dest.
    let mut f = failing(&[("add_destination", errno::ESRCH), ("flush", errno::ESRCH)]);
    let r = run_with(&mut f, "-R", "-a -t 1.2.3.4:80 -r 5.6.7.8\n-C\n");
    assert_eq!(r.err, "Service not defined\nService not defined\n");
    // get-services likewise.
    let mut f = failing(&[("delete_service", errno::ESRCH), ("services", errno::ESRCH)]);
    let r = run_with(&mut f, "-R", "-D -t 1.2.3.4:80\n-L\n");
    assert_eq!(r.err, "No such service\nNo such service\n");
    assert_eq!(r.code, 1);
    let r = run_with(&mut failing(&[("services", errno::ESRCH)]), "-L", "");
    assert_eq!(r.err, "No such process\n");
}

#[test]
fn restore_batches_changes_but_keeps_the_order_of_messages() {
    let mut f = failing(&[("add_service", errno::EEXIST)]);
    let r = run_with(
        &mut f,
        "-R",
        "-C\n-A -t 1.2.3.4:80\n-Z\n-L --foo\n-A -t 1.2.3.4:81\n-L --timeout\n-C\n",
    );
    assert_eq!(
        r.err,
        "Service already exists\n--foo: unknown option\nService already exists\n"
    );
    assert_eq!(r.out, "Timeout (tcp tcpfin udp): 900 120 300\n");
    assert_eq!(f.batches, [3, 1, 1]);
    assert_eq!(r.code, 0);
}
