//! The C library calls the command line needs to behave like the C tool:
//! the system resolver (`gethostbyname`, `gethostbyaddr`, `getservbyname`,
//! `getservbyport`, so `/etc/hosts`, `/etc/services` and nsswitch apply),
//! glibc's `inet_pton`/`inet_ntop` (their exact accepted and printed forms),
//! and the legacy IPVS socket option used only to find out which error the
//! C tool would report when the kernel has no IPVS.
//!
//! The lookups use glibc's reentrant functions, so that the public
//! [`SystemResolver`] is sound from any number of threads.
//!
//! All `unsafe` of the command line lives here, apart from the process
//! entry ([`super::entry`]: C's argv, and reopening closed descriptors).

use std::ffi::{CStr, CString};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::raw::{c_char, c_int, c_void};

extern "C" {
    fn gethostbyname_r(
        name: *const c_char,
        ret: *mut libc::hostent,
        buf: *mut c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::hostent,
        h_errnop: *mut c_int,
    ) -> c_int;
    fn gethostbyaddr_r(
        addr: *const c_void,
        len: libc::socklen_t,
        ty: c_int,
        ret: *mut libc::hostent,
        buf: *mut c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::hostent,
        h_errnop: *mut c_int,
    ) -> c_int;
    fn getservbyname_r(
        name: *const c_char,
        proto: *const c_char,
        ret: *mut libc::servent,
        buf: *mut c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::servent,
    ) -> c_int;
    fn getservbyport_r(
        port: c_int,
        proto: *const c_char,
        ret: *mut libc::servent,
        buf: *mut c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::servent,
    ) -> c_int;
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
///
/// Names are bytes, as the C tool sees them: a host name in `/etc/hosts`
/// or an argument in Latin-1 is looked up and printed byte for byte.
pub trait Resolver {
    /// `gethostbyname(name)`: the first IPv4 address, or `None` (also when
    /// the name only has IPv6 addresses).
    fn host_to_ipv4(&self, name: &[u8]) -> Option<Ipv4Addr>;
    /// `getservbyname(name, proto)` (`proto` is `tcp`, `udp` or `sctp`).
    fn service_to_port(&self, name: &[u8], proto: &str) -> Option<u16>;
    /// `gethostbyaddr(addr)`: the host's official name.
    fn addr_to_host(&self, addr: IpAddr) -> Option<Vec<u8>>;
    /// `getservbyport(port, proto)`: the service's official name.
    fn port_to_service(&self, port: u16, proto: &str) -> Option<Vec<u8>>;
}

/// The system resolver (glibc's NSS: files, DNS, ...).
///
/// It calls the reentrant forms (`gethostbyname_r`, `gethostbyaddr_r`,
/// `getservbyname_r`, `getservbyport_r`), each with its own buffer, so it
/// is safe to use from several threads at once. glibc implements
/// `gethostbyname` and the others on top of these same functions (with a
/// static buffer), so the answers are exactly the C tool's.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

/// The first buffer the reentrant lookups get (glibc's own wrappers start
/// at 1024 too); it doubles while the answer does not fit (`ERANGE`).
const LOOKUP_BUFFER: usize = 1024;
/// No answer needs more than this; beyond it, the lookup fails.
const LOOKUP_BUFFER_MAX: usize = 1 << 24;

/// Runs a reentrant lookup with a growing buffer: `call(buf, len)`
/// returns the function's status and whether it found something, and
/// reads what it needs from the result before returning.
fn with_buffer<T>(mut call: impl FnMut(*mut c_char, usize) -> (c_int, Option<T>)) -> Option<T> {
    let mut size = LOOKUP_BUFFER;
    loop {
        let mut buf = vec![0 as c_char; size];
        let (status, found) = call(buf.as_mut_ptr(), size);
        if status == libc::ERANGE && size < LOOKUP_BUFFER_MAX {
            size *= 2;
            continue;
        }
        return found;
    }
}

/// Copies the first address of `h` if it is an IPv4 one.
///
/// # Safety
///
/// `h` must point to a hostent filled by the resolver, whose storage is
/// still alive.
unsafe fn first_ipv4(h: *const libc::hostent) -> Option<Ipv4Addr> {
    // SAFETY: per the function's contract.
    unsafe {
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

impl Resolver for SystemResolver {
    fn host_to_ipv4(&self, name: &[u8]) -> Option<Ipv4Addr> {
        // A name with a NUL byte ends there in C.
        let c = CString::new(until_nul(name)).ok()?;
        with_buffer(|buf, len| {
            // SAFETY: every pointer is valid for the call: `c` is
            // NUL-terminated, `buf` has `len` bytes, `h`, `result` and
            // `herr` are locals; the answer is copied out of `buf` before
            // it is freed.
            unsafe {
                let mut h: libc::hostent = std::mem::zeroed();
                let mut result: *mut libc::hostent = std::ptr::null_mut();
                let mut herr: c_int = 0;
                let r = gethostbyname_r(c.as_ptr(), &mut h, buf, len, &mut result, &mut herr);
                let found = if result.is_null() {
                    None
                } else {
                    first_ipv4(result)
                };
                (r, found)
            }
        })
    }

    fn service_to_port(&self, name: &[u8], proto: &str) -> Option<u16> {
        let n = CString::new(until_nul(name)).ok()?;
        let p = CString::new(proto).ok()?;
        with_buffer(|buf, len| {
            // SAFETY: valid C strings, `buf` has `len` bytes, the port is
            // read before `buf` is freed.
            unsafe {
                let mut s: libc::servent = std::mem::zeroed();
                let mut result: *mut libc::servent = std::ptr::null_mut();
                let r = getservbyname_r(n.as_ptr(), p.as_ptr(), &mut s, buf, len, &mut result);
                let found = (!result.is_null()).then(|| u16::from_be((*result).s_port as u16));
                (r, found)
            }
        })
    }

    fn addr_to_host(&self, addr: IpAddr) -> Option<Vec<u8>> {
        let (bytes, af): (Vec<u8>, c_int) = match addr {
            IpAddr::V4(a) => (a.octets().to_vec(), libc::AF_INET),
            IpAddr::V6(a) => (a.octets().to_vec(), libc::AF_INET6),
        };
        with_buffer(|buf, len| {
            // SAFETY: `bytes` outlives the call, `buf` has `len` bytes; the
            // name is copied out of `buf` before it is freed.
            unsafe {
                let mut h: libc::hostent = std::mem::zeroed();
                let mut result: *mut libc::hostent = std::ptr::null_mut();
                let mut herr: c_int = 0;
                let r = gethostbyaddr_r(
                    bytes.as_ptr() as *const c_void,
                    bytes.len() as _,
                    af,
                    &mut h,
                    buf,
                    len,
                    &mut result,
                    &mut herr,
                );
                let found = if result.is_null() || (*result).h_name.is_null() {
                    None
                } else {
                    Some(CStr::from_ptr((*result).h_name).to_bytes().to_vec())
                };
                (r, found)
            }
        })
    }

    fn port_to_service(&self, port: u16, proto: &str) -> Option<Vec<u8>> {
        let p = CString::new(proto).ok()?;
        with_buffer(|buf, len| {
            // SAFETY: valid C string, `buf` has `len` bytes; the name is
            // copied out before `buf` is freed.
            unsafe {
                let mut s: libc::servent = std::mem::zeroed();
                let mut result: *mut libc::servent = std::ptr::null_mut();
                let r = getservbyport_r(
                    c_int::from(port.to_be()),
                    p.as_ptr(),
                    &mut s,
                    buf,
                    len,
                    &mut result,
                );
                let found = if result.is_null() || (*result).s_name.is_null() {
                    None
                } else {
                    Some(CStr::from_ptr((*result).s_name).to_bytes().to_vec())
                };
                (r, found)
            }
        })
    }
}

/// `s` up to its first NUL byte: what a C function taking it sees.
pub fn until_nul(s: &[u8]) -> &[u8] {
    match s.iter().position(|&b| b == 0) {
        Some(i) => &s[..i],
        None => s,
    }
}

/// glibc `inet_pton(AF_INET6, s)`.
pub fn parse_ipv6(s: &[u8]) -> Option<Ipv6Addr> {
    // Every IPv6 text form has a ':', and a dotted quad can only follow the
    // last one: skip the C call (and the CString) for IPv4 `addr:port` and
    // host names, the bulk of a large restore.
    let find = |c: u8| s.iter().position(|&b| b == c);
    match (find(b':'), find(b'.')) {
        (None, _) => return None,
        (Some(colon), Some(dot)) if dot < colon => return None,
        _ => {}
    }
    let c = CString::new(until_nul(s)).ok()?;
    let mut b = [0u8; 16];
    // SAFETY: `c` is NUL-terminated and `b` has room for an in6_addr.
    let r = unsafe { inet_pton(libc::AF_INET6, c.as_ptr(), b.as_mut_ptr() as *mut c_void) };
    (r > 0).then(|| Ipv6Addr::from(b))
}

/// glibc `inet_pton(AF_INET, s)` (strict dotted quad).
pub fn parse_ipv4_strict(s: &[u8]) -> Option<Ipv4Addr> {
    let c = CString::new(until_nul(s)).ok()?;
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
            parse_ipv6(b"::ffff:1.2.3.4")
                .map(|a| a.to_string())
                .as_deref(),
            Some("::ffff:1.2.3.4")
        );
        assert_eq!(
            parse_ipv6(b"2001:db8::1").map(|a| a.to_string()).as_deref(),
            Some("2001:db8::1")
        );
        assert!(parse_ipv6(b"1.2.3.4:80").is_none());
        assert!(parse_ipv6(b"1.2.3.4").is_none());
        assert!(parse_ipv6(b"host.example:http").is_none());
    }
}
