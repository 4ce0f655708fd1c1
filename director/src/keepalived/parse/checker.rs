//! Checker blocks (`TCP_CHECK`, `HTTP_GET`, ... `FILE_CHECK`) and their common keywords.

use super::*;

/// A common connection keyword; true when `c` was one.
fn conn_keyword(p: &mut P, c: &Node, co: &mut RawConn) -> bool {
    match c.keyword() {
        "connect_ip" => {
            if let Some(s) = p.arg(c, 1) {
                match parse_ip(s) {
                    Some(ip) if co.bindto.is_some_and(|b| b.is_ipv4() != ip.is_ipv4()) => p.err(
                        c,
                        format!("connect_ip {s} does not match the family of bindto"),
                    ),
                    Some(ip) => co.ip = Some(ip),
                    None => p.err(c, format!("invalid connect_ip address '{s}'")),
                }
            }
        }
        "connect_port" => co.port = p.uint(c, 1, 1, 65535).map(|v| v as u16).or(co.port),
        "bindto" => {
            if let Some(s) = p.arg(c, 1) {
                match parse_ip(s) {
                    Some(ip) if co.ip.is_some_and(|d| d.is_ipv4() != ip.is_ipv4()) => p.err(
                        c,
                        format!("bindto {s} does not match the family of connect_ip"),
                    ),
                    Some(ip) => co.bindto = Some(ip),
                    None => p.err(c, format!("invalid bindto address '{s}'")),
                }
            }
        }
        "bind_port" => co.bind_port = p.uint(c, 1, 1, 65535).map(|v| v as u16).or(co.bind_port),
        "bind_if" => {
            if let Some(s) = p.arg(c, 1) {
                if s.len() > 15 {
                    p.err(c, format!("interface name '{s}' is too long"));
                } else {
                    co.bind_if = Some(s.to_string());
                }
            }
        }
        "connect_timeout" => {
            co.connect_timeout = p.timer(c, 1, u32::MAX as u64).or(co.connect_timeout)
        }
        "fwmark" => {
            co.fwmark = p
                .uint(c, 1, 0, u32::MAX as u64)
                .map(|v| v as u32)
                .or(co.fwmark)
        }
        _ => return false,
    }
    true
}

/// A common timing keyword; true when `c` was one.
fn timing_keyword(p: &mut P, c: &Node, t: &mut RawTiming) -> bool {
    match c.keyword() {
        RISE => {
            t.rise = p
                .uint(c, 1, 1, u32::MAX as u64)
                .map(|v| v as u32)
                .or(t.rise)
        }
        "retry" => {
            t.retry = p
                .uint(c, 1, 0, u32::MAX as u64)
                .map(|v| v as u32)
                .or(t.retry)
        }
        "delay_before_retry" => {
            t.delay_before_retry = p.timer(c, 0, u64::MAX).or(t.delay_before_retry)
        }
        "warmup" => t.warmup = p.timer(c, 0, u64::MAX).or(t.warmup),
        "delay_loop" => t.delay_loop = p.timer(c, 1, u64::MAX).or(t.delay_loop),
        "alpha" => t.alpha = p.opt_bool(c).or(t.alpha),
        "log_all_failures" => {
            if let Some(b) = p.opt_bool(c) {
                t.log_all_failures = b;
            }
        }
        _ => return false,
    }
    true
}

pub(super) fn checker(p: &mut P, n: &Node) -> Option<RawChecker> {
    let kw = n.keyword();
    let block = p.block(n)?;
    let mut conn = RawConn::default();
    let mut timing = RawTiming::default();
    let mut kind = match kw {
        "TCP_CHECK" => RawKind::Tcp,
        "HTTP_GET" | "SSL_GET" => RawKind::Http {
            ssl: kw == "SSL_GET",
            urls: Vec::new(),
            virtualhost: None,
            protocol: HttpProtocol::Http10,
            sni: false,
            fast_recovery: false,
        },
        "SMTP_CHECK" => RawKind::Smtp {
            helo: None,
            hosts: Vec::new(),
        },
        "DNS_CHECK" => RawKind::Dns {
            qtype: "SOA".to_string(),
            name: None,
        },
        "UDP_CHECK" => RawKind::Udp {
            payload: Vec::new(),
            reply: None,
            min: 0,
            max: 255,
        },
        "PING_CHECK" => RawKind::Ping,
        "MISC_CHECK" => RawKind::Misc {
            argv: Vec::new(),
            timeout: None,
            dynamic: false,
            user: None,
        },
        _ => RawKind::File {
            name: None,
            weight: None,
        },
    };
    let has_conn = !matches!(kind, RawKind::Misc { .. } | RawKind::File { .. });
    let has_timing = !matches!(kind, RawKind::File { .. });
    for c in block {
        let ck = c.keyword();
        if !(ck == "url" || ck == "host") {
            p.no_block(c);
        }
        if has_conn && conn_keyword(p, c, &mut conn) {
            continue;
        }
        if has_timing && timing_keyword(p, c, &mut timing) {
            continue;
        }
        match (&mut kind, ck) {
            (RawKind::Http { .. }, "nb_get_retry") => {
                p.warn(
                    c,
                    WarningKind::Deprecated,
                    "nb_get_retry is deprecated - please use 'retry'",
                );
                timing.retry = p
                    .uint(c, 1, 0, u32::MAX as u64)
                    .map(|v| v as u32)
                    .or(timing.retry);
            }
            (RawKind::Http { virtualhost, .. }, "virtualhost") => {
                if let Some(v) = p.arg(c, 1) {
                    *virtualhost = Some(v.to_string());
                }
            }
            (RawKind::Http { protocol, .. }, "http_protocol") => match p.arg(c, 1) {
                Some("1.0") => *protocol = HttpProtocol::Http10,
                Some("1.1") => *protocol = HttpProtocol::Http11,
                Some("1.0C" | "1.0c") => *protocol = HttpProtocol::Http10Close,
                Some(o) => p.err(c, format!("invalid http_protocol '{o}' (1.0, 1.0C or 1.1)")),
                None => {}
            },
            (RawKind::Http { sni, .. }, "enable_sni") => {
                if let Some(b) = p.opt_bool(c) {
                    *sni = b;
                }
            }
            (RawKind::Http { fast_recovery, .. }, "fast_recovery") => {
                if let Some(b) = p.opt_bool(c) {
                    *fast_recovery = b;
                }
            }
            (RawKind::Http { urls, .. }, "url") => {
                if let Some(b) = p.block(c) {
                    if let Some(u) = url(p, c, b) {
                        urls.push(u);
                    }
                }
            }
            (RawKind::Smtp { helo, .. }, "helo_name") => {
                if let Some(v) = p.arg(c, 1) {
                    *helo = Some(v.to_string());
                }
            }
            (RawKind::Smtp { hosts, .. }, "host") => {
                let Some(b) = p.block(c) else { continue };
                let mut hc = RawConn::default();
                for h in b {
                    p.no_block(h);
                    if !conn_keyword(p, h, &mut hc) {
                        p.unknown(h);
                    }
                }
                hosts.push((c.loc.clone(), hc));
            }
            (RawKind::Dns { qtype, .. }, "type") => {
                let Some(t) = p.arg(c, 1) else { continue };
                let up = t.to_ascii_uppercase();
                if [
                    "A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA", "RRSIG", "DNSKEY",
                ]
                .contains(&up.as_str())
                {
                    *qtype = up;
                } else {
                    p.err(c, format!("unknown DNS check type '{t}'"));
                }
            }
            (RawKind::Dns { name, .. }, "name") => {
                let Some(v) = p.arg(c, 1) else { continue };
                if name.is_some() {
                    p.err(c, "DNS_CHECK name already specified");
                } else if (v.starts_with('.') && v.len() > 1) || v.contains("..") {
                    p.err(c, format!("DNS_CHECK name '{v}' has an empty label"));
                } else {
                    *name = Some(v.to_string());
                }
            }
            (RawKind::Udp { payload, .. }, "payload") => {
                if c.words.len() < 2 {
                    p.err(c, "UDP_CHECK payload requires a payload");
                    continue;
                }
                match read_hex(&c.words[1..].join(" "), false) {
                    Some((d, _)) => *payload = d,
                    None => p.err(c, "invalid hex string for UDP_CHECK payload"),
                }
            }
            (RawKind::Udp { reply, .. }, "require_reply") => {
                if c.words.len() < 2 {
                    *reply = Some(ReplyPattern::default());
                    continue;
                }
                match read_hex(&c.words[1..].join(" "), true) {
                    Some((data, mask)) => *reply = Some(ReplyPattern { data, mask }),
                    None => p.err(c, "invalid hex string for UDP_CHECK reply"),
                }
            }
            (RawKind::Udp { min, .. }, "min_reply_length") => {
                if let Some(v) = p.uint(c, 1, 0, u16::MAX as u64) {
                    *min = v as u16;
                }
            }
            (RawKind::Udp { max, .. }, "max_reply_length") => {
                if let Some(v) = p.uint(c, 1, 0, u16::MAX as u64) {
                    *max = v as u16;
                }
            }
            (RawKind::Misc { argv, .. }, "misc_path") => {
                *argv = c.words[1..]
                    .iter()
                    .flat_map(|w| w.split_whitespace())
                    .map(str::to_string)
                    .collect();
            }
            (RawKind::Misc { timeout, .. }, "misc_timeout") => {
                if let Some(v) = p.uint(c, 1, 0, (u32::MAX / 1_000_000) as u64) {
                    *timeout = Some(Duration::from_secs(v));
                }
            }
            (RawKind::Misc { dynamic, .. }, "misc_dynamic") => *dynamic = true,
            (RawKind::Misc { user, .. }, "user") => {
                if let Some(u) = p.arg(c, 1) {
                    *user = Some(ScriptUser {
                        user: u.to_string(),
                        group: c.words.get(2).cloned(),
                    });
                }
            }
            (RawKind::File { name, .. }, "track_file") => {
                if let Some(v) = p.arg(c, 1) {
                    *name = Some(v.to_string());
                }
            }
            (RawKind::File { weight, .. }, "weight") => {
                let Some(w) = p.arg(c, 1) else { continue };
                let Some(w) = w.parse::<i32>().ok().filter(|w| *w != i32::MIN) else {
                    p.err(
                        c,
                        format!("track file weight '{w}' must be in -{0}..={0}", i32::MAX),
                    );
                    continue;
                };
                let reverse = match c.words.get(2).map(String::as_str) {
                    None | Some("noreverse") => false,
                    Some("reverse") => true,
                    Some(o) => {
                        p.err(c, format!("unknown track file weight option '{o}'"));
                        continue;
                    }
                };
                *weight = Some((w, reverse));
            }
            _ => p.unknown(c),
        }
    }
    // End-of-block checks.
    match &kind {
        RawKind::Http { urls, .. } if urls.is_empty() => {
            p.err(n, format!("{kw} checker has no url"));
            return None;
        }
        RawKind::Udp { min, max, .. } if min > max => {
            p.warn(
                n,
                WarningKind::Adjusted,
                format!(
                    "min_reply_length {min} > max_reply_length {max} - the check will always fail"
                ),
            );
        }
        RawKind::Misc { argv, .. } if argv.is_empty() => {
            p.err(n, "no misc_path has been specified for MISC_CHECK");
            return None;
        }
        RawKind::File { name: None, .. } => {
            p.err(n, "FILE_CHECK has no track_file specified");
            return None;
        }
        _ => {}
    }
    Some(RawChecker {
        loc: n.loc.clone(),
        kind,
        conn,
        timing,
    })
}

fn url(p: &mut P, n: &Node, block: &[Node]) -> Option<RawUrl> {
    let mut u = RawUrl {
        path: None,
        digest: None,
        status: Vec::new(),
        virtualhost: None,
        regex: None,
        no_match: false,
        options: Vec::new(),
        min_offset: 0,
        max_offset: None,
    };
    for c in block {
        p.no_block(c);
        match c.keyword() {
            "path" => {
                if let Some(v) = p.arg(c, 1) {
                    u.path = Some(v.to_string());
                }
            }
            "digest" => {
                let Some(v) = p.arg(c, 1) else { continue };
                if u.digest.is_some() {
                    p.err(c, format!("digest '{v}' is a duplicate"));
                    continue;
                }
                match read_hex(v, false).filter(|(d, _)| d.len() == 16 && v.len() == 32) {
                    Some((d, _)) => {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(&d);
                        u.digest = Some(a);
                    }
                    None => p.err(
                        c,
                        format!("digest '{v}' must be 32 hexadecimal digits (an MD5)"),
                    ),
                }
            }
            "status_code" => {
                for s in &c.words[1..] {
                    let r = match s.split_once('-') {
                        Some((a, b)) => parse_uint(a).zip(parse_uint(b)),
                        None => parse_uint(s).map(|v| (v, v)),
                    };
                    match r.filter(|(a, b)| {
                        (100..=599).contains(a) && (100..=599).contains(b) && a <= b
                    }) {
                        Some((a, b)) => u.status.push((a as u16, b as u16)),
                        None => p.err(
                            c,
                            format!("invalid HTTP status code '{s}' (100-599, or a range)"),
                        ),
                    }
                }
            }
            "virtualhost" => {
                if let Some(v) = p.arg(c, 1) {
                    u.virtualhost = Some(v.to_string());
                }
            }
            "regex" => {
                if c.words.len() != 2 {
                    p.err(c, "regex needs exactly one pattern (quote it)");
                } else {
                    u.regex = Some(c.words[1].clone());
                }
            }
            "regex_no_match" => u.no_match = true,
            "regex_options" => u.options.extend(c.words[1..].iter().cloned()),
            "regex_min_offset" => {
                if let Some(v) = p.uint(c, 1, 0, u32::MAX as u64) {
                    u.min_offset = v as usize;
                }
            }
            "regex_max_offset" => {
                if let Some(v) = p.uint(c, 1, 0, u32::MAX as u64) {
                    u.max_offset = Some(v as usize);
                }
            }
            "regex_stack" => {}
            _ => p.unknown(c),
        }
    }
    if u.path.is_none() {
        p.err(n, "url has no path");
        return None;
    }
    Some(u)
}
