//! The quick paths of `ipvsadm -R` answer exactly as the general path
//! does: random lines, most of them close to what `ipvsadm-save` writes and
//! many slightly off (odd values, repeats, other options, other white
//! space), go through the `-R` tokenizer and the popt-compatible parser, and
//! through the quick paths; whenever a quick path answers, its answer must
//! be the general path's.

use std::net::{IpAddr, Ipv4Addr};

use ipvs_tools::ipvsadm::request::{quick_change, CliError, Parser, Request};
use ipvs_tools::ipvsadm::restore::{tokenize, Line};
use ipvs_tools::ipvsadm::run::change_of;
use ipvs_tools::ipvsadm::sys::Resolver;

#[path = "../../tests/rng/mod.rs"]
mod rng;
use rng::Rng;

/// Knows one host name and one service name, so that names reach the
/// general path's lookups.
struct FewNames;

impl Resolver for FewNames {
    fn host_to_ipv4(&self, name: &[u8]) -> Option<Ipv4Addr> {
        (name == b"www").then_some(Ipv4Addr::new(192, 0, 2, 80))
    }
    fn service_to_port(&self, name: &[u8], _proto: &str) -> Option<u16> {
        (name == b"http").then_some(80)
    }
    fn addr_to_host(&self, _: IpAddr) -> Option<Vec<u8>> {
        None
    }
    fn port_to_service(&self, _: u16, _: &str) -> Option<Vec<u8>> {
        None
    }
}

/// What the general path makes of one `-R` line (`None`: skipped line).
fn general(parser: &Parser<'_>, raw: &[u8]) -> Option<Result<Request, CliError>> {
    let mut line = Line::default();
    if !tokenize(raw, true, &mut line) || line.is_empty() || line.comment {
        return None;
    }
    let argv: Vec<&[u8]> = std::iter::once(&b"ipvsadm"[..])
        .chain(line.tokens())
        .collect();
    Some(parser.parse(&argv))
}

const COMMANDS: &[&str] = &["-A", "-E", "-a", "-e"];
const ODD_COMMANDS: &[&str] = &[
    "-D",
    "-d",
    "-L",
    "-C",
    "-Z",
    "--add-service",
    "-At",
    "ipvsadm",
    "#",
    "-h",
    "",
];
const SERVICE_OPTIONS: &[&str] = &["-t", "-u", "-f"];
const SERVICE_ADDRESSES: &[&str] = &[
    "192.0.2.1:80",
    "198.18.3.7:8080",
    "203.0.113.255:1",
    "0.0.0.0:0",
    "192.0.2.1",
    "192.0.2.1:0",
    "192.0.2.1:65535",
    "192.0.2.1:65536",
    "01.2.3.4:80",
    "192.0.2.1:080",
    "1.2.3",
    "256.1.1.1:80",
    "192.0.2.1:http",
    "www:80",
    "www",
    "[2001:db8::1]:80",
    "2001:db8::1",
    "192.0.2.1:",
    "-r",
];
const MARKS: &[&str] = &[
    "1",
    "7",
    "4294967295",
    "4294967296",
    "0",
    "-1",
    "007",
    "0x10",
    "x",
];
const REAL_SERVERS: &[&str] = &[
    "198.51.100.1:80",
    "198.51.100.2",
    "198.51.100.3:0",
    "198.51.100.4:8080",
    "10.0.0.1:99999",
    "www:http",
    "[2001:db8::2]:80",
    "198.51.100.5:",
];
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "3",
    "65535",
    "2147483647",
    "2147483648",
    "-1",
    "+3",
    "007",
    "x",
    " ",
    "-g",
];
const SCHEDULERS: &[&str] = &[
    "rr",
    "wrr",
    "sh",
    "mh",
    "sixteen-chars-xy",
    "fifteen-chars-x",
    "-p",
    "ipvsadm",
    "a!b",
];
const OTHER_OPTIONS: &[&str] = &[
    "-M",
    "-b",
    "-o",
    "-6",
    "-n",
    "--pe",
    "-q",
    "-t=192.0.2.1:80",
    "-gw",
    "--weight",
    "-c",
    "--tun-type",
    "-T",
];

/// One random line, mostly of the shapes `ipvsadm-save` writes.
fn random_line(r: &mut Rng) -> String {
    let mut w: Vec<String> = Vec::new();
    let cmd = if r.chance(10) {
        r.pick(ODD_COMMANDS)
    } else {
        r.pick(COMMANDS)
    };
    w.push(cmd.into());
    let service_opt = r.pick(SERVICE_OPTIONS);
    let mut options: Vec<Vec<String>> = vec![vec![
        service_opt.into(),
        if service_opt == "-f" {
            r.pick(MARKS)
        } else {
            r.pick(SERVICE_ADDRESSES)
        }
        .into(),
    ]];
    let server = cmd == "-a" || cmd == "-e" || r.chance(8);
    let service = !server || r.chance(8);
    if server {
        if !r.chance(10) {
            options.push(vec!["-r".into(), r.pick(REAL_SERVERS).into()]);
        }
        if !r.chance(3) {
            options.push(vec![r.pick(&["-g", "-m", "-i"]).into()]);
        }
        for opt in ["-w", "-x", "-y"] {
            if r.chance(2) {
                options.push(vec![opt.into(), r.pick(NUMBERS).into()]);
            }
        }
    }
    if service {
        if !r.chance(4) {
            options.push(vec!["-s".into(), r.pick(SCHEDULERS).into()]);
        }
        if r.chance(3) {
            let mut p = vec!["-p".to_string()];
            if r.chance(2) {
                p.push(r.pick(&["300", "1", "0", "x", "2678400", "2678401"]).into());
            }
            options.push(p);
        }
    }
    if r.chance(6) {
        let mut o = vec![r.pick(OTHER_OPTIONS).to_string()];
        if r.chance(2) {
            o.push(r.pick(NUMBERS).into());
        }
        options.push(o);
    }
    if r.chance(8) {
        // A repeated option.
        let k = (r.next() % options.len() as u64) as usize;
        options.push(options[k].clone());
    }
    // Service option first most of the time, otherwise anywhere.
    if r.chance(5) {
        let k = (r.next() % options.len() as u64) as usize;
        options.swap(0, k);
    }
    for o in options {
        w.extend(o);
    }
    if r.chance(20) {
        // A dropped or a stray word.
        let k = (r.next() % w.len() as u64) as usize;
        if r.chance(2) {
            w.remove(k);
        } else {
            w.insert(k, r.pick(&["extra", "ipvsadm", "-", "--", "a!#:+b"]).into());
        }
    }
    let sep = if r.chance(15) {
        r.pick(&["  ", "\t", " \r"])
    } else {
        " "
    };
    let mut line = w.join(sep);
    if r.chance(20) {
        line.push(' ');
    }
    line
}

#[test]
fn quick_paths_answer_as_the_general_path_does() {
    let parser = Parser {
        resolver: &FewNames,
        posix_me_harder: false,
    };
    let mut r = Rng(0x0dd_ba11_5eed);
    let (mut quick, mut plain_ok, mut plain_err) = (0, 0, 0);
    for _ in 0..100_000 {
        let line = random_line(&mut r);
        let raw = line.as_bytes();
        let want = general(&parser, raw);
        if let Some(change) = quick_change(raw) {
            quick += 1;
            let Some(Ok(request)) = want.clone() else {
                panic!("{line:?}: quick {change:?}, general {want:?}");
            };
            assert_eq!(change_of(request), Ok(change), "{line:?}");
        }
        if let Some(got) = parser.parse_plain_line(raw) {
            match &got {
                Ok(_) => plain_ok += 1,
                Err(_) => plain_err += 1,
            }
            assert_eq!(Some(got), want, "{line:?}");
        }
    }
    // The generator reaches every branch often enough to mean something.
    eprintln!("quick {quick}, plain ok {plain_ok}, plain errors {plain_err}");
    assert!(quick > 5_000, "quick path answered {quick} lines");
    assert!(plain_ok > 10_000, "plain path answered {plain_ok} lines");
    assert!(plain_err > 5_000, "plain path reported {plain_err} errors");
}

/// The lines of the benchmark and of `ipvsadm-save -n` take the quickest
/// path (the point of having it).
#[test]
fn saved_lines_take_the_quickest_path() {
    for line in [
        "-A -t 198.18.0.1:80 -s wrr",
        "-A -u 192.0.2.1:53 -s rr -p 300",
        "-A -f 7 -s sh",
        "-a -t 198.18.0.1:80 -r 198.51.100.1:80 -g -w 1",
        "-a -u 192.0.2.1:53 -r 198.51.100.2:5353 -m -w 0",
        "-a -f 7 -r 198.51.100.3:0 -i -w 5 -x 100 -y 10",
        "-e -t 198.18.0.1:80 -r 198.51.100.1:80 -g -w 3",
    ] {
        assert!(quick_change(line.as_bytes()).is_some(), "{line}");
    }
}
