//! Fuzz harness of the library's decoders and the connection reader.

use netlink_packet_core::Emitable;

use ipvs::message::{IpvsCmd, IpvsMessage};
use ipvs::service::AddressFamily;
use ipvs::{DestinationStatus, ServiceStatus};

/// The decoders, with an emit/parse round trip: the first byte is the
/// command, the rest a message body (attributes after the genl header).
/// Whatever parses must emit (when `check_size` allows) to bytes that
/// parse to the same message, and emit again to the same bytes. Nests are
/// also decoded straight into the model, which must never panic.
pub fn decode(data: &[u8]) {
    let Some((&cmd, body)) = data.split_first() else {
        return;
    };
    let cmd = IpvsCmd::from(cmd);
    // The model decoders, on the whole body as a nest value.
    let _ = ServiceStatus::from_nest(body);
    let _ = DestinationStatus::from_nest(body, AddressFamily::Inet);
    let _ = DestinationStatus::from_nest(body, AddressFamily::Inet6);
    let Ok(msg) = IpvsMessage::parse_body(cmd, body) else {
        return;
    };
    for a in &msg.attributes {
        if let ipvs::IpvsAttribute::Service(attrs) = a {
            let _ = ServiceStatus::from_attributes(attrs);
        }
        if let ipvs::IpvsAttribute::Destination(attrs) = a {
            let _ = DestinationStatus::from_attributes(attrs, AddressFamily::Inet);
        }
        if let ipvs::IpvsAttribute::Daemon(attrs) = a {
            let _ = ipvs::SyncDaemon::from_attributes(attrs);
        }
    }
    let mut bytes = vec![0; msg.buffer_len()];
    // Emitting never panics, even when the size check fails.
    msg.emit(&mut bytes);
    if msg.check_size().is_err() {
        return;
    }
    let again = IpvsMessage::parse_body(cmd, &bytes).expect("emitted bytes parse");
    assert_eq!(again, msg, "emit/parse round trip changed the message");
    let mut bytes2 = vec![0; again.buffer_len()];
    again.emit(&mut bytes2);
    assert_eq!(bytes2, bytes, "emitting twice gave different bytes");
}

/// The `/proc/net/ip_vs_conn` readers (both formats) and line parsers.
pub fn conn_reader(data: &[u8]) {
    for item in ipvs::conn::ConnectionReader::new(data) {
        let _ = item;
    }
    for item in ipvs::conn::ConnectionReader::new_sync(data) {
        let _ = item;
    }
    if let Ok(text) = std::str::from_utf8(data) {
        for line in text.lines() {
            let _ = ipvs::conn::parse_connection_line(line);
            let _ = ipvs::conn::parse_connection_sync_line(line);
        }
    }
}
