//! Behaviour of the keepalived front end checked fact by fact: inheritance,
//! defaults, groups, includes, errors and warnings.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use ipvs::{ForwardMethod, Protocol, ServiceFlags, ServiceKey, TunnelType};
use ipvs_director::keepalived::{
    self, CheckKind, Config, ErrorKind, Parsed, VirtualServerName, WarningKind,
};

fn ok(text: &str) -> Parsed {
    keepalived::parse_str(text, "/etc/keepalived/keepalived.conf")
        .unwrap_or_else(|e| panic!("refused:\n{e}"))
}

fn config(text: &str) -> Config {
    ok(text).config
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const HEAD: &str = "lb_algo rr\n lb_kind NAT\n protocol TCP\n";

#[test]
fn checker_settings_inherit_from_real_then_virtual_server() {
    let c = config(&format!(
        "virtual_server 192.0.2.1 80 {{ {HEAD}
            delay_loop 20
            connect_timeout 7
            retry 4
            delay_before_retry 9
            real_server 198.51.100.1 80 {{
                delay_loop 10
                TCP_CHECK {{ }}
                TCP_CHECK {{
                    delay_loop 3
                    connect_timeout 1
                    retry 0
                    warmup 2
                }}
                DNS_CHECK {{ }}
            }}
            real_server 198.51.100.2 80 {{
                DNS_CHECK {{ }}
                HTTP_GET {{ url {{ path / }} }}
            }}
        }}
        virtual_server 192.0.2.2 80 {{ {HEAD}
            real_server 198.51.100.3 80 {{
                DNS_CHECK {{ delay_loop 8 }}
                HTTP_GET {{ url {{ path / }} }}
                MISC_CHECK {{ misc_path /bin/true }}
                TCP_CHECK {{ }}
            }}
        }}
        global_defs {{ enable_script_security }}"
    ));
    let t = |vs: usize, rs: usize, ch: usize| {
        c.virtual_servers[vs].real_servers[rs].checkers[ch]
            .timing
            .unwrap()
    };
    let s = Duration::from_secs;
    // Real server's delay_loop, virtual server's retry/timeout/delay_before_retry.
    let a = t(0, 0, 0);
    assert_eq!(
        (a.delay_loop, a.warmup, a.retry, a.delay_before_retry),
        (s(10), s(10), 4, s(9))
    );
    // The checker's own settings win; warmup defaults to the checker's delay_loop.
    let b = t(0, 0, 1);
    assert_eq!((b.delay_loop, b.warmup, b.retry), (s(3), s(2), 0));
    match &c.virtual_servers[0].real_servers[0].checkers[1].kind {
        CheckKind::Tcp(conn) => assert_eq!(conn.connect_timeout, s(1)),
        k => panic!("{k:?}"),
    }
    match &c.virtual_servers[0].real_servers[0].checkers[0].kind {
        CheckKind::Tcp(conn) => assert_eq!(conn.connect_timeout, s(7)),
        k => panic!("{k:?}"),
    }
    // An inherited retry beats the DNS default of 3.
    assert_eq!(t(0, 0, 2).retry, 4);
    assert_eq!(t(0, 1, 0).delay_loop, s(20));
    // keepalived's per-kind defaults where nothing is inherited.
    let dns = t(1, 0, 0);
    assert_eq!(
        (dns.retry, dns.delay_before_retry),
        (3, s(8)),
        "DNS: retry 3, delay_before_retry = delay_loop"
    );
    let http = t(1, 0, 1);
    assert_eq!(
        (http.delay_loop, http.retry, http.delay_before_retry),
        (s(60), 1, s(3))
    );
    let misc = t(1, 0, 2);
    assert_eq!((misc.retry, misc.delay_before_retry), (0, s(1)));
    match &c.virtual_servers[1].real_servers[0].checkers[2].kind {
        CheckKind::Misc(m) => assert_eq!(m.timeout, s(60), "misc_timeout defaults to delay_loop"),
        k => panic!("{k:?}"),
    }
    match &c.virtual_servers[1].real_servers[0].checkers[3].kind {
        CheckKind::Tcp(conn) => assert_eq!(conn.connect_timeout, s(5)),
        k => panic!("{k:?}"),
    }
}

#[test]
fn services_and_destinations_are_the_library_types() {
    let c = config(
        "virtual_server 192.0.2.1 443 {
            lvs_sched mh
            mh-fallback
            mh-port
            lvs_method TUN type gue port 5555 csum
            protocol SCTP
            persistence_timeout 100
            persistence_granularity 255.255.0.0
            persistence_engine sip
            weight 7
            real_server 198.51.100.9 443 {
                uthreshold 10
                lthreshold 5
                TCP_CHECK { }
            }
        }",
    );
    let vs = &c.virtual_servers[0];
    let svc = &vs.services[0];
    assert_eq!(svc.key, ServiceKey::sctp(ip("192.0.2.1"), 443));
    assert_eq!(svc.scheduler, "mh");
    assert!(svc
        .flags
        .contains(ServiceFlags::MH_FALLBACK | ServiceFlags::MH_PORT));
    assert!(svc.flags.contains(ServiceFlags::PERSISTENT));
    assert_eq!(svc.timeout, 100);
    assert_eq!(
        svc.netmask,
        ipvs::Netmask::Ipv4("255.255.0.0".parse().unwrap())
    );
    assert_eq!(svc.pe_name.as_deref(), Some("sip"));
    // The library accepts them for the kernel.
    svc.to_attributes().unwrap();
    let d = &vs.real_servers[0].destination;
    assert_eq!(
        (d.forward, d.tunnel_type, d.tunnel_port),
        (ForwardMethod::Tunnel, TunnelType::Gue, 5555)
    );
    assert_eq!((d.weight, d.upper_threshold, d.lower_threshold), (7, 10, 5));
}

/// Virtual servers are resolved as they are read unless they name a group or a track
/// file, which may come later: the result and its order are the same either way.
#[test]
fn a_group_defined_after_its_virtual_server_and_the_order_kept() {
    let c = config(
        "virtual_server 192.0.2.1 80 {
            protocol TCP
            real_server 198.51.100.1 80 {
                TCP_CHECK { }
            }
        }
        virtual_server group LATE {
            protocol TCP
            real_server 198.51.100.2 80 {
                TCP_CHECK { }
            }
        }
        virtual_server 192.0.2.3 80 {
            protocol TCP
            delay_loop 7
            real_server 198.51.100.3 80 {
                weight 4
                TCP_CHECK { connect_timeout 2 }
            }
        }
        virtual_server_group LATE {
            192.0.2.2 80
        }",
    );
    let names: Vec<String> = c
        .virtual_servers
        .iter()
        .map(|v| match &v.name {
            VirtualServerName::Group(g) => format!("group {g}"),
            _ => v.services[0].key.to_string(),
        })
        .collect();
    assert_eq!(
        names,
        ["tcp:192.0.2.1:80", "group LATE", "tcp:192.0.2.3:80"]
    );
    assert_eq!(
        c.virtual_servers[1].services[0].key.to_string(),
        "tcp:192.0.2.2:80"
    );
    let rs = &c.virtual_servers[2].real_servers[0];
    assert_eq!(rs.destination.weight, 4);
    let timing = rs.checkers[0].timing.expect("TCP_CHECK is launched");
    assert_eq!(timing.delay_loop, Duration::from_secs(7));
}

#[test]
fn group_ranges_expand_and_real_servers_take_each_port() {
    let c = config(
        "virtual_server_group G {
            192.0.2.250-252 80
            2001:db8::fe-100 8080
            198.51.100.4/31 443
            fwmark 9 inet
        }
        # IPv4 and IPv6 in one group: only with tunnelled real servers.
        virtual_server group G {
            lb_algo rr
            lb_kind TUN
            protocol UDP
            real_server 198.51.100.20 {
                TCP_CHECK { connect_port 22 }
            }
        }",
    );
    let vs = &c.virtual_servers[0];
    assert_eq!(vs.name, VirtualServerName::Group("G".into()));
    let keys: Vec<String> = vs.services.iter().map(|s| s.key.to_string()).collect();
    assert_eq!(
        keys,
        [
            "udp:192.0.2.250:80",
            "udp:192.0.2.251:80",
            "udp:192.0.2.252:80",
            "udp:[2001:db8::fe]:8080",
            "udp:[2001:db8::ff]:8080",
            "udp:[2001:db8::100]:8080",
            "udp:198.51.100.4:443",
            "udp:198.51.100.5:443",
            "fwm:9",
        ]
    );
    let rs = &vs.real_servers[0];
    assert_eq!(rs.destination.port, 0);
    assert_eq!(rs.destination_for(&vs.services[3].key).port, 8080);
    assert_eq!(rs.destination_for(&vs.services[8].key).port, 0);
    match &rs.checkers[0].kind {
        CheckKind::Tcp(conn) => assert_eq!(conn.target, SocketAddr::new(ip("198.51.100.20"), 22)),
        k => panic!("{k:?}"),
    }
}

#[test]
fn fwmark_direct_routing_checks_the_written_port_and_clears_it_for_ipvs() {
    let p = ok("virtual_server fwmark 3 {
        lb_algo rr
        lb_kind DR
        real_server 198.51.100.7 443 {
            TCP_CHECK { }
        }
    }");
    let rs = &p.config.virtual_servers[0].real_servers[0];
    assert_eq!(rs.destination.port, 0);
    match &rs.checkers[0].kind {
        CheckKind::Tcp(conn) => assert_eq!(conn.target.port(), 443),
        k => panic!("{k:?}"),
    }
    let w: Vec<_> = p
        .warnings
        .iter()
        .map(|w| (w.kind, w.line, w.keyword.as_str()))
        .collect();
    assert_eq!(w, [(WarningKind::Adjusted, 4, "real_server")]);
}

#[test]
fn every_error_is_collected_with_file_line_and_keyword() {
    let e = keepalived::parse_str(
        "virtual_server 192.0.2.1 80 {
            lb_algo nope
            protocol ICMP
            real_server 198.51.100.1 80 {
                weight x
                HTTP_GET {
                    url {
                        path /
                        status_code 99
                    }
                }
            }
        }
        }
        ",
        "/srv/lb/main.conf",
    )
    .unwrap_err();
    let got: Vec<(u32, &str)> = e
        .errors
        .iter()
        .map(|e| (e.line, e.keyword.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (2, "lb_algo"),
            (3, "protocol"),
            (5, "weight"),
            (9, "status_code"),
            (14, "}")
        ]
    );
    assert!(e
        .errors
        .iter()
        .all(|e| e.file == Path::new("/srv/lb/main.conf")));
    assert!(e.errors.iter().all(|e| e.kind == ErrorKind::Invalid));
    let first = e.errors[0].to_string();
    assert!(
        first.starts_with("/srv/lb/main.conf:2: lb_algo: invalid scheduler 'nope'"),
        "{first}"
    );
}

#[test]
fn includes_are_relative_to_the_including_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/keepalived");
    // parse_str with a name in the fixtures directory resolves from there.
    let p = keepalived::parse_str("include inc/conf.d/*.conf\n", dir.join("any.conf")).unwrap();
    let vips: Vec<String> = p
        .config
        .virtual_servers
        .iter()
        .map(|v| v.services[0].key.to_string())
        .collect();
    // 10-web.conf includes ../servers/web.inc relative to conf.d/.
    assert_eq!(vips, ["tcp:192.0.2.41:80", "tcp:192.0.2.42:25"]);
    assert_eq!(p.config.virtual_servers[0].real_servers.len(), 1);
    assert!(p.config.virtual_servers[0].real_servers[0]
        .origin
        .file
        .ends_with("servers/web.inc"));
    // keepalived takes the rest of the line as the pattern, quotes included.
    let p = keepalived::parse_str("include inc/globals.conf\n", dir.join("any.conf")).unwrap();
    assert!(p.config.global.lvs_flush);
    let p = keepalived::parse_str("include \"inc/globals.conf\"\n", dir.join("any.conf")).unwrap();
    assert!(!p.config.global.lvs_flush);
    assert_eq!(p.warnings[0].kind, WarningKind::Include);
    // From elsewhere, the same include matches nothing: a warning, no error.
    let p = keepalived::parse_str("include inc/conf.d/*.conf\n", "/nonexistent/k.conf").unwrap();
    assert!(p.config.virtual_servers.is_empty());
    assert_eq!(p.warnings[0].kind, WarningKind::Include);
    assert!(!p.warnings[0].keepalived_reports);
}

#[test]
fn other_processes_blocks_give_one_notice() {
    let p = ok("vrrp_script chk { script /bin/true }
        vrrp_instance A { interface eth0 virtual_router_id 1 }
        vrrp_instance B {
            interface eth0
            virtual_ipaddress { 192.0.2.1 }
        }
        static_routes { 192.0.2.0/24 via 198.51.100.1 }
        bfd_instance b1 { neighbor_ip 192.0.2.9 }
        virtual_server 192.0.2.1 80 {
            lb_algo rr
            lb_kind NAT
            protocol TCP
            real_server 198.51.100.1 80 { TCP_CHECK { } }
        }");
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    let w = &p.warnings[0];
    assert_eq!(
        (w.kind, w.line, w.keyword.as_str()),
        (WarningKind::Skipped, 1, "vrrp_script")
    );
    assert!(w.message.contains("vrrp_instance x2"), "{}", w.message);
    assert!(!w.keepalived_reports);
    assert_eq!(p.config.virtual_servers.len(), 1);
}

#[test]
fn unknown_keywords_warn_and_their_blocks_are_skipped() {
    let p = ok("virtual_server 192.0.2.1 80 {
        lb_algo rr
        lb_kind NAT
        protocol TCP
        future_thing {
            weight 100
        }
        real_server 198.51.100.1 80 { TCP_CHECK { } }
    }");
    assert_eq!(p.warnings.len(), 1);
    assert_eq!(
        (p.warnings[0].kind, p.warnings[0].line),
        (WarningKind::UnknownKeyword, 5)
    );
    assert!(p.warnings[0].keepalived_reports);
    assert_eq!(
        p.config.virtual_servers[0].real_servers[0]
            .destination
            .weight,
        1
    );
}

#[test]
fn keepalived_corrections_are_applied_with_warnings() {
    let p = ok("virtual_server 192.0.2.1 80 {
        real_server 198.51.100.1 8080 {
            lvs_method DR
            TCP_CHECK { }
        }
    }");
    let vs = &p.config.virtual_servers[0];
    assert_eq!(vs.services[0].key, ServiceKey::udp(ip("192.0.2.1"), 80));
    assert_eq!(vs.services[0].scheduler, "wlc");
    // A direct-routing real server's port is reset to the virtual port...
    assert_eq!(vs.real_servers[0].destination.port, 80);
    // ...but its checker still checks the port as written.
    match &vs.real_servers[0].checkers[0].kind {
        CheckKind::Tcp(conn) => assert_eq!(conn.target.port(), 8080),
        k => panic!("{k:?}"),
    }
    let kinds: Vec<_> = p
        .warnings
        .iter()
        .map(|w| (w.kind, w.keyword.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (WarningKind::Adjusted, "virtual_server"), // no protocol: UDP
            (WarningKind::Adjusted, "virtual_server"), // no scheduler: wlc
            (WarningKind::Adjusted, "real_server"),    // ports don't match
        ]
    );
    assert!(matches!(
        vs.services[0].key,
        ServiceKey::Addr {
            protocol: Protocol::Udp,
            ..
        }
    ));
}

#[test]
fn every_corpus_service_and_destination_is_valid_for_the_library() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/keepalived");
    let mut services = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_none_or(|x| x != "conf") {
            continue;
        }
        let Ok(p) = keepalived::parse_file(&path) else {
            continue;
        };
        for vs in &p.config.virtual_servers {
            for s in &vs.services {
                s.to_attributes()
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                services += 1;
                for rs in &vs.real_servers {
                    let d = rs.destination_for(&s.key);
                    assert!(d.weight >= 0);
                    assert!(!d.to_attributes().is_empty());
                }
            }
        }
    }
    assert!(services >= 30, "{services}");
}

#[test]
fn a_group_of_ipv6_addresses_is_ipv6_even_with_ipv4_tunnelled_servers() {
    let c = config(
        "virtual_server_group V6 {
            2001:db8::80 80
            fwmark 12
        }
        virtual_server group V6 {
            lb_algo rr
            lb_kind TUN
            protocol TCP
            real_server 198.51.100.80 80 {
                TCP_CHECK { }
            }
        }",
    );
    let vs = &c.virtual_servers[0];
    assert_eq!(vs.family, ipvs::AddressFamily::Inet6);
    assert_eq!(vs.services[1].key, ServiceKey::fwmark6(12));
}

/// A fresh directory under the system's temporary directory.
fn scratch_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("lvsd-ka-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn file_errors_are_reported_not_panicked() {
    let e = keepalived::parse_file("/nonexistent/keepalived.conf").unwrap_err();
    assert_eq!(e.errors.len(), 1);
    assert_eq!(e.errors[0].kind, ErrorKind::Io);
    assert_eq!(e.errors[0].file, Path::new("/nonexistent/keepalived.conf"));

    // A file that includes itself stops at a depth limit with an error.
    let d = scratch_dir("loop");
    let main = d.join("keepalived.conf");
    std::fs::write(&main, "include keepalived.conf\n").unwrap();
    let e = keepalived::parse_file(&main).unwrap_err();
    assert_eq!(e.errors.len(), 1, "{e}");
    assert_eq!(
        (e.errors[0].line, e.errors[0].keyword.as_str()),
        (1, "include")
    );

    // keepalived refuses to read an executable file.
    use std::os::unix::fs::PermissionsExt;
    let exec = d.join("exec.conf");
    std::fs::write(&exec, "global_defs {\n lvs_flush\n}\n").unwrap();
    std::fs::set_permissions(&exec, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(&main, "include exec.conf\n").unwrap();
    let e = keepalived::parse_file(&main).unwrap_err();
    assert!(
        e.errors[0]
            .message
            .contains("not a regular non-executable file"),
        "{e}"
    );
    std::fs::set_permissions(&exec, std::fs::Permissions::from_mode(0o644)).unwrap();
    let p = keepalived::parse_file(&main).unwrap();
    assert!(p.config.global.lvs_flush);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_large_configuration_is_read_whole() {
    // 2,000 virtual servers with 4 real servers each, all resolved (21 lines
    // per virtual server after the global_defs line).
    let mut text = String::from("global_defs { lvs_flush }\n");
    for i in 0..2000u32 {
        let (a, b) = (i / 250, i % 250);
        text.push_str(&format!(
            "virtual_server 198.18.{a}.{b} 80 {{\n lb_algo wrr\n lb_kind DR\n protocol TCP\n"
        ));
        for r in 1..=4 {
            text.push_str(&format!(
                " real_server 198.19.{a}.{r} 80 {{\n  weight {r}\n  TCP_CHECK {{ connect_timeout 2 }}\n }}\n"
            ));
        }
        text.push_str("}\n");
    }
    let p = ok(&text);
    assert_eq!(p.config.virtual_servers.len(), 2000);
    let last = &p.config.virtual_servers[1999];
    assert_eq!(
        last.services[0].key,
        ServiceKey::tcp(ip("198.18.7.249"), 80)
    );
    assert_eq!(last.real_servers[3].destination.weight, 4);
    assert_eq!(last.real_servers[3].origin.line, 2 + 1999 * 21 + 4 + 3 * 4);
}

#[test]
fn the_rise_extension_is_inherited_like_retry() {
    let c = config(
        "virtual_server 192.0.2.1 80 {
            lb_algo rr
            lb_kind NAT
            protocol TCP
            lvsd_rise 3
            real_server 198.51.100.1 80 {
                TCP_CHECK { }
                TCP_CHECK {
                    lvsd_rise 5
                }
            }
            real_server 198.51.100.2 80 {
                lvsd_rise 2
                TCP_CHECK { }
            }
        }
        virtual_server 192.0.2.2 80 {
            lb_algo rr
            lb_kind NAT
            protocol TCP
            real_server 198.51.100.3 80 {
                TCP_CHECK { }
            }
        }",
    );
    let rise = |vs: usize, rs: usize, ch: usize| {
        c.virtual_servers[vs].real_servers[rs].checkers[ch]
            .timing
            .unwrap()
            .rise
    };
    assert_eq!(
        [rise(0, 0, 0), rise(0, 0, 1), rise(0, 1, 0), rise(1, 0, 0)],
        [3, 5, 2, 1]
    );
}

/// keepalived 2.2.7 runs MISC_CHECK scripts without `enable_script_security`: it logs
/// "SECURITY VIOLATION - check scripts are being executed but script_security not enabled"
/// and goes on (seen in the lab's director suite, misc-check). The configuration is taken,
/// with a warning (one that `keepalived --config-test` counts as an error: it exits 6).
#[test]
fn scripts_without_enable_script_security_are_a_warning_not_a_refusal() {
    let p = ok("virtual_server 192.0.2.1 80 {
            real_server 198.51.100.1 80 {
                MISC_CHECK { misc_path \"/bin/sh /check rs1\" }
            }
        }");
    assert_eq!(
        p.config.virtual_servers[0].real_servers[0].checkers.len(),
        1
    );
    let w: Vec<_> = p
        .warnings
        .iter()
        .filter(|w| w.kind == WarningKind::Security)
        .collect();
    assert_eq!(w.len(), 1, "{:?}", p.warnings);
    assert!(w[0].keepalived_reports);
    assert!(w[0].message.contains("enable_script_security"));
    // With it, no such warning.
    let p = ok("global_defs { enable_script_security }
        virtual_server 192.0.2.1 80 {
            real_server 198.51.100.1 80 {
                MISC_CHECK { misc_path \"/bin/sh /check rs1\" }
            }
        }");
    assert!(p.warnings.iter().all(|w| w.kind != WarningKind::Security));
}
