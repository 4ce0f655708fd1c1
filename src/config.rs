//! Global settings: the connection timeouts (`IPVS_CMD_ATTR_TIMEOUT_*`,
//! `ipvsadm --set` / `-L --timeout`) and the version information
//! (`IPVS_INFO_ATTR_*`, the header line of `ipvsadm -L`).

use netlink_packet_core::{DecodeError, DefaultNla, Nla, NlaBuffer, Parseable};

use crate::wire::u32_ne;

const IPVS_INFO_ATTR_VERSION: u16 = 1;
const IPVS_INFO_ATTR_CONN_TAB_SIZE: u16 = 2;

/// One attribute of a GET_INFO reply (top level of the message).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InfoAttribute {
    /// `IPVS_INFO_ATTR_VERSION`: `(major << 16) | (minor << 8) | patch`.
    Version(u32),
    /// `IPVS_INFO_ATTR_CONN_TAB_SIZE`: connection hash table size.
    ConnTabSize(u32),
    /// An attribute this crate does not know, kept as received.
    Other(DefaultNla),
}

impl Nla for InfoAttribute {
    fn value_len(&self) -> usize {
        match self {
            InfoAttribute::Version(_) | InfoAttribute::ConnTabSize(_) => 4,
            InfoAttribute::Other(nla) => nla.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        match self {
            InfoAttribute::Version(_) => IPVS_INFO_ATTR_VERSION,
            InfoAttribute::ConnTabSize(_) => IPVS_INFO_ATTR_CONN_TAB_SIZE,
            InfoAttribute::Other(nla) => nla.kind(),
        }
    }
    fn emit_value(&self, buf: &mut [u8]) {
        match self {
            InfoAttribute::Version(v) | InfoAttribute::ConnTabSize(v) => {
                buf.copy_from_slice(&v.to_ne_bytes())
            }
            InfoAttribute::Other(nla) => nla.emit_value(buf),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for InfoAttribute {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let v = buf.value();
        Ok(match buf.kind() {
            IPVS_INFO_ATTR_VERSION => InfoAttribute::Version(u32_ne(v, "IPVS_INFO_ATTR_VERSION")?),
            IPVS_INFO_ATTR_CONN_TAB_SIZE => {
                InfoAttribute::ConnTabSize(u32_ne(v, "IPVS_INFO_ATTR_CONN_TAB_SIZE")?)
            }
            _ => InfoAttribute::Other(DefaultNla::parse(buf)?),
        })
    }
}

/// What GET_INFO reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Info {
    /// `IP_VS_VERSION_CODE`, e.g. `0x010201` for 1.2.1.
    pub version: u32,
    /// Size of the connection hash table (`ip_vs.conn_tab_bits`), 4096 by
    /// default.
    pub conn_tab_size: u32,
}

impl Info {
    /// The version and table size from the attributes of a GET_INFO reply
    /// (read with [`InfoAttribute`], without building the whole message);
    /// `None` unless both are there and every attribute is well-formed.
    pub(crate) fn from_reply(attributes: &[u8]) -> Option<Info> {
        let (mut version, mut conn_tab_size) = (None, None);
        for nla in netlink_packet_core::NlasIterator::new(attributes) {
            match InfoAttribute::parse(&nla.ok()?).ok()? {
                InfoAttribute::Version(v) => version = Some(v),
                InfoAttribute::ConnTabSize(v) => conn_tab_size = Some(v),
                InfoAttribute::Other(_) => {}
            }
        }
        Some(Info {
            version: version?,
            conn_tab_size: conn_tab_size?,
        })
    }
}

impl Info {
    /// The version as `(major, minor, patch)`.
    ///
    /// ```
    /// let info = ipvs::Info { version: 0x010201, conn_tab_size: 4096 };
    /// assert_eq!(info.version_triple(), (1, 2, 1));
    /// ```
    pub fn version_triple(&self) -> (u32, u32, u32) {
        (
            (self.version >> 16) & 0xff,
            (self.version >> 8) & 0xff,
            self.version & 0xff,
        )
    }
}

/// Connection timeouts in seconds (`ipvsadm --set tcp tcpfin udp`). When
/// setting, 0 leaves a value unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Timeouts {
    /// Established TCP connections (`IPVS_CMD_ATTR_TIMEOUT_TCP`), 900 by default.
    pub tcp: u32,
    /// TCP after a FIN (`IPVS_CMD_ATTR_TIMEOUT_TCP_FIN`), 120 by default.
    pub tcp_fin: u32,
    /// UDP (`IPVS_CMD_ATTR_TIMEOUT_UDP`), 300 by default.
    pub udp: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The attributes of the GET_INFO reply captured in the lab
    /// (fixtures/wire/kernel-6.1.txt, `get_info`): version 1.2.1, 4096.
    const CAPTURED: [u8; 16] = [
        0x08, 0x00, 0x01, 0x00, 0x01, 0x02, 0x01, 0x00, 0x08, 0x00, 0x02, 0x00, 0x00, 0x10, 0x00,
        0x00,
    ];

    #[test]
    fn info_from_the_reply_attributes() {
        let want = Info {
            version: 0x010201,
            conn_tab_size: 4096,
        };
        assert_eq!(Info::from_reply(&CAPTURED), Some(want));
        // Order does not matter; unknown attributes are skipped.
        let mut swapped = CAPTURED[8..].to_vec();
        swapped.extend_from_slice(&[0x05, 0x00, 0x09, 0x00, 0xaa, 0, 0, 0]);
        swapped.extend_from_slice(&CAPTURED[..8]);
        assert_eq!(Info::from_reply(&swapped), Some(want));
        // Either one missing, a short value, or a cut attribute: nothing.
        assert_eq!(Info::from_reply(&CAPTURED[..8]), None);
        assert_eq!(Info::from_reply(&CAPTURED[8..]), None);
        let mut short = CAPTURED;
        short[8] = 0x06;
        assert_eq!(Info::from_reply(&short), None);
        assert_eq!(Info::from_reply(&CAPTURED[..12]), None);
    }
}
