//! Small helpers shared by the attribute codecs: fixed-width scalar parsing
//! that reports which attribute was malformed, and the 16-byte address union
//! (`union nf_inet_addr`) that IPVS uses for IPv4 and IPv6 alike.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{DecodeError, Emitable, Nla};

/// `AF_INET`, as IPVS carries it in its 16-bit family attributes.
pub(crate) const AF_INET: u16 = libc::AF_INET as u16;
/// `AF_INET6`, as IPVS carries it in its 16-bit family attributes.
pub(crate) const AF_INET6: u16 = libc::AF_INET6 as u16;

/// The largest value a netlink attribute can describe: its 16-bit length
/// counts the 4-byte header too.
pub(crate) const NLA_MAX_VALUE: usize = u16::MAX as usize - 4;

/// Emits one attribute into `buf` (`nla.buffer_len()` bytes): length, type
/// with every flag bit `nla.kind()` carries, value, zero padding.
///
/// Used instead of netlink-packet-core's `Emitable` for `Nla`, which in
/// 0.9.0 (the latest release) drops `NLA_F_NET_BYTEORDER` from a type that
/// also has `NLA_F_NESTED` (fixed upstream in
/// rust-netlink/netlink-packet-core#53, not released), so that an unknown
/// attribute did not come back as it was received; and which panics on a
/// value longer than an attribute can describe. Such a value (refused
/// beforehand by [`crate::IpvsMessage::check_size`]) is written with the
/// length field saturated at 65,535: the bytes are malformed, never a
/// panic.
pub(crate) fn emit_nla<T: Nla>(nla: &T, buf: &mut [u8]) {
    let value_len = nla.value_len();
    let len = (value_len.saturating_add(4)).min(u16::MAX as usize) as u16;
    buf[0..2].copy_from_slice(&len.to_ne_bytes());
    buf[2..4].copy_from_slice(&nla.kind().to_ne_bytes());
    nla.emit_value(&mut buf[4..4 + value_len]);
    let end = nla.buffer_len().min(buf.len());
    buf[4 + value_len..end].fill(0);
}

/// Emits attributes one after the other into `buf`.
pub(crate) fn emit_nlas<T: Nla>(attrs: &[T], buf: &mut [u8]) {
    let mut at = 0;
    for a in attrs {
        let len = a.buffer_len();
        emit_nla(a, &mut buf[at..at + len]);
        at += len;
    }
}

/// Checks that an attribute value has exactly `N` bytes and returns them.
pub(crate) fn fixed<const N: usize>(value: &[u8], what: &str) -> Result<[u8; N], DecodeError> {
    value
        .try_into()
        .map_err(|_| DecodeError::from(format!("{what}: expected {N} bytes, got {}", value.len())))
}

pub(crate) fn u8_of(value: &[u8], what: &str) -> Result<u8, DecodeError> {
    Ok(fixed::<1>(value, what)?[0])
}

pub(crate) fn u16_ne(value: &[u8], what: &str) -> Result<u16, DecodeError> {
    Ok(u16::from_ne_bytes(fixed(value, what)?))
}

pub(crate) fn u16_be(value: &[u8], what: &str) -> Result<u16, DecodeError> {
    Ok(u16::from_be_bytes(fixed(value, what)?))
}

pub(crate) fn u32_ne(value: &[u8], what: &str) -> Result<u32, DecodeError> {
    Ok(u32::from_ne_bytes(fixed(value, what)?))
}

pub(crate) fn u64_ne(value: &[u8], what: &str) -> Result<u64, DecodeError> {
    Ok(u64::from_ne_bytes(fixed(value, what)?))
}

/// A NUL-terminated string attribute. Everything from the first NUL on is
/// dropped; invalid UTF-8 is replaced rather than rejected, since names come
/// from the kernel and must never make a listing fail.
pub(crate) fn c_string(value: &[u8]) -> String {
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    String::from_utf8_lossy(&value[..end]).into_owned()
}

/// Writes `s` followed by a NUL into `buf` (which is `s.len() + 1` long).
pub(crate) fn emit_c_string(s: &[u8], buf: &mut [u8]) {
    buf[..s.len()].copy_from_slice(s);
    buf[s.len()] = 0;
}

/// The bytes of a NUL-terminated string attribute, as they are (names the
/// kernel holds as bytes, such as interface names, need not be UTF-8).
pub(crate) fn c_bytes(value: &[u8]) -> Vec<u8> {
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    value[..end].to_vec()
}

/// The kernel's `union nf_inet_addr`: 16 bytes, an IPv4 address in the first
/// four. Which member is meant depends on an address-family attribute that
/// travels beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct InetAddr(pub [u8; 16]);

impl InetAddr {
    /// Parses an address attribute value of up to 16 bytes (the kernel
    /// always sends 16; shorter values are zero-padded as the kernel does
    /// when it copies them).
    pub(crate) fn parse(value: &[u8], what: &str) -> Result<Self, DecodeError> {
        if value.len() > 16 {
            return Err(DecodeError::from(format!(
                "{what}: address of {} bytes (at most 16)",
                value.len()
            )));
        }
        let mut bytes = [0u8; 16];
        bytes[..value.len()].copy_from_slice(value);
        Ok(InetAddr(bytes))
    }

    /// The IPv4 member (first four bytes).
    pub fn to_ipv4(self) -> Ipv4Addr {
        Ipv4Addr::new(self.0[0], self.0[1], self.0[2], self.0[3])
    }

    /// The IPv6 member (all sixteen bytes).
    pub fn to_ipv6(self) -> Ipv6Addr {
        Ipv6Addr::from(self.0)
    }

    /// Interprets the address for the given family (`AF_INET6` → IPv6,
    /// anything else → IPv4).
    pub fn to_ip(self, family: u16) -> IpAddr {
        if family == AF_INET6 {
            IpAddr::V6(self.to_ipv6())
        } else {
            IpAddr::V4(self.to_ipv4())
        }
    }
}

impl From<IpAddr> for InetAddr {
    fn from(ip: IpAddr) -> Self {
        let mut bytes = [0u8; 16];
        match ip {
            IpAddr::V4(v4) => bytes[..4].copy_from_slice(&v4.octets()),
            IpAddr::V6(v6) => bytes = v6.octets(),
        }
        InetAddr(bytes)
    }
}

/// Appends netlink attributes straight to a message buffer, without building
/// attribute values first: the encoder of the hot requests (service and real
/// server changes). Produces the same bytes as emitting the equivalent
/// attribute list, which the tests check.
pub(crate) struct NlaWriter<'a> {
    buf: &'a mut Vec<u8>,
}

/// `NLA_HDRLEN`.
const NLA_HEADER_LEN: usize = 4;

impl<'a> NlaWriter<'a> {
    /// A writer appending to `buf` (whose length must be a multiple of 4).
    pub(crate) fn new(buf: &'a mut Vec<u8>) -> Self {
        NlaWriter { buf }
    }

    fn header(&mut self, kind: u16, len: usize) {
        // Lengths here are at most a few hundred bytes (nests of bounded
        // attributes); the caller checks a nest's total.
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
    }

    fn pad(&mut self) {
        let padded = (self.buf.len() + 3) & !3;
        self.buf.resize(padded, 0);
    }

    /// A fixed-size attribute, written in one piece.
    #[inline]
    fn fixed<const N: usize>(&mut self, kind: u16, value: [u8; N]) {
        // Header, value and padding: at most 4 + 16 + 3 bytes here.
        let mut out = [0u8; 24];
        out[..2].copy_from_slice(&((NLA_HEADER_LEN + N) as u16).to_ne_bytes());
        out[2..4].copy_from_slice(&kind.to_ne_bytes());
        out[4..4 + N].copy_from_slice(&value);
        self.buf
            .extend_from_slice(&out[..(NLA_HEADER_LEN + N + 3) & !3]);
    }

    /// An attribute with `value` as its payload.
    pub(crate) fn bytes(&mut self, kind: u16, value: &[u8]) {
        self.header(kind, NLA_HEADER_LEN + value.len());
        self.buf.extend_from_slice(value);
        self.pad();
    }

    /// A 16-byte attribute (`union nf_inet_addr`).
    #[inline]
    pub(crate) fn addr(&mut self, kind: u16, v: [u8; 16]) {
        self.fixed(kind, v);
    }

    /// A native-endian `u16` attribute.
    #[inline]
    pub(crate) fn u16_ne(&mut self, kind: u16, v: u16) {
        self.fixed(kind, v.to_ne_bytes());
    }

    /// A network-order `u16` attribute (ports).
    #[inline]
    pub(crate) fn u16_be(&mut self, kind: u16, v: u16) {
        self.fixed(kind, v.to_be_bytes());
    }

    /// A native-endian `u32` attribute.
    #[inline]
    pub(crate) fn u32_ne(&mut self, kind: u16, v: u32) {
        self.fixed(kind, v.to_ne_bytes());
    }

    /// A `u8` attribute.
    #[inline]
    pub(crate) fn u8(&mut self, kind: u16, v: u8) {
        self.fixed(kind, [v]);
    }

    /// A NUL-terminated string attribute.
    pub(crate) fn c_string(&mut self, kind: u16, s: &str) {
        self.header(kind, NLA_HEADER_LEN + s.len() + 1);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        self.pad();
    }

    /// Starts a nested attribute; returns where it starts, for
    /// [`NlaWriter::end_nest`].
    pub(crate) fn start_nest(&mut self, kind: u16) -> usize {
        let start = self.buf.len();
        self.header(kind | netlink_packet_core::NLA_F_NESTED, 0);
        start
    }

    /// Ends the nested attribute started at `start`: writes its length.
    pub(crate) fn end_nest(&mut self, start: usize) {
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    }
}
