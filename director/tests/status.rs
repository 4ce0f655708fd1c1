//! The status view: what the daemon knows about each real server, and its
//! serde form.

use std::time::Duration;

use ipvs_director::director::{Director, Options};
use ipvs_director::keepalived;
use ipvs_director::kernel::MemoryKernel;
use ipvs_director::status::{RealServerState, Status, STATUS_SCHEMA};

/// Real servers on ports nothing listens on, checked with `alpha`, so each
/// starts failed: one plain, one with `inhibit_on_failure`; a third without
/// `alpha` starts alive.
const CONF: &str = "
virtual_server 192.0.2.1 80 {
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    alpha
    quorum 3
    sorry_server 198.51.100.9 80
    real_server 127.0.0.1 9 {
        weight 2
        TCP_CHECK {
            connect_timeout 2
            delay_loop 3600
        }
    }
    real_server 127.0.0.1 19 {
        weight 3
        inhibit_on_failure
        TCP_CHECK {
            connect_timeout 2
            delay_loop 3600
        }
    }
}
virtual_server 192.0.2.2 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 127.0.0.1 29 {
        weight 5
        TCP_CHECK {
            connect_timeout 2
            delay_loop 3600
        }
    }
}
";

#[tokio::test(flavor = "current_thread")]
async fn status_says_failed_inhibited_alive_and_sorry() {
    let parsed = keepalived::parse_str(CONF, "keepalived.conf").unwrap_or_else(|e| panic!("{e}"));
    let options = Options {
        reconcile_interval: Duration::from_secs(3600),
        ..Options::default()
    };
    let (d, _notes) = Director::start(MemoryKernel::new(), &parsed.config, None, options)
        .unwrap_or_else(|e| panic!("{e}"));
    let s = d.status();
    assert_eq!(s.schema, STATUS_SCHEMA);
    assert_eq!(s.daemon.pid, std::process::id());
    assert!(s.daemon.last_reload.is_none());
    assert_eq!(s.virtual_servers.len(), 2);

    let first = &s.virtual_servers[0];
    assert_eq!(first.name, "tcp:192.0.2.1:80");
    assert_eq!(first.services, vec!["tcp:192.0.2.1:80".parse().unwrap()]);
    assert_eq!(first.quorum, 3);
    assert_eq!(first.live_weight, 0);
    assert!(!first.quorum_up);
    let sorry = first.sorry_server.as_ref().expect("sorry server");
    assert_eq!(sorry.addr, "198.51.100.9:80".parse().unwrap());
    assert!(sorry.active);
    let states: Vec<_> = first.real_servers.iter().map(|r| r.state).collect();
    assert_eq!(
        states,
        [RealServerState::Failed, RealServerState::Inhibited]
    );
    assert_eq!(first.real_servers[1].configured_weight, 3);
    let check = &first.real_servers[0].checks[0];
    assert!(check.checker.starts_with("TCP_CHECK"), "{check:?}");
    assert!(!check.up);
    assert!(
        check
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("not checked yet")),
        "{check:?}"
    );

    let second = &s.virtual_servers[1];
    assert!(second.quorum_up);
    assert!(second.sorry_server.is_none());
    assert_eq!(second.real_servers[0].state, RealServerState::Alive);
    assert_eq!(second.real_servers[0].weight, 5);
    assert!(second.real_servers[0].checks[0].up);

    // The serde form: stable names, and it reads back to the same value.
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["schema"], STATUS_SCHEMA);
    assert_eq!(
        json["virtual_servers"][0]["services"][0],
        "tcp:192.0.2.1:80"
    );
    assert_eq!(
        json["virtual_servers"][0]["real_servers"][1]["state"],
        "inhibited"
    );
    assert_eq!(
        json["virtual_servers"][0]["real_servers"][0]["addr"],
        "127.0.0.1:9"
    );
    let back: Status = serde_json::from_value(json).unwrap();
    assert_eq!(back, s);
}

#[tokio::test(flavor = "current_thread")]
async fn the_running_daemon_answers_status_requests() {
    use ipvs_director::director::Control;
    let parsed = keepalived::parse_str(CONF, "keepalived.conf").unwrap_or_else(|e| panic!("{e}"));
    let (d, _notes) = Director::start(
        MemoryKernel::new(),
        &parsed.config,
        None,
        Options::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (control, rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(d.run(rx));
    let (reply, answer) = tokio::sync::oneshot::channel();
    control.send(Control::Status(reply)).unwrap();
    let s = tokio::time::timeout(Duration::from_secs(10), answer)
        .await
        .expect("no answer")
        .expect("reply dropped");
    assert_eq!(s.virtual_servers.len(), 2);
    assert_eq!(
        s.virtual_servers[1].real_servers[0].state,
        RealServerState::Alive
    );
    control.send(Control::Stop).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("did not stop")
        .unwrap();
}
