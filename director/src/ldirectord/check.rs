//! What ldirectord checks for each real server (`ld_setup` and
//! `_check_real`), and how much of it the check engine can run.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::check::{
    CheckKind, CheckSpec, DialogueCheck, DialogueStep, DnsCheck, FtpCheck, HttpCheck, LdapCheck,
    MiscCheck, RadiusCheck, SipCheck, SmtpCheck, Timing, UrlCheck,
};

use super::model::*;

/// ldirectord's way of writing an address in URLs and script arguments.
fn host(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

/// Strips one leading `/` (ldirectord's `s/^\///`).
fn unslash(s: &str) -> &str {
    s.strip_prefix('/').unwrap_or(s)
}

/// The check of one real server of `v` (its reals are being built).
pub(super) fn real_check(v: &Virtual, addr: IpAddr, port: u16, own: &OwnRequest) -> Check {
    // ld_checkport: checkport, else the real server's port, else the service's.
    let check_port = v
        .check_port
        .or((port > 0).then_some(port))
        .or(v.service_type.port())
        .unwrap_or(0);
    let target = SocketAddr::new(addr, check_port);
    // ld_setup: a full own pair replaces the virtual's request (for the URL
    // too) and receive; an own request alone is kept for the non-HTTP checks.
    let pair = own.request.is_some() && own.receive.is_some();
    let request = own.request.clone().unwrap_or_else(|| v.request.clone());
    let url_request = if pair {
        request.clone()
    } else {
        v.request.clone()
    };
    let receive = match (&own.request, &own.receive) {
        (Some(_), Some(r)) => Some(r.clone()).filter(|r| !r.is_empty()),
        _ => v.receive.clone(),
    };
    let negotiate = || Negotiate {
        target,
        timeout: v.negotiate_timeout,
        probe: probe(
            v,
            addr,
            check_port,
            &request,
            &url_request,
            receive.clone(),
            pair,
        ),
    };
    match v.check_type {
        CheckType::Off => Check::Off,
        CheckType::On => Check::On,
        CheckType::Connect if v.protocol == VirtualProtocol::Udp => Check::Ping {
            target: addr,
            timeout: v.check_timeout,
            count: v.check_count,
        },
        CheckType::Connect => Check::Connect {
            target,
            timeout: v.check_timeout,
        },
        CheckType::Ping => Check::Ping {
            target: addr,
            timeout: v.check_timeout,
            count: v.check_count,
        },
        CheckType::External => {
            let (vip, vport) = match v.service.key {
                ipvs::ServiceKey::Addr { addr, port, .. } => (host(addr), port),
                ipvs::ServiceKey::Fwmark { mark, .. } => (mark.to_string(), 0),
            };
            Check::External {
                argv: vec![
                    v.check_command.clone(),
                    vip,
                    vport.to_string(),
                    host(addr),
                    port.to_string(),
                ],
                timeout: v.check_timeout,
            }
        }
        CheckType::Negotiate => Check::Negotiate(negotiate()),
        CheckType::Combined(n) => Check::Combined {
            connects: n,
            target,
            timeout: v.check_timeout,
            negotiate: negotiate(),
        },
    }
}

fn probe(
    v: &Virtual,
    addr: IpAddr,
    port: u16,
    request: &str,
    url_request: &str,
    receive: Option<String>,
    own_pair: bool,
) -> Probe {
    let s = v.service_type;
    match s {
        ServiceType::None => Probe::None,
        ServiceType::Http | ServiceType::Https | ServiceType::HttpProxy => {
            let scheme = if s == ServiceType::Https {
                "https"
            } else {
                "http"
            };
            let uri = unslash(url_request);
            let url = if (own_pair && url_request.contains(&format!("{scheme}://")))
                || (!own_pair && s == ServiceType::HttpProxy)
            {
                uri.to_string()
            } else {
                format!("{scheme}://{}:{port}/{uri}", host(addr))
            };
            Probe::Http {
                tls: url.starts_with("https://"),
                url,
                proxy: s == ServiceType::HttpProxy,
                method: v.http_method,
                virtual_host: v.virtual_host.clone(),
                receive,
            }
        }
        ServiceType::Dns => Probe::Dns {
            name: unslash(request).to_string(),
            receive,
        },
        ServiceType::Smtp | ServiceType::Submission => Probe::Smtp,
        ServiceType::SimpleTcp => Probe::SimpleTcp {
            send: unslash(request).replace("\\n", "\n"),
            receive: receive.unwrap_or_default(),
        },
        ServiceType::Mysql | ServiceType::Pgsql | ServiceType::Oracle => Probe::Sql {
            service: s,
            login: v.login.clone(),
            passwd: v.passwd.clone(),
            database: v.database.clone(),
            query: unslash(request).to_string(),
        },
        ServiceType::Radius => Probe::Radius {
            login: v.login.clone(),
            passwd: v.passwd.clone(),
            secret: v.secret.clone(),
            receive,
        },
        ServiceType::Pop
        | ServiceType::Pops
        | ServiceType::Imap
        | ServiceType::Imaps
        | ServiceType::Ftp
        | ServiceType::Nntp
        | ServiceType::Ldap
        | ServiceType::Ldaps
        | ServiceType::Sip => Probe::Banner(Banner {
            service: s,
            tls: matches!(
                s,
                ServiceType::Pops | ServiceType::Imaps | ServiceType::Ldaps
            ),
            login: v.login.clone(),
            passwd: v.passwd.clone(),
            request: unslash(request).to_string(),
            receive,
        }),
    }
}

/// A real server's check as the check engine runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineCheck {
    /// Probe with this spec.
    Probe(Box<CheckSpec>),
    /// No probe; the server is always up (`checktype=on`, `service=none`).
    AlwaysUp,
    /// No probe; the server is never activated (`checktype=off`).
    NeverUp,
}

impl Check {
    /// The check engine's version of this check, with ldirectord's timing
    /// (`checkinterval` between probes, down after `failurecount` failures in
    /// a row, up at the first success, servers start down until checked).
    /// Fails, naming what the engine lacks, for checks it cannot run yet.
    pub fn engine_check(&self, v: &Virtual) -> Result<EngineCheck, String> {
        let timing = |timeout: Duration| Timing {
            delay_loop: Duration::from_secs(v.check_interval.into()),
            connect_timeout: timeout,
            retry: v.failure_count.saturating_sub(1),
            delay_before_retry: Duration::from_secs(v.check_interval.into()),
            warmup: Duration::ZERO,
            rise: 1,
            alpha: true,
        };
        let spec = |target: SocketAddr, kind: CheckKind, timeout: Duration| {
            let mut s = CheckSpec::new(target, kind);
            s.timing = timing(timeout);
            EngineCheck::Probe(Box::new(s))
        };
        Ok(match self {
            Check::Off => EngineCheck::NeverUp,
            Check::On => EngineCheck::AlwaysUp,
            Check::Connect { target, timeout } => spec(*target, CheckKind::Tcp, *timeout),
            Check::Ping { target, timeout, .. } => {
                spec(SocketAddr::new(*target, 0), CheckKind::Ping, *timeout)
            }
            Check::External { argv, timeout } => spec(
                SocketAddr::new(
                    argv[3]
                        .trim_matches(|c| c == '[' || c == ']')
                        .parse()
                        .map_err(|_| "external check without a real server address".to_string())?,
                    argv[4].parse().unwrap_or(0),
                ),
                CheckKind::Misc(MiscCheck {
                    argv: argv.clone(),
                    timeout: Some(*timeout),
                    dynamic: false,
                    user: None,
                }),
                *timeout,
            ),
            Check::Combined { .. } => {
                return Err("checktype=N (N connect checks, then one negotiate check) needs an engine check that alternates two kinds".into())
            }
            Check::Negotiate(n) => {
                return negotiate_engine(
                    n,
                    timing(n.timeout),
                    v.protocol == VirtualProtocol::Udp,
                )
            }
        })
    }
}

/// `udp`: the virtual service is UDP (sip's transport).
fn negotiate_engine(n: &Negotiate, timing: Timing, udp: bool) -> Result<EngineCheck, String> {
    let with = |kind: CheckKind| {
        let mut s = CheckSpec::new(n.target, kind);
        s.timing = timing.clone();
        Ok(EngineCheck::Probe(Box::new(s)))
    };
    match &n.probe {
        Probe::None => Ok(EngineCheck::AlwaysUp),
        Probe::Http {
            url,
            tls,
            proxy,
            method,
            virtual_host,
            receive,
        } => {
            let scheme = if *tls { "https://" } else { "http://" };
            let Some(rest) = url.strip_prefix(scheme) else {
                return Err(format!("the URL {url:?} is not {scheme}"));
            };
            let (authority, path) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            };
            // http_proxy: the absolute URL is asked of the real server, a proxy.
            let mut u = UrlCheck::new(if *proxy { url } else { path });
            u.regex = receive.clone();
            let mut h = HttpCheck::new(u);
            h.head = *method == HttpMethod::Head;
            // LWP sends the URL's host (with the port) when no virtualhost is set.
            h.virtualhost = Some(
                virtual_host
                    .clone()
                    .unwrap_or_else(|| authority.to_string()),
            );
            let expected = format!(
                "{}:{}",
                match n.target.ip() {
                    IpAddr::V4(a) => a.to_string(),
                    IpAddr::V6(a) => format!("[{a}]"),
                },
                n.target.port()
            );
            if authority != expected && !*proxy {
                return Err(format!(
                    "the request URL {url:?} names another server than the real server ({expected}); the engine probes the real server"
                ));
            }
            with(if *tls {
                CheckKind::Ssl(h)
            } else {
                CheckKind::Http(h)
            })
        }
        Probe::Dns { name, receive } => {
            if receive.is_some() {
                return Err("service=dns with receive needs a DNS check that matches the answers against a regex".into());
            }
            if name.parse::<IpAddr>().is_ok() {
                return Err("service=dns with an address as request needs a PTR query".into());
            }
            with(CheckKind::Dns(DnsCheck {
                qtype: 1,
                name: name.clone(),
            }))
        }
        Probe::Smtp => with(CheckKind::Smtp(SmtpCheck {
            helo_name: "localhost.localdomain".into(),
            ehlo: true,
        })),
        Probe::SimpleTcp { send, receive } => with(CheckKind::Dialogue(DialogueCheck {
            steps: vec![
                DialogueStep::Send(send.clone().into_bytes()),
                DialogueStep::ShutdownWrite,
                DialogueStep::Expect(receive.clone()),
            ],
            skip_unmatched: true,
            tls: false,
        })),
        // check_ftp: Net::FTP's get of the request (with its leading slash);
        // Net::FTP logs in as anonymous when the login is empty (service
        // inferred from the port, without ldirectord's defaults).
        Probe::Banner(b) if b.service == ServiceType::Ftp => with(CheckKind::Ftp(FtpCheck {
            login: if b.login.is_empty() {
                "anonymous".into()
            } else {
                b.login.clone()
            },
            passwd: b.passwd.clone(),
            path: format!("/{}", b.request),
            receive: b.receive.clone(),
        })),
        // check_sip: OPTIONS over the virtual's protocol (fwm: TCP).
        Probe::Banner(b) if b.service == ServiceType::Sip => with(CheckKind::Sip(SipCheck {
            udp,
            user: b.login.clone(),
        })),
        // check_ldap: Net::LDAP with scheme ldap or ldaps.
        Probe::Banner(b) if matches!(b.service, ServiceType::Ldap | ServiceType::Ldaps) => {
            with(CheckKind::Ldap(LdapCheck {
                tls: b.tls,
                login: b.login.clone(),
                passwd: b.passwd.clone(),
                base: b.request.clone(),
                receive: b.receive.clone(),
            }))
        }
        Probe::Banner(b) => match banner_dialogue(b) {
            Some(steps) => with(CheckKind::Dialogue(DialogueCheck {
                steps,
                skip_unmatched: false,
                tls: b.tls,
            })),
            None => Err(format!(
                "service={} needs a check lvsd does not have yet: {}",
                b.service.name(),
                banner_needs(b.service)
            )),
        },
        Probe::Sql { service, .. } => Err(format!(
            "service={} needs a database client check (log in, run the query, expect a row)",
            service.name()
        )),
        Probe::Radius {
            login,
            passwd,
            secret,
            ..
        } => with(CheckKind::Radius(RadiusCheck {
            login: login.clone(),
            passwd: passwd.clone(),
            secret: secret.clone(),
        })),
    }
}

/// The dialogue of a banner check the engine runs as a TCP dialogue: pop,
/// pops, imap, imaps (TLS from the start) and nntp (`None` for the others).
fn banner_dialogue(b: &Banner) -> Option<Vec<DialogueStep>> {
    let send = |s: String| DialogueStep::Send(s.into_bytes());
    let expect = |s: &str| DialogueStep::Expect(s.to_string());
    let login = !b.login.is_empty();
    Some(match b.service {
        // Mail::POP3Client: the +OK banner; USER and PASS when a login is set.
        ServiceType::Pop | ServiceType::Pops => {
            let mut steps = vec![expect(r"^\+OK")];
            if login {
                steps.extend([
                    send(format!("USER {}\r\n", b.login)),
                    expect(r"^\+OK"),
                    send(format!("PASS {}\r\n", b.passwd)),
                    expect(r"^\+OK"),
                ]);
            }
            steps.push(send("QUIT\r\n".into()));
            steps
        }
        // Net::IMAP::Simple: the "* OK" (or PREAUTH) greeting; LOGIN when a login is set.
        ServiceType::Imap | ServiceType::Imaps => {
            let mut steps = vec![expect(r"^\* (OK|PREAUTH)")];
            if login {
                steps.extend([
                    send(format!("1 LOGIN {} {}\r\n", b.login, b.passwd)),
                    expect(r"^1 OK"),
                ]);
            }
            steps.push(send("2 LOGOUT\r\n".into()));
            steps
        }
        // check_nntp: the greeting starts with 2.
        ServiceType::Nntp => vec![expect("^2")],
        _ => return None,
    })
}

/// What each banner-style service needs from the engine.
pub fn banner_needs(s: ServiceType) -> &'static str {
    match s {
        ServiceType::Pop => "read a +OK banner, USER/PASS when a login is set, QUIT",
        ServiceType::Pops => "TLS, then a +OK banner, USER/PASS when a login is set, QUIT",
        ServiceType::Imap => "read a * OK banner, LOGIN when a login is set, LOGOUT",
        ServiceType::Imaps => "TLS, then a * OK banner, LOGIN when a login is set, LOGOUT",
        ServiceType::Ftp => "read a 220 banner, USER/PASS (anonymous by default), optionally RETR the request and match receive",
        ServiceType::Nntp => "read a 200/201 banner, QUIT",
        ServiceType::Ldap | ServiceType::Ldaps => "an LDAP bind and a search of the request's base, the reply matched against receive",
        ServiceType::Sip => "a SIP OPTIONS request over UDP/TCP answered 200",
        _ => "a protocol dialogue",
    }
}
