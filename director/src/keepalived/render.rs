//! A stable text rendering of the resolved model, one fact per line, for
//! golden tests and for showing an operator what lvsd understood.

use std::fmt::Write;
use std::time::Duration;

use ipvs::{Destination, ForwardMethod, Netmask, Service, ServiceFlags, ServiceKey};

use super::model::*;

fn secs(d: Duration) -> String {
    if d.subsec_micros() == 0 {
        format!("{}s", d.as_secs())
    } else {
        let s = format!("{}.{:06}", d.as_secs(), d.subsec_micros());
        format!("{}s", s.trim_end_matches('0'))
    }
}

fn key(k: &ServiceKey) -> String {
    match k {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => format!(
            "{} {}",
            protocol_name(*protocol),
            std::net::SocketAddr::new(*addr, *port)
        ),
        ServiceKey::Fwmark { mark, family } => format!("FWM {mark} {family:?}"),
    }
}

fn flags(f: ServiceFlags) -> String {
    let names = [
        (ServiceFlags::PERSISTENT, "persistent"),
        (ServiceFlags::HASHED, "hashed"),
        (ServiceFlags::ONE_PACKET, "ops"),
        (ServiceFlags::SCHED_1, "flag-1"),
        (ServiceFlags::SCHED_2, "flag-2"),
        (ServiceFlags::SCHED_3, "flag-3"),
    ];
    let v: Vec<&str> = names
        .iter()
        .filter(|(fl, _)| f.contains(*fl))
        .map(|(_, n)| *n)
        .collect();
    if v.is_empty() {
        "-".into()
    } else {
        v.join(",")
    }
}

fn service(s: &Service) -> String {
    let mask = match s.netmask {
        Netmask::Ipv4(m) => m.to_string(),
        Netmask::Ipv6Prefix(p) => format!("/{p}"),
    };
    format!(
        "service {} sched={} flags={} timeout={} netmask={} pe={}",
        key(&s.key),
        s.scheduler,
        flags(s.flags),
        s.timeout,
        mask,
        s.pe_name.as_deref().unwrap_or("-")
    )
}

fn fwd(d: &Destination) -> String {
    match d.forward {
        ForwardMethod::Masquerade => "NAT".into(),
        ForwardMethod::DirectRoute => "DR".into(),
        ForwardMethod::Tunnel => format!(
            "TUN type={} port={} csum={:?}",
            d.tunnel_type, d.tunnel_port, d.tunnel_flags
        ),
        other => format!("{other:?}"),
    }
}

fn dest(d: &Destination) -> String {
    format!(
        "{} fwd={} weight={} uthreshold={} lthreshold={}",
        std::net::SocketAddr::new(d.addr, d.port),
        fwd(d),
        d.weight,
        d.upper_threshold,
        d.lower_threshold
    )
}

fn script(s: Option<&Script>) -> String {
    match s {
        None => "-".into(),
        Some(s) => {
            let mut out = format!("{:?}", s.argv);
            if let Some(u) = &s.user {
                let _ = write!(out, " user={}", u.user);
                if let Some(g) = &u.group {
                    let _ = write!(out, " group={g}");
                }
            }
            out
        }
    }
}

fn conn(c: &Connection) -> String {
    let mut s = format!("target={} timeout={}", c.target, secs(c.connect_timeout));
    if let Some(a) = c.bind_addr {
        let _ = write!(s, " bindto={a}");
    }
    if let Some(p) = c.bind_port {
        let _ = write!(s, " bind_port={p}");
    }
    if let Some(i) = &c.bind_if {
        let _ = write!(s, " bind_if={i}");
    }
    if let Some(m) = c.fwmark {
        let _ = write!(s, " fwmark={m}");
    }
    s
}

/// `FILE:LINE` with the file's name only, so that renderings do not depend
/// on where the configuration lives.
fn at(o: &Origin) -> String {
    let name = o
        .file
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    format!("{name}:{}", o.line)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Renders the configuration, one line per fact, indented by nesting.
pub fn render(c: &Config) -> String {
    let mut o = String::new();
    // Writing into a String cannot fail.
    let _ = render_into(&mut o, c);
    o
}

fn render_into(o: &mut String, c: &Config) -> std::fmt::Result {
    let g = &c.global;
    writeln!(
        o,
        "global lvs_flush={} lvs_flush_on_stop={:?}",
        g.lvs_flush, g.lvs_flush_on_stop
    )?;
    if let Some(t) = g.lvs_timeouts {
        writeln!(
            o,
            "global lvs_timeouts tcp={} tcpfin={} udp={}",
            t.tcp, t.tcp_fin, t.udp
        )?;
    }
    if let Some(d) = &g.lvs_sync_daemon {
        writeln!(o, "global lvs_sync_daemon {d:?}")?;
    }
    if let Some(t) = g.lvsd_drain_timeout {
        writeln!(o, "global lvsd_drain_timeout={t:?}")?;
    }
    if g.lvsd_active_active {
        writeln!(o, "global lvsd_active_active")?;
    }
    if let Some(u) = &g.script_user {
        writeln!(o, "global script_user {u:?}")?;
    }
    writeln!(
        o,
        "global enable_script_security={} checker_log_all_failures={}",
        g.enable_script_security, g.checker_log_all_failures
    )?;
    if let Some(s) = &g.ssl {
        writeln!(o, "global ssl {s:?}")?;
    }
    for vs in &c.virtual_servers {
        let name = match &vs.name {
            VirtualServerName::Addr(k) | VirtualServerName::Fwmark(k) => key(k),
            VirtualServerName::Group(g) => format!("group {g}"),
        };
        writeln!(
            o,
            "virtual_server {name} at={} family={:?}",
            at(&vs.origin),
            vs.family
        )?;
        for s in &vs.services {
            writeln!(o, "  {}", service(s))?;
        }
        writeln!(
            o,
            "  quorum={} hysteresis={} omega={} quorum_up={} quorum_down={}",
            vs.quorum,
            vs.hysteresis,
            vs.omega,
            script(vs.quorum_up.as_ref()),
            script(vs.quorum_down.as_ref())
        )?;
        if let Some(s) = &vs.sorry_server {
            writeln!(
                o,
                "  sorry_server {} inhibit={}",
                dest(&s.destination),
                s.inhibit
            )?;
        }
        for rs in &vs.real_servers {
            writeln!(
                o,
                "  real_server {} at={}",
                dest(&rs.destination),
                at(&rs.origin)
            )?;
            writeln!(
                o,
                "    inhibit_on_failure={} alpha={} notify_up={} notify_down={}",
                rs.inhibit_on_failure,
                rs.alpha,
                script(rs.notify_up.as_deref()),
                script(rs.notify_down.as_deref())
            )?;
            for ch in &rs.checkers {
                writeln!(o, "    {} at={}", ch.kind.keyword(), at(&ch.origin))?;
                if let Some(t) = ch.timing {
                    writeln!(
                        o,
                        "      delay_loop={} warmup={} retry={} rise={} delay_before_retry={} alpha={} log_all_failures={}",
                        secs(t.delay_loop),
                        secs(t.warmup),
                        t.retry,
                        t.rise,
                        secs(t.delay_before_retry),
                        t.alpha,
                        t.log_all_failures
                    )
                    ?;
                }
                match &ch.kind {
                    CheckKind::Tcp(c) | CheckKind::Ping(c) => writeln!(o, "      {}", conn(c))?,
                    CheckKind::Http(h) | CheckKind::Ssl(h) => {
                        writeln!(
                            o,
                            "      {} http_protocol={:?} enable_sni={} fast_recovery={}",
                            conn(&h.connection),
                            h.http_protocol,
                            h.enable_sni,
                            h.fast_recovery
                        )?;
                        for u in &h.urls {
                            let codes: Vec<String> = u
                                .status_codes
                                .iter()
                                .map(|(a, b)| {
                                    if a == b {
                                        a.to_string()
                                    } else {
                                        format!("{a}-{b}")
                                    }
                                })
                                .collect();
                            writeln!(
                                o,
                                "      url path={:?} status={} digest={} virtualhost={}",
                                u.path,
                                codes.join(","),
                                u.digest.map(|d| hex(&d)).unwrap_or("-".into()),
                                u.virtualhost.as_deref().unwrap_or("-")
                            )?;
                            if let Some(r) = &u.regex {
                                writeln!(o, "        regex {r:?}")?;
                            }
                        }
                    }
                    CheckKind::Smtp(s) => {
                        writeln!(o, "      {} helo_name={}", conn(&s.connection), s.helo_name)?
                    }
                    CheckKind::Dns(d) => writeln!(
                        o,
                        "      {} type={} name={:?}",
                        conn(&d.connection),
                        d.query_type,
                        d.name
                    )?,
                    CheckKind::Udp(u) => {
                        let reply = match &u.require_reply {
                            None => "-".to_string(),
                            Some(r) => format!("data={} mask={}", hex(&r.data), hex(&r.mask)),
                        };
                        writeln!(
                            o,
                            "      {} payload={} require_reply={} min_reply_length={} max_reply_length={}",
                            conn(&u.connection),
                            hex(&u.payload),
                            reply,
                            u.min_reply_length,
                            u.max_reply_length
                        )
                        ?
                    }
                    CheckKind::Misc(m) => writeln!(
                        o,
                        "      script={} timeout={} dynamic={}",
                        script(Some(&m.script)),
                        secs(m.timeout),
                        m.dynamic
                    )?,
                    CheckKind::File(f) => writeln!(
                        o,
                        "      track_file={} path={} weight={} reverse={}",
                        f.name, f.path, f.weight, f.reverse
                    )?,
                }
            }
        }
    }
    Ok(())
}
