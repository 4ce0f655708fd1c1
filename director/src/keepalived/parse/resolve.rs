//! keepalived's `validate_check_config`: corrections, defaults and inheritance (virtual server → real server → checker), into the model.

use super::*;

pub(super) fn resolve_vs(
    p: &mut P,
    vs: RawVs,
    groups: &HashMap<String, Option<Group>>,
    track_files: &HashMap<String, TrackFile>,
) -> Option<VirtualServer> {
    let loc = vs.loc.clone();
    let at = |p: &mut P, kind: WarningKind, msg: String| {
        p.diag.warn(&loc, "virtual_server", kind, msg);
    };
    let label = match &vs.name {
        RawName::Addr(ip, port) => format!("{}", SocketAddr::new(*ip, *port)),
        RawName::Fwmark(m) => format!("fwmark {m}"),
        RawName::Group(g) => format!("group {g}"),
    };
    if vs.rs.is_empty() {
        at(
            p,
            WarningKind::Adjusted,
            format!("virtual server {label} has no real servers - ignoring it"),
        );
        return None;
    }
    let group = match &vs.name {
        RawName::Group(g) => {
            match groups.get(g) {
                Some(Some(grp)) => Some(grp),
                Some(None) => return None,
                None => {
                    // keepalived logs this (no configuration error) and drops it.
                    at(
                    p,
                    WarningKind::Dropped,
                    format!("virtual_server_group {g} is not defined - ignoring this virtual server"),
                );
                    return None;
                }
            }
        }
        _ => None,
    };
    // keepalived's link_vsg_to_vs: a group's families must fit the virtual
    // server's (set by ip_family or a non-tunnelled real server); if not,
    // keepalived logs it and drops the virtual server.
    if let (Some(g), Some(af)) = (group, vs.af) {
        let has = |want: AddressFamily| {
            g.entries.iter().any(|e| match e {
                GroupEntry::Range { start, .. } => AddressFamily::of(start) == want,
                GroupEntry::Fwmark { family, .. } => *family == Some(want),
            })
        };
        let (v4, v6) = (has(AddressFamily::Inet), has(AddressFamily::Inet6));
        // (Both families in the group cannot fit either.)
        let wrong = match af {
            AddressFamily::Inet => v6,
            AddressFamily::Inet6 => v4,
        };
        if wrong {
            at(
                p,
                WarningKind::Dropped,
                format!("{label}: the group's address family doesn't match the virtual server's - ignoring it"),
            );
            return None;
        }
    }
    // A group's family: ip_family or the real servers', else its addresses'.
    let group_family = group.and_then(|g| {
        g.entries.iter().find_map(|e| match e {
            GroupEntry::Range { start, .. } => Some(AddressFamily::of(start)),
            GroupEntry::Fwmark { family, .. } => *family,
        })
    });
    let family = vs.af.or(group_family).unwrap_or(AddressFamily::Inet);
    let has_addr = match (&vs.name, group) {
        (RawName::Addr(..), _) => true,
        (_, Some(g)) => g
            .entries
            .iter()
            .any(|e| matches!(e, GroupEntry::Range { .. })),
        _ => false,
    };
    let fwmark_only = match (&vs.name, group) {
        (RawName::Fwmark(_), _) => true,
        (_, Some(g)) => !has_addr && !g.entries.is_empty(),
        _ => false,
    };
    let mut protocol = vs.protocol;
    let mut flags = vs.flags;
    let mut persistence = vs.persistence;
    if has_addr {
        if protocol.is_none() {
            at(
                p,
                WarningKind::Adjusted,
                format!("virtual server {label}: no protocol set - defaulting to UDP"),
            );
            protocol = Some(Protocol::Udp);
        }
        if flags.contains(ServiceFlags::ONE_PACKET) && protocol != Some(Protocol::Udp) {
            at(
                p,
                WarningKind::Adjusted,
                format!(
                    "virtual server {label}: one packet scheduling (ops) requires UDP - resetting"
                ),
            );
            flags = ServiceFlags(flags.0 & !ServiceFlags::ONE_PACKET.0);
        }
        if persistence == 0 && matches!(vs.name, RawName::Addr(_, 0)) {
            at(p, WarningKind::Adjusted, format!("virtual server {label}: zero port only valid for persistent services - setting persistence"));
            persistence = DEFAULT_PERSISTENCE;
        }
    }
    if persistence == 0 {
        if let Some(g) = group {
            if g.entries
                .iter()
                .any(|e| matches!(e, GroupEntry::Range { port: 0, .. }))
            {
                at(p, WarningKind::Adjusted, format!("virtual server {label}: zero port only valid for persistent services - setting persistence"));
                persistence = DEFAULT_PERSISTENCE;
            }
        }
    }
    if protocol.is_some() && fwmark_only {
        at(
            p,
            WarningKind::Adjusted,
            format!(
                "virtual server {label}: protocol specified for fwmark - protocol will be ignored"
            ),
        );
        protocol = None;
    }
    let sched = match vs.sched.clone() {
        Some(s) => s,
        None => {
            at(
                p,
                WarningKind::Adjusted,
                format!("virtual server {label}: no scheduler set, setting default 'wlc'"),
            );
            "wlc".to_string()
        }
    };
    let proto = protocol.unwrap_or(Protocol::Tcp);

    // Services.
    let mut keys: Vec<ServiceKey> = Vec::new();
    match (&vs.name, group) {
        (RawName::Addr(ip, port), _) => keys.push(ServiceKey::Addr {
            protocol: proto,
            addr: *ip,
            port: *port,
        }),
        (RawName::Fwmark(m), _) => keys.push(ServiceKey::Fwmark { mark: *m, family }),
        (RawName::Group(gname), Some(g)) => {
            for e in &g.entries {
                match e {
                    GroupEntry::Range { start, end, port } => {
                        let (a, b) = (ip_to_u128(*start), ip_to_u128(*end));
                        if b - a >= MAX_GROUP_RANGE {
                            p.diag.error(&loc, "virtual_server", ErrorKind::Unsupported,
                                format!("group {gname}: a range of more than {MAX_GROUP_RANGE} addresses"));
                            return None;
                        }
                        for v in a..=b {
                            keys.push(ServiceKey::Addr {
                                protocol: proto,
                                addr: u128_to_ip(v, start.is_ipv4()),
                                port: *port,
                            });
                        }
                    }
                    GroupEntry::Fwmark { mark, family: f } => keys.push(ServiceKey::Fwmark {
                        mark: *mark,
                        family: f.unwrap_or(family),
                    }),
                }
            }
        }
        (RawName::Group(_), None) => {}
    }
    let services: Vec<Service> = keys
        .iter()
        .map(|k| {
            let mut s = Service::new(*k).with_scheduler(&sched);
            if persistence > 0 {
                s = s.with_persistence(persistence);
            }
            s.flags |= flags;
            if let Some(m) = vs.granularity {
                s.netmask = m;
            }
            s.pe_name = vs.pe_name.clone();
            s
        })
        .collect();

    // Real servers: duplicates, forwarding, inheritance.
    let mut vs_fwd = vs.fwd;
    let mut nat_warned = false;
    let mut fwd_default = |p: &mut P, vs_fwd: &mut Option<Fwd>| -> Fwd {
        if vs_fwd.is_none() {
            if !nat_warned {
                at(
                    p,
                    WarningKind::Adjusted,
                    format!(
                        "virtual server {label}: no forwarding method set, setting default NAT"
                    ),
                );
                nat_warned = true;
            }
            *vs_fwd = Some(Fwd::nat());
        }
        *vs_fwd.get_or_insert_with(Fwd::nat)
    };
    let vs_port = match &vs.name {
        RawName::Addr(_, port) => Some(*port),
        _ => None,
    };
    let is_fwmark = matches!(vs.name, RawName::Fwmark(_));
    let mut real_servers = Vec::with_capacity(vs.rs.len());
    let mut seen: Vec<(IpAddr, u16)> = Vec::with_capacity(vs.rs.len());
    let mut weight_sum: u64 = 0;
    let sorry_inhibit = vs.sorry.as_ref().map(|s| s.inhibit);
    let mut sorry_inhibit_fixed = sorry_inhibit;
    for rs in &vs.rs {
        let rloc = &rs.loc;
        if seen.contains(&(rs.addr, rs.port)) {
            p.diag.warn(rloc, "real_server", WarningKind::Adjusted,
                format!("virtual server {label}: real server {} is duplicated - removing the second one", SocketAddr::new(rs.addr, rs.port)));
            continue;
        }
        seen.push((rs.addr, rs.port));
        let fwd = match rs.fwd {
            Some(f) => f,
            None => fwd_default(p, &mut vs_fwd),
        };
        let inhibit = rs.inhibit.unwrap_or(vs.inhibit);
        let weight = rs.weight.unwrap_or(vs.weight);
        weight_sum += weight as u64;
        // Ports (keepalived corrects them for non-group virtual servers).
        let mut port = rs.port;
        if group.is_none() {
            if fwd.method == ForwardMethod::Masquerade {
                if !is_fwmark && port == 0 {
                    port = vs_port.unwrap_or(0);
                }
            } else if is_fwmark {
                if port != 0 {
                    p.diag.warn(rloc, "real_server", WarningKind::Adjusted,
                        format!("fwmark virtual server {label}, real server {}: port specified - clearing", SocketAddr::new(rs.addr, rs.port)));
                    port = 0;
                }
            } else if port == 0 {
                port = vs_port.unwrap_or(0);
            } else if Some(port) != vs_port {
                p.diag.warn(
                    rloc,
                    "real_server",
                    WarningKind::Adjusted,
                    format!(
                        "virtual server {label} and real server {} ports don't match - resetting",
                        SocketAddr::new(rs.addr, rs.port)
                    ),
                );
                port = vs_port.unwrap_or(0);
            }
        } else if fwd.method != ForwardMethod::Masquerade && port != 0 {
            if let Some(g) = group {
                if g.entries
                    .iter()
                    .any(|e| matches!(e, GroupEntry::Fwmark { .. }))
                {
                    p.diag.warn(rloc, "real_server", WarningKind::Adjusted,
                        format!("fwmark virtual server {label}, real server {}: port specified - port will be ignored", SocketAddr::new(rs.addr, rs.port)));
                }
                for e in &g.entries {
                    if let GroupEntry::Range { port: gp, .. } = e {
                        if *gp != port {
                            p.diag.warn(
                                rloc,
                                "real_server",
                                WarningKind::Adjusted,
                                format!(
                                    "virtual server {label} and real server {} ports don't match",
                                    SocketAddr::new(rs.addr, rs.port)
                                ),
                            );
                            break;
                        }
                    }
                }
            }
        }
        if let (Some(s), Some(si)) = (&vs.sorry, sorry_inhibit) {
            if s.addr == rs.addr && s.port == rs.port && si != inhibit {
                p.diag.warn(rloc, "real_server", WarningKind::Adjusted,
                    format!("virtual server {label}: real server matches the sorry server, but inhibit setting differs - using the real server's"));
                sorry_inhibit_fixed = Some(inhibit);
            }
        }
        let mut d = Destination::new(rs.addr, port, fwd.method).with_weight(weight as i32);
        d.upper_threshold = rs.uthreshold;
        d.lower_threshold = rs.lthreshold;
        d.tunnel_type = fwd.tun_type;
        d.tunnel_port = fwd.tun_port;
        d.tunnel_flags = fwd.csum;

        let alpha = rs.alpha.unwrap_or(vs.alpha);
        let ctx = RsCtx {
            addr: rs.addr,
            check_port: if rs.port != 0 { rs.port } else { port },
            alpha,
            retry: rs.retry.or(vs.retry),
            rise: rs.rise.or(vs.rise).unwrap_or(1),
            connect_timeout: rs.connect_timeout.unwrap_or(vs.connect_timeout),
            delay_loop: rs.delay_loop.unwrap_or(vs.delay_loop),
            warmup: rs.warmup.or(vs.warmup),
            delay_before_retry: rs.delay_before_retry.or(vs.delay_before_retry),
            virtualhost: rs.virtualhost.clone().or_else(|| vs.virtualhost.clone()),
        };
        let mut checkers = Vec::with_capacity(rs.checkers.len());
        for ch in &rs.checkers {
            resolve_checker(p, ch, &ctx, track_files, &mut checkers);
        }
        checkers.shrink_to_fit();
        real_servers.push(RealServer {
            origin: origin(rloc),
            destination: d,
            inhibit_on_failure: inhibit,
            alpha,
            notify_up: rs.notify_up.clone().map(Box::new),
            notify_down: rs.notify_down.clone().map(Box::new),
            checkers,
        });
    }
    let sorry_server = vs.sorry.as_ref().map(|s| {
        let fwd = match s.fwd {
            Some(f) => f,
            None => fwd_default(p, &mut vs_fwd),
        };
        let mut port = s.port;
        if fwd.method != ForwardMethod::Masquerade && group.is_none() {
            if is_fwmark {
                if port != 0 {
                    at(
                        p,
                        WarningKind::Adjusted,
                        format!(
                            "virtual server {label}: sorry server has a port specified - clearing"
                        ),
                    );
                    port = 0;
                }
            } else if port == 0 {
                port = vs_port.unwrap_or(0);
            } else if Some(port) != vs_port {
                at(
                    p,
                    WarningKind::Adjusted,
                    format!(
                        "virtual server {label} and sorry server ports don't match - resetting"
                    ),
                );
                port = vs_port.unwrap_or(0);
            }
        }
        let mut d = Destination::new(s.addr, port, fwd.method).with_weight(1);
        d.tunnel_type = fwd.tun_type;
        d.tunnel_port = fwd.tun_port;
        d.tunnel_flags = fwd.csum;
        SorryServer {
            destination: d,
            inhibit: sorry_inhibit_fixed.unwrap_or(false),
        }
    });
    let mut quorum = vs.quorum;
    if quorum as u64 > weight_sum {
        at(p, WarningKind::Adjusted, format!("quorum {quorum} for {label} exceeds the total weight of the real servers {weight_sum}, reducing quorum to {weight_sum}"));
        quorum = weight_sum as u32;
    }
    let mut hysteresis = vs.hysteresis;
    if hysteresis >= quorum && !(hysteresis == 0 && quorum == 0) {
        let h = quorum.saturating_sub(1);
        at(p, WarningKind::Adjusted, format!("virtual server {label}: hysteresis {hysteresis} >= quorum {quorum}; setting hysteresis to {h}"));
        hysteresis = h;
    }
    let name = match &vs.name {
        RawName::Addr(..) => VirtualServerName::Addr(keys[0]),
        RawName::Fwmark(_) => VirtualServerName::Fwmark(keys[0]),
        RawName::Group(g) => VirtualServerName::Group(g.clone()),
    };
    Some(VirtualServer {
        origin: origin(&loc),
        name,
        services,
        family,
        real_servers,
        sorry_server,
        quorum,
        hysteresis,
        quorum_up: vs.quorum_up,
        quorum_down: vs.quorum_down,
        omega: vs.omega,
    })
}

fn origin(loc: &Loc) -> Origin {
    Origin {
        file: loc.file.clone(),
        line: loc.line,
    }
}

/// What a real server hands down to its checkers.
struct RsCtx {
    addr: IpAddr,
    /// The port checkers connect to by default: the real server's port as
    /// written (keepalived copies it before clearing it for fwmark
    /// services), else the resolved one.
    check_port: u16,
    alpha: bool,
    retry: Option<u32>,
    rise: u32,
    connect_timeout: Duration,
    delay_loop: Duration,
    warmup: Option<Duration>,
    delay_before_retry: Option<Duration>,
    virtualhost: Option<String>,
}

fn connection(co: &RawConn, rs: &RsCtx) -> Connection {
    Connection {
        target: SocketAddr::new(co.ip.unwrap_or(rs.addr), co.port.unwrap_or(rs.check_port)),
        bind_addr: co.bindto,
        bind_port: co.bind_port,
        bind_if: co.bind_if.clone(),
        fwmark: co.fwmark,
        connect_timeout: co.connect_timeout.unwrap_or(rs.connect_timeout),
    }
}

fn resolve_checker(
    p: &mut P,
    ch: &RawChecker,
    rs: &RsCtx,
    track_files: &HashMap<String, TrackFile>,
    out: &mut Vec<Checker>,
) {
    let (default_retry, default_dbr) = match ch.kind {
        RawKind::Http { .. } => (1, Some(Duration::from_secs(3))),
        RawKind::Dns { .. } => (3, None),
        RawKind::Misc { .. } => (0, Some(Duration::from_secs(1))),
        _ => (1, Some(Duration::from_secs(1))),
    };
    let t = &ch.timing;
    let delay_loop = t.delay_loop.unwrap_or(rs.delay_loop);
    let timing = CheckTiming {
        delay_loop,
        warmup: t.warmup.or(rs.warmup).unwrap_or(delay_loop),
        retry: t.retry.or(rs.retry).unwrap_or(default_retry),
        rise: t.rise.unwrap_or(rs.rise),
        delay_before_retry: t
            .delay_before_retry
            .or(rs.delay_before_retry)
            .or(default_dbr)
            .unwrap_or(delay_loop),
        alpha: t.alpha.unwrap_or(rs.alpha),
        log_all_failures: t.log_all_failures,
    };
    let conn = connection(&ch.conn, rs);
    if let IpAddr::V6(v6) = conn.target.ip() {
        if (v6.segments()[0] & 0xffc0) == 0xfe80 && conn.bind_if.is_none() {
            p.diag.error(
                &ch.loc,
                checker_kw(&ch.kind),
                ErrorKind::Invalid,
                format!("checker link-local address {} requires a bind_if", v6),
            );
            return;
        }
    }
    let origin = origin(&ch.loc);
    let kind = match &ch.kind {
        RawKind::Tcp => CheckKind::Tcp(conn),
        RawKind::Ping => CheckKind::Ping(conn),
        RawKind::Http {
            ssl,
            urls,
            virtualhost,
            protocol,
            sni,
            fast_recovery,
        } => {
            let vh = virtualhost.clone().or_else(|| rs.virtualhost.clone());
            let urls = urls
                .iter()
                .map(|u| Url {
                    path: u.path.clone().unwrap_or_default(),
                    digest: u.digest,
                    status_codes: merge_ranges(&u.status),
                    virtualhost: u.virtualhost.clone().or_else(|| vh.clone()),
                    regex: u.regex.as_ref().map(|pat| UrlRegex {
                        pattern: pat.clone(),
                        no_match: u.no_match,
                        options: u.options.clone(),
                        min_offset: u.min_offset,
                        max_offset: u.max_offset,
                    }),
                })
                .collect();
            let h = HttpCheck {
                connection: conn,
                urls,
                http_protocol: *protocol,
                enable_sni: *sni,
                fast_recovery: *fast_recovery,
            };
            if *ssl {
                CheckKind::Ssl(h)
            } else {
                CheckKind::Http(h)
            }
        }
        RawKind::Smtp { helo, hosts } => {
            let helo = helo
                .clone()
                .unwrap_or_else(|| "smtpchecker.keepalived.org".to_string());
            let main_set = ch.conn.ip.is_some()
                || ch.conn.port.is_some()
                || ch.conn.bindto.is_some()
                || ch.conn.bind_port.is_some()
                || ch.conn.bind_if.is_some()
                || ch.conn.fwmark.is_some()
                || ch.conn.connect_timeout.is_some();
            if main_set || hosts.is_empty() {
                out.push(Checker {
                    origin: origin.clone(),
                    kind: CheckKind::Smtp(SmtpCheck {
                        connection: conn,
                        helo_name: helo.clone(),
                    }),
                    timing: Some(timing),
                });
            }
            if !hosts.is_empty() {
                // keepalived only logs this one.
                p.diag.warn_as(
                    &ch.loc,
                    "SMTP_CHECK",
                    WarningKind::Deprecated,
                    "the SMTP_CHECK host block is deprecated (one checker is made per host); \
                     define several SMTP_CHECKs instead"
                        .to_string(),
                    false,
                );
            }
            for (hloc, hc) in hosts {
                let mut c = connection(hc, rs);
                if hc.connect_timeout.is_none() {
                    c.connect_timeout = ch.conn.connect_timeout.unwrap_or(rs.connect_timeout);
                }
                out.push(Checker {
                    origin: self::origin(hloc),
                    kind: CheckKind::Smtp(SmtpCheck {
                        connection: c,
                        helo_name: helo.clone(),
                    }),
                    timing: Some(timing),
                });
            }
            return;
        }
        RawKind::Dns { qtype, name } => CheckKind::Dns(DnsCheck {
            connection: conn,
            query_type: qtype.clone(),
            name: name.clone().unwrap_or_default(),
        }),
        RawKind::Udp {
            payload,
            reply,
            min,
            max,
        } => CheckKind::Udp(UdpCheck {
            connection: conn,
            payload: payload.clone(),
            require_reply: reply.clone(),
            min_reply_length: *min,
            max_reply_length: *max,
        }),
        RawKind::Misc {
            argv,
            timeout,
            dynamic,
            user,
        } => CheckKind::Misc(MiscCheck {
            script: Script {
                argv: argv.clone(),
                user: user.clone(),
            },
            timeout: timeout.filter(|t| !t.is_zero()).unwrap_or(delay_loop),
            dynamic: *dynamic,
        }),
        RawKind::File { name, weight } => {
            let name = name.clone().unwrap_or_default();
            let Some(tf) = track_files.get(&name).filter(|tf| tf.seq < ch.loc.seq) else {
                let later = if track_files.contains_key(&name) {
                    " before this FILE_CHECK (it is defined after it)"
                } else {
                    ""
                };
                p.diag.error(
                    &ch.loc,
                    "FILE_CHECK",
                    ErrorKind::Invalid,
                    format!("track_file {name} is not defined{later}"),
                );
                return;
            };
            let (w, rev) = weight.unwrap_or((tf.weight, tf.reverse));
            out.push(Checker {
                origin,
                kind: CheckKind::File(FileCheck {
                    name,
                    path: tf.path.clone().unwrap_or_default(),
                    weight: w,
                    reverse: rev,
                }),
                timing: None,
            });
            return;
        }
    };
    out.push(Checker {
        origin,
        kind,
        timing: Some(timing),
    });
}

fn checker_kw(k: &RawKind) -> &'static str {
    match k {
        RawKind::Tcp => "TCP_CHECK",
        RawKind::Http { ssl: true, .. } => "SSL_GET",
        RawKind::Http { .. } => "HTTP_GET",
        RawKind::Smtp { .. } => "SMTP_CHECK",
        RawKind::Dns { .. } => "DNS_CHECK",
        RawKind::Udp { .. } => "UDP_CHECK",
        RawKind::Ping => "PING_CHECK",
        RawKind::Misc { .. } => "MISC_CHECK",
        RawKind::File { .. } => "FILE_CHECK",
    }
}

/// Sorted, merged inclusive ranges; 200-299 when none.
pub(super) fn merge_ranges(r: &[(u16, u16)]) -> Vec<(u16, u16)> {
    if r.is_empty() {
        return vec![(200, 299)];
    }
    let mut v = r.to_vec();
    v.sort();
    let mut out: Vec<(u16, u16)> = Vec::new();
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}
