//! The C library's number and address parsers, with their exact rules:
//! `strtol` (leading white space, a sign, overflow), `atoi`, `inet_aton`
//! (`10.1`, `0x0a.1`, octal parts, trailing white space), and ipvsadm's
//! `host[:port]` syntax on top of them.

use std::net::{IpAddr, Ipv4Addr};

use super::sys::{self, Resolver};

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// What `strtol(s, &end, 10)` produces: the value (clamped to the `long`
/// range), how many bytes it consumed (0 when no digits were found), and
/// whether it overflowed (`ERANGE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strtol {
    /// The value, clamped to `i64::MIN..=i64::MAX` like glibc on LP64.
    pub value: i64,
    /// Bytes consumed; 0 when no number was found.
    pub end: usize,
    /// `errno == ERANGE`.
    pub overflow: bool,
}

/// `strtol(s, &end, 10)`.
pub fn strtol(s: &str) -> Strtol {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && is_c_space(b[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut acc: i128 = 0;
    let mut overflow = false;
    while i < b.len() && b[i].is_ascii_digit() {
        if !overflow {
            acc = acc * 10 + i128::from(b[i] - b'0');
            if acc > i128::from(i64::MAX) + 1 {
                overflow = true;
            }
        }
        i += 1;
    }
    if i == start {
        return Strtol {
            value: 0,
            end: 0,
            overflow: false,
        };
    }
    let signed = if neg { -acc } else { acc };
    let (value, overflow) = if overflow || signed > i128::from(i64::MAX) {
        (if neg { i64::MIN } else { i64::MAX }, true)
    } else if signed < i128::from(i64::MIN) {
        (i64::MIN, true)
    } else {
        (signed as i64, false)
    };
    Strtol {
        value,
        end: i,
        overflow,
    }
}

/// ipvsadm's `string_to_number`: the whole string must be a decimal number
/// (after optional white space and sign) within `min..=max`.
pub fn string_to_number(s: &str, min: i64, max: i64) -> Option<i64> {
    let r = strtol(s);
    (r.end != 0 && r.end == s.len() && !r.overflow && (min..=max).contains(&r.value))
        .then_some(r.value)
}

/// ipvsadm's `parse_fwmark`: 1..=4294967295.
pub fn fwmark(s: &str) -> Option<u32> {
    let r = strtol(s);
    if r.end == 0 || r.end != s.len() || r.overflow || r.value <= 0 || r.value > i64::from(u32::MAX)
    {
        return None;
    }
    Some(r.value as u32)
}

/// glibc `atoi`: `(int) strtol(s, NULL, 10)`.
pub fn atoi(s: &str) -> i32 {
    strtol(s).value as i32
}

/// `strtoul(s, &end, 0)` on a string that starts with a digit: value and
/// bytes consumed, `None` on overflow.
fn strtoul0(b: &[u8]) -> Option<(u64, usize)> {
    let (radix, mut i) = if b.len() >= 3
        && b[0] == b'0'
        && (b[1] == b'x' || b[1] == b'X')
        && b[2].is_ascii_hexdigit()
    {
        (16u64, 2)
    } else if b[0] == b'0' {
        (8u64, 0)
    } else {
        (10u64, 0)
    };
    let mut acc: u64 = 0;
    let mut overflow = false;
    while i < b.len() {
        let d = match (b[i] as char).to_digit(radix as u32) {
            Some(d) => u64::from(d),
            None => break,
        };
        match acc.checked_mul(radix).and_then(|v| v.checked_add(d)) {
            Some(v) => acc = v,
            None => overflow = true,
        }
        i += 1;
    }
    (!overflow).then_some((acc, i))
}

/// glibc `inet_aton`: one to four parts, each decimal, octal (`0…`) or hex
/// (`0x…`); the last part fills the remaining bytes; anything after white
/// space is ignored.
pub fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    const MAX: [u64; 4] = [0xffff_ffff, 0xff_ffff, 0xffff, 0xff];
    let b = s.as_bytes();
    let mut parts: Vec<u8> = Vec::new();
    let mut i = 0;
    let val;
    loop {
        if i >= b.len() || !b[i].is_ascii_digit() {
            return None;
        }
        let (v, n) = strtoul0(&b[i..])?;
        if v > 0xffff_ffff {
            return None;
        }
        i += n;
        if i < b.len() && b[i] == b'.' {
            if parts.len() > 2 || v > 0xff {
                return None;
            }
            parts.push(v as u8);
            i += 1;
        } else {
            val = v;
            break;
        }
    }
    if i < b.len() && !(b[i].is_ascii() && is_c_space(b[i])) {
        return None;
    }
    if val > MAX[parts.len()] {
        return None;
    }
    let mut word = [0u8; 4];
    word[..parts.len()].copy_from_slice(&parts);
    let base = u32::from_be_bytes(word);
    Some(Ipv4Addr::from(base | val as u32))
}

/// ipvsadm's `host_to_addr`/`parse_netmask` lookup: `inet_aton`, else the
/// first IPv4 address of the host name.
pub fn ipv4_or_host(s: &str, resolver: &dyn Resolver) -> Option<Ipv4Addr> {
    inet_aton(s).or_else(|| resolver.host_to_ipv4(s))
}

/// The result of [`parse_service`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedService {
    /// The address (its family is the service's family).
    pub addr: IpAddr,
    /// The port, if the text had one.
    pub port: Option<u16>,
}

/// The protocol's name for `getservbyname`/`getservbyport`, if ipvsadm
/// looks names up for it.
pub fn proto_name(proto: u16) -> Option<&'static str> {
    match proto {
        6 => Some("tcp"),
        17 => Some("udp"),
        132 => Some("sctp"),
        _ => None,
    }
}

/// ipvsadm's `parse_service` for `-t`, `-u`, `--sctp-service` and `-r`:
/// `host[:port]`, `[v6]:port` or a bare IPv6 literal; ports by number or by
/// service name for the protocol known at that moment (`proto`, 0 = none).
pub fn parse_service(text: &str, proto: u16, resolver: &dyn Resolver) -> Option<ParsedService> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut host = text;
    let mut port: Option<&str> = None;
    if let Some(inner) = text.strip_prefix('[') {
        let close = inner.find(']')?;
        let after = &inner[close + 1..];
        let p = after.strip_prefix(':')?;
        host = &inner[..close];
        port = Some(p);
    }
    let addr = if let Some(a) = sys::parse_ipv6(host) {
        IpAddr::V6(a)
    } else {
        // Not IPv6: the port is whatever follows the last ':' of the
        // (bracket-stripped) host text, so `[1.2.3.4]:80` has no port.
        port = None;
        if let Some(i) = host.rfind(':') {
            port = Some(&host[i + 1..]);
            host = &host[..i];
        }
        IpAddr::V4(ipv4_or_host(host, resolver)?)
    };
    let port = match port {
        None => None,
        Some(p) => Some(match string_to_number(p, 0, 65535) {
            Some(n) => n as u16,
            None => resolver.service_to_port(p, proto_name(proto)?)?,
        }),
    };
    Some(ParsedService { addr, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_rules() {
        assert_eq!(string_to_number(" +12", 0, 100), Some(12));
        assert_eq!(string_to_number("-0", 0, 100), Some(0));
        assert_eq!(string_to_number("12 ", 0, 100), None);
        assert_eq!(string_to_number("", 0, 100), None);
        assert_eq!(string_to_number("+", 0, 100), None);
        assert_eq!(string_to_number("99999999999999999999", 0, i64::MAX), None);
        assert_eq!(fwmark("4294967295"), Some(u32::MAX));
        assert_eq!(fwmark("4294967296"), None);
        assert_eq!(fwmark("-1"), None);
        assert_eq!(fwmark("0"), None);
        assert_eq!(atoi("64abc"), 64);
        assert_eq!(atoi("4294967360"), 64);
        assert_eq!(atoi("x"), 0);
    }

    #[test]
    fn inet_aton_forms() {
        let a = |s: &str| inet_aton(s).map(|a| a.to_string());
        assert_eq!(a("10.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(a("10").as_deref(), Some("0.0.0.10"));
        assert_eq!(a("0x0a.010.1").as_deref(), Some("10.8.0.1"));
        assert_eq!(a("1.2.3.4 junk").as_deref(), Some("1.2.3.4"));
        assert_eq!(a("1.2.3.4.5"), None);
        assert_eq!(a("256.1"), None);
        assert_eq!(a("1.2.65536"), None);
        assert_eq!(a("08"), None);
        assert_eq!(a("0x"), None);
        assert_eq!(a(" 1.2.3.4"), None);
        assert_eq!(a("4294967295").as_deref(), Some("255.255.255.255"));
        assert_eq!(a("4294967296"), None);
    }
}
