//! ldirectord as the oracle of the model's IPVS settings: each accepted
//! configuration of the corpus, with its checks turned off (so that nothing
//! is probed) and its mail, scripts and children removed, is started with
//! `ldirectord -d` against a fake `./ipvsadm` that records its arguments
//! and reports an empty table. The `ipvsadm -A` line of every virtual
//! service, and the `-a` line of every real server and fallback server, must
//! be the ones lvsd's model describes (scheduler, persistence, netmask,
//! one-packet, scheduler flags; address, port, forwarding method, weight,
//! thresholds).
//!
//! Skipped, with a notice, when ldirectord is not installed.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ipvs::{Netmask, ServiceFlags, ServiceKey};
use ipvs_director::ldirectord::{self, Config, ParseOptions, Virtual, VirtualProtocol};

/// Directives removed before starting ldirectord: checks (replaced by
/// `checktype=off`), mail, scripts, extra instances, files and forking.
const STRIPPED: &[&str] = &[
    "checktype",
    "emailalert",
    "smtp",
    "execute",
    "fallbackcommand",
    "callback",
    "monitorfile",
    "logfile",
    "maintenancedir",
    "fork",
    "supervised",
    "autoreload",
];

fn sanitize(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let key = line.trim_start();
        if STRIPPED.iter().any(|k| key.starts_with(k)) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line.starts_with("virtual") {
            out.push_str("\tchecktype=off\n");
        }
    }
    out
}

fn host(addr: std::net::IpAddr) -> String {
    match addr {
        std::net::IpAddr::V4(a) => a.to_string(),
        std::net::IpAddr::V6(a) => format!("[{a}]"),
    }
}

/// `-t VIP:PORT`, `-u …` or `-f MARK [-6]` as ldirectord writes it.
fn virtual_option(v: &Virtual) -> String {
    match v.service.key {
        ServiceKey::Addr { addr, port, .. } => {
            let p = if v.protocol == VirtualProtocol::Udp {
                "-u"
            } else {
                "-t"
            };
            format!("{p} {}:{port}", host(addr))
        }
        ServiceKey::Fwmark { mark, family } => {
            let six = if family == ipvs::AddressFamily::Inet6 {
                " -6"
            } else {
                ""
            };
            format!("-f {mark}{six}")
        }
    }
}

/// The `ipvsadm -A` arguments the model implies, in ldirectord's order.
fn add_service(v: &Virtual) -> String {
    let s = &v.service;
    let mut a = format!("-A {}", virtual_option(v));
    if s.flags.contains(ServiceFlags::ONE_PACKET) {
        a.push_str(" -o");
    }
    a.push_str(&format!(" -s {}", s.scheduler));
    if s.is_persistent() {
        a.push_str(&format!(" -p {}", s.timeout));
        match s.netmask {
            m if m == Netmask::full(v.family) => {}
            Netmask::Ipv4(m) => a.push_str(&format!(" -M {m}")),
            Netmask::Ipv6Prefix(p) => a.push_str(&format!(" -M {p}")),
        }
    }
    if let Some(f) = &v.sched_flags {
        a.push_str(&format!(" -b {f}"));
    }
    a
}

fn expected(c: &Config) -> Vec<String> {
    let mut lines = Vec::new();
    for v in &c.virtuals {
        lines.push(add_service(v));
        let vo = virtual_option(v);
        for r in &v.reals {
            let d = &r.destination;
            // With an empty table, ldirectord's start adds every real server
            // with its weight (then takes it down, checks being off) when
            // readdquiescent=no; with readdquiescent=yes it adds none.
            if c.global.readd_quiescent {
                continue;
            }
            // Its start keys the servers to add by address and port alone, so
            // a server in several virtual services is added to the last only.
            let key = (d.addr, r.configured_port);
            let uses = c
                .virtuals
                .iter()
                .flat_map(|v| &v.reals)
                .filter(|o| (o.destination.addr, o.configured_port) == key)
                .count();
            if uses > 1 {
                continue;
            }
            let w = d.weight;
            lines.push(format!(
                "-a {vo} -x {} -y {} -r {}:{} -{} -w {w}",
                d.upper_threshold,
                d.lower_threshold,
                host(d.addr),
                r.configured_port,
                match r.forward.name() {
                    "gate" => "g",
                    "masq" => "m",
                    _ => "i",
                }
            ));
        }
        if let Some(f) = &v.fallback {
            lines.push(format!(
                "-a {vo} -x 0 -y 0 -r {}:{} -{} -w 1",
                host(f.addr),
                f.port.unwrap_or(0),
                match f.forward.name() {
                    "gate" => "g",
                    "masq" => "m",
                    _ => "i",
                }
            ));
        }
    }
    lines
}

/// Runs ldirectord on the configuration until its first check pass, and
/// returns the ipvsadm argument lines it ran.
fn programmed(bin: &Path, work: &Path, conf: &Path) -> Result<Vec<String>, String> {
    let log = work.join("log");
    let _ = fs::remove_file(&log);
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> '{}'\ncase \"$*\" in *\"-L -n\"*) printf 'IP Virtual Server version 1.2.1 (size=4096)\\nProt LocalAddress:Port Scheduler Flags\\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\\n';; esac\nexit 0\n",
        log.display()
    );
    let fake = work.join("ipvsadm");
    fs::write(&fake, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    let err_path = work.join("stderr");
    let mut child = Command::new(bin)
        .current_dir(work)
        .env("PERLIO", "perlio")
        .arg("-d")
        .arg(conf)
        .arg("start")
        .stdout(Stdio::null())
        .stderr(fs::File::create(&err_path).unwrap())
        .spawn()
        .map_err(|e| e.to_string())?;
    // The first check pass ("Checking off") starts once ld_start is done.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut stderr = String::new();
    let done = loop {
        stderr.clear();
        let _ = fs::File::open(&err_path).and_then(|mut f| f.read_to_string(&mut stderr));
        if stderr.contains("Checking off") {
            break true;
        }
        if child.try_wait().map_err(|e| e.to_string())?.is_some() || Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    if !done {
        return Err(format!("ldirectord did not reach its checks: {stderr}"));
    }
    Ok(fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect())
}

#[test]
fn ipvsadm_commands_match_the_model() {
    let bin = PathBuf::from("/usr/sbin/ldirectord");
    if !bin.is_file() {
        println!("NOTICE: ldirectord is not installed; the programming comparison is skipped");
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ldirectord");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cf"))
        .collect();
    files.sort();
    let work = std::env::temp_dir().join(format!("ld-programming-{}", std::process::id()));
    fs::create_dir_all(&work).unwrap();
    let opts = ParseOptions {
        hostname: "director.example".into(),
        ..ParseOptions::default()
    };
    let (mut compared, mut lines_checked) = (0, 0);
    let mut mismatches = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let text = sanitize(&fs::read_to_string(f).unwrap());
        let conf = work.join(&name);
        fs::write(&conf, &text).unwrap();
        let Ok(parsed) = ldirectord::parse_file_with(&conf, &opts) else {
            continue;
        };
        if parsed.config.virtuals.iter().all(|v| v.reals.is_empty()) {
            continue;
        }
        let got = match programmed(&bin, &work, &conf) {
            Ok(g) => g,
            Err(e) => {
                mismatches.push(format!("{name}: {e}"));
                continue;
            }
        };
        compared += 1;
        for want in expected(&parsed.config) {
            lines_checked += 1;
            if !got.contains(&want) {
                mismatches.push(format!(
                    "{name}: ldirectord did not run `ipvsadm {want}`; it ran {got:#?}"
                ));
            }
        }
        // No service lvsd does not know about.
        for l in got.iter().filter(|l| l.starts_with("-A ")) {
            if !parsed.config.virtuals.iter().any(|v| add_service(v) == *l) {
                mismatches.push(format!(
                    "{name}: ldirectord ran `ipvsadm {l}`, not in the model"
                ));
            }
        }
    }
    let _ = fs::remove_dir_all(&work);
    println!("ldirectord programmed {lines_checked} services and servers as modelled, in {compared} configurations");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert!(
        compared >= 15 && lines_checked >= 60,
        "{compared} / {lines_checked}"
    );
}
