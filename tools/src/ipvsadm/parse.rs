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
pub fn strtol(s: &[u8]) -> Strtol {
    strtol_pieces(std::iter::once(s))
}

/// `strtol(s, &end, 10)` on text given in pieces (an argument too large to
/// build, see [`super::popt::Arg`]). A piece that comes again (popt's
/// inserted word) is classified once, so a long run of the same piece of
/// white space, zeros or digits costs its length only once.
pub fn strtol_pieces<'p>(pieces: impl Iterator<Item = &'p [u8]>) -> Strtol {
    #[derive(PartialEq)]
    enum Phase {
        Space,
        Sign,
        Digits,
    }
    let mut phase = Phase::Space;
    let mut i = 0usize;
    let mut neg = false;
    let mut start = None::<usize>;
    let mut acc: i128 = 0;
    let mut overflow = false;
    // The last whole piece seen and what it is made of: (address, length,
    // all white space, all digits, all zeros).
    let mut known: Option<(*const u8, usize, bool, bool, bool)> = None;
    'pieces: for p in pieces {
        if p.is_empty() {
            continue;
        }
        let class = match known {
            Some((ptr, len, sp, dg, zr)) if ptr == p.as_ptr() && len == p.len() => (sp, dg, zr),
            _ => {
                let c = (
                    p.iter().all(|&b| is_c_space(b)),
                    p.iter().all(u8::is_ascii_digit),
                    p.iter().all(|&b| b == b'0'),
                );
                known = Some((p.as_ptr(), p.len(), c.0, c.1, c.2));
                c
            }
        };
        let mut j = 0;
        if phase == Phase::Space {
            if class.0 {
                i += p.len();
                continue;
            }
            while is_c_space(p[j]) {
                j += 1;
            }
            phase = Phase::Sign;
        }
        if phase == Phase::Sign {
            if p[j] == b'+' || p[j] == b'-' {
                neg = p[j] == b'-';
                j += 1;
            }
            phase = Phase::Digits;
            start = Some(i + j);
        }
        // Digits: a whole piece of zeros changes nothing before the first
        // other digit, and a whole piece of digits changes nothing once
        // the value has overflowed.
        if j == 0 && ((class.2 && acc == 0) || (class.1 && overflow)) {
            i += p.len();
            continue;
        }
        while j < p.len() {
            let b = p[j];
            if !b.is_ascii_digit() {
                i += j;
                break 'pieces;
            }
            if !overflow {
                acc = acc * 10 + i128::from(b - b'0');
                if acc > i128::from(i64::MAX) + 1 {
                    overflow = true;
                }
            }
            j += 1;
        }
        i += j;
    }
    if start.is_none_or(|s| i == s) {
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
pub fn string_to_number(s: &[u8], min: i64, max: i64) -> Option<i64> {
    string_to_number_pieces(std::iter::once(s), s.len(), min, max)
}

/// [`string_to_number`] on text of `len` bytes given in pieces.
pub fn string_to_number_pieces<'p>(
    pieces: impl Iterator<Item = &'p [u8]>,
    len: usize,
    min: i64,
    max: i64,
) -> Option<i64> {
    let r = strtol_pieces(pieces);
    (r.end != 0 && r.end == len && !r.overflow && (min..=max).contains(&r.value)).then_some(r.value)
}

/// ipvsadm's `parse_fwmark`: 1..=4294967295.
pub fn fwmark(s: &[u8]) -> Option<u32> {
    fwmark_pieces(std::iter::once(s), s.len())
}

/// [`fwmark`] on text of `len` bytes given in pieces.
pub fn fwmark_pieces<'p>(pieces: impl Iterator<Item = &'p [u8]>, len: usize) -> Option<u32> {
    let r = strtol_pieces(pieces);
    if r.end == 0 || r.end != len || r.overflow || r.value <= 0 || r.value > i64::from(u32::MAX) {
        return None;
    }
    Some(r.value as u32)
}

/// glibc `atoi`: `(int) strtol(s, NULL, 10)`.
pub fn atoi(s: &[u8]) -> i32 {
    strtol(s).value as i32
}

/// glibc `inet_aton`: one to four parts, each decimal, octal (`0…`) or hex
/// (`0x…`); the last part fills the remaining bytes; anything after white
/// space is ignored.
pub fn inet_aton(s: &[u8]) -> Option<Ipv4Addr> {
    inet_aton_iter(s.iter().copied())
}

/// [`inet_aton`] on text given a byte at a time (a part may have any
/// number of leading zeros, so the text has no length limit).
fn inet_aton_iter(mut b: impl Iterator<Item = u8> + Clone) -> Option<Ipv4Addr> {
    const MAX: [u64; 4] = [0xffff_ffff, 0xff_ffff, 0xffff, 0xff];
    let mut parts = [0u8; 3];
    let mut n_parts = 0;
    let val;
    loop {
        // `strtoul(s, &end, 0)` on a part that starts with a digit.
        let mut look = b.clone();
        let c0 = look.next().filter(u8::is_ascii_digit)?;
        let c1 = look.next();
        let c2 = look.next();
        let radix = if c0 == b'0'
            && matches!(c1, Some(b'x' | b'X'))
            && c2.is_some_and(|c| c.is_ascii_hexdigit())
        {
            b.next();
            b.next();
            16
        } else if c0 == b'0' {
            8
        } else {
            10
        };
        let mut acc: u64 = 0;
        let mut overflow = false;
        let next = loop {
            let mut after = b.clone();
            let c = after.next();
            let Some(d) = c.and_then(|c| char::from(c).to_digit(radix)) else {
                break c;
            };
            match acc
                .checked_mul(u64::from(radix))
                .and_then(|v| v.checked_add(u64::from(d)))
            {
                Some(v) => acc = v,
                None => overflow = true,
            }
            b = after;
        };
        if overflow || acc > 0xffff_ffff {
            return None;
        }
        if next == Some(b'.') {
            if n_parts > 2 || acc > 0xff {
                return None;
            }
            parts[n_parts] = acc as u8;
            n_parts += 1;
            b.next();
        } else {
            val = acc;
            break;
        }
    }
    if b.next().is_some_and(|c| !(c.is_ascii() && is_c_space(c))) {
        return None;
    }
    if val > MAX[n_parts] {
        return None;
    }
    let mut word = [0u8; 4];
    word[..n_parts].copy_from_slice(&parts[..n_parts]);
    let base = u32::from_be_bytes(word);
    Some(Ipv4Addr::from(base | val as u32))
}

/// Names longer than this are not looked up: no source of names holds one
/// (DNS names end at 1025 bytes), and a `!#:+` expansion that long is not
/// built.
pub const NAME_LOOKUP_MAX: usize = 64 * 1024;

/// Text given in pieces: an argument that popt's `!#:+` made (see
/// [`super::popt::Arg`]), read without being built. The pieces that repeat
/// (the inserted word) are the same slice each time.
#[derive(Debug, Clone)]
pub struct Pieces<'p> {
    parts: Vec<&'p [u8]>,
    len: usize,
}

impl<'p> Pieces<'p> {
    /// The text made of `parts`, in order.
    pub fn new(parts: impl Iterator<Item = &'p [u8]>) -> Self {
        let parts: Vec<&'p [u8]> = parts.filter(|p| !p.is_empty()).collect();
        let len = parts.iter().map(|p| p.len()).sum();
        Pieces { parts, len }
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its pieces, in order.
    pub fn parts(&self) -> impl Iterator<Item = &'p [u8]> + '_ {
        self.parts.iter().copied()
    }

    /// Its bytes, one at a time.
    fn bytes(&self) -> impl Iterator<Item = u8> + Clone + '_ {
        self.parts.iter().flat_map(|p| p.iter().copied())
    }

    /// Where `byte` first (or last) occurs; a repeated piece is searched
    /// once.
    fn find(&self, byte: u8, last: bool) -> Option<usize> {
        let mut at = 0;
        let mut found = None;
        let mut known: Option<(*const u8, usize, Option<usize>)> = None;
        let mut each = |p: &[u8], at: usize| -> Option<usize> {
            let hit = match known {
                Some((ptr, len, hit)) if ptr == p.as_ptr() && len == p.len() => hit,
                _ => {
                    let hit = if last {
                        p.iter().rposition(|&b| b == byte)
                    } else {
                        p.iter().position(|&b| b == byte)
                    };
                    known = Some((p.as_ptr(), p.len(), hit));
                    hit
                }
            };
            hit.map(|i| at + i)
        };
        for p in &self.parts {
            if let Some(i) = each(p, at) {
                found = Some(i);
                if !last {
                    break;
                }
            }
            at += p.len();
        }
        found
    }

    /// Bytes `from..to`.
    fn slice(&self, from: usize, to: usize) -> Pieces<'p> {
        let mut parts = Vec::new();
        let mut at = 0;
        for p in &self.parts {
            let (start, end) = (at, at + p.len());
            at = end;
            if end <= from || start >= to {
                continue;
            }
            parts.push(&p[from.max(start) - start..to.min(end) - start]);
        }
        Pieces::new(parts.into_iter())
    }

    /// The whole text when it is at most `max` bytes.
    fn built(&self, max: usize) -> Option<Vec<u8>> {
        (self.len <= max).then(|| self.parts.concat())
    }
}

/// ipvsadm's `host_to_addr`/`parse_netmask` lookup: `inet_aton`, else the
/// first IPv4 address of the host name.
pub fn ipv4_or_host(s: &[u8], resolver: &dyn Resolver) -> Option<Ipv4Addr> {
    ipv4_or_host_pieces(&Pieces::new(std::iter::once(s)), resolver)
}

/// [`ipv4_or_host`] on text given in pieces.
pub fn ipv4_or_host_pieces(s: &Pieces<'_>, resolver: &dyn Resolver) -> Option<Ipv4Addr> {
    inet_aton_iter(s.bytes()).or_else(|| resolver.host_to_ipv4(&s.built(NAME_LOOKUP_MAX)?))
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
pub fn parse_service(text: &[u8], proto: u16, resolver: &dyn Resolver) -> Option<ParsedService> {
    plain_ipv4_service(text).or_else(|| parse_service_general(text, proto, resolver))
}

fn parse_service_general(
    text: &[u8],
    proto: u16,
    resolver: &dyn Resolver,
) -> Option<ParsedService> {
    parse_service_pieces(&Pieces::new(std::iter::once(text)), proto, resolver)
}

/// [`parse_service`] on text given in pieces.
pub fn parse_service_pieces(
    text: &Pieces<'_>,
    proto: u16,
    resolver: &dyn Resolver,
) -> Option<ParsedService> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut host = text.clone();
    let mut port: Option<Pieces<'_>> = None;
    if text.bytes().next() == Some(b'[') {
        let inner = text.slice(1, text.len());
        let close = inner.find(b']', false)?;
        let after = inner.slice(close + 1, inner.len());
        if after.bytes().next() != Some(b':') {
            return None;
        }
        port = Some(after.slice(1, after.len()));
        host = inner.slice(0, close);
    }
    // No IPv6 text is longer than 64 bytes.
    let v6 = host.built(64).and_then(|h| sys::parse_ipv6(&h));
    let addr = if let Some(a) = v6 {
        IpAddr::V6(a)
    } else {
        // Not IPv6: the port is whatever follows the last ':' of the
        // (bracket-stripped) host text, so `[1.2.3.4]:80` has no port.
        port = None;
        if let Some(i) = host.find(b':', true) {
            port = Some(host.slice(i + 1, host.len()));
            host = host.slice(0, i);
        }
        IpAddr::V4(ipv4_or_host_pieces(&host, resolver)?)
    };
    let port = match port {
        None => None,
        Some(p) => Some(
            match string_to_number_pieces(p.parts.iter().copied(), p.len(), 0, 65535) {
                Some(n) => n as u16,
                None => {
                    let name = p.built(NAME_LOOKUP_MAX)?;
                    resolver.service_to_port(&name, proto_name(proto)?)?
                }
            },
        ),
    };
    Some(ParsedService { addr, port })
}

/// The common case of [`parse_service`], without the general path's
/// lookups: `a.b.c.d` or `a.b.c.d:port`, in plain decimal (address parts
/// 0-255 without leading zeros, which `inet_aton` would read as octal; a
/// port of one to five digits up to 65535). The general path gives the same
/// result for these; anything else is left to it (`None`).
#[inline(always)]
pub fn plain_ipv4_service(b: &[u8]) -> Option<ParsedService> {
    let (o1, rest) = leading_octet(b)?;
    let (o2, rest) = leading_octet(rest.strip_prefix(b".")?)?;
    let (o3, rest) = leading_octet(rest.strip_prefix(b".")?)?;
    let (o4, rest) = leading_octet(rest.strip_prefix(b".")?)?;
    let addr = IpAddr::V4(Ipv4Addr::new(o1, o2, o3, o4));
    let port = match rest {
        [] => None,
        [b':', digits @ ..] if (1..=5).contains(&digits.len()) => {
            let mut port = 0u32;
            for &d in digits {
                if !d.is_ascii_digit() {
                    return None;
                }
                port = port * 10 + u32::from(d - b'0');
            }
            Some(u16::try_from(port).ok()?)
        }
        _ => return None,
    };
    Some(ParsedService { addr, port })
}

/// The decimal number 0-255 at the start of `b` (one to three digits, no
/// leading zero) and what follows it. More digits than three are left in
/// the rest, where the caller then finds no separator.
#[inline(always)]
fn leading_octet(b: &[u8]) -> Option<(u8, &[u8])> {
    // The value of the digit at `i`; 10 or more when there is none.
    let digit = |i: usize| b.get(i).map_or(10, |&c| c.wrapping_sub(b'0'));
    let d0 = digit(0);
    if d0 > 9 {
        return None;
    }
    let d1 = digit(1);
    if d1 > 9 || d0 == 0 {
        return Some((d0, &b[1..]));
    }
    let d2 = digit(2);
    if d2 > 9 {
        return Some((d0 * 10 + d1, &b[2..]));
    }
    let v = u16::from(d0) * 100 + u16::from(d1) * 10 + u16::from(d2);
    Some((u8::try_from(v).ok()?, &b[3..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `strtol` over any split into pieces (repeated pieces included)
    /// equals a byte-by-byte transcription of glibc's rules.
    #[test]
    fn strtol_over_pieces_is_strtol() {
        fn reference(b: &[u8]) -> Strtol {
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
                    overflow = acc > i128::from(i64::MAX) + 1;
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
            if overflow || signed > i128::from(i64::MAX) {
                Strtol {
                    value: if neg { i64::MIN } else { i64::MAX },
                    end: i,
                    overflow: true,
                }
            } else if signed < i128::from(i64::MIN) {
                Strtol {
                    value: i64::MIN,
                    end: i,
                    overflow: true,
                }
            } else {
                Strtol {
                    value: signed as i64,
                    end: i,
                    overflow: false,
                }
            }
        }
        let alphabet = b" \t0012399+-x";
        let mut next = crate::ipvsadm::xorshift(0x5eed_1234_abcd_0001);
        for _ in 0..20_000 {
            // A text made of a few distinct pieces, some repeated (the
            // same slice each time, as popt's inserted word is).
            let distinct: Vec<Vec<u8>> = (0..3)
                .map(|_| {
                    (0..next() % 6)
                        .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                        .collect()
                })
                .collect();
            let order: Vec<usize> = (0..next() % 12).map(|_| (next() % 3) as usize).collect();
            let pieces: Vec<&[u8]> = order.iter().map(|&k| distinct[k].as_slice()).collect();
            let whole = pieces.concat();
            assert_eq!(
                strtol_pieces(pieces.iter().copied()),
                reference(&whole),
                "{whole:?}"
            );
        }
        // Long runs: 10,000 copies of one piece.
        for (piece, tail) in [
            (&b"0"[..], &b"7"[..]),
            (b"9", b""),
            (b" ", b"-5"),
            (b"00", b"x"),
        ] {
            let mut pieces = vec![piece; 10_000];
            pieces.push(tail);
            let whole = pieces.concat();
            assert_eq!(strtol_pieces(pieces.iter().copied()), reference(&whole));
        }
    }

    #[test]
    fn strtol_rules() {
        assert_eq!(string_to_number(b" +12", 0, 100), Some(12));
        assert_eq!(string_to_number(b"-0", 0, 100), Some(0));
        assert_eq!(string_to_number(b"12 ", 0, 100), None);
        assert_eq!(string_to_number(b"", 0, 100), None);
        assert_eq!(string_to_number(b"+", 0, 100), None);
        assert_eq!(string_to_number(b"99999999999999999999", 0, i64::MAX), None);
        assert_eq!(fwmark(b"4294967295"), Some(u32::MAX));
        assert_eq!(fwmark(b"4294967296"), None);
        assert_eq!(fwmark(b"-1"), None);
        assert_eq!(fwmark(b"0"), None);
        assert_eq!(atoi(b"64abc"), 64);
        assert_eq!(atoi(b"4294967360"), 64);
        assert_eq!(atoi(b"x"), 0);
    }

    /// Names resolve to nothing: the general path then only takes numbers.
    struct NoNames;
    impl Resolver for NoNames {
        fn host_to_ipv4(&self, _: &[u8]) -> Option<Ipv4Addr> {
            None
        }
        fn service_to_port(&self, _: &[u8], _: &str) -> Option<u16> {
            None
        }
        fn addr_to_host(&self, _: IpAddr) -> Option<Vec<u8>> {
            None
        }
        fn port_to_service(&self, _: u16, _: &str) -> Option<Vec<u8>> {
            None
        }
    }

    /// The plain-IPv4 shortcut answers exactly as the general path does,
    /// whenever it answers: random texts over the characters that matter,
    /// plus the edge cases.
    #[test]
    fn plain_ipv4_shortcut_agrees_with_the_general_path() {
        let mut texts: Vec<String> = [
            "1.2.3.4",
            "1.2.3.4:80",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "1.2.3.4:65536",
            "1.2.3.4:",
            "01.2.3.4:80",
            "1.2.3.04",
            "1.2.3.4:080",
            "1.2.3.4:000080",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.4:8:0",
            "1.2.3.4 :80",
            "1.2.3.4:+80",
            "1234.1.1.1",
            "1.2.3.4:99999",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut next = crate::ipvsadm::xorshift(0x1234_5678_9abc_def1);
        // Address-like texts: parts of 0-4 random characters, mostly
        // digits, joined by dots, sometimes a port; now and then one
        // character replaced by an odd one.
        for _ in 0..100_000 {
            let mut t = String::new();
            let parts = if next() % 4 == 0 { 1 + next() % 5 } else { 4 };
            for p in 0..parts {
                if p > 0 {
                    t.push('.');
                }
                let len = if next() % 8 == 0 {
                    next() % 5
                } else {
                    1 + next() % 3
                };
                for _ in 0..len {
                    t.push((b'0' + (next() % 10) as u8) as char);
                }
            }
            if next() % 2 == 0 {
                t.push(':');
                for _ in 0..next() % 7 {
                    t.push((b'0' + (next() % 10) as u8) as char);
                }
            }
            if next() % 8 == 0 && !t.is_empty() {
                let at = (next() % t.len() as u64) as usize;
                let odd = [" ", "x", ":", "+", "-", "[", "0x"][(next() % 7) as usize];
                t.replace_range(at..at + 1, odd);
            }
            texts.push(t);
        }
        let mut answered = 0;
        for t in &texts {
            if let Some(fast) = plain_ipv4_service(t.as_bytes()) {
                answered += 1;
                for proto in [0, 6, 17] {
                    assert_eq!(
                        Some(fast),
                        parse_service_general(t.as_bytes(), proto, &NoNames),
                        "{t:?}"
                    );
                }
            }
        }
        assert!(answered > 1000, "only {answered} texts took the shortcut");
    }

    /// Knows one host name and one service name.
    struct FewNames;
    impl Resolver for FewNames {
        fn host_to_ipv4(&self, n: &[u8]) -> Option<Ipv4Addr> {
            (n == b"h0").then_some(Ipv4Addr::new(192, 0, 2, 7))
        }
        fn service_to_port(&self, n: &[u8], _: &str) -> Option<u16> {
            (n == b"h0").then_some(80)
        }
        fn addr_to_host(&self, _: IpAddr) -> Option<Vec<u8>> {
            None
        }
        fn port_to_service(&self, _: u16, _: &str) -> Option<Vec<u8>> {
            None
        }
    }

    /// The service parser on text in pieces (repeated pieces the same
    /// slice, as popt's inserted word) answers as on the built text.
    #[test]
    fn service_text_in_pieces_is_the_built_text() {
        let alphabet: &[&[u8]] = &[
            b"0",
            b"1",
            b"7",
            b"9",
            b".",
            b":",
            b"[",
            b"]",
            b" ",
            b"x",
            b"0x",
            b"::",
            b"h0",
            b"1.2.3.4",
            b"2001:db8::1",
            b"255",
        ];
        let mut next = crate::ipvsadm::xorshift(0xfeed_5eed_0042_0001);
        let mut answered = 0;
        for _ in 0..30_000 {
            let distinct: Vec<Vec<u8>> = (0..3)
                .map(|_| {
                    (0..1 + next() % 4)
                        .flat_map(|_| alphabet[(next() % alphabet.len() as u64) as usize].to_vec())
                        .collect()
                })
                .collect();
            let order: Vec<usize> = (0..1 + next() % 8).map(|_| (next() % 3) as usize).collect();
            let parts: Vec<&[u8]> = order.iter().map(|&k| distinct[k].as_slice()).collect();
            let whole = parts.concat();
            let pieces = Pieces::new(parts.iter().copied());
            for proto in [0, 6] {
                let want = parse_service_general(&whole, proto, &FewNames);
                answered += usize::from(want.is_some());
                assert_eq!(
                    parse_service_pieces(&pieces, proto, &FewNames),
                    want,
                    "{:?}",
                    String::from_utf8_lossy(&whole)
                );
            }
            assert_eq!(
                ipv4_or_host_pieces(&pieces, &FewNames),
                ipv4_or_host(&whole, &FewNames)
            );
        }
        assert!(answered > 1000, "only {answered} valid texts");
    }

    #[test]
    fn inet_aton_forms() {
        let a = |s: &str| inet_aton(s.as_bytes()).map(|a| a.to_string());
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
