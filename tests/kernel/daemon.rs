//! Sync daemons: start, list and stop with every option, on a dummy
//! interface.

use ipvs::{DaemonState, SyncDaemon};

use crate::TestNet;

#[test]
fn start_list_stop_with_every_option() {
    let net = TestNet::new();
    net.ip(&["link", "add", "sync0", "type", "dummy"]);
    net.ip(&["link", "set", "sync0", "up", "mtu", "1500"]);
    let mut ipvs = net.open();
    assert!(ipvs.daemons().unwrap().is_empty());

    let mut master = SyncDaemon::new(DaemonState::Master, "sync0");
    master.sync_id = 3;
    master.sync_maxlen = 1400;
    master.mcast_group = Some("239.1.1.1".parse().unwrap());
    master.mcast_port = 9000;
    master.mcast_ttl = 2;
    ipvs.start_daemon(&master).expect("start master");

    let mut backup = SyncDaemon::new(DaemonState::Backup, "sync0");
    backup.sync_id = 7;
    backup.mcast_group = Some("ff02::1:2".parse().unwrap());
    ipvs.start_daemon(&backup).expect("start backup");

    let got = ipvs.daemons().unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0], master);
    assert_eq!(got[1].state, DaemonState::Backup);
    assert_eq!(got[1].sync_id, 7);
    assert_eq!(got[1].mcast_group, backup.mcast_group);
    // Kernel defaults fill what was not given.
    assert_eq!(got[1].mcast_port, 8848);
    assert_eq!(got[1].mcast_ttl, 1);

    let e = ipvs.start_daemon(&master).unwrap_err();
    assert_eq!(e.ipvsadm_message(), "Daemon has already run");

    ipvs.stop_daemon(DaemonState::Master).expect("stop master");
    ipvs.stop_daemon(DaemonState::Backup).expect("stop backup");
    assert!(ipvs.daemons().unwrap().is_empty());
    let e = ipvs.stop_daemon(DaemonState::Master).unwrap_err();
    assert_eq!(e.ipvsadm_message(), "No daemon is running");

    let e = ipvs
        .start_daemon(&SyncDaemon::new(DaemonState::Master, "nosuch0"))
        .unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENODEV));
    assert_eq!(e.ipvsadm_message(), "No such device");
}
