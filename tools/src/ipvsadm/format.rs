//! Every listing of ipvsadm 1.31, byte for byte: the version header, the
//! column titles, service and real-server lines in all modes, `-S` rules,
//! `--timeout`, `--daemon` and the connection table, plus ipvsadm's sort
//! order (its overflowing comparators under glibc's merge sort).
//!
//! Output is built as bytes: ipvsadm cuts names at byte positions (33 and
//! 28 columns, 59-byte `addr:port` buffers), which may split a multi-byte
//! character exactly as the C tool does.
//!
//! Deliberate differences from the 1.31 release: firewall marks print
//! unsigned (`FWM  4294967295`, `-f 4294967295`), and real-server 64-bit
//! counters print in full (the release shows their low 32 bits).

use std::cmp::Ordering;
use std::io::{self, BufRead, Write};
use std::net::IpAddr;

use super::parse::proto_name;
use super::request::Format;
use super::sys::{self, Resolver};
use super::table::{limits, titles, TUNNEL_FLAG_NAMES, TUNNEL_FLAG_OPTIONS};
use ipvs::{
    AddressFamily, DaemonState, Destination, DestinationStatus, ForwardMethod, Info, Netmask,
    Protocol, Service, ServiceFlags, ServiceKey, ServiceStatus, SyncDaemon, Timeouts,
    TunnelChecksum, TunnelType,
};

/// `printf("%-*s")`: left-justified, padded with spaces to `width` bytes.
fn pad_right(out: &mut Vec<u8>, s: &[u8], width: usize) {
    out.extend_from_slice(s);
    out.resize(out.len() + width.saturating_sub(s.len()), b' ');
}

/// `printf("%*s")`: right-justified.
fn pad_left(out: &mut Vec<u8>, s: &[u8], width: usize) {
    out.resize(out.len() + width.saturating_sub(s.len()), b' ');
    out.extend_from_slice(s);
}

/// ipvsadm's `print_largenum`: 9 columns, with K/M/G/T suffixes unless
/// `--exact`.
pub fn largenum(out: &mut Vec<u8>, v: u64, exact: bool) {
    if exact {
        let s = v.to_string();
        let width = if s.len() <= 8 { 9 } else { s.len() + 1 };
        pad_left(out, s.as_bytes(), width);
        return;
    }
    let (n, suffix) = if v < 100_000_000 {
        (v, None)
    } else if v < 1_000_000_000 {
        (v / 1000, Some(b'K'))
    } else if v < 100_000_000_000 {
        (v / 1_000_000, Some(b'M'))
    } else if v < 100_000_000_000_000 {
        (v / 1_000_000_000, Some(b'G'))
    } else {
        (v / 1_000_000_000_000, Some(b'T'))
    };
    match suffix {
        None => pad_left(out, n.to_string().as_bytes(), 9),
        Some(c) => {
            pad_left(out, n.to_string().as_bytes(), 8);
            out.push(c);
        }
    }
}

fn family_raw(f: AddressFamily) -> u16 {
    f.to_raw()
}

fn addr_family(a: &IpAddr) -> AddressFamily {
    AddressFamily::of(a)
}

/// ipvsadm's `addrport_to_anyname`: `addr:port` (`[addr]:port` for
/// anything but IPv4), names looked up unless numeric, cut at 59 bytes.
pub fn addrport(
    addr: IpAddr,
    port: u16,
    proto: u16,
    numeric: bool,
    resolver: &dyn Resolver,
) -> Vec<u8> {
    let mut s = Vec::with_capacity(48);
    addrport_into(&mut s, addr, port, proto, numeric, resolver);
    s
}

/// [`addrport`] into `s` (cleared first), to reuse one buffer.
fn addrport_into(
    s: &mut Vec<u8>,
    addr: IpAddr,
    port: u16,
    proto: u16,
    numeric: bool,
    resolver: &dyn Resolver,
) {
    s.clear();
    let v4 = addr.is_ipv4();
    if !v4 {
        s.push(b'[');
    }
    match (!numeric).then(|| resolver.addr_to_host(addr)).flatten() {
        Some(host) => s.extend_from_slice(&host),
        None => sys::push_ip(s, addr),
    }
    if !v4 {
        s.push(b']');
    }
    s.push(b':');
    let service = if numeric {
        None
    } else {
        proto_name(proto).and_then(|p| resolver.port_to_service(port, p))
    };
    match service {
        Some(name) => s.extend_from_slice(&name),
        None => sys::push_decimal_bytes(s, u64::from(port)),
    }
    s.truncate(limits::ADDRPORT_MAX);
}

fn protocol_raw(key: &ServiceKey) -> u16 {
    match key {
        ServiceKey::Addr { protocol, .. } => u16::from(*protocol),
        ServiceKey::Fwmark { .. } => 0,
    }
}

/// The version header of a full listing.
pub fn header(info: &Info) -> Vec<u8> {
    let (a, b, c) = info.version_triple();
    let mut s = titles::version_header(a, b, c, info.conn_tab_size as i32).into_bytes();
    s.push(b'\n');
    s
}

/// The column titles (ipvsadm's `print_title`); nothing for `-S`.
pub fn title(format: &Format) -> Vec<u8> {
    let mut out = Vec::new();
    let numbers = |out: &mut Vec<u8>, names: &[&str]| {
        pad_right(
            out,
            titles::PROT_LOCAL.as_bytes(),
            limits::SERVICE_NAME_WIDTH,
        );
        for n in names {
            out.push(b' ');
            pad_left(out, n.as_bytes(), 8);
        }
    };
    let columns = |out: &mut Vec<u8>, names: &[&str], widths: &[usize]| {
        pad_right(
            out,
            titles::PROT_LOCAL.as_bytes(),
            limits::SERVICE_NAME_WIDTH,
        );
        for (n, w) in names.iter().zip(widths) {
            out.push(b' ');
            pad_right(out, n.as_bytes(), *w);
        }
    };
    if format.stats {
        numbers(&mut out, &titles::STATS);
    } else if format.rate {
        numbers(&mut out, &titles::RATE);
    } else if format.thresholds {
        columns(&mut out, &titles::THRESHOLDS, &[10, 10, 10, 10]);
    } else if format.persistent_conn {
        columns(&mut out, &titles::PERSISTENT_CONN, &[9, 11, 10, 10]);
    } else if format.tun_info {
        return titles::TUN_INFO.as_bytes().to_vec();
    } else if !format.rule {
        return titles::DEFAULT.as_bytes().to_vec();
    } else {
        return out;
    }
    out.push(b'\n');
    out.extend_from_slice(titles::REMOTE.as_bytes());
    out.push(b'\n');
    out
}

/// ipvsadm's `print_sched_flags` (the list without parentheses).
fn sched_flags(svc: &Service) -> String {
    let f = svc.flags;
    let names: &[(ServiceFlags, &str)] = match svc.scheduler.as_str() {
        "sh" => &[
            (ServiceFlags::SH_FALLBACK, "sh-fallback"),
            (ServiceFlags::SH_PORT, "sh-port"),
        ],
        "mh" => &[
            (ServiceFlags::MH_FALLBACK, "mh-fallback"),
            (ServiceFlags::MH_PORT, "mh-port"),
        ],
        _ => &[
            (ServiceFlags::SCHED_1, "flag-1"),
            (ServiceFlags::SCHED_2, "flag-2"),
            (ServiceFlags::SCHED_3, "flag-3"),
        ],
    };
    names
        .iter()
        .filter(|(b, _)| f.contains(*b))
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

/// The IPv4 mask as ipvsadm stores it, whatever variant the model holds.
fn mask_v4(n: &Netmask) -> std::net::Ipv4Addr {
    match *n {
        Netmask::Ipv4(m) => m,
        Netmask::Ipv6Prefix(p) => std::net::Ipv4Addr::from(p.to_ne_bytes()),
    }
}

fn prefix_v6(n: &Netmask) -> u32 {
    match *n {
        Netmask::Ipv6Prefix(p) => p,
        Netmask::Ipv4(m) => u32::from_ne_bytes(m.octets()),
    }
}

/// The service name column: `TCP  addr:port`, `FWM  5`, or for `-S`
/// `-t addr:port`, `-f 5 -6`.
pub fn service_name(svc: &Service, format: &Format, resolver: &dyn Resolver) -> Vec<u8> {
    match svc.key {
        ServiceKey::Fwmark { mark, family } => {
            let v6 = family == AddressFamily::Inet6;
            let s = match (format.rule, v6) {
                (true, false) => format!("-f {mark}"),
                (true, true) => format!("-f {mark} -6"),
                (false, false) => format!("FWM  {mark}"),
                (false, true) => format!("FWM  {mark} IPv6"),
            };
            s.into_bytes()
        }
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let vname = addrport(addr, port, protocol.into(), format.numeric, resolver);
            let mut s = Vec::new();
            if format.rule {
                s.extend_from_slice(match protocol {
                    Protocol::Tcp => b"-t".as_slice(),
                    Protocol::Udp => b"-u",
                    Protocol::Sctp => b"--sctp-service",
                    Protocol::Other(_) => b"--xxx-service",
                });
                s.push(b' ');
                s.extend_from_slice(&vname);
                s
            } else {
                let p: &[u8] = match protocol {
                    Protocol::Tcp => b"TCP",
                    Protocol::Udp => b"UDP",
                    Protocol::Sctp => b"SCTP",
                    Protocol::Other(_) => b"?",
                };
                pad_right(&mut s, p, 4);
                s.push(b' ');
                s.extend_from_slice(&vname);
                if !addr.is_ipv6() {
                    s.truncate(limits::SERVICE_NAME_WIDTH);
                }
                s
            }
        }
    }
}

/// The service line (or `-A` rule), with its newline.
pub fn service_line(status: &ServiceStatus, name: &[u8], format: &Format) -> Vec<u8> {
    let svc = &status.config;
    let mut out = Vec::new();
    let family = svc.key.family();
    let sched_bits = svc.flags.intersects(ServiceFlags::SCHED_MASK);
    let persistent = svc.flags.contains(ServiceFlags::PERSISTENT);
    let mask = |out: &mut Vec<u8>, word: &str| match family {
        AddressFamily::Inet => {
            let m = mask_v4(&svc.netmask);
            if u32::from(m) != u32::MAX {
                out.extend_from_slice(format!(" {word} {m}").as_bytes());
            }
        }
        AddressFamily::Inet6 => {
            let p = prefix_v6(&svc.netmask);
            if p != 128 {
                out.extend_from_slice(format!(" {word} {}", p as i32).as_bytes());
            }
        }
    };
    let pe = svc.pe_name.as_deref().filter(|p| !p.is_empty());
    if format.rule {
        out.extend_from_slice(b"-A ");
        out.extend_from_slice(name);
        out.extend_from_slice(format!(" -s {}", svc.scheduler).as_bytes());
        if persistent {
            out.extend_from_slice(format!(" -p {}", svc.timeout).as_bytes());
            mask(&mut out, "-M");
        }
        if let Some(pe) = pe {
            out.extend_from_slice(format!(" --pe {pe}").as_bytes());
        }
        if svc.flags.contains(ServiceFlags::ONE_PACKET) {
            out.extend_from_slice(b" -o");
        }
        if sched_bits {
            out.extend_from_slice(format!(" -b {}", sched_flags(svc)).as_bytes());
        }
    } else if format.stats || format.rate {
        pad_right(&mut out, name, limits::SERVICE_NAME_WIDTH);
        let s = &status.stats;
        let values = if format.stats {
            [
                s.conns,
                s.in_packets,
                s.out_packets,
                s.in_bytes,
                s.out_bytes,
            ]
        } else {
            [s.cps, s.in_pps, s.out_pps, s.in_bps, s.out_bps]
        };
        for v in values {
            largenum(&mut out, v, format.exact);
        }
    } else {
        out.extend_from_slice(name);
        out.extend_from_slice(format!(" {}", svc.scheduler).as_bytes());
        if sched_bits {
            out.extend_from_slice(format!(" ({})", sched_flags(svc)).as_bytes());
        }
        if persistent {
            out.extend_from_slice(format!(" persistent {}", svc.timeout).as_bytes());
            mask(&mut out, "mask");
            if let Some(pe) = pe {
                out.extend_from_slice(format!(" pe {pe}").as_bytes());
            }
        }
        if svc.flags.contains(ServiceFlags::ONE_PACKET) {
            out.extend_from_slice(b" ops");
        }
    }
    out.push(b'\n');
    out
}

fn forward_raw(f: ForwardMethod) -> u32 {
    u32::from(f) & 7
}

/// The Forward column; `(null)` for methods ipvsadm has no name for.
fn forward_name(f: ForwardMethod) -> &'static str {
    titles::FORWARD_NAMES
        .get(forward_raw(f) as usize)
        .copied()
        .unwrap_or(titles::NULL)
}

/// The `-S` switch for a method; `(null)` for unknown ones.
fn forward_switch(f: ForwardMethod) -> &'static str {
    match forward_raw(f) {
        0 => "-m",
        2 => "-i",
        1 | 3 => "-g",
        _ => titles::NULL,
    }
}

fn flag_index(c: TunnelChecksum) -> usize {
    usize::from(u16::from(c))
}

/// The TunnelInfo column (`--tun-info`). Unknown checksum flags (which
/// ipvsadm reads past its table for) print as their number.
fn tunnel_info(d: &Destination) -> String {
    if forward_raw(d.forward) != 2 {
        return titles::NOT_APPLICABLE.to_string();
    }
    let flag = TUNNEL_FLAG_NAMES
        .get(flag_index(d.tunnel_flags))
        .map(|s| s.to_string())
        .unwrap_or_else(|| u16::from(d.tunnel_flags).to_string());
    let s = match d.tunnel_type {
        TunnelType::Ipip => "ipip".to_string(),
        TunnelType::Gue => format!("gue:{}:{flag}", d.tunnel_port),
        TunnelType::Gre => format!("gre:{flag}"),
        TunnelType::Other(_) => return titles::NOT_APPLICABLE.to_string(),
    };
    // snprintf(info, 16, ...)
    let mut s = s.into_bytes();
    s.truncate(15);
    String::from_utf8_lossy(&s).into_owned()
}

/// One real-server line (or `-a` rule), with its newline. `svc_name` is
/// the service column as built by [`service_name`]; `proto` the service's
/// protocol number (for port names).
pub fn destination_line(
    d: &DestinationStatus,
    svc_name: &[u8],
    proto: u16,
    format: &Format,
    resolver: &dyn Resolver,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    destination_line_into(
        &mut out,
        &mut Vec::new(),
        d,
        svc_name,
        proto,
        format,
        resolver,
    );
    out
}

/// Appends `n` in decimal, padded with spaces on the right to `width`.
fn number_right(out: &mut Vec<u8>, n: u64, width: usize) {
    let end = out.len() + width;
    sys::push_decimal_bytes(out, n);
    if out.len() < end {
        out.resize(end, b' ');
    }
}

/// [`destination_line`] appended to `out`; `name` is scratch space.
fn destination_line_into(
    out: &mut Vec<u8>,
    name: &mut Vec<u8>,
    status: &DestinationStatus,
    svc_name: &[u8],
    proto: u16,
    format: &Format,
    resolver: &dyn Resolver,
) {
    let d = &status.config;
    addrport_into(name, d.addr, d.port, proto, format.numeric, resolver);
    if !format.rule && !d.addr.is_ipv6() {
        name.truncate(limits::DEST_NAME_WIDTH);
    }
    if format.rule {
        out.extend_from_slice(b"-a ");
        out.extend_from_slice(svc_name);
        out.extend_from_slice(b" -r ");
        out.extend_from_slice(name);
        out.push(b' ');
        out.extend_from_slice(forward_switch(d.forward).as_bytes());
        out.extend_from_slice(b" -w ");
        if d.weight < 0 {
            out.push(b'-');
        }
        sys::push_decimal_bytes(out, u64::from(d.weight.unsigned_abs()));
        if forward_raw(d.forward) == 2 {
            let flag = TUNNEL_FLAG_OPTIONS.get(flag_index(d.tunnel_flags));
            match d.tunnel_type {
                TunnelType::Ipip => out.extend_from_slice(b" --tun-type ipip"),
                TunnelType::Gue => {
                    out.extend_from_slice(
                        format!(" --tun-type gue --tun-port {}", d.tunnel_port).as_bytes(),
                    );
                    if let Some(f) = flag {
                        out.extend_from_slice(format!(" {f}").as_bytes());
                    }
                }
                TunnelType::Gre => {
                    out.extend_from_slice(b" --tun-type gre");
                    if let Some(f) = flag {
                        out.extend_from_slice(format!(" {f}").as_bytes());
                    }
                }
                TunnelType::Other(_) => {}
            }
        }
        out.push(b'\n');
        return;
    }
    out.extend_from_slice(b"  -> ");
    pad_right(out, name, limits::DEST_NAME_WIDTH);
    let s = &status.stats;
    if format.stats {
        for v in [
            s.conns,
            s.in_packets,
            s.out_packets,
            s.in_bytes,
            s.out_bytes,
        ] {
            largenum(out, v, format.exact);
        }
    } else if format.rate {
        for v in [s.cps, s.in_pps, s.out_pps] {
            out.push(b' ');
            pad_left(out, v.to_string().as_bytes(), 8);
        }
        largenum(out, s.in_bps, format.exact);
        largenum(out, s.out_bps, format.exact);
    } else if format.thresholds {
        for v in [
            d.upper_threshold,
            d.lower_threshold,
            status.active_conns,
            status.inactive_conns,
        ] {
            out.push(b' ');
            number_right(out, u64::from(v), 10);
        }
    } else if format.persistent_conn {
        let cols = [
            (d.weight as u32, 9),
            (status.persistent_conns, 11),
            (status.active_conns, 10),
            (status.inactive_conns, 10),
        ];
        for (v, w) in cols {
            out.push(b' ');
            number_right(out, u64::from(v), w);
        }
    } else {
        out.push(b' ');
        pad_right(out, forward_name(d.forward).as_bytes(), 7);
        if format.tun_info {
            out.push(b' ');
            pad_right(out, tunnel_info(d).as_bytes(), 13);
        }
        out.push(b' ');
        if d.weight >= 0 {
            number_right(out, d.weight as u64, 6);
        } else {
            pad_right(out, d.weight.to_string().as_bytes(), 6);
        }
        for (v, w) in [(status.active_conns, 10), (status.inactive_conns, 10)] {
            out.push(b' ');
            number_right(out, u64::from(v), w);
        }
    }
    out.push(b'\n');
}

/// A service with its real servers (ipvsadm's `print_service_entry`):
/// sorts the real servers unless `--nosort`, then prints everything.
pub fn service_entry(
    svc: &ServiceStatus,
    dests: &mut [DestinationStatus],
    format: &Format,
    resolver: &dyn Resolver,
) -> Vec<u8> {
    if !format.nosort {
        sort_destinations(dests);
    }
    let name = service_name(&svc.config, format, resolver);
    let mut out = service_line(svc, &name, format);
    out.reserve(96 * dests.len());
    let proto = protocol_raw(&svc.config.key);
    let mut scratch = Vec::with_capacity(64);
    for d in dests.iter() {
        destination_line_into(&mut out, &mut scratch, d, &name, proto, format, resolver);
    }
    out
}

/// A complete `-L`/`-S` listing of already fetched data (the header only
/// when `info` is given, i.e. for full listings without `-S`).
pub fn listing(
    info: Option<&Info>,
    entries: &mut [(ServiceStatus, Vec<DestinationStatus>)],
    format: &Format,
    resolver: &dyn Resolver,
) -> Vec<u8> {
    let mut out = Vec::new();
    if let (Some(info), false) = (info, format.rule) {
        out.extend_from_slice(&header(info));
    }
    if !format.nosort {
        merge_sort_by(entries, |a, b| compare_services(&a.0.config, &b.0.config));
    }
    out.extend_from_slice(&title(format));
    for (svc, dests) in entries.iter_mut() {
        out.extend_from_slice(&service_entry(svc, dests, format, resolver));
    }
    out
}

/// `Timeout (tcp tcpfin udp): 900 120 300`.
pub fn timeouts_line(t: &Timeouts) -> Vec<u8> {
    format!(
        "{} {} {} {}\n",
        titles::TIMEOUT,
        t.tcp as i32,
        t.tcp_fin as i32,
        t.udp as i32
    )
    .into_bytes()
}

/// The `--daemon` lines. Like libipvs, the first reply goes to slot 0 and
/// every later one to slot 1 (the kernel sends at most master and backup);
/// slots whose state is neither master nor backup print nothing.
pub fn daemon_lines(daemons: &[SyncDaemon]) -> Vec<u8> {
    let mut slots: [Option<&SyncDaemon>; 2] = [None, None];
    for d in daemons {
        let first_used = slots[0].map(|s| u32::from(s.state) != 0).unwrap_or(false);
        slots[usize::from(first_used)] = Some(d);
    }
    let mut out = Vec::new();
    for d in slots.iter().flatten() {
        let state = u32::from(d.state);
        let kind = if state & u32::from(DaemonState::Master) != 0 {
            "master"
        } else if state & u32::from(DaemonState::Backup) != 0 {
            "backup"
        } else {
            continue;
        };
        // The interface name is the kernel's bytes, printed as they are.
        out.extend_from_slice(format!("{kind} sync daemon (mcast=").as_bytes());
        out.extend_from_slice(&d.mcast_ifn);
        let mut s = format!(", syncid={}", d.sync_id as i32);
        if d.sync_maxlen != 0 {
            s.push_str(&format!(", maxlen={}", d.sync_maxlen));
        }
        if let Some(g) = d.mcast_group {
            s.push_str(&format!(", group={}", sys::format_ip(g)));
        }
        if d.mcast_port != 0 {
            s.push_str(&format!(", port={}", d.mcast_port));
        }
        if d.mcast_ttl != 0 {
            s.push_str(&format!(", ttl={}", d.mcast_ttl));
        }
        s.push_str(")\n");
        out.extend_from_slice(s.as_bytes());
    }
    out
}

/// glibc's `qsort` for the sizes ipvsadm sorts: a top-down merge sort that
/// splits `n` into `n/2` and `n - n/2` and, merging, takes the left element
/// when `cmp <= 0`. With ipvsadm's non-transitive comparators only this
/// exact algorithm reproduces its order.
pub fn merge_sort_by<T: Clone>(v: &mut [T], cmp: impl Fn(&T, &T) -> i32 + Copy) {
    if v.len() <= 1 {
        return;
    }
    // Sort positions with one scratch buffer, then move each element once:
    // the same merges in the same order as sorting the elements themselves,
    // without cloning services (and their strings) at every level.
    let mut order: Vec<usize> = (0..v.len()).collect();
    let mut scratch = Vec::with_capacity(v.len());
    merge_positions(&mut order, &mut scratch, &|a: &usize, b: &usize| {
        cmp(&v[*a], &v[*b])
    });
    let sorted: Vec<T> = order.iter().map(|&i| v[i].clone()).collect();
    v.clone_from_slice(&sorted);
}

/// glibc's top-down merge sort over positions: split `n` into `n / 2` and
/// `n - n / 2`, sort each, merge taking the left element when `cmp <= 0`.
fn merge_positions(v: &mut [usize], scratch: &mut Vec<usize>, cmp: &dyn Fn(&usize, &usize) -> i32) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    merge_positions(&mut v[..n1], scratch, cmp);
    merge_positions(&mut v[n1..], scratch, cmp);
    scratch.clear();
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp(&v[i], &v[j]) <= 0 {
            scratch.push(v[i]);
            i += 1;
        } else {
            scratch.push(v[j]);
            j += 1;
        }
    }
    scratch.extend_from_slice(&v[i..n1]);
    scratch.extend_from_slice(&v[j..n]);
    v.copy_from_slice(scratch);
}

fn addr_union(a: &IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&v4.octets());
            b
        }
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn word(b: &[u8; 16], i: usize) -> u32 {
    u32::from_be_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
}

/// `ntohl(a) - ntohl(b)` over the address unions, as an `int`: all four
/// words when the first argument is IPv6, else the first word only.
fn compare_addrs(first_is_v6: bool, a: &[u8; 16], b: &[u8; 16]) -> i32 {
    let words = if first_is_v6 { 4 } else { 1 };
    for i in 0..words {
        let r = word(a, i).wrapping_sub(word(b, i)) as i32;
        if r != 0 {
            return r;
        }
    }
    0
}

/// ipvsadm's service comparator (`ipvs_cmp_services`), overflow included.
pub fn compare_services(s1: &Service, s2: &Service) -> i32 {
    let parts = |s: &Service| -> (u32, u16, u16, [u8; 16], u16) {
        match s.key {
            ServiceKey::Fwmark { mark, family } => (mark, family_raw(family), 0, [0; 16], 0),
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => (
                0,
                family_raw(addr_family(&addr)),
                u16::from(protocol),
                addr_union(&addr),
                port,
            ),
        }
    };
    let (f1, af1, p1, a1, port1) = parts(s1);
    let (f2, af2, p2, a2, port2) = parts(s2);
    let r = f1.wrapping_sub(f2) as i32;
    if r != 0 {
        return r;
    }
    let r = i32::from(af1) - i32::from(af2);
    if r != 0 {
        return r;
    }
    let r = i32::from(p1) - i32::from(p2);
    if r != 0 {
        return r;
    }
    let r = compare_addrs(af1 == AddressFamily::Inet6.to_raw(), &a1, &a2);
    if r != 0 {
        return r;
    }
    i32::from(port1) - i32::from(port2)
}

/// ipvsadm's real-server comparator (`ipvs_cmp_dests`): the family of the
/// first argument decides how much of the addresses is compared.
pub fn compare_destinations(d1: &Destination, d2: &Destination) -> i32 {
    let r = compare_addrs(
        d1.addr.is_ipv6(),
        &addr_union(&d1.addr),
        &addr_union(&d2.addr),
    );
    if r != 0 {
        return r;
    }
    i32::from(d1.port) - i32::from(d2.port)
}

/// Sorts services as `-L` does.
pub fn sort_services(v: &mut [ServiceStatus]) {
    merge_sort_by(v, |a, b| compare_services(&a.config, &b.config));
}

/// Sorts real servers as `-L` does.
pub fn sort_destinations(v: &mut [DestinationStatus]) {
    merge_sort_by(v, |a, b| compare_destinations(&a.config, &b.config));
}

/// Converts a comparator result to an [`Ordering`] (for callers that want
/// one; sorting must use [`merge_sort_by`] to keep ipvsadm's order).
pub fn ordering(r: i32) -> Ordering {
    r.cmp(&0)
}

/// How the connection listing ended early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnListingError {
    /// The table was empty (not even the kernel's header line): ipvsadm
    /// prints `unexpected input from /proc/net/ip_vs_conn` and exits 1.
    Empty,
    /// A line was blank (`sscanf` saw no field): ipvsadm exits 1 silently,
    /// after the lines before it were printed.
    BlankLine,
}

/// `fgets(buf, 256)`: the next line, or its next 255 bytes if it is
/// longer; `false` at the end of the input.
fn fgets(input: &mut dyn BufRead, line: &mut Vec<u8>) -> io::Result<bool> {
    line.clear();
    while line.len() < limits::CONN_LINE_MAX {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let room = limits::CONN_LINE_MAX - line.len();
        let take = buf.len().min(room);
        let (n, done) = match buf[..take].iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (take, false),
        };
        line.extend_from_slice(&buf[..n]);
        input.consume(n);
        if done {
            break;
        }
    }
    Ok(!line.is_empty())
}

/// A tiny `sscanf` for `"%s %s %hX %s %hX %s %hX %s %d %s %s"`.
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    fn skip_ws(&mut self) {
        while self.i < self.b.len() && is_space(self.b[self.i]) {
            self.i += 1;
        }
    }
    fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.i >= self.b.len()
    }
    fn word(&mut self) -> Option<&'a [u8]> {
        if self.at_end() {
            return None;
        }
        let s = self.i;
        while self.i < self.b.len() && !is_space(self.b[self.i]) {
            self.i += 1;
        }
        Some(&self.b[s..self.i])
    }
    /// `%hX`: optional sign, optional `0x`, hex digits, stored in 16 bits.
    fn hex16(&mut self) -> Option<u16> {
        if self.at_end() {
            return None;
        }
        let (v, n) = strtoul_bytes(&self.b[self.i..], 16)?;
        self.i += n;
        Some(v as u16)
    }
    /// `%d`: stored in an `int` (the C tool reads it into an unsigned).
    fn dec(&mut self) -> Option<u32> {
        if self.at_end() {
            return None;
        }
        let r = super::parse::strtol(&self.b[self.i..]);
        if r.end == 0 {
            return None;
        }
        self.i += r.end;
        Some(r.value as i32 as u32)
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `strtoul(s, &end, base)` (sign, `0x` for base 16), `None` without
/// digits; overflow saturates like glibc.
fn strtoul_bytes(b: &[u8], base: u32) -> Option<(u64, usize)> {
    let mut i = 0;
    while i < b.len() && is_space(b[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    if base == 16
        && b.get(i) == Some(&b'0')
        && matches!(b.get(i + 1), Some(b'x' | b'X'))
        && b.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit())
    {
        i += 2;
    }
    let start = i;
    let mut acc: u64 = 0;
    let mut overflow = false;
    while i < b.len() {
        let Some(d) = (b[i] as char).to_digit(base) else {
            break;
        };
        match acc
            .checked_mul(u64::from(base))
            .and_then(|v| v.checked_add(u64::from(d)))
        {
            Some(v) => acc = v,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start {
        return None;
    }
    let v = if overflow {
        u64::MAX
    } else if neg {
        acc.wrapping_neg()
    } else {
        acc
    };
    Some((v, i))
}

/// A connection-table address: IPv6 text, dotted IPv4, or the kernel's
/// `%08X` hex form.
fn conn_addr(text: &[u8], allow_v6: bool) -> IpAddr {
    if allow_v6 {
        if let Some(a) = sys::parse_ipv6(text) {
            return IpAddr::V6(a);
        }
    }
    if let Some(a) = sys::parse_ipv4_strict(text) {
        return IpAddr::V4(a);
    }
    let v = strtoul_bytes(text, 16).map(|(v, _)| v).unwrap_or(0) as u32;
    IpAddr::V4(std::net::Ipv4Addr::from(v))
}

/// The `-c` listing of the text of `/proc/net/ip_vs_conn` (ipvsadm's
/// `list_conn`/`print_conn`), for a whole table in memory. Returns what was
/// printed and, if the listing ended early, why.
pub fn connections(
    input: &[u8],
    format: &Format,
    resolver: &dyn Resolver,
) -> (Vec<u8>, Option<ConnListingError>) {
    let mut out = Vec::new();
    let mut reader = input;
    let end = connections_to(&mut reader, &mut out, format, resolver)
        .unwrap_or(Some(ConnListingError::BlankLine));
    (out, end)
}

/// The `-c` listing, streamed from `input` to `out` line by line (the
/// table can be large). `Ok(Some(_))` when the listing ended early; `Err`
/// only for errors writing `out`.
pub fn connections_to(
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    format: &Format,
    resolver: &dyn Resolver,
) -> io::Result<Option<ConnListingError>> {
    // A read error ends the input, as a failing `fgets` does.
    let mut line = Vec::new();
    if !fgets(input, &mut line).unwrap_or(false) {
        return Ok(Some(ConnListingError::Empty));
    }
    out.write_all(titles::CONN_ENTRIES.as_bytes())?;
    out.write_all(b"\n")?;
    let c = &titles::CONN_COLUMNS;
    let head = if format.persistent_conn {
        format!(
            "pro expire {:<11} {:<18} {:<18} {:<18} {:<16} {}\n",
            c[0], c[1], c[2], c[3], c[4], c[5]
        )
    } else {
        format!(
            "pro expire {:<11} {:<18} {:<18} {}\n",
            c[0], c[1], c[2], c[3]
        )
    };
    out.write_all(head.as_bytes())?;
    while fgets(input, &mut line).unwrap_or(false) {
        match connection_line(&line, format, resolver) {
            Some(row) => out.write_all(&row)?,
            None => return Ok(Some(ConnListingError::BlankLine)),
        }
    }
    Ok(None)
}

/// One row of the connection listing; `None` for a line without any field.
fn connection_line(line: &[u8], format: &Format, resolver: &dyn Resolver) -> Option<Vec<u8>> {
    // The C tool scans the line as a C string: it ends at a NUL byte.
    let line = match line.iter().position(|&b| b == 0) {
        Some(nul) => &line[..nul],
        None => line,
    };
    let mut out = Vec::new();
    let mut sc = Scan { b: line, i: 0 };
    let protocol = sc.word()?;
    // `sscanf("%s %s %hX %s %hX %s %hX %s %d %s %s")`: fields after the
    // first one that fails to match keep no value (the C tool's are
    // uninitialised); they print empty or zero here. `n` counts matches.
    let mut fields: [&[u8]; 4] = [b""; 4];
    let mut ports = [0u16; 3];
    let mut expires = 0u32;
    let mut pe: [&[u8]; 2] = [b""; 2];
    let mut n = 1;
    let mut scan = || -> Option<()> {
        for k in 0..3 {
            fields[k] = sc.word()?;
            n += 1;
            ports[k] = sc.hex16()?;
            n += 1;
        }
        fields[3] = sc.word()?;
        n += 1;
        expires = sc.dec()?;
        n += 1;
        for p in pe.iter_mut() {
            *p = sc.word()?;
            n += 1;
        }
        Some(())
    };
    let _ = scan();
    let proto: u16 = match protocol {
        b"TCP" => 6,
        b"UDP" => 17,
        b"SCTP" => 132,
        _ => 0,
    };
    let caddr_text = fields[0];
    let vaddr_text = fields[1];
    let client_v6 = sys::parse_ipv6(caddr_text).is_some();
    let (caddr, vaddr) = if client_v6 {
        let v = sys::parse_ipv6(vaddr_text).unwrap_or(std::net::Ipv6Addr::UNSPECIFIED);
        (conn_addr(caddr_text, true), IpAddr::V6(v))
    } else if sys::parse_ipv4_strict(caddr_text).is_some() {
        let v = sys::parse_ipv4_strict(vaddr_text).unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
        (conn_addr(caddr_text, false), IpAddr::V4(v))
    } else {
        (conn_addr(caddr_text, false), conn_addr(vaddr_text, false))
    };
    let daddr = conn_addr(fields[2], true);
    let cname = addrport(caddr, ports[0], proto, format.numeric, resolver);
    let vname = addrport(vaddr, ports[1], proto, format.numeric, resolver);
    let dname = addrport(daddr, ports[2], proto, format.numeric, resolver);
    let expire = format!("{:02}:{:02}", expires / 60, expires % 60);
    let state = fields[3];
    pad_right(&mut out, protocol, 3);
    out.push(b' ');
    pad_right(&mut out, expire.as_bytes(), 6);
    out.push(b' ');
    pad_right(&mut out, state, 11);
    out.push(b' ');
    pad_right(&mut out, &cname, 18);
    out.push(b' ');
    pad_right(&mut out, &vname, 18);
    out.push(b' ');
    if format.persistent_conn && n == 11 {
        pad_right(&mut out, &dname, 16);
        out.push(b' ');
        pad_right(&mut out, pe[0], 18);
        out.push(b' ');
        out.extend_from_slice(pe[1]);
    } else {
        out.extend_from_slice(&dname);
    }
    out.push(b'\n');
    Some(out)
}
