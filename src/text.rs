//! Text forms of the model: `FromStr` for every type users type, `Display`
//! for every type they read, the one round-tripping through the other, and
//! (with the `serde` feature) the same strings in serialized data.
//!
//! | type | text |
//! |---|---|
//! | [`ServiceKey`] | `tcp:192.0.2.1:80`, `udp:[2001:db8::1]:53`, `sctp:…`, `fwm:7`, `fwm6:7` |
//! | [`Protocol`] | `TCP`, `UDP`, `SCTP`, `IP_<n>` (any case when read) |
//! | [`AddressFamily`] | `inet`, `inet6` (also `ipv4`, `ipv6`) |
//! | [`ForwardMethod`] | `Masq`, `Local`, `Tunnel`, `Route` as `ipvsadm -L` prints them (any case; also `nat`, `dr`, `gate`, `tun`) |
//! | [`TunnelType`] | `ipip`, `gue`, `gre` |
//! | [`TunnelChecksum`] | `nocsum`, `csum`, `remcsum` |
//! | [`Netmask`] | `255.255.255.0` (IPv4), `64` (IPv6 prefix length) |
//! | [`DaemonState`] | `master`, `backup` |
//!
//! ```
//! use ipvs::{ForwardMethod, ServiceKey};
//! let key: ServiceKey = "udp:[2001:db8::1]:53".parse().unwrap();
//! assert_eq!(key, ServiceKey::udp("2001:db8::1".parse().unwrap(), 53));
//! assert_eq!(key.to_string(), "udp:[2001:db8::1]:53");
//! assert_eq!("fwm:7".parse::<ServiceKey>().unwrap(), ServiceKey::fwmark(7));
//! assert_eq!("route".parse::<ForwardMethod>().unwrap(), ForwardMethod::DirectRoute);
//! assert!("tcp:192.0.2.1".parse::<ServiceKey>().is_err());
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use crate::daemon::DaemonState;
use crate::destination::{ForwardMethod, TunnelChecksum, TunnelType};
use crate::service::{AddressFamily, Netmask, Protocol, ServiceKey};

/// Text that does not spell a value of the named kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {text:?}{}", hint.map(|h| format!(" ({h})")).unwrap_or_default())]
pub struct ParseError {
    /// What was expected, e.g. "service key".
    pub kind: &'static str,
    /// The text given.
    pub text: String,
    /// What the text should look like.
    pub hint: Option<&'static str>,
}

impl ParseError {
    fn new(kind: &'static str, text: &str, hint: Option<&'static str>) -> Self {
        ParseError {
            kind,
            text: text.to_string(),
            hint,
        }
    }
}

const KEY_HINT: &str =
    "expected tcp:ADDR:PORT, udp:ADDR:PORT, sctp:ADDR:PORT, fwm:MARK or fwm6:MARK";

impl FromStr for ServiceKey {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let err = || ParseError::new("service key", s, Some(KEY_HINT));
        let (kind, rest) = s.split_once(':').ok_or_else(err)?;
        let mark = |family| {
            rest.parse::<u32>()
                .ok()
                .filter(|m| *m != 0)
                .map(|mark| ServiceKey::Fwmark { mark, family })
                .ok_or_else(err)
        };
        if kind.eq_ignore_ascii_case("fwm") {
            return mark(AddressFamily::Inet);
        }
        if kind.eq_ignore_ascii_case("fwm6") {
            return mark(AddressFamily::Inet6);
        }
        let protocol: Protocol = kind.parse().map_err(|_| err())?;
        let (addr, port) = split_addr_port(rest).ok_or_else(err)?;
        Ok(ServiceKey::Addr {
            protocol,
            addr,
            port,
        })
    }
}

/// `192.0.2.1:80` or `[2001:db8::1]:80`.
fn split_addr_port(s: &str) -> Option<(IpAddr, u16)> {
    let (addr, port) = s.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let addr = match addr.strip_prefix('[') {
        Some(v6) => IpAddr::V6(v6.strip_suffix(']')?.parse().ok()?),
        None => IpAddr::V4(addr.parse().ok()?),
    };
    Some((addr, port))
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => {
                match protocol {
                    Protocol::Tcp => f.write_str("tcp:")?,
                    Protocol::Udp => f.write_str("udp:")?,
                    Protocol::Sctp => f.write_str("sctp:")?,
                    Protocol::Other(n) => write!(f, "ip_{n}:")?,
                }
                match addr {
                    IpAddr::V4(a) => write!(f, "{a}:{port}"),
                    IpAddr::V6(a) => write!(f, "[{a}]:{port}"),
                }
            }
            ServiceKey::Fwmark {
                mark,
                family: AddressFamily::Inet,
            } => write!(f, "fwm:{mark}"),
            ServiceKey::Fwmark {
                mark,
                family: AddressFamily::Inet6,
            } => write!(f, "fwm6:{mark}"),
        }
    }
}

impl FromStr for Protocol {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let lower = s.to_ascii_lowercase();
        Ok(match lower.as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            "sctp" => Protocol::Sctp,
            other => other
                .strip_prefix("ip_")
                .and_then(|n| n.parse::<u16>().ok())
                .map(Protocol::from)
                .ok_or_else(|| ParseError::new("protocol", s, Some("expected tcp, udp or sctp")))?,
        })
    }
}

impl fmt::Display for AddressFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressFamily::Inet => "inet",
            AddressFamily::Inet6 => "inet6",
        })
    }
}

impl FromStr for AddressFamily {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        match s.to_ascii_lowercase().as_str() {
            "inet" | "ipv4" => Ok(AddressFamily::Inet),
            "inet6" | "ipv6" => Ok(AddressFamily::Inet6),
            _ => Err(ParseError::new(
                "address family",
                s,
                Some("expected inet or inet6"),
            )),
        }
    }
}

impl fmt::Display for ForwardMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardMethod::Masquerade => f.write_str("Masq"),
            ForwardMethod::Local => f.write_str("Local"),
            ForwardMethod::Tunnel => f.write_str("Tunnel"),
            ForwardMethod::DirectRoute => f.write_str("Route"),
            ForwardMethod::Other(v) => write!(f, "fwd-{v}"),
        }
    }
}

impl FromStr for ForwardMethod {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let lower = s.to_ascii_lowercase();
        Ok(match lower.as_str() {
            "masq" | "masquerade" | "nat" => ForwardMethod::Masquerade,
            "local" => ForwardMethod::Local,
            "tunnel" | "tun" | "ipip" => ForwardMethod::Tunnel,
            "route" | "droute" | "dr" | "gate" => ForwardMethod::DirectRoute,
            other => other
                .strip_prefix("fwd-")
                .and_then(|n| n.parse::<u32>().ok())
                .map(ForwardMethod::from)
                .ok_or_else(|| {
                    ParseError::new(
                        "forwarding method",
                        s,
                        Some("expected masq, route, tunnel or local"),
                    )
                })?,
        })
    }
}

impl FromStr for TunnelType {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let lower = s.to_ascii_lowercase();
        Ok(match lower.as_str() {
            "ipip" => TunnelType::Ipip,
            "gue" => TunnelType::Gue,
            "gre" => TunnelType::Gre,
            other => other
                .strip_prefix("tunnel-type-")
                .and_then(|n| n.parse::<u8>().ok())
                .map(TunnelType::from)
                .ok_or_else(|| {
                    ParseError::new("tunnel type", s, Some("expected ipip, gue or gre"))
                })?,
        })
    }
}

impl fmt::Display for TunnelChecksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunnelChecksum::NoCsum => f.write_str("nocsum"),
            TunnelChecksum::Csum => f.write_str("csum"),
            TunnelChecksum::RemCsum => f.write_str("remcsum"),
            TunnelChecksum::Other(v) => write!(f, "csum-flags-{v}"),
        }
    }
}

impl FromStr for TunnelChecksum {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let lower = s.to_ascii_lowercase();
        Ok(match lower.as_str() {
            "nocsum" => TunnelChecksum::NoCsum,
            "csum" => TunnelChecksum::Csum,
            "remcsum" => TunnelChecksum::RemCsum,
            other => other
                .strip_prefix("csum-flags-")
                .and_then(|n| n.parse::<u16>().ok())
                .map(TunnelChecksum::from)
                .ok_or_else(|| {
                    ParseError::new(
                        "tunnel checksum",
                        s,
                        Some("expected nocsum, csum or remcsum"),
                    )
                })?,
        })
    }
}

impl fmt::Display for Netmask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Netmask::Ipv4(m) => write!(f, "{m}"),
            Netmask::Ipv6Prefix(p) => write!(f, "{p}"),
        }
    }
}

impl FromStr for Netmask {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        if let Ok(m) = s.parse::<Ipv4Addr>() {
            return Ok(Netmask::Ipv4(m));
        }
        s.parse::<u32>()
            .ok()
            .filter(|p| (1..=128).contains(p))
            .map(Netmask::Ipv6Prefix)
            .ok_or_else(|| {
                ParseError::new(
                    "netmask",
                    s,
                    Some("expected an IPv4 mask or an IPv6 prefix length 1-128"),
                )
            })
    }
}

impl FromStr for DaemonState {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let lower = s.to_ascii_lowercase();
        Ok(match lower.as_str() {
            "master" => DaemonState::Master,
            "backup" => DaemonState::Backup,
            other => other
                .strip_prefix("state-")
                .and_then(|n| n.parse::<u32>().ok())
                .map(DaemonState::from)
                .ok_or_else(|| {
                    ParseError::new("sync daemon state", s, Some("expected master or backup"))
                })?,
        })
    }
}

/// Bytes that are usually text (interface names): serialized as a string
/// when they are UTF-8, else as a sequence of numbers; both read back.
#[cfg(feature = "serde")]
pub(crate) mod bytes_as_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(bytes) {
            Ok(text) => s.serialize_str(text),
            Err(_) => s.serialize_bytes(bytes),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum TextOrBytes {
        Text(String),
        Bytes(Vec<u8>),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Ok(match TextOrBytes::deserialize(d)? {
            TextOrBytes::Text(t) => t.into_bytes(),
            TextOrBytes::Bytes(b) => b,
        })
    }
}

/// Serializes each type as its `Display` text and reads it back with
/// `FromStr`.
#[cfg(feature = "serde")]
macro_rules! serde_as_text {
    ($($t:ty),*) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

#[cfg(feature = "serde")]
serde_as_text!(
    ServiceKey,
    Protocol,
    AddressFamily,
    ForwardMethod,
    TunnelType,
    TunnelChecksum,
    Netmask,
    DaemonState
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_form_round_trips() {
        let keys = [
            ServiceKey::tcp("192.0.2.1".parse().unwrap(), 80),
            ServiceKey::udp("2001:db8::1".parse().unwrap(), 53),
            ServiceKey::sctp("198.51.100.7".parse().unwrap(), 0),
            ServiceKey::Addr {
                protocol: Protocol::Other(33),
                addr: "192.0.2.9".parse().unwrap(),
                port: 9,
            },
            ServiceKey::fwmark(7),
            ServiceKey::fwmark6(u32::MAX),
        ];
        for k in keys {
            assert_eq!(k.to_string().parse::<ServiceKey>(), Ok(k), "{k}");
        }
        for m in [
            ForwardMethod::Masquerade,
            ForwardMethod::Local,
            ForwardMethod::Tunnel,
            ForwardMethod::DirectRoute,
            ForwardMethod::Other(6),
        ] {
            assert_eq!(m.to_string().parse::<ForwardMethod>(), Ok(m));
        }
        for t in [
            TunnelType::Ipip,
            TunnelType::Gue,
            TunnelType::Gre,
            TunnelType::Other(9),
        ] {
            assert_eq!(t.to_string().parse::<TunnelType>(), Ok(t));
        }
        for c in [
            TunnelChecksum::NoCsum,
            TunnelChecksum::Csum,
            TunnelChecksum::RemCsum,
            TunnelChecksum::Other(8),
        ] {
            assert_eq!(c.to_string().parse::<TunnelChecksum>(), Ok(c));
        }
        for n in [
            Netmask::Ipv4("255.255.255.0".parse().unwrap()),
            Netmask::Ipv6Prefix(64),
        ] {
            assert_eq!(n.to_string().parse::<Netmask>(), Ok(n));
        }
        for s in [
            DaemonState::Master,
            DaemonState::Backup,
            DaemonState::Other(4),
        ] {
            assert_eq!(s.to_string().parse::<DaemonState>(), Ok(s));
        }
        for a in [AddressFamily::Inet, AddressFamily::Inet6] {
            assert_eq!(a.to_string().parse::<AddressFamily>(), Ok(a));
        }
        for p in [
            Protocol::Tcp,
            Protocol::Udp,
            Protocol::Sctp,
            Protocol::Other(47),
        ] {
            assert_eq!(p.to_string().parse::<Protocol>(), Ok(p));
        }
    }

    #[test]
    fn malformed_keys_are_refused_with_the_text() {
        for bad in [
            "",
            "tcp",
            "tcp:192.0.2.1",
            "tcp:192.0.2.1:65536",
            "tcp:2001:db8::1:80",
            "tcp:[192.0.2.1]:80",
            "xyz:192.0.2.1:80",
            "fwm:0",
            "fwm:-1",
            "fwm:x",
        ] {
            let e = bad.parse::<ServiceKey>().unwrap_err();
            assert_eq!(e.text, bad);
            assert!(e.to_string().starts_with("invalid service key"), "{e}");
        }
        assert!("129".parse::<Netmask>().is_err());
        assert!("0".parse::<Netmask>().is_err());
    }
}
