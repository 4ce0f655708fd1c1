//! Drains a real server with [`ipvs::drain::Drain`]: weight 0 at once (no new
//! connections), then waits until the kernel forwards no connection to it, or until the
//! deadline, and deletes it. Prints one line per state it sees, so that a script (the
//! lab's `drain` forwarding case) can follow it.
//!
//! ```text
//! drain SERVICE REAL_SERVER DEADLINE_SECONDS
//!     SERVICE      tcp:VIP:PORT, udp:VIP:PORT, fwm:MARK ...
//!     REAL_SERVER  ADDR:PORT (its forwarding method is read from the kernel)
//! ```
//!
//! Output: `quiesced`, then `draining N` each time the count of connections changes,
//! then `empty` (or `deadline N`, or `gone`), then `deleted`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ipvs::drain::{Drain, DrainState};
use ipvs::{Ipvs, ServiceKey};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn run(args: &[String]) -> Result<()> {
    let [service, server, deadline] = args else {
        return Err("usage: drain SERVICE REAL_SERVER DEADLINE_SECONDS".into());
    };
    let key: ServiceKey = service.parse()?;
    let server: SocketAddr = server.parse()?;
    let deadline = Instant::now() + Duration::from_secs(deadline.parse()?);
    let mut ipvs = Ipvs::open()?;
    let current = ipvs
        .destinations(&key)?
        .into_iter()
        .find(|d| d.config.addr == server.ip() && d.config.port == server.port())
        .ok_or("no such real server")?;
    let drain = Drain::start(&mut ipvs, &key, &current.config)?;
    println!("quiesced");
    let mut last = None;
    if drain.needs_wait() {
        loop {
            match drain.poll(&mut ipvs)? {
                DrainState::Draining { connections } => {
                    if Instant::now() >= deadline {
                        println!("deadline {connections}");
                        break;
                    }
                    if last != Some(connections) {
                        println!("draining {connections}");
                        last = Some(connections);
                    }
                }
                DrainState::Empty => {
                    println!("empty");
                    break;
                }
                DrainState::Gone => {
                    println!("gone");
                    return Ok(());
                }
                other => return Err(format!("unexpected {other:?}").into()),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    drain.finish(&mut ipvs)?;
    println!("deleted");
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("drain: {e}");
            ExitCode::FAILURE
        }
    }
}
