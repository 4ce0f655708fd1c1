//! The C library calls the command line needs to behave like the C tool:
//! the system resolver (`gethostbyname`, `gethostbyaddr`, `getservbyname`,
//! `getservbyport`, so `/etc/hosts`, `/etc/services` and nsswitch apply),
//! glibc's `inet_pton`/`inet_ntop` (their exact accepted and printed forms),
//! and the legacy IPVS socket option used only to find out which error the
//! C tool would report when the kernel has no IPVS.
//!
//! All `unsafe` of the command line lives here, apart from the process
//! entry ([`super::entry`]: C's argv, and reopening closed descriptors).

use std::ffi::{CStr, CString};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::raw::{c_char, c_int, c_void};

extern "C" {
    fn gethostbyname(name: *const c_char) -> *mut libc::hostent;
    fn gethostbyaddr(addr: *const c_void, len: libc::socklen_t, ty: c_int) -> *mut libc::hostent;
    fn inet_pton(af: c_int, src: *const c_char, dst: *mut c_void) -> c_int;
    fn inet_ntop(
        af: c_int,
        src: *const c_void,
        dst: *mut c_char,
        size: libc::socklen_t,
    ) -> *const c_char;
}

/// Name and address lookups, as the C tool does them. A trait so tests can
/// substitute fixed answers.
pub trait Resolver {
    /// `gethostbyname(name)`: the first IPv4 address, or `None` (also when
    /// the name only has IPv6 addresses).
    fn host_to_ipv4(&self, name: &str) -> Option<Ipv4Addr>;
    /// `getservbyname(name, proto)` (`proto` is `tcp`, `udp` or `sctp`).
    fn service_to_port(&self, name: &str, proto: &str) -> Option<u16>;
    /// `gethostbyaddr(addr)`: the host's official name.
    fn addr_to_host(&self, addr: IpAddr) -> Option<String>;
    /// `getservbyport(port, proto)`: the service's official name.
    fn port_to_service(&self, port: u16, proto: &str) -> Option<String>;
}

/// The system resolver (glibc's NSS: files, DNS, ...).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn host_to_ipv4(&self, name: &str) -> Option<Ipv4Addr> {
        let c = CString::new(name).ok()?;
        // SAFETY: `c` is a valid NUL-terminated string; the returned hostent
        // points to static storage that stays valid until the next resolver
        // call, and we copy out of it immediately. The command line is
        // single-threaded.
        unsafe {
            let h = gethostbyname(c.as_ptr());
            if h.is_null() {
                return None;
            }
            let h = &*h;
            if h.h_addrtype != libc::AF_INET || h.h_length != 4 || h.h_addr_list.is_null() {
                return None;
            }
            let first = *h.h_addr_list;
            if first.is_null() {
                return None;
            }
            let mut b = [0u8; 4];
            std::ptr::copy_nonoverlapping(first as *const u8, b.as_mut_ptr(), 4);
            Some(Ipv4Addr::from(b))
        }
    }

    fn service_to_port(&self, name: &str, proto: &str) -> Option<u16> {
        let n = CString::new(name).ok()?;
        let p = CString::new(proto).ok()?;
        // SAFETY: valid C strings; servent is static storage read at once.
        unsafe {
            let s = libc::getservbyname(n.as_ptr(), p.as_ptr());
            if s.is_null() {
                return None;
            }
            Some(u16::from_be((*s).s_port as u16))
        }
    }

    fn addr_to_host(&self, addr: IpAddr) -> Option<String> {
        let (bytes, af): (Vec<u8>, c_int) = match addr {
            IpAddr::V4(a) => (a.octets().to_vec(), libc::AF_INET),
            IpAddr::V6(a) => (a.octets().to_vec(), libc::AF_INET6),
        };
        // SAFETY: `bytes` outlives the call; hostent is static storage that
        // we copy the name out of before any other resolver call.
        unsafe {
            let h = gethostbyaddr(bytes.as_ptr() as *const c_void, bytes.len() as _, af);
            if h.is_null() || (*h).h_name.is_null() {
                return None;
            }
            Some(CStr::from_ptr((*h).h_name).to_string_lossy().into_owned())
        }
    }

    fn port_to_service(&self, port: u16, proto: &str) -> Option<String> {
        let p = CString::new(proto).ok()?;
        // SAFETY: valid C string; servent is static storage read at once.
        unsafe {
            let s = libc::getservbyport(c_int::from(port.to_be()), p.as_ptr());
            if s.is_null() || (*s).s_name.is_null() {
                return None;
            }
            Some(CStr::from_ptr((*s).s_name).to_string_lossy().into_owned())
        }
    }
}

/// glibc `inet_pton(AF_INET6, s)`.
pub fn parse_ipv6(s: &str) -> Option<Ipv6Addr> {
    // Every IPv6 text form has a ':', and a dotted quad can only follow the
    // last one: skip the C call (and the CString) for IPv4 `addr:port` and
    // host names, the bulk of a large restore.
    match (s.find(':'), s.find('.')) {
        (None, _) => return None,
        (Some(colon), Some(dot)) if dot < colon => return None,
        _ => {}
    }
    let c = CString::new(s).ok()?;
    let mut b = [0u8; 16];
    // SAFETY: `c` is NUL-terminated and `b` has room for an in6_addr.
    let r = unsafe { inet_pton(libc::AF_INET6, c.as_ptr(), b.as_mut_ptr() as *mut c_void) };
    (r > 0).then(|| Ipv6Addr::from(b))
}

/// glibc `inet_pton(AF_INET, s)` (strict dotted quad).
pub fn parse_ipv4_strict(s: &str) -> Option<Ipv4Addr> {
    let c = CString::new(s).ok()?;
    let mut b = [0u8; 4];
    // SAFETY: `c` is NUL-terminated and `b` has room for an in_addr.
    let r = unsafe { inet_pton(libc::AF_INET, c.as_ptr(), b.as_mut_ptr() as *mut c_void) };
    (r > 0).then(|| Ipv4Addr::from(b))
}

/// Appends `n` in decimal.
pub fn push_decimal(out: &mut String, n: u32) {
    let mut digits = [0u8; 20];
    let at = decimal_digits(&mut digits, u64::from(n));
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

/// Appends `n` in decimal to a byte buffer.
pub fn push_decimal_bytes(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let at = decimal_digits(&mut digits, n);
    out.extend_from_slice(&digits[at..]);
}

/// Writes `n` in decimal at the end of `digits`; returns where it starts.
fn decimal_digits(digits: &mut [u8; 20], mut n: u64) -> usize {
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return i;
        }
    }
}

/// Appends the address as [`format_ip`] prints it, without building a
/// string for IPv4 (the common case of a listing).
pub fn push_ip(out: &mut Vec<u8>, addr: IpAddr) {
    match addr {
        IpAddr::V4(a) => {
            for (i, octet) in a.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                push_decimal_bytes(out, u64::from(octet));
            }
        }
        IpAddr::V6(_) => out.extend_from_slice(format_ip(addr).as_bytes()),
    }
}

/// glibc `inet_ntop` (lower-case, `::` compression, `::a.b.c.d` and
/// `::ffff:a.b.c.d` forms).
pub fn format_ip(addr: IpAddr) -> String {
    let (bytes, af): (Vec<u8>, c_int) = match addr {
        IpAddr::V4(a) => {
            // Dotted quad without the formatting machinery (hot in listings).
            let mut out = String::with_capacity(15);
            for (i, octet) in a.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_decimal(&mut out, u32::from(octet));
            }
            return out;
        }
        IpAddr::V6(a) => (a.octets().to_vec(), libc::AF_INET6),
    };
    let mut buf = [0 as c_char; 64];
    // SAFETY: `bytes` is a 16-byte in6_addr and `buf` is larger than
    // INET6_ADDRSTRLEN.
    unsafe {
        let r = inet_ntop(
            af,
            bytes.as_ptr() as *const c_void,
            buf.as_mut_ptr(),
            buf.len() as _,
        );
        if r.is_null() {
            return addr.to_string();
        }
        CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
    }
}

/// What the C tool's legacy fallback (`getsockopt(IP_VS_SO_GET_INFO)` on a
/// raw socket) reports on a kernel without the IPVS netlink family: the
/// errno that ends up in "Can't initialize ipvs: ...". On a kernel without
/// IPVS this is `ENOPROTOOPT` for root and `EPERM` for other users.
pub fn legacy_init_errno() -> i32 {
    const IP_VS_SO_GET_INFO: c_int = 1152 + 1;
    // SAFETY: plain socket calls on a descriptor we own and close; the
    // buffer is large enough for struct ip_vs_getinfo.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW);
        if fd < 0 {
            return std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EPERM);
        }
        let mut buf = [0u8; 16];
        let mut len = buf.len() as libc::socklen_t;
        let r = libc::getsockopt(
            fd,
            libc::IPPROTO_IP,
            IP_VS_SO_GET_INFO,
            buf.as_mut_ptr() as *mut c_void,
            &mut len,
        );
        let e = std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::ENOPROTOOPT);
        libc::close(fd);
        if r == 0 {
            // The legacy interface answered (a kernel with IPVS but no
            // netlink family): the C tool would have worked; report the
            // generic "not available" errno.
            libc::ENOPROTOOPT
        } else {
            e
        }
    }
}

#[cfg(test)]
mod ipv6_fast_path_tests {
    use super::parse_ipv6;

    #[test]
    fn dotted_quads_only_after_the_last_colon() {
        assert_eq!(
            parse_ipv6("::ffff:1.2.3.4")
                .map(|a| a.to_string())
                .as_deref(),
            Some("::ffff:1.2.3.4")
        );
        assert_eq!(
            parse_ipv6("2001:db8::1").map(|a| a.to_string()).as_deref(),
            Some("2001:db8::1")
        );
        assert!(parse_ipv6("1.2.3.4:80").is_none());
        assert!(parse_ipv6("1.2.3.4").is_none());
        assert!(parse_ipv6("host.example:http").is_none());
    }
}
