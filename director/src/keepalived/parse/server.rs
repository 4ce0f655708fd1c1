//! `virtual_server` and `real_server` blocks, and the forwarding methods.

use super::*;

use super::checker::checker;

fn forwarding(p: &mut P, n: &Node) -> Option<Fwd> {
    let m = p.arg(n, 1)?;
    let method = match m {
        "NAT" => ForwardMethod::Masquerade,
        "DR" => ForwardMethod::DirectRoute,
        "TUN" => ForwardMethod::Tunnel,
        _ => {
            p.err(
                n,
                format!("unknown forwarding method '{m}' (NAT, DR or TUN)"),
            );
            return None;
        }
    };
    // Every forwarding statement sets all the tunnel settings: the ones it
    // does not name take their defaults (ipip, no port, nocsum), as in
    // keepalived's svr_forwarding_handler.
    let mut tun_type = TunnelType::Ipip;
    let mut port = 0u16;
    let mut csum = TunnelChecksum::NoCsum;
    let mut i = 2;
    while i < n.words.len() {
        match n.words[i].as_str() {
            "type" => {
                match n.words.get(i + 1).map(String::as_str) {
                    Some("ipip") => tun_type = TunnelType::Ipip,
                    Some("gue") => tun_type = TunnelType::Gue,
                    Some("gre") => tun_type = TunnelType::Gre,
                    Some(t) => {
                        p.err(n, format!("unknown tunnel type '{t}' (ipip, gue or gre)"));
                        return None;
                    }
                    None => {
                        p.err(n, "missing tunnel type");
                        return None;
                    }
                }
                i += 1;
            }
            "port" => {
                match n
                    .words
                    .get(i + 1)
                    .and_then(|s| parse_uint(s))
                    .filter(|v| (1..=65535).contains(v))
                {
                    Some(v) => port = v as u16,
                    None => {
                        p.err(n, "missing or invalid gue tunnel port");
                        return None;
                    }
                }
                i += 1;
            }
            "nocsum" => csum = TunnelChecksum::NoCsum,
            "csum" => csum = TunnelChecksum::Csum,
            "remcsum" => csum = TunnelChecksum::RemCsum,
            o => {
                p.err(n, format!("invalid tunnel option '{o}'"));
                return None;
            }
        }
        i += 1;
    }
    if (tun_type == TunnelType::Gue) != (port != 0) {
        p.err(
            n,
            "gue tunnels require a port, and other tunnels cannot have one",
        );
        return None;
    }
    if tun_type == TunnelType::Ipip && csum != TunnelChecksum::NoCsum {
        p.err(n, "ipip tunnels do not support checksum options");
        return None;
    }
    if tun_type == TunnelType::Gre && csum == TunnelChecksum::RemCsum {
        p.err(n, "gre tunnels do not support the remote checksum option");
        return None;
    }
    Some(Fwd {
        method,
        tun_type,
        tun_port: port,
        csum,
    })
}

pub(super) fn virtual_server(p: &mut P, n: &Node) -> Option<RawVs> {
    let first = p.arg(n, 1)?;
    let name = match first {
        "group" => RawName::Group(p.arg(n, 2)?.to_string()),
        "fwmark" => RawName::Fwmark(p.uint(n, 2, 0, u32::MAX as u64)? as u32),
        _ => {
            let (ip, port) = addr_port(p, n, 1)?;
            RawName::Addr(ip, port)
        }
    };
    let block = p.block(n)?;
    let af = match &name {
        RawName::Addr(ip, _) => Some(AddressFamily::of(ip)),
        _ => None,
    };
    let mut vs = RawVs {
        loc: n.loc.clone(),
        name,
        af,
        protocol: None,
        sched: None,
        flags: ServiceFlags::default(),
        fwd: None,
        persistence: 0,
        granularity: None,
        pe_name: None,
        virtualhost: None,
        alpha: false,
        omega: false,
        quorum: 1,
        hysteresis: 0,
        quorum_up: None,
        quorum_down: None,
        weight: 1,
        connect_timeout: Duration::from_secs(5),
        delay_loop: Duration::from_secs(60),
        warmup: None,
        retry: None,
        rise: None,
        delay_before_retry: None,
        inhibit: false,
        sorry: None,
        rs: Vec::new(),
    };
    for c in block {
        let kw = c.keyword();
        if kw != "real_server" {
            p.no_block(c);
        }
        match kw {
            "ip_family" => {
                let af = match c.words.get(1).map(String::as_str) {
                    Some("inet") => AddressFamily::Inet,
                    Some("inet6") => AddressFamily::Inet6,
                    o => {
                        p.err(c, format!("unknown address family '{}'", o.unwrap_or("")));
                        continue;
                    }
                };
                if vs.af.is_some_and(|a| a != af) {
                    p.err(c, "ip_family conflicts with the virtual server's addresses");
                    continue;
                }
                vs.af = Some(af);
            }
            "retry" => {
                vs.retry = p
                    .uint(c, 1, 1, u32::MAX as u64)
                    .map(|v| v as u32)
                    .or(vs.retry)
            }
            "delay_before_retry" => {
                vs.delay_before_retry = p.timer(c, 0, u64::MAX).or(vs.delay_before_retry)
            }
            "warmup" => vs.warmup = p.timer(c, 0, u64::MAX).or(vs.warmup),
            "connect_timeout" => {
                if let Some(t) = p.timer(c, 1, u32::MAX as u64) {
                    vs.connect_timeout = t;
                }
            }
            "delay_loop" => {
                if let Some(t) = p.timer(c, 1, u64::MAX) {
                    vs.delay_loop = t;
                }
            }
            "inhibit_on_failure" => vs.inhibit = true,
            RISE => {
                vs.rise = p
                    .uint(c, 1, 1, u32::MAX as u64)
                    .map(|v| v as u32)
                    .or(vs.rise)
            }
            "lb_algo" | "lvs_sched" => {
                let Some(s) = p.arg(c, 1) else { continue };
                if SCHEDULERS.contains(&s) {
                    vs.sched = Some(s.to_string());
                } else {
                    p.err(
                        c,
                        format!("invalid scheduler '{s}' (one of {})", SCHEDULERS.join(", ")),
                    );
                }
            }
            "hashed" => vs.flags |= ServiceFlags::HASHED,
            "ops" => vs.flags |= ServiceFlags::ONE_PACKET,
            "flag-1" => vs.flags |= ServiceFlags::SCHED_1,
            "flag-2" => vs.flags |= ServiceFlags::SCHED_2,
            "flag-3" => vs.flags |= ServiceFlags::SCHED_3,
            "sh-port" | "sh-fallback" | "mh-port" | "mh-fallback" => {
                let sched = vs.sched.as_deref().unwrap_or("");
                let (want, flag) = match kw {
                    "sh-port" => ("sh", ServiceFlags::SH_PORT),
                    "sh-fallback" => ("sh", ServiceFlags::SH_FALLBACK),
                    "mh-port" => ("mh", ServiceFlags::MH_PORT),
                    _ => ("mh", ServiceFlags::MH_FALLBACK),
                };
                if sched == want {
                    vs.flags |= flag;
                } else if sched == "sh" || sched == "mh" {
                    p.warn(
                        c,
                        WarningKind::Ignored,
                        format!("{kw} does not apply to scheduler {sched} - ignored"),
                    );
                } else {
                    p.err(c, format!("{kw} only applies to the {want} scheduler (give lvs_sched {want} before it)"));
                }
            }
            "lb_kind" | "lvs_method" => {
                if let Some(f) = forwarding(p, c) {
                    vs.fwd = Some(f);
                }
            }
            "persistence_engine" => {
                let Some(s) = p.arg(c, 1) else { continue };
                if s.len() > ipvs::service::PE_NAME_MAX {
                    p.err(c, format!("persistence engine name '{s}' is too long"));
                } else {
                    vs.pe_name = Some(s.to_string());
                }
            }
            "persistence_timeout" => {
                if c.words.len() < 2 {
                    vs.persistence = DEFAULT_PERSISTENCE;
                } else if let Some(t) = p.uint(c, 1, 1, LVS_MAX_TIMEOUT) {
                    vs.persistence = t as u32;
                }
            }
            "persistence_granularity" => {
                let Some(s) = p.arg(c, 1) else { continue };
                let af = vs.af.unwrap_or(if s.contains('.') {
                    AddressFamily::Inet
                } else {
                    AddressFamily::Inet6
                });
                let mask = match af {
                    AddressFamily::Inet6 => parse_uint(s)
                        .filter(|v| (1..=128).contains(v))
                        .map(|v| Netmask::Ipv6Prefix(v as u32)),
                    AddressFamily::Inet => inet_aton(s).map(Netmask::Ipv4),
                };
                match mask {
                    Some(m) => {
                        vs.granularity = Some(m);
                        vs.af.get_or_insert(af);
                        if vs.persistence == 0 {
                            vs.persistence = DEFAULT_PERSISTENCE;
                        }
                    }
                    None => p.err(c, format!("invalid persistence_granularity '{s}'")),
                }
            }
            "protocol" => {
                let Some(s) = p.arg(c, 1) else { continue };
                match s.to_ascii_uppercase().as_str() {
                    "TCP" => vs.protocol = Some(Protocol::Tcp),
                    "UDP" => vs.protocol = Some(Protocol::Udp),
                    "SCTP" => vs.protocol = Some(Protocol::Sctp),
                    _ => p.err(c, format!("unknown protocol '{s}' (TCP, UDP or SCTP)")),
                }
            }
            "ha_suspend" => p.diag.error(
                &c.loc,
                kw,
                ErrorKind::Unsupported,
                "ha_suspend is not supported by lvsd (checks always run); remove it".to_string(),
            ),
            "virtualhost" => {
                if let Some(v) = p.arg(c, 1) {
                    vs.virtualhost = Some(v.to_string());
                }
            }
            "smtp_alert" | "snmp_name" => {
                p.warn(c, WarningKind::Ignored, format!("{kw} is not used by lvsd"))
            }
            "alpha" => vs.alpha = true,
            "omega" => vs.omega = true,
            "quorum_up" | "quorum_down" => {
                let slot = if kw == "quorum_up" {
                    &vs.quorum_up
                } else {
                    &vs.quorum_down
                };
                if slot.is_some() {
                    p.err(c, format!("{kw} script already specified"));
                    continue;
                }
                let s = p.script(c);
                if kw == "quorum_up" {
                    vs.quorum_up = s;
                } else {
                    vs.quorum_down = s;
                }
            }
            "quorum" => match p.uint(c, 1, 1, u32::MAX as u64) {
                Some(q) => vs.quorum = q as u32,
                None => vs.quorum = 1,
            },
            "hysteresis" => {
                if let Some(h) = p.uint(c, 1, 0, u32::MAX as u64) {
                    vs.hysteresis = h as u32;
                }
            }
            "weight" => {
                if let Some(w) = p.uint(c, 1, 1, i32::MAX as u64) {
                    vs.weight = w as u32;
                }
            }
            "sorry_server" => {
                if let Some((addr, port)) = addr_port(p, c, 1) {
                    vs.sorry = Some(RawSorry {
                        addr,
                        port,
                        fwd: vs.fwd,
                        inhibit: false,
                    });
                }
            }
            "sorry_server_inhibit" => match vs.sorry.as_mut() {
                Some(s) => s.inhibit = true,
                None => {
                    p.err(
                        c,
                        "sorry_server_inhibit used before or without sorry_server",
                    );
                }
            },
            "sorry_server_lvs_method" => match vs.sorry.is_some() {
                true => {
                    if let Some(f) = forwarding(p, c) {
                        if let Some(s) = vs.sorry.as_mut() {
                            s.fwd = Some(f);
                        }
                    }
                }
                false => p.err(c, "sorry_server_lvs_method used without sorry_server"),
            },
            "real_server" => {
                if let Some(rs) = real_server(p, c, &vs) {
                    // keepalived's rs_end_handler: the family of a non-tunnelled
                    // real server must be the virtual server's.
                    let tunnel = rs.fwd.is_some_and(|f| f.method == ForwardMethod::Tunnel);
                    let fam = AddressFamily::of(&rs.addr);
                    if !tunnel {
                        match vs.af {
                            None => vs.af = Some(fam),
                            Some(a) if a != fam => {
                                p.err(
                                    c,
                                    "address family of virtual server and real server don't match",
                                );
                                continue;
                            }
                            _ => {}
                        }
                    }
                    vs.rs.push(rs);
                }
            }
            _ => p.unknown(c),
        }
    }
    vs.rs.shrink_to_fit();
    // keepalived's vs_end_handler: the sorry server's family.
    if let Some(s) = &vs.sorry {
        let tunnel = s.fwd.is_some_and(|f| f.method == ForwardMethod::Tunnel);
        let fam = AddressFamily::of(&s.addr);
        if !tunnel {
            match vs.af {
                None => vs.af = Some(fam),
                Some(a) if a != fam => {
                    p.err(
                        n,
                        "address family of virtual server and sorry server don't match",
                    );
                    vs.sorry = None;
                }
                _ => {}
            }
        }
    }
    if vs.af.is_none() && !matches!(vs.name, RawName::Group(_)) {
        // fwmark with only tunnelled servers: their common family, else IPv4.
        let mut fams = vs.rs.iter().map(|r| AddressFamily::of(&r.addr));
        let first = vs
            .sorry
            .as_ref()
            .map(|s| AddressFamily::of(&s.addr))
            .or_else(|| fams.next());
        let mixed = first.is_some_and(|f| vs.rs.iter().any(|r| AddressFamily::of(&r.addr) != f));
        vs.af = Some(if mixed {
            AddressFamily::Inet
        } else {
            first.unwrap_or(AddressFamily::Inet)
        });
    }
    Some(vs)
}

fn real_server(p: &mut P, n: &Node, vs: &RawVs) -> Option<RawRs> {
    let (addr, port) = addr_port(p, n, 1)?;
    let block = p.block(n)?;
    let mut rs = RawRs {
        loc: n.loc.clone(),
        addr,
        port,
        fwd: vs.fwd,
        weight: None,
        uthreshold: 0,
        lthreshold: 0,
        inhibit: None,
        alpha: None,
        notify_up: None,
        notify_down: None,
        retry: None,
        rise: None,
        delay_before_retry: None,
        warmup: None,
        connect_timeout: None,
        delay_loop: None,
        virtualhost: None,
        checkers: Vec::new(),
    };
    for c in block {
        let kw = c.keyword();
        if !kw.ends_with("_CHECK") && kw != "HTTP_GET" && kw != "SSL_GET" {
            p.no_block(c);
        }
        match kw {
            "weight" => {
                rs.weight = p
                    .uint(c, 1, 0, i32::MAX as u64)
                    .map(|w| w as u32)
                    .or(rs.weight)
            }
            "lvs_method" => {
                if let Some(f) = forwarding(p, c) {
                    rs.fwd = Some(f);
                }
            }
            "uthreshold" => {
                rs.uthreshold = p
                    .uint(c, 1, 0, u32::MAX as u64)
                    .map(|v| v as u32)
                    .unwrap_or(rs.uthreshold)
            }
            "lthreshold" => {
                rs.lthreshold = p
                    .uint(c, 1, 0, u32::MAX as u64)
                    .map(|v| v as u32)
                    .unwrap_or(rs.lthreshold)
            }
            "inhibit_on_failure" => rs.inhibit = p.opt_bool(c).or(rs.inhibit),
            "alpha" => rs.alpha = p.opt_bool(c).or(rs.alpha),
            "notify_up" | "notify_down" => {
                let taken = if kw == "notify_up" {
                    rs.notify_up.is_some()
                } else {
                    rs.notify_down.is_some()
                };
                if taken {
                    p.err(c, format!("{kw} script already specified"));
                    continue;
                }
                let s = p.script(c);
                if kw == "notify_up" {
                    rs.notify_up = s;
                } else {
                    rs.notify_down = s;
                }
            }
            RISE => {
                rs.rise = p
                    .uint(c, 1, 1, u32::MAX as u64)
                    .map(|v| v as u32)
                    .or(rs.rise)
            }
            "retry" => {
                rs.retry = p
                    .uint(c, 1, 1, u32::MAX as u64)
                    .map(|v| v as u32)
                    .or(rs.retry)
            }
            "delay_before_retry" => {
                rs.delay_before_retry = p.timer(c, 0, u64::MAX).or(rs.delay_before_retry)
            }
            "warmup" => rs.warmup = p.timer(c, 0, u64::MAX).or(rs.warmup),
            "connect_timeout" => {
                rs.connect_timeout = p.timer(c, 1, u32::MAX as u64).or(rs.connect_timeout)
            }
            "delay_loop" => rs.delay_loop = p.timer(c, 1, u64::MAX).or(rs.delay_loop),
            "virtualhost" => {
                if let Some(v) = p.arg(c, 1) {
                    rs.virtualhost = Some(v.to_string());
                }
            }
            "smtp_alert" | "snmp_name" => {
                p.warn(c, WarningKind::Ignored, format!("{kw} is not used by lvsd"))
            }
            "TCP_CHECK" | "HTTP_GET" | "SSL_GET" | "SMTP_CHECK" | "DNS_CHECK" | "UDP_CHECK"
            | "PING_CHECK" | "MISC_CHECK" | "FILE_CHECK" => {
                if let Some(ch) = checker(p, c) {
                    rs.checkers.push(ch);
                }
            }
            "BFD_CHECK" => p.diag.error(
                &c.loc,
                kw,
                ErrorKind::Unsupported,
                "BFD_CHECK is not supported by lvsd (BFD is keepalived's own process)".to_string(),
            ),
            _ => p.unknown(c),
        }
    }
    // Most real servers have one checker: no room kept for more.
    rs.checkers.shrink_to_fit();
    Some(rs)
}
