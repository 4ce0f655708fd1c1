//! Notify scripts (`notify_up`, `notify_down`, `quorum_up`, `quorum_down`):
//! spawned, not waited on by the caller, bounded in number and in time.
//!
//! A script runs in its own process group with its standard streams on
//! `/dev/null`, as its configured user (else `script_user`, else the
//! daemon's). At most [`Scripts::limit`] run at once (more are skipped and
//! said so); one still running after the timeout gets SIGTERM, then SIGKILL
//! two seconds later, as keepalived does with its scripts.

use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::process::Command;

use crate::desired::resolve_user;
use crate::keepalived::{Global, Script};

/// What happened to a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptOutcome {
    /// It was started.
    Started,
    /// It could not be started.
    Failed(String),
    /// Too many scripts were running; it was not started.
    Skipped,
}

/// The daemon's script runner.
#[derive(Debug, Clone)]
pub struct Scripts {
    running: Arc<AtomicUsize>,
    limit: usize,
    timeout: Duration,
}

fn kill_group(pid: Option<u32>, sig: i32) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill(2) on the script's process group; no memory involved.
        unsafe {
            libc::kill(-pid, sig);
        }
    }
}

impl Scripts {
    /// A runner allowing `limit` scripts at once, each for at most `timeout`.
    pub fn new(limit: usize, timeout: Duration) -> Scripts {
        Scripts {
            running: Arc::new(AtomicUsize::new(0)),
            limit,
            timeout,
        }
    }

    /// The most scripts running at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Scripts running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }

    /// Starts a script; must be called inside a tokio runtime (a task reaps
    /// it and enforces the timeout).
    pub fn spawn(&self, script: &Script, global: &Global) -> ScriptOutcome {
        let Some((program, args)) = script.argv.split_first() else {
            return ScriptOutcome::Failed("empty script".into());
        };
        if self.running.fetch_add(1, Ordering::Relaxed) >= self.limit {
            self.running.fetch_sub(1, Ordering::Relaxed);
            return ScriptOutcome::Skipped;
        }
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        if let Some(u) = script.user.as_ref().or(global.script_user.as_ref()) {
            match resolve_user(u) {
                Ok((uid, gid)) => {
                    command.uid(uid).gid(gid);
                }
                Err(e) => {
                    self.running.fetch_sub(1, Ordering::Relaxed);
                    return ScriptOutcome::Failed(e);
                }
            }
        }
        let mut child = match command.spawn() {
            Ok(c) => c,
            Err(e) => {
                self.running.fetch_sub(1, Ordering::Relaxed);
                return ScriptOutcome::Failed(e.to_string());
            }
        };
        let running = self.running.clone();
        let timeout = self.timeout;
        tokio::spawn(async move {
            let pid = child.id();
            if tokio::time::timeout(timeout, child.wait()).await.is_err() {
                kill_group(pid, libc::SIGTERM);
                if tokio::time::timeout(Duration::from_secs(2), child.wait())
                    .await
                    .is_err()
                {
                    kill_group(pid, libc::SIGKILL);
                    let _ = child.wait().await;
                }
            }
            running.fetch_sub(1, Ordering::Relaxed);
        });
        ScriptOutcome::Started
    }
}
