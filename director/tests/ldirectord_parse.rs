//! The ldirectord model's meaning: the IPVS settings as the library's types,
//! the checks and what the check engine makes of them, defaults and
//! inheritance.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ipvs::{AddressFamily, Destination, ForwardMethod, Netmask, Service, ServiceFlags, ServiceKey};
use ipvs_director::check::{CheckKind, DialogueCheck, DialogueStep};
use ipvs_director::ldirectord::{
    self, Check, CheckType, EngineCheck, ErrorKind, ParseOptions, Parsed, Probe, ServiceType,
};

fn opts() -> ParseOptions {
    ParseOptions {
        hostname: "dir.example".into(),
        ..ParseOptions::default()
    }
}

fn parse(text: &str) -> Parsed {
    ldirectord::parse_str_with(text, "t.cf", &opts()).unwrap_or_else(|e| panic!("{e}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn ipvs_settings_are_the_library_types() {
    let p = parse(
        "virtual=192.0.2.1:80\n\treal=198.51.100.1:8080 gate 4 l:2 u:9\n\treal=198.51.100.2:8080 masq\n\
         \tpersistent=300\n\tnetmask=255.255.255.0\n\tscheduler=sh\n\tschedflags=sh-port,sh-fallback\n",
    );
    let v = &p.config.virtuals[0];
    let want = Service::new(ServiceKey::tcp(ip("192.0.2.1"), 80))
        .with_scheduler("sh")
        .with_persistence(300)
        .with_netmask(Netmask::Ipv4("255.255.255.0".parse().unwrap()))
        .with_flags(ServiceFlags::PERSISTENT | ServiceFlags::SH_PORT | ServiceFlags::SH_FALLBACK);
    assert_eq!(v.service, want);
    // gate: ipvsadm forces the port to the virtual port; masq keeps its own.
    assert_eq!(
        v.reals[0].destination,
        Destination::new(ip("198.51.100.1"), 80, ForwardMethod::DirectRoute)
            .with_weight(4)
            .with_thresholds(9, 2)
    );
    assert_eq!(v.reals[0].configured_port, 8080);
    assert_eq!(
        v.reals[1].destination,
        Destination::new(ip("198.51.100.2"), 8080, ForwardMethod::Masquerade).with_weight(1)
    );
}

#[test]
fn defaults_and_protocols() {
    let p = parse("virtual=192.0.2.1:53\n\treal=198.51.100.1:53 gate\n\tops=yes\nvirtual6=4\n\treal6=[2001:db8::1] ipip\n");
    let (dns, fwm) = (&p.config.virtuals[0], &p.config.virtuals[1]);
    assert_eq!(dns.service.key, ServiceKey::udp(ip("192.0.2.1"), 53));
    assert_eq!(dns.service.scheduler, "wrr");
    assert_eq!(dns.service.flags, ServiceFlags::ONE_PACKET);
    assert_eq!(
        (dns.service_type, dns.check_type),
        (ServiceType::Dns, CheckType::Negotiate)
    );
    assert!(!dns.quiescent, "ldirectord 4.12's code default");
    assert_eq!(fwm.service.key, ServiceKey::fwmark6(4));
    assert_eq!(fwm.family, AddressFamily::Inet6);
    assert_eq!(fwm.service_type, ServiceType::None);
    assert_eq!(fwm.reals[0].destination.port, 0);
    assert_eq!(
        fwm.reals[0].check,
        Check::Negotiate(ldirectord::Negotiate {
            target: SocketAddr::new(ip("2001:db8::1"), 0),
            timeout: Duration::from_secs(30),
            probe: Probe::None,
        })
    );
}

#[test]
fn inheritance_and_timeouts() {
    let p = parse(
        "checktimeout=4\nquiescent=yes\nfallback=127.0.0.1 masq\nemailalert=\"a@example.org\"\n\
         virtual=192.0.2.1:80\n\treal=198.51.100.1:80 gate\n\
         virtual=192.0.2.1:81\n\treal=198.51.100.1:81 gate\n\tquiescent=no\n\tnegotiatetimeout=20\n\tfallback=127.0.0.2:9000\n",
    );
    let (a, b) = (&p.config.virtuals[0], &p.config.virtuals[1]);
    assert_eq!(
        (a.check_timeout.as_secs(), a.negotiate_timeout.as_secs()),
        (4, 4)
    );
    assert_eq!(
        (b.check_timeout.as_secs(), b.negotiate_timeout.as_secs()),
        (20, 20)
    );
    assert!(a.quiescent && !b.quiescent);
    let fa = a.fallback.as_ref().unwrap();
    assert_eq!(
        (fa.addr, fa.port, fa.forward.name()),
        (ip("127.0.0.1"), Some(80), "masq")
    );
    let fb = b.fallback.as_ref().unwrap();
    assert_eq!(
        (fb.addr, fb.port, fb.forward.name()),
        (ip("127.0.0.2"), Some(9000), "gate")
    );
    assert_eq!(b.email_alert.as_deref(), Some("a@example.org"));
}

#[test]
fn ftp_and_sip_defaults_follow_ldirectord_order() {
    let p = parse(
        "virtual=192.0.2.1:21\n\treal=198.51.100.1:21 gate\n\tservice=ftp\n\tlogin=\"bob\"\n\
         virtual=192.0.2.2:21\n\treal=198.51.100.1:21 gate\n\tlogin=\"bob\"\n\tservice=ftp\n\
         virtual=192.0.2.3:21\n\treal=198.51.100.1:21 gate\n\
         virtual=192.0.2.4:5060\n\treal=198.51.100.1:5060 gate\n\tservice=sip\n",
    );
    let v = &p.config.virtuals;
    assert_eq!(
        (v[0].login.as_str(), v[0].passwd.as_str()),
        ("bob", "ldirectord@dir.example")
    );
    assert_eq!(v[1].login, "bob");
    // Inferred from the port: no service line, so no defaults (as ldirectord).
    assert_eq!(
        (v[2].service_type, v[2].login.as_str()),
        (ServiceType::Ftp, "")
    );
    assert_eq!(v[3].login, "ldirectord@dir.example");
}

#[test]
fn http_check_maps_to_the_engine() {
    let p = parse(
        "checkinterval=3\nfailurecount=2\nvirtual=192.0.2.1:443\n\treal=198.51.100.1:443 gate\n\
         \treal=198.51.100.2:443 gate \"https://198.51.100.2:443/own\", \"fine\"\n\
         \trequest=\"status\"\n\treceive=\"up\"\n\tvirtualhost=\"www.example.org\"\n",
    );
    let v = &p.config.virtuals[0];
    let EngineCheck::Probe(spec) = v.reals[0].check.engine_check(v).unwrap() else {
        panic!()
    };
    let CheckKind::Ssl(h) = &spec.kind else {
        panic!("{:?}", spec.kind)
    };
    assert_eq!(h.urls[0].path, "/status");
    assert_eq!(h.urls[0].regex.as_deref(), Some("up"));
    assert_eq!(h.urls[0].status, vec![(200, 299)]);
    assert_eq!(h.virtualhost.as_deref(), Some("www.example.org"));
    assert_eq!(spec.target, SocketAddr::new(ip("198.51.100.1"), 443));
    assert_eq!(
        (spec.timing.delay_loop.as_secs(), spec.timing.fall()),
        (3, 2)
    );
    assert_eq!(spec.timing.connect_timeout, Duration::from_secs(30));
    // The real server's own absolute request.
    let Check::Negotiate(n) = &v.reals[1].check else {
        panic!()
    };
    let Probe::Http { url, receive, .. } = &n.probe else {
        panic!()
    };
    assert_eq!(
        (url.as_str(), receive.as_deref()),
        ("https://198.51.100.2:443/own", Some("fine"))
    );
    let EngineCheck::Probe(spec) = v.reals[1].check.engine_check(v).unwrap() else {
        panic!()
    };
    let CheckKind::Ssl(h) = &spec.kind else {
        panic!()
    };
    assert_eq!(h.urls[0].path, "/own");
}

#[test]
fn what_the_engine_cannot_run_is_named() {
    let p = parse(
        "virtual=192.0.2.1:3306\n\treal=198.51.100.1:3306 gate\n\
         virtual=192.0.2.1:5432\n\treal=198.51.100.1:5432 gate\n\tservice=pgsql\n\
         virtual=192.0.2.1:1521\n\treal=198.51.100.1:1521 gate\n\tservice=oracle\n\
         virtual=192.0.2.1:81\n\treal=198.51.100.1:81 gate\n\tchecktype=3\n",
    );
    let why: Vec<String> = p
        .config
        .virtuals
        .iter()
        .map(|v| v.reals[0].check.engine_check(v).unwrap_err())
        .collect();
    assert!(why[0].contains("service=mysql"), "{}", why[0]);
    assert!(why[1].contains("service=pgsql"), "{}", why[1]);
    assert!(why[2].contains("service=oracle"), "{}", why[2]);
    assert!(why[3].contains("checktype=N"), "{}", why[3]);
}

#[test]
fn ftp_pops_imaps_ldap_ldaps_and_sip_run_on_the_engine() {
    let p = parse(
        "virtual=192.0.2.1:21\n\treal=198.51.100.1:21 gate\n\tservice=ftp\n\trequest=\"pub/f\"\n\treceive=\"ok\"\n\
         virtual=192.0.2.1:995\n\treal=198.51.100.1:995 gate\n\
         virtual=192.0.2.1:993\n\treal=198.51.100.1:993 gate\n\
         virtual=192.0.2.1:389\n\treal=198.51.100.1:389 gate\n\trequest=\"dc=example,dc=org\"\n\
         virtual=192.0.2.1:636\n\treal=198.51.100.1:636 gate\n\
         virtual=192.0.2.1:5060\n\treal=198.51.100.1:5060 gate\n\tprotocol=udp\n\
         virtual=192.0.2.2:5060\n\treal=198.51.100.1:5060 gate\n\tservice=sip\n\
         virtual=192.0.2.2:21\n\treal=198.51.100.1:21 gate\n",
    );
    let kinds: Vec<CheckKind> = p
        .config
        .virtuals
        .iter()
        .map(|v| match v.reals[0].check.engine_check(v) {
            Ok(EngineCheck::Probe(s)) => s.kind.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    let CheckKind::Ftp(ftp) = &kinds[0] else {
        panic!("{:?}", kinds[0])
    };
    assert_eq!(ftp.login, "anonymous");
    assert!(ftp.passwd.starts_with("ldirectord@"), "{}", ftp.passwd);
    assert_eq!(ftp.path, "/pub/f");
    assert_eq!(ftp.receive.as_deref(), Some("ok"));
    for (k, first) in [(&kinds[1], r"^\+OK"), (&kinds[2], r"^\* (OK|PREAUTH)")] {
        let CheckKind::Dialogue(d) = k else {
            panic!("{k:?}")
        };
        assert!(d.tls);
        assert_eq!(d.steps[0], DialogueStep::Expect(first.into()));
    }
    let CheckKind::Ldap(ldap) = &kinds[3] else {
        panic!("{:?}", kinds[3])
    };
    assert!(!ldap.tls);
    assert_eq!(ldap.base, "dc=example,dc=org");
    let CheckKind::Ldap(ldaps) = &kinds[4] else {
        panic!("{:?}", kinds[4])
    };
    assert!(ldaps.tls);
    assert_eq!(ldaps.base, "");
    let (CheckKind::Sip(udp), CheckKind::Sip(tcp)) = (&kinds[5], &kinds[6]) else {
        panic!("{:?} {:?}", kinds[5], kinds[6])
    };
    assert!(udp.udp && !tcp.udp);
    assert!(tcp.user.starts_with("ldirectord@"), "{}", tcp.user);
    // Service inferred from the port: no ldirectord defaults, Net::FTP's
    // anonymous user and the empty password.
    let CheckKind::Ftp(inferred) = &kinds[7] else {
        panic!("{:?}", kinds[7])
    };
    assert_eq!(
        (inferred.login.as_str(), inferred.passwd.as_str()),
        ("anonymous", "")
    );
    assert_eq!(inferred.receive, None);
}

#[test]
fn head_proxy_simpletcp_and_banners_run_on_the_engine() {
    let p = parse(
        "virtual=192.0.2.1:80\n\treal=198.51.100.1:80 gate\n\thttpmethod=HEAD\n\
         virtual=192.0.2.1:3128\n\treal=198.51.100.1:3128 gate\n\trequest=\"http://www.example.com/x\"\n\
         virtual=192.0.2.1:7\n\treal=198.51.100.1:7 gate\n\tservice=simpletcp\n\trequest=\"ping\\n\"\n\treceive=\"pong\"\n\
         virtual=192.0.2.1:110\n\treal=198.51.100.1:110 gate\n\tlogin=\"u\"\n\tpasswd=\"p\"\n\
         virtual=192.0.2.1:119\n\treal=198.51.100.1:119 gate\n",
    );
    let kinds: Vec<CheckKind> = p
        .config
        .virtuals
        .iter()
        .map(|v| match v.reals[0].check.engine_check(v) {
            Ok(EngineCheck::Probe(spec)) => spec.kind.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    let CheckKind::Http(h) = &kinds[0] else {
        panic!("{:?}", kinds[0])
    };
    assert!(h.head);
    let CheckKind::Http(h) = &kinds[1] else {
        panic!("{:?}", kinds[1])
    };
    assert_eq!(h.urls[0].path, "http://www.example.com/x");
    assert!(!h.head);
    let simple = |steps: Vec<DialogueStep>, skip| DialogueCheck {
        steps,
        skip_unmatched: skip,
        tls: false,
    };
    assert_eq!(
        kinds[2],
        CheckKind::Dialogue(simple(
            vec![
                DialogueStep::Send(b"ping\n".to_vec()),
                DialogueStep::ShutdownWrite,
                DialogueStep::Expect("pong".into()),
            ],
            true
        ))
    );
    let CheckKind::Dialogue(pop) = &kinds[3] else {
        panic!("{:?}", kinds[3])
    };
    assert_eq!(pop.steps[0], DialogueStep::Expect(r"^\+OK".into()));
    assert!(pop
        .steps
        .contains(&DialogueStep::Send(b"USER u\r\n".to_vec())));
    assert_eq!(
        kinds[4],
        CheckKind::Dialogue(simple(vec![DialogueStep::Expect("^2".into())], false))
    );
}

#[test]
fn external_arguments() {
    let p = parse("virtual=192.0.2.1:80\n\treal=198.51.100.1 gate\n\tchecktype=external\n\tcheckcommand=\"/bin/check\"\n\tchecktimeout=2\n");
    let v = &p.config.virtuals[0];
    let Check::External { argv, timeout } = &v.reals[0].check else {
        panic!()
    };
    assert_eq!(
        argv,
        &["/bin/check", "192.0.2.1", "80", "198.51.100.1", "0"]
    );
    assert_eq!(timeout.as_secs(), 2);
    let EngineCheck::Probe(spec) = v.reals[0].check.engine_check(v).unwrap() else {
        panic!()
    };
    let CheckKind::Misc(m) = &spec.kind else {
        panic!()
    };
    assert_eq!(m.argv, *argv);
}

#[test]
fn resolver_hook_and_every_error_collected() {
    fn resolve(name: &str, _: AddressFamily) -> Option<IpAddr> {
        if name == "web1.example" {
            return Some("198.51.100.77".parse().unwrap());
        }
        name.parse().ok()
    }
    let o = ParseOptions { resolve, ..opts() };
    let p = ldirectord::parse_str_with(
        "virtual=192.0.2.1:80\n\treal=web1.example:80 gate\n",
        "t.cf",
        &o,
    )
    .unwrap();
    assert_eq!(
        p.config.virtuals[0].reals[0].destination.addr,
        ip("198.51.100.77")
    );
    // The default resolver does no DNS.
    let e = ldirectord::parse_str(
        "virtual=192.0.2.1:80\n\treal=web1.example:80 gate\n",
        "t.cf",
    )
    .unwrap_err();
    assert_eq!(
        e.errors[0].message,
        "invalid address (web1.example) for real server (could not resolve host)"
    );
    let e = ldirectord::parse_str(
        "quiescent=1\nfork=2\nvirtual=192.0.2.1:80\n\tchecktype=external-perl\n",
        "t.cf",
    )
    .unwrap_err();
    let got: Vec<(u32, ErrorKind)> = e.errors.iter().map(|e| (e.line, e.kind)).collect();
    assert_eq!(
        got,
        vec![
            (1, ErrorKind::Invalid),
            (2, ErrorKind::Invalid),
            (4, ErrorKind::Unsupported)
        ]
    );
    assert_eq!(
        e.errors[0].to_string(),
        "t.cf:1: quiescent: quiescent must be 'yes' or 'no'"
    );
}
