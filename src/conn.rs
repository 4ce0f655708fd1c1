//! The connection table, which the kernel exposes only as text in
//! `/proc/net/ip_vs_conn` (and `/proc/net/ip_vs_conn_sync`), read as a
//! stream of typed entries so tables of millions of lines are never held
//! in memory.

use std::io::{self, BufRead};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nom::branch::alt;
use nom::bytes::complete::{take_while1, take_while_m_n};
use nom::character::complete::{digit1, space0, space1};
use nom::combinator::{map_res, opt, rest};
use nom::{IResult, Parser};

/// Path of the connection table.
pub const PROC_IP_VS_CONN: &str = "/proc/net/ip_vs_conn";
/// Path of the connection table with the sync origin column.
pub const PROC_IP_VS_CONN_SYNC: &str = "/proc/net/ip_vs_conn_sync";

/// One connection (or persistence template) of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Protocol name as the kernel prints it: `TCP`, `UDP`, `SCTP`, `IP`
    /// (firewall-mark templates), `ICMP`, `ICMPv6` or `IP_<n>`.
    pub protocol: String,
    /// Client address.
    pub client_addr: IpAddr,
    /// Client port.
    pub client_port: u16,
    /// Virtual address.
    pub virtual_addr: IpAddr,
    /// Virtual port.
    pub virtual_port: u16,
    /// Real server address (its family may differ for tunnels).
    pub dest_addr: IpAddr,
    /// Real server port.
    pub dest_port: u16,
    /// Protocol state, e.g. `ESTABLISHED`, `SYN_RECV`, `UDP`, `NONE`.
    pub state: String,
    /// Seconds until the entry expires.
    pub expires: u64,
    /// `LOCAL` or `SYNC` (only in `ip_vs_conn_sync`).
    pub origin: Option<String>,
    /// Persistence engine name (e.g. `sip`), when the entry has PE data.
    pub pe_name: Option<String>,
    /// Persistence engine data (e.g. a SIP Call-ID).
    pub pe_data: Option<String>,
}

/// Why a line of the table could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// Reading failed.
    #[error("reading the connection table: {0}")]
    Io(#[from] io::Error),
    /// The table had no header line.
    #[error("the connection table is empty")]
    Empty,
    /// A line did not have the kernel's format.
    #[error("line {line} of the connection table is malformed: {text:?}")]
    Malformed {
        /// 1-based line number (the header is line 1).
        line: u64,
        /// The offending text (at most 200 bytes of it).
        text: String,
    },
}

fn is_hex(c: char) -> bool {
    c.is_ascii_hexdigit()
}

fn token(i: &str) -> IResult<&str, &str> {
    take_while1(|c: char| !c.is_ascii_whitespace()).parse(i)
}

/// `%08X` (an IPv4 address as a host-order number) or `%pI6`.
fn address(i: &str) -> IResult<&str, IpAddr> {
    alt((
        map_res(take_while1(|c: char| is_hex(c) || c == ':'), |s: &str| {
            if s.contains(':') {
                s.parse::<Ipv6Addr>().map(IpAddr::V6).map_err(|_| ())
            } else if s.len() == 8 {
                u32::from_str_radix(s, 16)
                    .map(|v| IpAddr::V4(Ipv4Addr::from(v)))
                    .map_err(|_| ())
            } else {
                Err(())
            }
        }),
        map_res(token, |s: &str| s.parse::<Ipv4Addr>().map(IpAddr::V4)),
    ))
    .parse(i)
}

fn expires(i: &str) -> IResult<&str, u64> {
    map_res(digit1, str::parse::<u64>).parse(i)
}

fn port(i: &str) -> IResult<&str, u16> {
    map_res(take_while_m_n(1, 4, is_hex), |s| u16::from_str_radix(s, 16)).parse(i)
}

type Row<'a> = (&'a str, IpAddr, u16, IpAddr, u16, IpAddr, u16, &'a str, u64);

fn row(i: &str) -> IResult<&str, Row<'_>> {
    let (i, _) = space0(i)?;
    let (i, proto) = token(i)?;
    let (i, (_, ca, _, cp)) = (space1, address, space1, port).parse(i)?;
    let (i, (_, va, _, vp)) = (space1, address, space1, port).parse(i)?;
    let (i, (_, da, _, dp)) = (space1, address, space1, port).parse(i)?;
    let (i, (_, state)) = (space1, token).parse(i)?;
    let (i, (_, expires)) = (space1, expires).parse(i)?;
    Ok((i, (proto, ca, cp, va, vp, da, dp, state, expires)))
}

/// Parses one data line of `/proc/net/ip_vs_conn`. `None` when the line
/// does not have the kernel's format.
///
/// ```
/// use ipvs::conn::parse_connection_line;
/// let c = parse_connection_line(
///     "UDP C000020A 13C4 C0000201 13C4 C6336402 13C4 UDP             119 sip a84b4c76e66710@pc33",
/// ).unwrap();
/// assert_eq!((c.protocol.as_str(), c.client_port, c.expires), ("UDP", 5060, 119));
/// assert_eq!(c.pe_name.as_deref(), Some("sip"));
/// assert!(parse_connection_line("garbage").is_none());
/// ```
pub fn parse_connection_line(line: &str) -> Option<Connection> {
    let line = line.trim_end_matches(['\n', '\r']);
    let (tail, r) = row(line).ok()?;
    let (_, (pe_name, pe_data)) = (opt((space1, token)), opt((space1, rest)))
        .parse(tail)
        .ok()?;
    Some(Connection {
        protocol: r.0.to_string(),
        client_addr: r.1,
        client_port: r.2,
        virtual_addr: r.3,
        virtual_port: r.4,
        dest_addr: r.5,
        dest_port: r.6,
        state: r.7.to_string(),
        expires: r.8,
        origin: None,
        pe_name: pe_name.map(|(_, n)| n.to_string()),
        pe_data: pe_data
            .map(|(_, d): (&str, &str)| d.to_string())
            .filter(|d| !d.is_empty()),
    })
}

/// Parses one data line of `/proc/net/ip_vs_conn_sync` (origin column
/// before the expiry).
pub fn parse_connection_sync_line(line: &str) -> Option<Connection> {
    let line = line.trim_end_matches(['\n', '\r']);
    let (i, _) = space0::<&str, nom::error::Error<&str>>(line).ok()?;
    let (i, proto) = token(i).ok()?;
    let (i, (_, ca, _, cp)) = (space1, address, space1, port).parse(i).ok()?;
    let (i, (_, va, _, vp)) = (space1, address, space1, port).parse(i).ok()?;
    let (i, (_, da, _, dp)) = (space1, address, space1, port).parse(i).ok()?;
    let (i, (_, state, _, origin)) = (space1, token, space1, token).parse(i).ok()?;
    let (i, (_, expires)) = (space1, expires).parse(i).ok()?;
    if !i.trim().is_empty() {
        return None;
    }
    Some(Connection {
        protocol: proto.to_string(),
        client_addr: ca,
        client_port: cp,
        virtual_addr: va,
        virtual_port: vp,
        dest_addr: da,
        dest_port: dp,
        state: state.to_string(),
        expires,
        origin: Some(origin.to_string()),
        pe_name: None,
        pe_data: None,
    })
}

/// Streams the entries of a connection table, one line at a time.
///
/// ```
/// use ipvs::conn::ConnectionReader;
/// let table = "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n\
///              TCP C000020A C822 C0000201 0050 C6336402 1F90 ESTABLISHED     899\n";
/// let mut reader = ConnectionReader::new(table.as_bytes());
/// let conn = reader.next().unwrap().unwrap();
/// assert_eq!(conn.client_addr.to_string(), "192.0.2.10");
/// assert_eq!((conn.virtual_port, conn.dest_port), (80, 8080));
/// assert_eq!(conn.state, "ESTABLISHED");
/// assert!(reader.next().is_none());
/// ```
pub struct ConnectionReader<R> {
    input: R,
    line: String,
    line_no: u64,
    header_seen: bool,
    sync: bool,
}

impl<R: BufRead> ConnectionReader<R> {
    /// Reads the `/proc/net/ip_vs_conn` format.
    pub fn new(input: R) -> Self {
        ConnectionReader {
            input,
            line: String::new(),
            line_no: 0,
            header_seen: false,
            sync: false,
        }
    }

    /// Reads the `/proc/net/ip_vs_conn_sync` format.
    pub fn new_sync(input: R) -> Self {
        ConnectionReader {
            sync: true,
            ..Self::new(input)
        }
    }

    fn read_line(&mut self) -> Result<bool, ConnectionError> {
        self.line.clear();
        let n = self.input.read_line(&mut self.line).or_else(|e| {
            // Binary garbage is not UTF-8; report it as a malformed line.
            if e.kind() == io::ErrorKind::InvalidData {
                self.line = "<invalid UTF-8>".into();
                Ok(1)
            } else {
                Err(e)
            }
        })?;
        self.line_no += 1;
        Ok(n > 0)
    }
}

impl<R: BufRead> Iterator for ConnectionReader<R> {
    type Item = Result<Connection, ConnectionError>;

    fn next(&mut self) -> Option<Self::Item> {
        if !self.header_seen {
            self.header_seen = true;
            match self.read_line() {
                Ok(true) => {}
                Ok(false) => return Some(Err(ConnectionError::Empty)),
                Err(e) => return Some(Err(e)),
            }
        }
        match self.read_line() {
            Ok(false) => None,
            Err(e) => Some(Err(e)),
            Ok(true) => {
                let parsed = if self.sync {
                    parse_connection_sync_line(&self.line)
                } else {
                    parse_connection_line(&self.line)
                };
                Some(parsed.ok_or_else(|| ConnectionError::Malformed {
                    line: self.line_no,
                    text: self.line.chars().take(200).collect(),
                }))
            }
        }
    }
}

/// Opens the connection table of the current network namespace.
pub fn open() -> io::Result<ConnectionReader<io::BufReader<std::fs::File>>> {
    Ok(ConnectionReader::new(io::BufReader::new(
        std::fs::File::open(PROC_IP_VS_CONN)?,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_and_pe_data() {
        let l = "UDP 2001:0db8:0000:0000:0000:0000:0000:00ff 13C4 2001:0db8:0000:0000:0000:0000:0000:0001 13C4 C6336402 13C4 UDP             119 sip 1234abcd@host";
        let c = parse_connection_line(l).unwrap();
        assert_eq!(c.client_addr.to_string(), "2001:db8::ff");
        assert_eq!(c.dest_addr.to_string(), "198.51.100.2");
        assert_eq!(c.client_port, 5060);
        assert_eq!(c.expires, 119);
        assert_eq!(c.pe_name.as_deref(), Some("sip"));
        assert_eq!(c.pe_data.as_deref(), Some("1234abcd@host"));
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for l in [
            "",
            " ",
            "TCP",
            "TCP zz 0050",
            "\u{0}\u{ff}",
            "TCP C0000201 12345 C0000201 0050 C0000201 0050 X 1",
        ] {
            assert!(parse_connection_line(l).is_none(), "{l:?}");
        }
    }

    #[test]
    fn sync_origin() {
        let l = "TCP C000020A C822 C0000201 0050 C6336402 1F90 ESTABLISHED LOCAL      899\n";
        let c = parse_connection_sync_line(l).unwrap();
        assert_eq!(c.origin.as_deref(), Some("LOCAL"));
        assert_eq!(c.expires, 899);
    }
}
