//! Listing output, byte for byte, against the literal examples of the spec
//! (§2.6, §2.7, §2.8, §2.10, §3.1), which came from the Debian ipvsadm
//! 1.31 binary. Names come from a fixed resolver, not the host's.

use std::net::{IpAddr, Ipv4Addr};

use ipvs::{
    AddressFamily, DaemonState, Destination, DestinationStatus, ForwardMethod, Info, Netmask,
    Protocol, Service, ServiceFlags, ServiceKey, ServiceStatus, Stats, SyncDaemon, Timeouts,
    TunnelChecksum, TunnelType,
};
use ipvs_tools::ipvsadm::format;
use ipvs_tools::ipvsadm::sys::Resolver;
use ipvs_tools::ipvsadm::Format;

/// /etc/hosts and /etc/services of the machine the examples came from.
struct Names;

impl Resolver for Names {
    fn host_to_ipv4(&self, name: &[u8]) -> Option<Ipv4Addr> {
        (name == b"localhost").then_some(Ipv4Addr::LOCALHOST)
    }
    fn service_to_port(&self, name: &[u8], _proto: &str) -> Option<u16> {
        match name {
            b"http" => Some(80),
            _ => None,
        }
    }
    fn addr_to_host(&self, addr: IpAddr) -> Option<Vec<u8>> {
        match addr.to_string().as_str() {
            "127.0.0.1" => Some("localhost".into()),
            "192.168.9.9" => Some("a-very-long-host-name.example.com".into()),
            _ => None,
        }
    }
    fn port_to_service(&self, port: u16, proto: &str) -> Option<Vec<u8>> {
        match (port, proto) {
            (80, "tcp") => Some("http".into()),
            (8080, "tcp") => Some("http-alt".into()),
            (53, "udp") | (53, "tcp") => Some("domain".into()),
            (5353, "udp") => Some("mdns".into()),
            _ => None,
        }
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn svc(key: ServiceKey, sched: &str) -> ServiceStatus {
    ServiceStatus::new(Service::new(key).with_scheduler(sched))
}

fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::tcp(ip(addr), port)
}

fn dest(addr: &str, port: u16, fwd: ForwardMethod, weight: i32) -> DestinationStatus {
    DestinationStatus::new(Destination::new(ip(addr), port, fwd).with_weight(weight))
}

fn tunnel(
    addr: &str,
    weight: i32,
    t: TunnelType,
    port: u16,
    c: TunnelChecksum,
) -> DestinationStatus {
    let mut d = dest(addr, 0, ForwardMethod::Tunnel, weight);
    d.config = d.config.with_tunnel(t, port, c);
    d
}

fn info() -> Info {
    Info {
        version: 0x010201,
        conn_tab_size: 4096,
    }
}

/// The table behind the `-Ln` and `-Sn` examples, in a scrambled order
/// (the listing must sort it). `with_null` adds the `(null)` real server
/// of the `-Ln` example.
fn table(with_null: bool) -> Vec<(ServiceStatus, Vec<DestinationStatus>)> {
    let mut s2 = svc(tcp("10.0.0.2", 443), "sh");
    s2.config.flags = ServiceFlags::PERSISTENT | ServiceFlags::SH_FALLBACK | ServiceFlags::SH_PORT;
    s2.config.timeout = 360;
    s2.config.netmask = Netmask::Ipv4(Ipv4Addr::new(255, 255, 255, 0));
    s2.config.pe_name = Some("sip".into());
    let mut s3 = svc(ServiceKey::udp(ip("10.0.0.1"), 53), "rr");
    s3.config.flags = ServiceFlags::ONE_PACKET;
    let mut s4 = svc(ServiceKey::sctp(ip("10.0.0.3"), 9999), "none");
    s4.config.flags = ServiceFlags::SCHED_1 | ServiceFlags::SCHED_3;
    let s5 = svc(tcp("2001:db8::1", 80), "rr");
    let mut s6 = svc(ServiceKey::fwmark(5), "mh");
    s6.config.flags = ServiceFlags::PERSISTENT | ServiceFlags::MH_PORT;
    s6.config.timeout = 300;
    let mut s7 = svc(ServiceKey::fwmark6(7), "wrr");
    s7.config.flags = ServiceFlags::PERSISTENT;
    s7.config.timeout = 600;
    s7.config.netmask = Netmask::Ipv6Prefix(64);
    let mut masq = dest("192.168.1.2", 80, ForwardMethod::Masquerade, 1);
    masq.active_conns = 3;
    masq.inactive_conns = 10;
    let mut fwm5 = vec![
        tunnel("192.168.2.2", 2, TunnelType::Gre, 0, TunnelChecksum::NoCsum),
        tunnel(
            "192.168.2.1",
            1,
            TunnelType::Gue,
            6080,
            TunnelChecksum::Csum,
        ),
    ];
    if with_null {
        fwm5.insert(0, dest("192.168.2.3", 0, ForwardMethod::Other(4), 3));
    }
    vec![
        (
            s7,
            vec![dest(
                "2001:db8::1111:2222:3333:4444",
                0,
                ForwardMethod::DirectRoute,
                1,
            )],
        ),
        (s3, vec![]),
        (
            svc(tcp("10.0.0.1", 80), "wlc"),
            vec![
                masq,
                dest("192.168.1.1", 8080, ForwardMethod::DirectRoute, 0),
                dest("127.0.0.1", 80, ForwardMethod::Local, 65535),
            ],
        ),
        (s6, fwm5),
        (s4, vec![]),
        (
            s5,
            vec![dest("2001:db8::a", 80, ForwardMethod::Masquerade, 1), {
                let mut d = tunnel(
                    "192.168.3.1",
                    1,
                    TunnelType::Ipip,
                    0,
                    TunnelChecksum::NoCsum,
                );
                d.config.port = 80;
                d
            }],
        ),
        (s2, vec![]),
    ]
}

fn numeric() -> Format {
    Format {
        numeric: true,
        ..Format::default()
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

/// Turns the spec's `|`-terminated lines into text.
fn lines(s: &str) -> String {
    s.lines()
        .map(|l| format!("{}\n", l.strip_suffix('|').unwrap_or(l)))
        .collect()
}

#[test]
fn list_numeric() {
    let got = format::listing(Some(&info()), &mut table(true), &numeric(), &Names);
    let want = lines(
        "IP Virtual Server version 1.2.1 (size=4096)|
Prot LocalAddress:Port Scheduler Flags|
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn|
TCP  10.0.0.1:80 wlc|
  -> 127.0.0.1:80                 Local   65535  0          0         |
  -> 192.168.1.1:8080             Route   0      0          0         |
  -> 192.168.1.2:80               Masq    1      3          10        |
TCP  10.0.0.2:443 sh (sh-fallback,sh-port) persistent 360 mask 255.255.255.0 pe sip|
UDP  10.0.0.1:53 rr ops|
SCTP 10.0.0.3:9999 none (flag-1,flag-3)|
TCP  [2001:db8::1]:80 rr|
  -> 192.168.3.1:80               Tunnel  1      0          0         |
  -> [2001:db8::a]:80             Masq    1      0          0         |
FWM  5 mh (mh-port) persistent 300|
  -> 192.168.2.1:0                Tunnel  1      0          0         |
  -> 192.168.2.2:0                Tunnel  2      0          0         |
  -> 192.168.2.3:0                (null)  3      0          0         |
FWM  7 IPv6 wrr persistent 600 mask 64|
  -> [2001:db8::1111:2222:3333:4444]:0 Route   1      0          0         |
",
    );
    assert_eq!(text(got), want);
}

#[test]
fn list_with_names() {
    let got = text(format::listing(
        Some(&info()),
        &mut table(true),
        &Format::default(),
        &Names,
    ));
    for line in [
        "TCP  10.0.0.1:http wlc\n",
        "  -> localhost:http               Local   65535  0          0         \n",
        "  -> 192.168.1.1:http-alt         Route   0      0          0         \n",
        "UDP  10.0.0.1:domain rr ops\n",
        "TCP  [2001:db8::1]:http rr\n",
        // fwmark services have no protocol: ports stay numeric.
        "  -> 192.168.2.1:0                Tunnel  1      0          0         \n",
    ] {
        assert!(got.contains(line), "missing {line:?} in\n{got}");
    }
}

#[test]
fn long_host_names_are_cut() {
    let mut t = vec![(
        svc(tcp("192.168.9.9", 80), "wlc"),
        vec![dest("192.168.9.9", 80, ForwardMethod::Local, 65535)],
    )];
    let got = text(format::listing(None, &mut t, &Format::default(), &Names));
    assert!(
        got.contains("TCP  a-very-long-host-name.exampl wlc\n"),
        "{got}"
    );
    assert!(
        got.contains("  -> a-very-long-host-name.exampl Local   65535  0          0         \n")
    );
}

#[test]
fn save_numeric() {
    let format = Format {
        numeric: true,
        rule: true,
        ..Format::default()
    };
    let got = format::listing(Some(&info()), &mut table(false), &format, &Names);
    let want = lines(
        "-A -t 10.0.0.1:80 -s wlc
-a -t 10.0.0.1:80 -r 127.0.0.1:80 -g -w 65535
-a -t 10.0.0.1:80 -r 192.168.1.1:8080 -g -w 0
-a -t 10.0.0.1:80 -r 192.168.1.2:80 -m -w 1
-A -t 10.0.0.2:443 -s sh -p 360 -M 255.255.255.0 --pe sip -b sh-fallback,sh-port
-A -u 10.0.0.1:53 -s rr -o
-A --sctp-service 10.0.0.3:9999 -s none -b flag-1,flag-3
-A -t [2001:db8::1]:80 -s rr
-a -t [2001:db8::1]:80 -r 192.168.3.1:80 -i -w 1 --tun-type ipip
-a -t [2001:db8::1]:80 -r [2001:db8::a]:80 -m -w 1
-A -f 5 -s mh -p 300 -b mh-port
-a -f 5 -r 192.168.2.1:0 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum
-a -f 5 -r 192.168.2.2:0 -i -w 2 --tun-type gre --tun-nocsum
-A -f 7 -6 -s wrr -p 600 -M 64
-a -f 7 -6 -r [2001:db8::1111:2222:3333:4444]:0 -g -w 1
",
    );
    assert_eq!(text(got), want);
}

#[test]
fn save_with_names() {
    let format = Format {
        rule: true,
        ..Format::default()
    };
    let got = text(format::listing(None, &mut table(false), &format, &Names));
    assert!(got.starts_with(
        "-A -t 10.0.0.1:http -s wlc\n-a -t 10.0.0.1:http -r localhost:http -g -w 65535\n"
    ));
}

fn stats(v: [u64; 5], rates: [u64; 5]) -> Stats {
    Stats {
        conns: v[0],
        in_packets: v[1],
        out_packets: v[2],
        in_bytes: v[3],
        out_bytes: v[4],
        cps: rates[0],
        in_pps: rates[1],
        out_pps: rates[2],
        in_bps: rates[3],
        out_bps: rates[4],
    }
}

fn stats_table() -> Vec<(ServiceStatus, Vec<DestinationStatus>)> {
    let mut s1 = svc(tcp("10.0.0.1", 80), "wlc");
    s1.stats = stats(
        [5, 123456789, 99999999, 1234567890123, 100000000000000],
        [1, 2, 3, 1_000_000_000, 4],
    );
    let mut d1 = dest("192.168.1.2", 80, ForwardMethod::Masquerade, 1);
    // The oracle received 5 000 000 000 in-packets and printed the low 32
    // bits (705032704); this project prints full counters, so the fixture
    // holds what the oracle printed.
    d1.stats = stats(
        [7, 705032704, 200, 300000000, 12],
        [123456789, 2, 3, 4, 705032704],
    );
    let s7 = svc(ServiceKey::fwmark6(7), "wrr");
    let d7 = dest(
        "2001:db8::1111:2222:3333:4444",
        0,
        ForwardMethod::DirectRoute,
        1,
    );
    vec![(s7, vec![d7]), (s1, vec![d1])]
}

#[test]
fn list_stats() {
    let f = Format {
        numeric: true,
        stats: true,
        ..Format::default()
    };
    let got = text(format::listing(None, &mut stats_table(), &f, &Names));
    let want = lines(
        "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes|
  -> RemoteAddress:Port|
TCP  10.0.0.1:80                         5  123456K 99999999    1234G     100T|
  -> 192.168.1.2:80                      7  705032K      200  300000K       12|
FWM  7 IPv6                              0        0        0        0        0|
  -> [2001:db8::1111:2222:3333:4444]:0        0        0        0        0        0|
",
    );
    assert_eq!(got, want);
}

#[test]
fn list_rate() {
    let f = Format {
        numeric: true,
        rate: true,
        ..Format::default()
    };
    let got = text(format::listing(None, &mut stats_table(), &f, &Names));
    let want = lines(
        "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS|
  -> RemoteAddress:Port|
TCP  10.0.0.1:80                         1        2        3    1000M        4|
  -> 192.168.1.2:80               123456789        2        3        4  705032K|
",
    );
    assert!(got.starts_with(&want), "{got}");
}

#[test]
fn full_64_bit_real_server_counters() {
    let mut t = stats_table();
    t[1].1[0].stats.in_packets = 5_000_000_000;
    let f = Format {
        numeric: true,
        stats: true,
        ..Format::default()
    };
    let got = text(format::listing(None, &mut t, &f, &Names));
    assert!(
        got.contains("  -> 192.168.1.2:80                      7    5000M      200"),
        "{got}"
    );
    let f = Format {
        numeric: true,
        stats: true,
        exact: true,
        ..Format::default()
    };
    let got = text(format::listing(None, &mut t, &f, &Names));
    assert!(
        got.contains("  -> 192.168.1.2:80                      7 5000000000      200"),
        "{got}"
    );
}

#[test]
fn largenum_examples() {
    let n = |v: u64, exact: bool| {
        let mut out = Vec::new();
        format::largenum(&mut out, v, exact);
        text(out)
    };
    assert_eq!(n(123456789, false), "  123456K");
    assert_eq!(n(99999999, false), " 99999999");
    assert_eq!(n(1234567890123, false), "    1234G");
    assert_eq!(n(100000000000000, false), "     100T");
    assert_eq!(n(123456789, true), " 123456789");
    assert_eq!(n(5, true), "        5");
}

fn one_service() -> Vec<(ServiceStatus, Vec<DestinationStatus>)> {
    let mut d = dest("192.168.1.2", 80, ForwardMethod::Masquerade, 1);
    d.config = d.config.with_thresholds(100, 50);
    d.active_conns = 3;
    d.inactive_conns = 10;
    d.persistent_conns = 2;
    vec![(svc(tcp("10.0.0.1", 80), "wlc"), vec![d])]
}

#[test]
fn list_thresholds() {
    let f = Format {
        numeric: true,
        thresholds: true,
        ..Format::default()
    };
    let got = text(format::listing(None, &mut one_service(), &f, &Names));
    let want = lines(
        "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn |
  -> RemoteAddress:Port|
TCP  10.0.0.1:80 wlc|
  -> 192.168.1.2:80               100        50         3          10        |
",
    );
    assert_eq!(got, want);
}

#[test]
fn list_persistent_conn() {
    let f = Format {
        numeric: true,
        persistent_conn: true,
        ..Format::default()
    };
    let got = text(format::listing(None, &mut one_service(), &f, &Names));
    let want = lines(
        "Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn |
  -> RemoteAddress:Port|
TCP  10.0.0.1:80 wlc|
  -> 192.168.1.2:80               1         2           3          10        |
",
    );
    assert_eq!(got, want);
}

#[test]
fn list_tun_info() {
    let mut masq = dest("192.168.1.2", 80, ForwardMethod::Masquerade, 1);
    masq.active_conns = 3;
    masq.inactive_conns = 10;
    let mut t = vec![
        (svc(tcp("10.0.0.1", 80), "wlc"), vec![masq]),
        (
            svc(ServiceKey::fwmark(5), "mh"),
            vec![
                tunnel(
                    "192.168.2.3",
                    3,
                    TunnelType::Ipip,
                    0,
                    TunnelChecksum::NoCsum,
                ),
                tunnel("192.168.2.2", 2, TunnelType::Gre, 0, TunnelChecksum::NoCsum),
                tunnel(
                    "192.168.2.1",
                    1,
                    TunnelType::Gue,
                    6080,
                    TunnelChecksum::Csum,
                ),
            ],
        ),
    ];
    let f = Format {
        numeric: true,
        tun_info: true,
        ..Format::default()
    };
    let got = text(format::listing(None, &mut t, &f, &Names));
    let want = lines(
        "Prot LocalAddress:Port Scheduler Flags|
  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn|
TCP  10.0.0.1:80 wlc|
  -> 192.168.1.2:80               Masq    n/a           1      3          10        |
FWM  5 mh|
  -> 192.168.2.1:0                Tunnel  gue:6080:+c   1      0          0         |
  -> 192.168.2.2:0                Tunnel  gre:-c        2      0          0         |
  -> 192.168.2.3:0                Tunnel  ipip          3      0          0         |
",
    );
    assert_eq!(got, want);
}

#[test]
fn single_service_has_no_version_line() {
    let mut t = table(true);
    let (s, mut d) = t.swap_remove(2);
    let f = numeric();
    let mut out = format::title(&f);
    out.extend(format::service_entry(&s, &mut d, &f, &Names));
    let want = lines(
        "Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.1:80 wlc
  -> 127.0.0.1:80                 Local   65535  0          0         
  -> 192.168.1.1:8080             Route   0      0          0         
  -> 192.168.1.2:80               Masq    1      3          10        
",
    );
    assert_eq!(text(out), want);
}

#[test]
fn empty_table() {
    let got = text(format::listing(Some(&info()), &mut [], &numeric(), &Names));
    assert_eq!(
        got,
        "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
    );
}

#[test]
fn fwmarks_print_unsigned() {
    let mut t = vec![(svc(ServiceKey::fwmark(2882430849), "wlc"), vec![])];
    let got = text(format::listing(None, &mut t, &numeric(), &Names));
    assert!(got.contains("FWM  2882430849 wlc\n"), "{got}");
    let f = Format {
        numeric: true,
        rule: true,
        ..Format::default()
    };
    let got = text(format::listing(None, &mut t, &f, &Names));
    assert_eq!(got, "-A -f 2882430849 -s wlc\n");
}

#[test]
fn sorting_reproduces_the_overflowing_comparators() {
    let mut t = vec![
        (svc(tcp("10.0.0.1", 80), "wlc"), vec![]),
        (svc(ServiceKey::fwmark(2882430849), "wlc"), vec![]),
        (svc(ServiceKey::fwmark(3), "wlc"), vec![]),
        (svc(tcp("200.0.0.1", 80), "wlc"), vec![]),
        (svc(tcp("::1", 80), "wlc"), vec![]),
    ];
    let f = Format {
        numeric: true,
        rule: true,
        ..Format::default()
    };
    let got = text(format::listing(None, &mut t, &f, &Names));
    assert_eq!(
        got,
        "-A -f 2882430849 -s wlc\n-A -t 200.0.0.1:80 -s wlc\n-A -t 10.0.0.1:80 -s wlc\n-A -t [::1]:80 -s wlc\n-A -f 3 -s wlc\n"
    );
}

#[test]
fn merge_sort_matches_glibc_on_a_non_transitive_comparator() {
    // 10.x < 200.x < 100.x < 10.x under ipvsadm's comparator: the result
    // depends on the algorithm, and glibc's merge sort gives this order.
    let mk = |a: &str| dest(a, 80, ForwardMethod::Masquerade, 1);
    let mut v = vec![mk("100.0.0.1"), mk("10.0.0.1"), mk("200.0.0.1")];
    format::sort_destinations(&mut v);
    let order: Vec<String> = v.iter().map(|d| d.config.addr.to_string()).collect();
    assert_eq!(order, ["100.0.0.1", "200.0.0.1", "10.0.0.1"]);
}

#[test]
fn forward_methods_and_tunnel_rules() {
    let t = dest("192.168.2.9", 0, ForwardMethod::Other(4), 1);
    let f = Format {
        numeric: true,
        rule: true,
        ..Format::default()
    };
    let s = svc(ServiceKey::fwmark(5), "wlc");
    let got = text(format::service_entry(&s, &mut [t], &f, &Names));
    assert!(
        got.ends_with("-a -f 5 -r 192.168.2.9:0 (null) -w 1\n"),
        "{got}"
    );
    let mut r = tunnel(
        "192.168.2.8",
        1,
        TunnelType::Gue,
        6080,
        TunnelChecksum::RemCsum,
    );
    r.config.forward = ForwardMethod::Tunnel;
    let got = text(format::service_entry(&s, &mut [r], &f, &Names));
    assert!(
        got.ends_with("--tun-type gue --tun-port 6080 --tun-remcsum\n"),
        "{got}"
    );
}

#[test]
fn timeouts_and_daemons() {
    let t = Timeouts {
        tcp: 900,
        tcp_fin: 120,
        udp: 300,
    };
    assert_eq!(
        text(format::timeouts_line(&t)),
        "Timeout (tcp tcpfin udp): 900 120 300\n"
    );
    let mut m = SyncDaemon::new(DaemonState::Master, "eth0");
    m.sync_maxlen = 1472;
    m.mcast_group = Some(ip("224.0.0.81"));
    m.mcast_port = 8848;
    m.mcast_ttl = 1;
    let mut b = SyncDaemon::new(DaemonState::Backup, "eth1");
    b.sync_id = 7;
    b.sync_maxlen = 1472;
    b.mcast_group = Some(ip("ff02::1:2"));
    b.mcast_port = 8848;
    b.mcast_ttl = 1;
    assert_eq!(
        text(format::daemon_lines(&[m, b])),
        "master sync daemon (mcast=eth0, syncid=0, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n\
         backup sync daemon (mcast=eth1, syncid=7, maxlen=1472, group=ff02::1:2, port=8848, ttl=1)\n"
    );
    let old = SyncDaemon::new(DaemonState::Master, "eth0");
    assert_eq!(
        text(format::daemon_lines(&[old])),
        "master sync daemon (mcast=eth0, syncid=0)\n"
    );
    assert_eq!(text(format::daemon_lines(&[])), "");
}

const CONN: &str = "\
Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP C0A80A05 C822 0A000001 0050 C0A80102 0050 ESTABLISHED     899
UDP C0A80A05 14E9 0A000001 0035 C0A80102 0035 UDP             299
TCP C0A80A00 0000 0A000002 01BB C0A80102 01BB NONE           7200
IP  C0A80A00 0000 00000005 0000 C0A80201 0000 NONE             59
TCP 2001:0db8:0000:0000:0000:0000:0000:00ff 9C40 2001:0db8:0000:0000:0000:0000:0000:0001 0050 2001:0db8:0000:0000:0000:0000:0000:000a 0050 SYN_RECV         59
TCP 2001:0db8:0000:0000:0000:0000:0000:00ff 9C41 2001:0db8:0000:0000:0000:0000:0000:0001 0050 C0A80301 0050 ESTABLISHED       5
SCTP C0A80A05 03E8 0A000003 270F C0A80102 270F ESTABLISHED     900
";

#[test]
fn connections() {
    let (got, end) = format::connections(CONN.as_bytes(), &numeric(), &Names);
    assert_eq!(end, None);
    assert_eq!(
        text(got),
        "IPVS connection entries
pro expire state       source             virtual            destination
TCP 14:59  ESTABLISHED 192.168.10.5:51234 10.0.0.1:80        192.168.1.2:80
UDP 04:59  UDP         192.168.10.5:5353  10.0.0.1:53        192.168.1.2:53
TCP 120:00 NONE        192.168.10.0:0     10.0.0.2:443       192.168.1.2:443
IP  00:59  NONE        192.168.10.0:0     0.0.0.5:0          192.168.2.1:0
TCP 00:59  SYN_RECV    [2001:db8::ff]:40000 [2001:db8::1]:80   [2001:db8::a]:80
TCP 00:05  ESTABLISHED [2001:db8::ff]:40001 [2001:db8::1]:80   192.168.3.1:80
SCTP 15:00  ESTABLISHED 192.168.10.5:1000  10.0.0.3:9999      192.168.1.2:9999
"
    );
}

#[test]
fn connections_with_names_and_pe() {
    let (got, _) = format::connections(CONN.as_bytes(), &Format::default(), &Names);
    assert!(text(got).contains(
        "UDP 04:59  UDP         192.168.10.5:mdns  10.0.0.1:domain    192.168.1.2:domain\n"
    ));
    let sip = "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n\
               UDP C0A80A05 13C4 0A000001 13C4 C0A80102 13C4 NONE            120 sip 1234abcd@host\n";
    let f = Format {
        numeric: true,
        persistent_conn: true,
        ..Format::default()
    };
    let (got, _) = format::connections(sip.as_bytes(), &f, &Names);
    assert_eq!(
        text(got),
        "IPVS connection entries
pro expire state       source             virtual            destination        pe name          pe_data
UDP 02:00  NONE        192.168.10.5:5060  10.0.0.1:5060      192.168.1.2:5060 sip                1234abcd@host
"
    );
}

#[test]
fn connection_table_errors() {
    let (got, end) = format::connections(b"", &numeric(), &Names);
    assert!(got.is_empty());
    assert_eq!(end, Some(format::ConnListingError::Empty));
    let input = format!(
        "{}\n{}",
        CONN.lines().take(2).collect::<Vec<_>>().join("\n"),
        "\nTCP"
    );
    let (got, end) = format::connections(input.as_bytes(), &numeric(), &Names);
    assert_eq!(end, Some(format::ConnListingError::BlankLine));
    assert_eq!(text(got).lines().count(), 3);
}

#[test]
fn service_name_family_checks() {
    // An unknown protocol prints `?` in listings and `--xxx-service` in -S.
    let s = svc(
        ServiceKey::Addr {
            protocol: Protocol::Other(99),
            addr: ip("10.0.0.9"),
            port: 1,
        },
        "rr",
    );
    let got = text(format::service_entry(&s, &mut [], &numeric(), &Names));
    assert_eq!(got, "?    10.0.0.9:1 rr\n");
    let f = Format {
        numeric: true,
        rule: true,
        ..Format::default()
    };
    let got = text(format::service_entry(&s, &mut [], &f, &Names));
    assert_eq!(got, "-A --xxx-service 10.0.0.9:1 -s rr\n");
    assert_eq!(s.config.key.family(), AddressFamily::Inet);
}

/// The position-sorting merge sort gives exactly the order of sorting the
/// elements themselves with glibc's top-down merge, even with ipvsadm's
/// overflowing (non-transitive) comparators.
#[test]
fn merge_sort_matches_the_element_merge_sort() {
    fn reference(v: &mut [u32], cmp: fn(&u32, &u32) -> i32) {
        let n = v.len();
        if n <= 1 {
            return;
        }
        let n1 = n / 2;
        reference(&mut v[..n1], cmp);
        reference(&mut v[n1..], cmp);
        let mut merged = Vec::with_capacity(n);
        let (mut i, mut j) = (0, n1);
        while i < n1 && j < n {
            if cmp(&v[i], &v[j]) <= 0 {
                merged.push(v[i]);
                i += 1;
            } else {
                merged.push(v[j]);
                j += 1;
            }
        }
        merged.extend_from_slice(&v[i..n1]);
        merged.extend_from_slice(&v[j..n]);
        v.copy_from_slice(&merged);
    }
    // ipvsadm's fwmark comparator: u32 subtraction read as int.
    let cmp: fn(&u32, &u32) -> i32 = |a, b| a.wrapping_sub(*b) as i32;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for len in [0usize, 1, 2, 3, 7, 64, 100, 1000] {
        let v: Vec<u32> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u32
            })
            .collect();
        let (mut a, mut b) = (v.clone(), v);
        reference(&mut a, cmp);
        ipvs_tools::ipvsadm::format::merge_sort_by(&mut b, cmp);
        assert_eq!(a, b, "length {len}");
    }
}
