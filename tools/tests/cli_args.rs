//! argv → typed request, or → (message, exit status), for every option and
//! every message of spec §1, with popt's rules and ipvsadm's
//! order-dependent parsing. No kernel is involved.

use std::net::{IpAddr, Ipv4Addr};

use ipvs::{
    DaemonState, Destination, ForwardMethod, Netmask, Service, ServiceFlags, ServiceKey,
    SyncDaemon, Timeouts, TunnelChecksum, TunnelType,
};
use ipvs_tools::ipvsadm::request::Parser;
use ipvs_tools::ipvsadm::sys::Resolver;
use ipvs_tools::ipvsadm::{CliError, Format, ListTarget, Request};

/// A fixed /etc/hosts + /etc/services.
struct Names;

impl Resolver for Names {
    fn host_to_ipv4(&self, name: &[u8]) -> Option<Ipv4Addr> {
        match name {
            b"localhost" => Some(Ipv4Addr::LOCALHOST),
            b"web" => Some(Ipv4Addr::new(192, 0, 2, 10)),
            _ => None,
        }
    }
    fn service_to_port(&self, name: &[u8], proto: &str) -> Option<u16> {
        match (name, proto) {
            (b"http", "tcp") => Some(80),
            (b"domain", "udp") | (b"domain", "tcp") => Some(53),
            _ => None,
        }
    }
    fn addr_to_host(&self, _: IpAddr) -> Option<Vec<u8>> {
        None
    }
    fn port_to_service(&self, _: u16, _: &str) -> Option<Vec<u8>> {
        None
    }
}

fn argv(words: &[&str]) -> Vec<String> {
    std::iter::once("ipvsadm")
        .chain(words.iter().copied())
        .map(String::from)
        .collect()
}

fn parse_words(words: &[&str]) -> Result<Request, CliError> {
    Parser {
        resolver: &Names,
        posix_me_harder: false,
    }
    .parse(&argv(words))
}

fn parse(line: &str) -> Result<Request, CliError> {
    parse_words(&line.split_whitespace().collect::<Vec<_>>())
}

#[track_caller]
fn ok(line: &str) -> Request {
    match parse(line) {
        Ok(r) => r,
        Err(e) => panic!("{line:?}: unexpected error {e:?}"),
    }
}

#[track_caller]
fn err(line: &str) -> (String, i32) {
    match parse(line) {
        Ok(r) => panic!("{line:?}: expected an error, got {r:?}"),
        Err(e) => (String::from_utf8(e.message).unwrap(), e.exit_code),
    }
}

const TRY: &str = "Try `ipvsadm -h' or 'ipvsadm --help' for more information.";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tcp(a: &str, port: u16) -> ServiceKey {
    ServiceKey::tcp(ip(a), port)
}

fn add(key: ServiceKey) -> Service {
    Service::new(key)
}

#[test]
fn no_arguments_lists_with_names() {
    assert_eq!(
        ok(""),
        Request::List {
            target: ListTarget::All,
            format: Format::default()
        }
    );
}

#[test]
fn first_option_must_be_a_command() {
    for line in [
        "-t 1.2.3.4:80 -A",
        "foo",
        "--lis",
        "--foo",
        "-q",
        "-n -L",
        "--start-daemon",
        "--",
        "-A=1",
        "-L=n",
    ] {
        assert_eq!(err(line), (TRY.to_string(), 255), "{line}");
    }
    // argv[0] as typed.
    let e = Parser {
        resolver: &Names,
        posix_me_harder: false,
    }
    .parse(&["/sbin/ipvsadm".to_string(), "-x".to_string()])
    .unwrap_err();
    assert_eq!(
        e.message,
        b"Try `/sbin/ipvsadm -h' or '/sbin/ipvsadm --help' for more information."
    );
}

#[test]
fn later_commands_are_invalid_options() {
    assert_eq!(err("-L -Z"), ("invalid option `-Z'".into(), 2));
    assert_eq!(err("-L -h"), ("invalid option `-h'".into(), 2));
    assert_eq!(err("-L -v"), ("invalid option `-v'".into(), 2));
    assert_eq!(err("-LZ"), ("invalid option `-LZ'".into(), 2));
    assert_eq!(
        err("-L --start-daemon master"),
        ("invalid option `master'".into(), 2)
    );
    assert_eq!(
        err("-L --stop-daemon=backup"),
        ("invalid option `--stop-daemon=backup'".into(), 2)
    );
    assert_eq!(err("-C -R"), ("invalid option `-R'".into(), 2));
}

#[test]
fn popt_errors_after_the_first_option() {
    for (line, msg) in [
        ("-L --foo", "--foo: unknown option"),
        ("-L --time", "--time: unknown option"),
        ("-L --foo=1", "--foo=1: unknown option"),
        ("-A -t", "-t: missing argument"),
        ("-At", "-At: missing argument"),
        (
            "-L --numeric=1",
            "--numeric=1: option does not take an argument",
        ),
        // popt 1.19 (verified against the oracle): a switch followed by
        // '=' inside a cluster takes no argument.
        ("-Ln=1", "-Ln=1: option does not take an argument"),
        ("-Ln==1", "-Ln==1: option does not take an argument"),
        ("-A -t 1.2.3.4:80 -p -5", "-5: unknown option"),
    ] {
        let e = parse(line).unwrap_err();
        assert_eq!(
            (e.message.as_slice(), e.exit_code, e.continues),
            (msg.as_bytes(), 255, true),
            "{line}"
        );
    }
}

#[test]
fn help_and_version() {
    assert_eq!(ok("-h"), Request::Help);
    assert_eq!(ok("--help --foo"), Request::Help);
    assert_eq!(ok("-v"), Request::Version);
    assert_eq!(ok("--version"), Request::Version);
}

/// Spec §1.10, after the first line.
const USAGE: &str = "Usage:
  ipvsadm -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe persistence_engine] [-b sched-flags]
  ipvsadm -D virtual-service
  ipvsadm -C
  ipvsadm -R
  ipvsadm -S [-n]
  ipvsadm -a|e virtual-service -r server-address [options]
  ipvsadm -d virtual-service -r server-address
  ipvsadm -L|l [virtual-service] [options]
  ipvsadm -Z [virtual-service]
  ipvsadm --set tcp tcpfin udp
  ipvsadm --start-daemon {master|backup} [daemon-options]
  ipvsadm --stop-daemon {master|backup}
  ipvsadm -h

Commands:
Either long or short options are allowed.
  --add-service     -A        add virtual service with options
  --edit-service    -E        edit virtual service with options
  --delete-service  -D        delete virtual service
  --clear           -C        clear the whole table
  --restore         -R        restore rules from stdin
  --save            -S        save rules to stdout
  --add-server      -a        add real server with options
  --edit-server     -e        edit real server with options
  --delete-server   -d        delete real server
  --list            -L|-l     list the table
  --zero            -Z        zero counters in a service or all services
  --set tcp tcpfin udp        set connection timeout values
  --start-daemon              start connection sync daemon
  --stop-daemon               stop connection sync daemon
  --help            -h        display this help message

virtual-service:
  --tcp-service|-t  service-address   service-address is host[:port]
  --udp-service|-u  service-address   service-address is host[:port]
  --sctp-service    service-address   service-address is host[:port]
  --fwmark-service|-f fwmark          fwmark is an integer greater than zero

Options:
  --ipv6         -6                   fwmark entry uses IPv6
  --scheduler    -s scheduler         one of rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh,
                                      the default scheduler is wlc.
  --pe            engine              alternate persistence engine may be sip,
                                      not set by default.
  --persistent   -p [timeout]         persistent service
  --netmask      -M netmask           persistent granularity mask
  --real-server  -r server-address    server-address is host (and port)
  --gatewaying   -g                   gatewaying (direct routing) (default)
  --ipip         -i                   ipip encapsulation (tunneling)
  --masquerading -m                   masquerading (NAT)
  --tun-type      type                one of ipip|gue|gre,
                                      the default tunnel type is ipip.
  --tun-port      port                tunnel destination port
  --tun-nocsum                        tunnel encapsulation without checksum
  --tun-csum                          tunnel encapsulation with checksum
  --tun-remcsum                       tunnel encapsulation with remote checksum
  --weight       -w weight            capacity of real server
  --u-threshold  -x uthreshold        upper threshold of connections
  --l-threshold  -y lthreshold        lower threshold of connections
  --connection   -c                   output of current IPVS connections
  --timeout                           output of timeout (tcp tcpfin udp)
  --daemon                            output of daemon information
  --stats                             output of statistics information
  --rate                              output of rate information
  --exact                             expand numbers (display exact values)
  --thresholds                        output of thresholds information
  --persistent-conn                   output of persistent connection info
  --tun-info                          output of tunnel information
  --nosort                            disable sorting output of service/server entries
  --sort                              does nothing, for backwards compatibility
  --ops          -o                   one-packet scheduling
  --numeric      -n                   numeric output of addresses and ports
  --sched-flags  -b flags             scheduler flags (comma-separated)
Daemon Options:
  --syncid sid                        syncid for connection sync (default=255)
  --sync-maxlen length                Max sync message length (default=1472)
  --mcast-interface interface         multicast interface for connection sync
  --mcast-group address               IPv4/IPv6 group (default=224.0.0.81)
  --mcast-port port                   UDP port (default=8848)
  --mcast-ttl ttl                     Multicast TTL (default=1)
";

#[test]
fn usage_text_is_ipvsadms_except_the_first_line() {
    let u = String::from_utf8(ipvs_tools::ipvsadm::table::usage(b"ipvsadm")).unwrap();
    let (first, rest) = u.split_once('\n').unwrap();
    assert_eq!(
        first,
        format!("ipvsadm v1.31 (ipvs-rs {})", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(rest, USAGE);
    // argv[0] as typed, in the 13 synopsis lines only.
    let u = String::from_utf8(ipvs_tools::ipvsadm::table::usage(b"/sbin/ipvsadm")).unwrap();
    assert_eq!(u.matches("/sbin/ipvsadm").count(), 13);
}

#[test]
fn duplicates() {
    assert_eq!(
        err("-A -t 1.2.3.4:80 -u 1.2.3.4:80"),
        ("multiple 'service-address' options specified".into(), 2)
    );
    assert_eq!(
        err("-A -f 1 -f 2"),
        ("multiple 'service-address' options specified".into(), 2)
    );
    assert_eq!(
        err("-a -t 1.2.3.4:80 -r 5.6.7.8 -g -m"),
        ("multiple 'forwarding-method' options specified".into(), 2)
    );
    assert_eq!(
        err("-L -n -n"),
        ("multiple 'numeric' options specified".into(), 2)
    );
    assert_eq!(
        err("-Lnn"),
        ("multiple 'numeric' options specified".into(), 2)
    );
    // -6 and --sort are not tracked.
    assert!(parse("-A -f 1 -6 -6").is_ok());
    assert!(parse("-L --sort --sort").is_ok());
    assert_eq!(ok("-C --sort"), Request::Flush);
}

#[test]
fn leftovers() {
    assert_eq!(err("-L foo"), ("unexpected argument foo".into(), 2));
    assert_eq!(err("foo -L"), ("unexpected argument foo".into(), 2));
    assert_eq!(err("-L -- -n"), ("unexpected argument -n".into(), 2));
    assert_eq!(err("-L -"), ("unexpected argument -".into(), 2));
    assert_eq!(err("--set 1 2 3 4"), ("unexpected argument 4".into(), 2));
    assert_eq!(
        err("--set 1 2"),
        ("--set option requires 3 timeout values".into(), 2)
    );
    assert_eq!(
        err("--set 1 2 x"),
        ("invalid timeout value `x' specified".into(), 2)
    );
    assert_eq!(
        err("--set 1 2 2678401"),
        ("invalid timeout value `2678401' specified".into(), 2)
    );
    assert_eq!(
        ok("--set 900 0 2678400"),
        Request::SetTimeouts(Timeouts {
            tcp: 900,
            tcp_fin: 0,
            udp: 2678400
        })
    );
    assert_eq!(
        ok("--set 1 -- 2 3"),
        Request::SetTimeouts(Timeouts {
            tcp: 1,
            tcp_fin: 2,
            udp: 3
        })
    );
    // An empty word is a leftover.
    assert_eq!(
        parse_words(&["-L", ""]).unwrap_err().message,
        b"unexpected argument "
    );
}

#[test]
fn posixly_correct_stops_at_the_first_word() {
    let p = Parser {
        resolver: &Names,
        posix_me_harder: true,
    };
    assert_eq!(
        p.parse(&argv(&["-L", "foo", "-n"])).unwrap_err().message,
        b"unexpected argument foo"
    );
}

#[test]
fn daemons() {
    assert_eq!(
        err("--start-daemon foo"),
        ("illegal start-daemon parameter specified".into(), 2)
    );
    assert_eq!(
        err("--stop-daemon foo"),
        ("illegal start_daemon specified".into(), 2)
    );
    let mut d = SyncDaemon::new(DaemonState::Master, "eth0");
    assert_eq!(ok("--start-daemon master"), Request::StartDaemon(d.clone()));
    d.mcast_ifn = b"abcdefghijklmno".to_vec();
    d.sync_id = 3;
    d.sync_maxlen = 1400;
    d.mcast_group = Some(ip("239.1.1.1"));
    d.mcast_port = 9000;
    d.mcast_ttl = 2;
    assert_eq!(
        ok("--start-daemon=master --mcast-interface abcdefghijklmnopq --syncid 3 --sync-maxlen 1400 --mcast-group 239.1.1.1 --mcast-port 9000 --mcast-ttl 2"),
        Request::StartDaemon(d)
    );
    let mut b = SyncDaemon::new(DaemonState::Backup, "");
    b.mcast_group = Some(ip("ff02::1:2"));
    assert_eq!(
        ok("--start-daemon backup --mcast-group ff02::1:2 --mcast-interface="),
        Request::StartDaemon({
            b.mcast_ifn = b"eth0".to_vec();
            b
        })
    );
    let mut s = SyncDaemon::new(DaemonState::Backup, "");
    s.sync_id = 7;
    assert_eq!(
        ok("--stop-daemon backup --syncid 7"),
        Request::StopDaemon(s)
    );
    for (line, msg) in [
        (
            "--start-daemon master --syncid 256",
            "illegal syncid specified",
        ),
        (
            "--start-daemon master --sync-maxlen 65508",
            "illegal sync-maxlen specified",
        ),
        (
            "--start-daemon master --sync-maxlen 0",
            "illegal sync-maxlen specified",
        ),
        (
            "--start-daemon master --mcast-group 1.2.3.4",
            "invalid IPv4 mcast-group `1.2.3.4'",
        ),
        (
            "--start-daemon master --mcast-group 224.1",
            "invalid IPv4 mcast-group `224.1'",
        ),
        (
            "--start-daemon master --mcast-group ::1",
            "invalid IPv6 mcast-group `::1'",
        ),
        (
            "--start-daemon master --mcast-port 0",
            "illegal mcast-port specified",
        ),
        (
            "--start-daemon master --mcast-ttl 256",
            "illegal mcast-ttl specified",
        ),
        (
            "--stop-daemon master --mcast-port 1",
            "Illegal 'mcast-port' option with the 'stop-daemon' command",
        ),
        (
            "--start-daemon master -n",
            "Illegal 'numeric' option with the 'start-daemon' command",
        ),
    ] {
        assert_eq!(err(line), (msg.to_string(), 2), "{line}");
    }
}

#[test]
fn services() {
    assert_eq!(
        ok("-A -t 1.2.3.4:80"),
        Request::AddService(add(tcp("1.2.3.4", 80)))
    );
    assert_eq!(
        ok("-A --tcp-service=1.2.3.4:80"),
        Request::AddService(add(tcp("1.2.3.4", 80)))
    );
    assert_eq!(
        ok("-A -t10.1:80"),
        Request::AddService(add(tcp("10.0.0.1", 80)))
    );
    assert_eq!(
        ok("-A -t=10.1:80"),
        Request::AddService(add(tcp("10.0.0.1", 80)))
    );
    assert_eq!(
        ok("-A -t 0x0a000001:80"),
        Request::AddService(add(tcp("10.0.0.1", 80)))
    );
    assert_eq!(
        ok("-A -t localhost:http"),
        Request::AddService(add(tcp("127.0.0.1", 80)))
    );
    assert_eq!(
        ok("-A -t [2001:db8::1]:80"),
        Request::AddService(add(tcp("2001:db8::1", 80)))
    );
    assert_eq!(
        ok("-E -u web:domain -s rr"),
        Request::EditService(add(ServiceKey::udp(ip("192.0.2.10"), 53)).with_scheduler("rr"))
    );
    assert_eq!(
        ok("-A --sctp-service 1.2.3.4:9999"),
        Request::AddService(add(ServiceKey::sctp(ip("1.2.3.4"), 9999)))
    );
    // Service names are looked up with the protocol.
    assert_eq!(
        err("-A -u 1.2.3.4:http").0,
        "illegal virtual server address[:port] specified"
    );
    assert_eq!(
        ok("-D -t 1.2.3.4:80"),
        Request::DeleteService(tcp("1.2.3.4", 80))
    );
    for line in [
        "-A -t 80",
        "-A -t [::1]",
        "-A -t [::1]x80",
        "-A -t [::1]:",
        "-A -t nowhere:80",
        "-A -t 1.2.3.4:65536",
        "-A -t 1.2.3.4:-1x",
        "-Ltn 1.2.3.4:80",
    ] {
        assert_eq!(
            err(line),
            ("illegal virtual server address[:port] specified".into(), 2),
            "{line}"
        );
    }
    // An unbracketed IPv6 literal never has a port; brackets around IPv4
    // lose the port.
    assert_eq!(
        err("-A -t 2001:db8::1:80"),
        ("Zero port specified for non-persistent service".into(), 2)
    );
    assert_eq!(
        err("-A -t [1.2.3.4]:80"),
        ("Zero port specified for non-persistent service".into(), 2)
    );
    assert_eq!(
        err("-A -t 1.2.3.4"),
        ("Zero port specified for non-persistent service".into(), 2)
    );
    assert_eq!(
        ok("-A -t 1.2.3.4 -p"),
        Request::AddService(add(tcp("1.2.3.4", 0)).with_persistence(360))
    );
    assert_eq!(
        ok("-Lnt 1.2.3.4:80"),
        Request::List {
            target: ListTarget::Service(tcp("1.2.3.4", 80)),
            format: Format {
                numeric: true,
                ..Format::default()
            },
        }
    );
}

#[test]
fn fwmarks() {
    assert_eq!(
        ok("-A -f 1"),
        Request::AddService(add(ServiceKey::fwmark(1)))
    );
    assert_eq!(
        ok("-A -f 4294967295 -6"),
        Request::AddService(add(ServiceKey::fwmark6(u32::MAX)))
    );
    assert_eq!(
        ok("-A -f +7"),
        Request::AddService(add(ServiceKey::fwmark(7)))
    );
    for bad in ["0", "-1", "4294967296", "x", "1x", ""] {
        let e = parse_words(&["-A", "-f", bad]).unwrap_err();
        assert_eq!(
            e.message,
            format!("invalid fwmark value `{bad}' specified").into_bytes()
        );
        assert_eq!(e.exit_code, 2);
    }
    assert_eq!(err("-A -6 -f 1"), ("-6 used before -f\n".into(), 2));
    assert_eq!(
        err("-A -t 1.2.3.4:80 -6"),
        ("-6 used before -f\n".into(), 2)
    );
    // ops is fine on fwmark services.
    let mut s = add(ServiceKey::fwmark(1));
    s.flags = ServiceFlags::ONE_PACKET;
    assert_eq!(ok("-A -f 1 -o"), Request::AddService(s));
}

#[test]
fn scheduler_persistence_netmask_pe() {
    assert_eq!(
        ok("-A -t 1.2.3.4:80 -s abcdefghijklmnopqrstu"),
        Request::AddService(add(tcp("1.2.3.4", 80)).with_scheduler("abcdefghijklmno"))
    );
    assert_eq!(
        ok("-A -t 1.2.3.4:80 -s="),
        Request::AddService(add(tcp("1.2.3.4", 80)))
    );
    let p = |t: u32, mask: [u8; 4]| {
        let mut s = add(tcp("1.2.3.4", 80)).with_persistence(t);
        s.netmask = Netmask::Ipv4(Ipv4Addr::from(mask));
        Request::AddService(s)
    };
    assert_eq!(ok("-A -t 1.2.3.4:80 -p"), p(360, [255; 4]));
    assert_eq!(ok("-A -t 1.2.3.4:80 -p 600"), p(600, [255; 4]));
    assert_eq!(ok("-A -t 1.2.3.4:80 -p600"), p(600, [255; 4]));
    assert_eq!(ok("-A -t 1.2.3.4:80 --persistent=600"), p(600, [255; 4]));
    assert_eq!(
        ok("-A -t 1.2.3.4:80 -p -M 255.255.255.0"),
        p(360, [255, 255, 255, 0])
    );
    assert_eq!(ok("-A -t 1.2.3.4:80 -p -M 10"), p(360, [0, 0, 0, 10]));
    assert_eq!(ok("-A -t 1.2.3.4:80 -M localhost"), {
        let mut s = add(tcp("1.2.3.4", 80));
        s.netmask = Netmask::Ipv4(Ipv4Addr::LOCALHOST);
        Request::AddService(s)
    });
    assert_eq!(ok("-A -t 1.2.3.4:80 -p 2678400"), p(2678400, [255; 4]));
    for (line, msg) in [
        (
            "-A -t 1.2.3.4:80 -p 0",
            "invalid timeout value `0' specified",
        ),
        (
            "-A -t 1.2.3.4:80 -p 2678401",
            "invalid timeout value `2678401' specified",
        ),
        (
            "-A -t 1.2.3.4:80 -p x",
            "invalid timeout value `x' specified",
        ),
        (
            "-A -t 1.2.3.4:80 -M nowhere",
            "illegal virtual server persistent mask specified",
        ),
        ("-A -t [::1]:80 -M 129", "illegal ipv6 netmask specified"),
        ("-A -t [::1]:80 -M 0", "illegal ipv6 netmask specified"),
        ("-A -t [::1]:80 -M x", "illegal ipv6 netmask specified"),
    ] {
        assert_eq!(err(line), (msg.to_string(), 2), "{line}");
    }
    let v6 = |prefix: u32| {
        let mut s = add(tcp("::1", 80)).with_persistence(360);
        s.netmask = Netmask::Ipv6Prefix(prefix);
        Request::AddService(s)
    };
    assert_eq!(ok("-A -t [::1]:80 -p -M 64"), v6(64));
    assert_eq!(ok("-A -t [::1]:80 -p -M 64abc"), v6(64));
    // -M before the IPv6 service is parsed as IPv4 and then reset to 128.
    assert_eq!(ok("-A -M 64 -t [::1]:80 -p"), v6(128));
    let mut f6 = add(ServiceKey::fwmark6(1)).with_persistence(360);
    assert_eq!(
        ok("-A -f 1 -M 255.255.0.0 -6 -p"),
        Request::AddService(f6.clone())
    );
    f6.netmask = Netmask::Ipv6Prefix(48);
    assert_eq!(ok("-A -f 1 -6 -M 48 -p"), Request::AddService(f6));
    let mut pe = add(tcp("1.2.3.4", 80));
    pe.pe_name = Some("abcdefghijklmnop".into());
    assert_eq!(
        ok("-A -t 1.2.3.4:80 --pe abcdefghijklmnopqrs"),
        Request::AddService(pe.clone())
    );
    // The kernel takes a 16-character name (and answers ENOENT, "Scheduler
    // or persistence engine not found", as the oracle shows): it must reach
    // the kernel, not fail in the library as an invalid argument.
    assert!(pe.to_attributes().is_ok());
}

#[test]
fn sched_flags() {
    let f = |sched: &str, flags: ServiceFlags| {
        let mut s = add(tcp("1.2.3.4", 80)).with_scheduler(sched);
        s.flags = flags;
        Request::AddService(s)
    };
    assert_eq!(
        ok("-A -t 1.2.3.4:80 -b flag-1,,flag-3"),
        f("wlc", ServiceFlags::SCHED_1 | ServiceFlags::SCHED_3)
    );
    assert_eq!(
        ok("-A -t 1.2.3.4:80 -b sh-port,sh-fallback -s sh"),
        f("sh", ServiceFlags::SH_PORT | ServiceFlags::SH_FALLBACK)
    );
    assert_eq!(
        ok("-A -t 1.2.3.4:80 -s mh -b mh-port"),
        f("mh", ServiceFlags::MH_PORT)
    );
    assert_eq!(
        ok("-A -t 1.2.3.4:80 -b="),
        f("wlc", ServiceFlags::default())
    );
    for (line, msg) in [
        (
            "-A -t 1.2.3.4:80 -b sh-port",
            "incompatible scheduler flag `sh-port'",
        ),
        (
            "-A -t 1.2.3.4:80 -s mh -b sh-fallback",
            "incompatible scheduler flag `sh-fallback'",
        ),
        (
            "-A -t 1.2.3.4:80 -s sh -b mh-port",
            "incompatible scheduler flag `mh-port'",
        ),
        ("-A -t 1.2.3.4:80 -b foo", "invalid scheduler flag `foo'"),
        (
            "-A -t 1.2.3.4:80 -b flag-1,foo",
            "invalid scheduler flag `foo'",
        ),
        // Deliberate difference: ipvsadm 1.31 crashes here.
        ("-A -t 1.2.3.4:80 -b ,", "invalid scheduler flag `,'"),
        ("-A -t 1.2.3.4:80 -b ,,,", "invalid scheduler flag `,,,'"),
        // -b is parsed before the legality table.
        (
            "-a -t 1.2.3.4:80 -r 5.6.7.8 -b foo",
            "invalid scheduler flag `foo'",
        ),
        (
            "-a -t 1.2.3.4:80 -r 5.6.7.8 -b flag-1",
            "Illegal 'sched-flags' option with the 'add-server' command",
        ),
    ] {
        assert_eq!(err(line), (msg.to_string(), 2), "{line}");
    }
}

#[test]
fn one_packet_scheduling() {
    assert_eq!(
        err("-A -t 1.2.3.4:80 -o"),
        (
            "One-Packet Scheduling is only for UDP virtual services".into(),
            2
        )
    );
    let mut s = add(ServiceKey::udp(ip("1.2.3.4"), 53));
    s.flags = ServiceFlags::ONE_PACKET;
    assert_eq!(ok("-A -u 1.2.3.4:53 -o"), Request::AddService(s));
}

fn server(a: &str, port: u16, fwd: ForwardMethod) -> Destination {
    Destination::new(ip(a), port, fwd)
}

#[test]
fn real_servers() {
    let k = tcp("10.0.0.9", 80);
    let mut d = server("192.168.5.5", 8080, ForwardMethod::Masquerade).with_weight(70000);
    d.upper_threshold = 10;
    d.lower_threshold = 5;
    assert_eq!(
        ok("-a -t 10.0.0.9:80 -r 192.168.5.5:8080 -m -w 70000 -x 10 -y 5"),
        Request::AddServer(k, d)
    );
    // -g (the default) and -i force the service port.
    assert_eq!(
        ok("-a -t 10.0.0.9:80 -r 192.168.5.5:8080"),
        Request::AddServer(k, server("192.168.5.5", 80, ForwardMethod::DirectRoute))
    );
    assert_eq!(
        ok("-e -t 10.0.0.9:80 -r 192.168.5.5:8080 -i"),
        Request::EditServer(k, server("192.168.5.5", 80, ForwardMethod::Tunnel))
    );
    // No port: the service port as known when -r is parsed.
    assert_eq!(
        ok("-a -t 10.0.0.9:80 -r 192.168.5.5 -m"),
        Request::AddServer(k, server("192.168.5.5", 80, ForwardMethod::Masquerade))
    );
    assert_eq!(
        ok("-a -r 192.168.5.5 -t 10.0.0.9:80 -m"),
        Request::AddServer(k, server("192.168.5.5", 0, ForwardMethod::Masquerade))
    );
    // Service names in -r need the protocol, known only after -t.
    assert_eq!(
        ok("-a -t 10.0.0.9:80 -r 192.168.5.5:http -m"),
        Request::AddServer(k, server("192.168.5.5", 80, ForwardMethod::Masquerade))
    );
    assert_eq!(
        err("-a -r 192.168.5.5:http -t 10.0.0.9:80 -m").0,
        "illegal real server address[:port] specified"
    );
    // fwmark services keep the real-server port and name ports as TCP.
    assert_eq!(
        ok("-a -f 5 -r 192.168.5.5:http"),
        Request::AddServer(
            ServiceKey::fwmark(5),
            server("192.168.5.5", 80, ForwardMethod::DirectRoute)
        )
    );
    assert_eq!(
        ok("-d -t 10.0.0.9:80 -r 192.168.5.5:8080"),
        Request::DeleteServer(k, server("192.168.5.5", 8080, ForwardMethod::DirectRoute))
    );
    // Mixed families only for tunnels.
    assert_eq!(
        err("-a -t 10.0.0.9:80 -r [2001:db8::5]:80 -m"),
        (
            "Different address family is allowed only for tunneling servers".into(),
            2
        )
    );
    assert_eq!(
        ok("-a -t 10.0.0.9:80 -r [2001:db8::5]:80 -i"),
        Request::AddServer(k, server("2001:db8::5", 80, ForwardMethod::Tunnel))
    );
    for (line, msg) in [
        ("-a -t 10.0.0.9:80 -r 5.6.7.8 -w -1", "illegal weight specified"),
        ("-a -t 10.0.0.9:80 -r 5.6.7.8 -w 2147483648", "illegal weight specified"),
        ("-a -t 10.0.0.9:80 -r 5.6.7.8 -x -1", "illegal u_threshold specified"),
        ("-a -t 10.0.0.9:80 -r 5.6.7.8 -y x", "illegal l_threshold specified"),
        ("-a -t 10.0.0.9:80 -r nowhere", "illegal real server address[:port] specified"),
        ("-a -t 10.0.0.9:80 -r 5.6.7.8 --tun-type foo", "illegal tunnel type specified"),
        ("-a -t 10.0.0.9:80 -r 5.6.7.8 --tun-port 0", "illegal tunnel port specified"),
        ("-a -t 10.0.0.9:80 -r 5.6.7.8 --tun-type gue", "Tunnel options conflict with forward method"),
        ("-a -t 10.0.0.9:80 -r 5.6.7.8 -i --tun-type gue", "You need to supply the 'tun-port' option for the 'gue' tunnel type"),
        ("-a -t 10.0.0.9:80 -r 5.6.7.8 -i --tun-port 1", "Illegal 'tun-port' option with the 'ipip' tunnel type"),
        ("-a -t 10.0.0.9:80 -r 5.6.7.8 -i --tun-nocsum", "Illegal 'tun-nocsum' option with the 'ipip' tunnel type"),
        ("-a -t 10.0.0.9:80 -r 5.6.7.8 -i --tun-type gre --tun-remcsum", "Illegal 'tun-remcsum' option with the 'gre' tunnel type"),
        ("-a -t 10.0.0.9:80 -r 5.6.7.8 -i --tun-type gre --tun-csum --tun-nocsum", "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gre' tunnel type"),
        ("-a -t 10.0.0.9:80 -r 5.6.7.8 -i --tun-type gue --tun-port 1 --tun-remcsum --tun-csum", "The option 'tun-remcsum' conflicts with the 'tun-csum' option in the 'gue' tunnel type"),
        ("-a -t 10.0.0.9:80 -r 5.6.7.8 --tun-info", "Illegal 'tun-info' option with the 'add-server' command"),
        ("-d -t 10.0.0.9:80 -r 5.6.7.8 -m", "Illegal 'forwarding-method' option with the 'delete-server' command"),
        ("-a -t 10.0.0.9:80", "You need to supply the 'real-server' option for the 'add-server' command"),
        ("-a -r 5.6.7.8", "You need to supply the 'service-address' option for the 'add-server' command"),
    ] {
        assert_eq!(err(line), (msg.to_string(), 2), "{line}");
    }
    let mut g = server("5.6.7.8", 0, ForwardMethod::Tunnel);
    g.tunnel_type = TunnelType::Gue;
    g.tunnel_port = 6080;
    g.tunnel_flags = TunnelChecksum::RemCsum;
    assert_eq!(
        ok("-a -f 5 -r 5.6.7.8 -i --tun-type gue --tun-port 6080 --tun-remcsum"),
        Request::AddServer(ServiceKey::fwmark(5), g)
    );
}

#[test]
fn legality_table() {
    for (line, msg) in [
        ("-A", "You need to supply the 'service-address' option for the 'add-service' command"),
        ("-A -t 1.2.3.4:80 -n", "Illegal 'numeric' option with the 'add-service' command"),
        ("-E -t 1.2.3.4:80 -r 1.1.1.1", "Illegal 'real-server' option with the 'edit-service' command"),
        ("-D -t 1.2.3.4:80 -s rr", "Illegal 'scheduler' option with the 'delete-service' command"),
        ("-C -n", "Illegal 'numeric' option with the 'flush' command"),
        ("-R -n", "Illegal 'numeric' option with the 'restore' command"),
        ("-S --nosort", "Illegal 'nosort' option with the 'save' command"),
        ("-S -c", "Illegal 'connection' option with the 'save' command"),
        ("--set 1 2 3 -n", "Illegal 'numeric' option with the 'set' command"),
        ("-Z -n", "Illegal 'numeric' option with the 'zero' command"),
        ("-L -c -t 1.2.3.4:80", "The option 'service-address' conflicts with the 'connection' option in the 'list' command"),
        ("-L --daemon --timeout", "The option 'daemon' conflicts with the 'timeout' option in the 'list' command"),
        ("-L -s rr", "Illegal 'scheduler' option with the 'list' command"),
        ("-L -c --stats", "options conflicts in the list command"),
        ("-L --timeout --rate", "options conflicts in the list command"),
        ("-L --daemon --persistent-conn", "options conflicts in the list command"),
        // The first failing column wins, whatever the argv order.
        ("-A -o -n -t 1.2.3.4:80", "Illegal 'numeric' option with the 'add-service' command"),
    ] {
        assert_eq!(err(line), (msg.to_string(), 2), "{line}");
    }
    // Errors while parsing come before the table.
    assert_eq!(err("-A -w x"), ("illegal weight specified".into(), 2));
    assert_eq!(
        err("-A -t bad -t 1.2.3.4:80"),
        ("illegal virtual server address[:port] specified".into(), 2)
    );
    assert_eq!(
        err("-L foo -n -n"),
        ("multiple 'numeric' options specified".into(), 2)
    );
}

#[test]
fn lists() {
    let l = |target, format| Request::List { target, format };
    let n = Format {
        numeric: true,
        ..Format::default()
    };
    assert_eq!(ok("-L"), l(ListTarget::All, Format::default()));
    assert_eq!(ok("-l -n"), l(ListTarget::All, n));
    assert_eq!(ok("--list --numeric"), l(ListTarget::All, n));
    assert_eq!(ok("-Lnc"), l(ListTarget::Connections, n));
    assert_eq!(
        ok("-L -c --persistent-conn"),
        l(
            ListTarget::Connections,
            Format {
                persistent_conn: true,
                ..Format::default()
            }
        )
    );
    assert_eq!(
        ok("-L -c --exact"),
        l(
            ListTarget::Connections,
            Format {
                exact: true,
                ..Format::default()
            }
        )
    );
    assert_eq!(
        ok("-L --timeout"),
        l(ListTarget::Timeouts, Format::default())
    );
    assert_eq!(ok("-L --daemon"), l(ListTarget::Daemons, Format::default()));
    assert_eq!(ok("-L --syncid 5"), l(ListTarget::All, Format::default()));
    assert_eq!(
        ok("-L --stats --rate --thresholds --nosort -X --tun-info"),
        l(
            ListTarget::All,
            Format {
                stats: true,
                rate: true,
                thresholds: true,
                nosort: true,
                exact: true,
                tun_info: true,
                ..Format::default()
            }
        )
    );
    assert_eq!(
        ok("-L -f 7 -6"),
        l(
            ListTarget::Service(ServiceKey::fwmark6(7)),
            Format::default()
        )
    );
    assert_eq!(
        ok("-S"),
        Request::Save {
            format: Format {
                rule: true,
                ..Format::default()
            }
        }
    );
    assert_eq!(
        ok("-S -n"),
        Request::Save {
            format: Format {
                rule: true,
                numeric: true,
                ..Format::default()
            }
        }
    );
    assert_eq!(ok("-R"), Request::Restore);
    assert_eq!(ok("-C"), Request::Flush);
}

#[test]
fn zero() {
    assert_eq!(ok("-Z"), Request::Zero(None));
    // libipvs sends no service for an all-zero address and port.
    assert_eq!(ok("-Z -t 0.0.0.0:0"), Request::Zero(None));
    assert_eq!(
        ok("-Z -t 0.0.0.0:80"),
        Request::Zero(Some(tcp("0.0.0.0", 80)))
    );
    assert_eq!(ok("-Z -f 3"), Request::Zero(Some(ServiceKey::fwmark(3))));
}

#[test]
fn popt_argument_expansion() {
    // popt replaces `!#:+` by the next non-option word.
    assert_eq!(
        parse_words(&["-A", "-t", "1.2.3.4:!#:+", "80"]).unwrap(),
        Request::AddService(add(tcp("1.2.3.4", 80)))
    );
}
