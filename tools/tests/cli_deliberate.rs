//! The deliberate differences from ipvsadm 1.31 (spec, top of file), each
//! with the exact bytes we print instead. The kernel-side ones also run in
//! the lab as ours-only scenarios (`fixtures/scenarios/deliberate-*.scn`).

mod cli_support;

use std::process::Command;

use cli_support::{ipvsadm, FakeKernel, Numeric, Outcome};
use ipvs::{
    Destination, DestinationStatus, ForwardMethod, Service, ServiceKey, ServiceStatus, Stats,
};

fn run(k: &mut FakeKernel, line: &str, stdin: &str) -> Outcome {
    let args: Vec<String> = line.split_whitespace().map(String::from).collect();
    ipvsadm(k, &Numeric, &args, stdin.as_bytes())
}

fn text(o: &Outcome) -> (String, String, i32) {
    (
        String::from_utf8(o.stdout.clone()).unwrap(),
        String::from_utf8(o.stderr.clone()).unwrap(),
        o.status,
    )
}

fn version_line() -> String {
    format!("ipvsadm v1.31 (ipvs-rs {})", env!("CARGO_PKG_VERSION"))
}

/// The real binary, on the host (which has no IPVS).
fn binary(args: &[&str]) -> (String, String, i32) {
    let o = Command::new(env!("CARGO_BIN_EXE_ipvsadm"))
        .args(args)
        .output()
        .expect("run ipvsadm");
    (
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8(o.stderr).unwrap(),
        o.status.code().unwrap_or(-1),
    )
}

/// Difference 1: -h, -v and every argument error work without the kernel
/// (the oracle opens the kernel first and fails on a host without IPVS).
#[test]
fn help_version_and_argument_errors_without_a_kernel() {
    let (out, err, st) = binary(&["-h"]);
    assert_eq!((err.as_str(), st), ("", 0));
    assert!(out.starts_with(&format!("{}\nUsage:\n", version_line())));
    assert!(out.contains(&format!(
        "  {} -A|E virtual-service",
        env!("CARGO_BIN_EXE_ipvsadm")
    )));
    assert!(out.ends_with("  --mcast-ttl ttl                     Multicast TTL (default=1)\n"));
    assert_eq!(
        binary(&["-v"]),
        (format!("{}\n", version_line()), String::new(), 0)
    );
    assert_eq!(
        binary(&["-A", "-t", "nosuchhost.invalid:80"]),
        (
            String::new(),
            "illegal virtual server address[:port] specified\n".into(),
            2
        )
    );
    let exe = env!("CARGO_BIN_EXE_ipvsadm");
    assert_eq!(
        binary(&["--foo"]),
        (
            String::new(),
            format!("Try `{exe} -h' or '{exe} --help' for more information.\n"),
            255
        )
    );
    assert_eq!(
        binary(&["-L", "--foo"]),
        (String::new(), "--foo: unknown option\n".into(), 255)
    );
    // Through the session too: the kernel is never asked.
    let mut k = FakeKernel {
        init_errno: Some(libc::ENOPROTOOPT),
        ..FakeKernel::default()
    };
    for line in [
        "-h",
        "-v",
        "-A -t 192.0.2.1:80 -w 1",
        "-L -c --stats",
        "-A -t x",
    ] {
        let o = run(&mut k, line, "");
        let want = if line == "-h" || line == "-v" { 0 } else { 2 };
        assert_eq!(o.status, want, "{line}");
        assert!(
            !String::from_utf8_lossy(&o.stderr).contains("Can't initialize"),
            "{line}"
        );
    }
    assert_eq!(k.model.calls, 0);
    // A command that needs the kernel reports it, exit 2.
    let o = run(&mut k, "-Ln", "");
    assert_eq!(
        text(&o),
        (
            String::new(),
            "Can't initialize ipvs: Protocol not available\nAre you sure that IP Virtual Server is built in the kernel or as module?\n".into(),
            2
        )
    );
}

fn service(key: ServiceKey, sched: &str) -> ServiceStatus {
    ServiceStatus::new(Service::new(key).with_scheduler(sched))
}

/// Difference 2: firewall marks >= 2^31 print unsigned in -L and -S (the
/// release prints them negative, and -S output then cannot be restored).
#[test]
fn large_fwmarks_print_unsigned_and_restore() {
    let mut k = FakeKernel::default();
    for line in [
        "-A -f 3000000000 -s rr",
        "-a -f 3000000000 -r 192.0.2.11 -g",
        "-A -f 4294967295 -6 -p 60",
        "-A -f 5",
    ] {
        assert_eq!(run(&mut k, line, "").status, 0, "{line}");
    }
    let o = run(&mut k, "-Ln", "");
    assert_eq!(
        text(&o).0,
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port Scheduler Flags\n  \
         -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
         FWM  3000000000 rr\n  \
         -> 192.0.2.11:0                 Route   1      0          0         \n\
         FWM  4294967295 IPv6 wlc persistent 60\n\
         FWM  5 wlc\n"
    );
    let saved = text(&run(&mut k, "-Sn", "")).0;
    assert_eq!(
        saved,
        "-A -f 3000000000 -s rr\n\
         -a -f 3000000000 -r 192.0.2.11:0 -g -w 1\n\
         -A -f 4294967295 -6 -s wlc -p 60\n\
         -A -f 5 -s wlc\n"
    );
    // The saved rules restore to the same table.
    let mut k2 = FakeKernel::default();
    assert_eq!(
        text(&run(&mut k2, "-R", &saved)),
        (String::new(), String::new(), 0)
    );
    assert_eq!(text(&run(&mut k2, "-Sn", "")).0, saved);
    assert_eq!(
        text(&run(&mut k2, "-L --stats -n -f 4294967295 -6", "")).0,
        "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n  \
         -> RemoteAddress:Port\n\
         FWM  4294967295 IPv6                     0        0        0        0        0\n"
    );
}

/// Difference 3: real-server 64-bit counters print in full (the oracle
/// shows their low 32 bits: 5000000000 as 705032704).
#[test]
fn real_server_counters_print_64_bits() {
    let mut k = FakeKernel::default();
    let key = ServiceKey::tcp("192.0.2.1".parse().unwrap(), 80);
    let mut svc = service(key, "rr");
    svc.stats = Stats {
        conns: 5_000_000_000,
        in_packets: 6_000_000_000,
        out_packets: 7_000_000_000,
        in_bytes: 8_000_000_000_000,
        out_bytes: 9_000_000_000_000,
        cps: 4_300_000_000,
        in_pps: 4_400_000_000,
        out_pps: 4_500_000_000,
        in_bps: 4_600_000_000,
        out_bps: 4_700_000_000,
    };
    let d = DestinationStatus::new(Destination::new(
        "198.51.100.1".parse().unwrap(),
        80,
        ForwardMethod::Masquerade,
    ))
    .with_stats(svc.stats);
    k.model.table.push((svc, vec![d]));
    let title =
        "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n  \
                 -> RemoteAddress:Port\n";
    assert_eq!(
        text(&run(&mut k, "-Ln --stats --exact", "")).0,
        format!(
            "IP Virtual Server version 1.2.1 (size=4096)\n{title}\
             TCP  192.0.2.1:80                 5000000000 6000000000 7000000000 8000000000000 9000000000000\n  \
             -> 198.51.100.1:80              5000000000 6000000000 7000000000 8000000000000 9000000000000\n"
        )
    );
    assert_eq!(
        text(&run(&mut k, "-Ln --stats", "")).0,
        format!(
            "IP Virtual Server version 1.2.1 (size=4096)\n{title}\
             TCP  192.0.2.1:80                    5000M    6000M    7000M    8000G    9000G\n  \
             -> 198.51.100.1:80                 5000M    6000M    7000M    8000G    9000G\n"
        )
    );
    assert_eq!(
        text(&run(&mut k, "-Ln --rate", "")).0,
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n  \
         -> RemoteAddress:Port\n\
         TCP  192.0.2.1:80                    4300M    4400M    4500M    4600M    4700M\n  \
         -> 198.51.100.1:80              4300000000 4400000000 4500000000    4600M    4700M\n"
    );
}

/// Difference 4: `-b ,` is an argument error, exit 2 (the oracle
/// segfaults); inside -R it ends the restore like any argument error.
#[test]
fn sched_flags_made_of_commas() {
    let mut k = FakeKernel::default();
    assert_eq!(
        text(&run(&mut k, "-A -t 192.0.2.1:80 -b ,", "")),
        (String::new(), "invalid scheduler flag `,'\n".into(), 2)
    );
    assert_eq!(
        text(&run(&mut k, "-A -t 192.0.2.1:80 -s sh -b ,,,", "")),
        (String::new(), "invalid scheduler flag `,,,'\n".into(), 2)
    );
    let o = run(
        &mut k,
        "-R",
        "-A -t 192.0.2.2:80\n-A -t 192.0.2.3:80 -b ,\n-A -t 192.0.2.4:80\n",
    );
    assert_eq!(
        text(&o),
        (String::new(), "invalid scheduler flag `,'\n".into(), 2)
    );
    assert_eq!(
        text(&run(&mut k, "-Sn", "")).0,
        "-A -t 192.0.2.2:80 -s wlc\n"
    );
    // An empty -b stays ignored, as in the oracle.
    assert_eq!(run(&mut k, "-A -t 192.0.2.5:80 -b", "").status, 255);
}

/// Difference 5: -R skips blank lines and lines whose first non-blank
/// character is `#` (the oracle aborts with try-help, exit 255).
#[test]
fn restore_skips_comment_lines() {
    let mut k = FakeKernel::default();
    let o = run(
        &mut k,
        "-R",
        "# comment\n-A -t 192.0.2.1:80\n   # indented\n\n\t\n-A -t 192.0.2.2:80 -s rr\n#-A -t 192.0.2.3:80\n",
    );
    assert_eq!(text(&o), (String::new(), String::new(), 0));
    assert_eq!(
        text(&run(&mut k, "-Sn", "")).0,
        "-A -t 192.0.2.1:80 -s wlc\n-A -t 192.0.2.2:80 -s rr\n"
    );
    // A '#' later in a line is still an argument.
    let o = run(
        &mut k,
        "-R",
        "-A -t 192.0.2.4:80 # trailing\n-A -t 192.0.2.5:80\n",
    );
    assert_eq!(
        text(&o),
        (String::new(), "unexpected argument #\n".into(), 2)
    );
    // Only comments: nothing happens, status 0.
    assert_eq!(
        text(&run(&mut k, "-R", "# only\n#\n")),
        (String::new(), String::new(), 0)
    );
}

/// Difference 6: -v and the first line of -h name this project.
#[test]
fn version_names_the_project() {
    let mut k = FakeKernel::default();
    let o = run(&mut k, "-v", "");
    assert_eq!(
        text(&o),
        (format!("{}\n", version_line()), String::new(), 0)
    );
    let o = run(&mut k, "--version", "");
    assert_eq!(text(&o).0, format!("{}\n", version_line()));
    let o = run(&mut k, "-h", "");
    assert!(text(&o)
        .0
        .starts_with(&format!("{}\nUsage:\n  ipvsadm -A|E", version_line())));
    // -v inside -R prints it and ends the restore with 0.
    let o = run(&mut k, "-R", "-v\n-A -t 192.0.2.1:80\n");
    assert_eq!(
        text(&o),
        (format!("{}\n", version_line()), String::new(), 0)
    );
    assert!(k.model.table.is_empty());
}
