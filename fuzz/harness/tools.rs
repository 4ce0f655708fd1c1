//! Fuzz harness of ipvsadm's argv, `-R` input and text parsers (public
//! functions of `ipvs_tools::ipvsadm`), with a resolver that answers
//! from a fixed table (no name service is ever asked).

use std::net::{IpAddr, Ipv4Addr};

use ipvs_tools::ipvsadm::parse;
use ipvs_tools::ipvsadm::request::{quick_change, Parser};
use ipvs_tools::ipvsadm::restore::LineReader;
use ipvs_tools::ipvsadm::sys::Resolver;

/// Names the fuzzer can find: `h` is 192.0.2.1, `http` port 80.
pub struct FixedResolver;

impl Resolver for FixedResolver {
    fn host_to_ipv4(&self, name: &[u8]) -> Option<Ipv4Addr> {
        (name == b"h").then_some(Ipv4Addr::new(192, 0, 2, 1))
    }
    fn service_to_port(&self, name: &[u8], _proto: &str) -> Option<u16> {
        (name == b"http").then_some(80)
    }
    fn addr_to_host(&self, _addr: IpAddr) -> Option<Vec<u8>> {
        None
    }
    fn port_to_service(&self, _port: u16, _proto: &str) -> Option<Vec<u8>> {
        None
    }
}

fn parser() -> Parser<'static> {
    Parser {
        resolver: &FixedResolver,
        posix_me_harder: false,
    }
}

/// argv: NUL-separated words after `ipvsadm`.
pub fn argv(data: &[u8]) {
    let mut argv: Vec<&[u8]> = vec![b"ipvsadm"];
    argv.extend(data.split(|&b| b == 0));
    let _ = parser().parse(&argv);
}

/// `-R` input: every line read as `ipvsadm-restore` reads it, parsed by
/// the general parser and by both fast paths. Whenever the fast path
/// builds a change, the general parser must accept the line too.
pub fn restore(data: &[u8]) {
    let p = parser();
    let mut reader = LineReader::new(data);
    while let Some(line) = reader.next_line() {
        let mut argv: Vec<&[u8]> = vec![b"ipvsadm"];
        argv.extend(line.tokens());
        let _ = p.parse(&argv);
    }
    for raw in data.split(|&b| b == b'\n') {
        let plain = p.parse_plain_line(raw);
        if quick_change(raw).is_some() {
            assert!(
                !matches!(plain, Some(Err(_))),
                "quick path built a change for a line the parser refuses"
            );
        }
    }
}

/// ipvsadm's number, address and service parsers.
pub fn text_parsers(data: &[u8]) {
    let _ = parse::strtol(data);
    let _ = parse::string_to_number(data, 0, 65535);
    let _ = parse::string_to_number(data, i64::MIN, i64::MAX);
    let _ = parse::fwmark(data);
    let _ = parse::atoi(data);
    let _ = parse::inet_aton(data);
    let _ = parse::plain_ipv4_service(data);
    for proto in [0, 6, 17, 132] {
        let _ = parse::parse_service(data, proto, &FixedResolver);
    }
}
