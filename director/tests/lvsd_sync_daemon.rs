//! `lvs_sync_daemon`: which connection-sync daemons lvsd runs, on the
//! in-memory kernel (`MemoryKernel` reports daemons with the kernel's
//! defaults filled in, as the kernel does). The lab's director suite
//! compares `ipvsadm -L --daemon` with keepalived's.

use std::path::{Path, PathBuf};

use ipvs::{Change, DaemonState, SyncDaemon};
use ipvs_director::director::{Director, Note, Options};
use ipvs_director::keepalived;
use ipvs_director::kernel::{with_kernel_defaults, MemoryKernel};
use tokio::sync::mpsc::UnboundedReceiver;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lvsd-syncd-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn config(dir: &Path, global: &str) -> keepalived::Config {
    let conf = format!(
        "global_defs {{
    {global}
}}
virtual_server 192.0.2.1 80 {{
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 198.51.100.2 80 {{
        weight 1
    }}
}}
"
    );
    let path = dir.join("keepalived.conf");
    std::fs::write(&path, conf).unwrap();
    keepalived::parse_file(&path)
        .unwrap_or_else(|e| panic!("{e}"))
        .config
}

fn start(
    kernel: &MemoryKernel,
    config: &keepalived::Config,
) -> (Director<MemoryKernel>, UnboundedReceiver<Note>) {
    Director::start(kernel.clone(), config, None, Options::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn daemon_writes(kernel: &MemoryKernel) -> Vec<Change> {
    kernel
        .state()
        .writes
        .iter()
        .filter(|c| matches!(c, Change::StartDaemon(_) | Change::StopDaemon(_)))
        .cloned()
        .collect()
}

fn notes(rx: &mut UnboundedReceiver<Note>) -> Vec<Note> {
    let mut v = Vec::new();
    while let Ok(n) = rx.try_recv() {
        v.push(n);
    }
    v
}

#[test]
fn without_an_instance_both_daemons_run_and_a_restart_writes_nothing() {
    let dir = temp_dir("both");
    let c = config(&dir, "lvs_sync_daemon eth1 id 7 port 8850");
    let kernel = MemoryKernel::new();
    let (d, _notes) = start(&kernel, &c);
    let master = SyncDaemon::new(DaemonState::Master, "eth1")
        .with_sync_id(7)
        .with_mcast_port(8850);
    let backup = SyncDaemon::new(DaemonState::Backup, "eth1")
        .with_sync_id(7)
        .with_mcast_port(8850);
    assert_eq!(
        daemon_writes(&kernel),
        [
            Change::StartDaemon(master.clone()),
            Change::StartDaemon(backup.clone())
        ]
    );
    assert_eq!(
        kernel.state().daemons,
        [with_kernel_defaults(&master), with_kernel_defaults(&backup)]
    );
    drop(d);

    // A restart on the kernel as the first run left it: no write at all.
    let writes = kernel.write_count();
    let (d, _notes) = start(&kernel, &c);
    assert_eq!(kernel.write_count(), writes, "{:#?}", kernel.state().writes);
    drop(d);

    // A daemon running with other settings is replaced.
    kernel.state().daemons[1].sync_id = 9;
    let (_d, _notes) = start(&kernel, &c);
    assert_eq!(
        daemon_writes(&kernel)[2..],
        [
            Change::StopDaemon(DaemonState::Backup),
            Change::StartDaemon(backup.clone())
        ]
    );
}

#[test]
fn reloads_change_or_keep_the_daemons() {
    let dir = temp_dir("reload");
    let kernel = MemoryKernel::new();
    let (mut d, _notes) = start(&kernel, &config(&dir, "lvs_sync_daemon eth1"));
    assert_eq!(kernel.state().daemons.len(), 2);
    assert_eq!(kernel.state().daemons[0].sync_id, 0);

    // The same daemons: nothing written.
    let writes = kernel.write_count();
    assert!(d.reload_config(&config(&dir, "lvs_sync_daemon eth1 id 0"), vec![]));
    assert_eq!(kernel.write_count(), writes);

    // Another sync id: both restarted with it.
    assert!(d.reload_config(&config(&dir, "lvs_sync_daemon eth1 id 3"), vec![]));
    assert_eq!(
        daemon_writes(&kernel)[2..],
        [
            Change::StopDaemon(DaemonState::Master),
            Change::StartDaemon(SyncDaemon::new(DaemonState::Master, "eth1").with_sync_id(3)),
            Change::StopDaemon(DaemonState::Backup),
            Change::StartDaemon(SyncDaemon::new(DaemonState::Backup, "eth1").with_sync_id(3)),
        ]
    );
    assert!(kernel.state().daemons.iter().all(|x| x.sync_id == 3));

    // lvs_sync_daemon removed, or following a VRRP instance: the daemons
    // are left running, as keepalived's checker leaves them.
    let writes = kernel.write_count();
    assert!(d.reload_config(&config(&dir, ""), vec![]));
    assert!(d.reload_config(&config(&dir, "lvs_sync_daemon eth1 inst VI_1"), vec![]));
    d.reconcile();
    assert_eq!(kernel.write_count(), writes);
    assert_eq!(kernel.state().daemons.len(), 2);
    // ...and when lvsd stops.
    d.stop();
    assert_eq!(kernel.write_count(), writes);
    assert_eq!(kernel.state().daemons.len(), 2);
}

#[test]
fn with_a_vrrp_instance_lvsd_leaves_the_daemons_to_vrrp() {
    let dir = temp_dir("inst");
    // A master started by keepalived's VRRP process (sync id 5) runs.
    let kernel = MemoryKernel::new();
    let vrrp_master =
        with_kernel_defaults(&SyncDaemon::new(DaemonState::Master, "eth1").with_sync_id(5));
    kernel.state().daemons.push(vrrp_master.clone());
    let (mut d, mut rx) = start(&kernel, &config(&dir, "lvs_sync_daemon eth1 inst VI_1"));
    assert!(daemon_writes(&kernel).is_empty());
    assert_eq!(kernel.state().daemons, std::slice::from_ref(&vrrp_master));
    let warned = notes(&mut rx).into_iter().any(|n| match n {
        Note::Warning(w) => w.contains("VRRP instance VI_1"),
        _ => false,
    });
    assert!(warned, "no notice that lvsd leaves the daemons to VRRP");

    // Nor does a reload to a configuration without lvs_sync_daemon.
    assert!(d.reload_config(&config(&dir, ""), vec![]));
    assert!(daemon_writes(&kernel).is_empty());
    assert_eq!(kernel.state().daemons, [vrrp_master]);
}

#[test]
fn drift_and_refusals_are_repaired_at_the_next_full_reconcile() {
    let dir = temp_dir("retry");
    let kernel = MemoryKernel::new();
    kernel.state().refuse_daemons = true;
    let (mut d, mut rx) = start(&kernel, &config(&dir, "lvs_sync_daemon eth1 id 2"));
    assert!(kernel.state().daemons.is_empty());
    let failed = notes(&mut rx)
        .into_iter()
        .filter(|n| matches!(n, Note::ChangeFailed { .. }))
        .count();
    assert_eq!(failed, 2, "both starts refused and said so");

    // The interface appears: the next full reconcile starts them.
    kernel.state().refuse_daemons = false;
    d.reconcile();
    assert_eq!(kernel.state().daemons.len(), 2);

    // Behind lvsd's back: the backup stopped. Back at the next reconcile;
    // one that finds them as wanted writes nothing.
    kernel.state().daemons.pop();
    d.reconcile();
    assert_eq!(kernel.state().daemons.len(), 2);
    let writes = kernel.write_count();
    d.reconcile();
    assert_eq!(kernel.write_count(), writes);
    assert_eq!(
        daemon_writes(&kernel),
        [
            Change::StartDaemon(SyncDaemon::new(DaemonState::Master, "eth1").with_sync_id(2)),
            Change::StartDaemon(SyncDaemon::new(DaemonState::Backup, "eth1").with_sync_id(2)),
            Change::StartDaemon(SyncDaemon::new(DaemonState::Backup, "eth1").with_sync_id(2)),
        ]
    );
}
