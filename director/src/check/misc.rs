//! MISC_CHECK: run a program; its exit status is the result. It runs in its own process
//! group; past its timeout the group gets SIGTERM, then SIGKILL 2 s later (as keepalived).

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use super::{CheckSpec, Failure, MiscCheck, Weight};

/// Grace between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(2);

fn signal_group(pid: Option<u32>, sig: i32) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory involved.
        unsafe {
            libc::kill(-pid, sig);
        }
    }
}

/// MISC_CHECK: exit 0 up; with `dynamic`, 2-255 up with weight `code - 2`; anything else down.
pub(crate) async fn check(spec: &CheckSpec, misc: &MiscCheck) -> Result<Option<Weight>, Failure> {
    let (program, args) = misc
        .argv
        .split_first()
        .ok_or(Failure::Spawn("no program".into()))?;
    let mut command = Command::new(program);
    if let Some((uid, gid)) = misc.user {
        command.uid(uid).gid(gid);
    }
    let mut child = command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Failure::Spawn(format!("{program}: {e}")))?;
    let pid = child.id();
    let limit = misc.timeout.unwrap_or(spec.timing.delay_loop);
    let status = match tokio::time::timeout(limit, child.wait()).await {
        Ok(status) => status.map_err(|e| Failure::Spawn(e.to_string()))?,
        Err(_) => {
            signal_group(pid, libc::SIGTERM);
            if tokio::time::timeout(KILL_GRACE, child.wait())
                .await
                .is_err()
            {
                signal_group(pid, libc::SIGKILL);
                let _ = child.wait().await;
            }
            // Whatever the leader did, leave no member of its group behind.
            signal_group(pid, libc::SIGKILL);
            return Err(Failure::ScriptTimeout);
        }
    };
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(misc.dynamic.then_some(Weight::Configured)),
        (Some(code @ 2..=255), _) if misc.dynamic => Ok(Some(Weight::Set(code as u32 - 2))),
        (Some(code), _) => Err(Failure::ScriptExit(code)),
        (None, Some(sig)) => Err(Failure::ScriptSignal(sig)),
        (None, None) => Err(Failure::ScriptExit(-1)),
    }
}
