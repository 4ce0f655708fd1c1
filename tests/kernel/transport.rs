//! The transport against the real kernel: a dump abandoned half-way does
//! not poison the handle, an errors-only window ending in a locally invalid
//! change returns at once, and windows fit the socket buffers (issue 11,
//! defects 1-3). Figures go to the console as `@@FIGURE` lines.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipvs::{
    BatchAcks, BatchMode, Change, Destination, Direction, Error, ForwardMethod, Ipvs, Namespace,
    OpenOptions, Service, ServiceKey,
};

use crate::TestNet;

/// Writes a figure to the console, past libtest's output capture.
fn figure(text: &str) {
    let _ = writeln!(std::io::stderr(), "@@FIGURE {text}");
}

fn key(i: u32) -> ServiceKey {
    ServiceKey::tcp(IpAddr::V4(Ipv4Addr::from(0xc612_0000 + i)), 80)
}

fn open(net: &TestNet, options: &OpenOptions) -> Ipvs {
    Ipvs::open_in(Namespace::Name(&net.name), options).expect("open IPVS in netns")
}

/// Makes the next call on `ipvs` stop after the first datagram it
/// receives: a tracer that panics (the only way, through the public API,
/// to walk away from a dump half-way while keeping the handle).
fn abandon_after_first_datagram<T>(ipvs: &mut Ipvs, call: impl FnOnce(&mut Ipvs) -> T) {
    let armed = Arc::new(AtomicBool::new(true));
    let flag = Arc::clone(&armed);
    ipvs.set_tracer(Some(Box::new(move |dir, _| {
        if dir == Direction::Received && flag.swap(false, Ordering::SeqCst) {
            panic!("reader walks away mid-dump");
        }
    })));
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = catch_unwind(AssertUnwindSafe(|| {
        call(ipvs);
    }));
    std::panic::set_hook(hook);
    assert!(result.is_err(), "the call was not interrupted");
    ipvs.set_tracer(None);
}

#[test]
fn abandoned_dumps_do_not_poison_the_handle() {
    let net = TestNet::new();
    let mut ipvs = net.open();
    const SERVICES: u32 = 1000;
    const DESTS: u8 = 200;
    let mut changes: Vec<Change> = (0..SERVICES)
        .map(|i| Change::AddService(Service::new(key(i)).with_scheduler("rr")))
        .collect();
    for d in 0..DESTS {
        changes.push(Change::AddDestination(
            key(0),
            Destination::new(
                IpAddr::V4(Ipv4Addr::new(198, 51, 100, d)),
                80,
                ForwardMethod::DirectRoute,
            ),
        ));
    }
    let results = ipvs
        .apply(&changes, BatchMode::ContinueOnError)
        .expect("load");
    assert!(results.iter().all(Result::is_ok));

    // Datagrams per full dump, to show the dumps span several.
    let datagrams = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = Arc::clone(&datagrams);
    ipvs.set_tracer(Some(Box::new(move |dir, _| {
        if dir == Direction::Received {
            count.fetch_add(1, Ordering::SeqCst);
        }
    })));
    assert_eq!(ipvs.services().unwrap().len(), SERVICES as usize);
    let service_datagrams = datagrams.swap(0, Ordering::SeqCst);
    assert_eq!(
        ipvs.destinations(&key(0)).unwrap().len(),
        usize::from(DESTS)
    );
    let dest_datagrams = datagrams.swap(0, Ordering::SeqCst);
    ipvs.set_tracer(None);
    assert!(service_datagrams > 2 && dest_datagrams > 2);

    // Every call after an abandoned dump: before the fix the kernel still
    // had the old dump open on the socket and refused new ones (EBUSY).
    let mut calls = 0;
    let mut failures: Vec<String> = Vec::new();
    let mut check = |what: &str, r: Result<usize, Error>, want: usize| {
        calls += 1;
        match r {
            Ok(n) if n == want => {}
            Ok(n) => failures.push(format!("{what}: {n} entries, not {want}")),
            Err(e) => failures.push(format!("{what}: {e}")),
        }
    };
    let started = Instant::now();
    for _ in 0..5 {
        abandon_after_first_datagram(&mut ipvs, |i| i.services());
        check(
            "services",
            ipvs.services().map(|s| s.len()),
            SERVICES as usize,
        );
        abandon_after_first_datagram(&mut ipvs, |i| i.destinations(&key(0)));
        let d = ipvs.destinations(&key(0)).map(|d| d.len());
        check("destinations", d, usize::from(DESTS));
        abandon_after_first_datagram(&mut ipvs, |i| i.services());
        check("zero", ipvs.zero(None).map(|()| 0), 0);
        check(
            "snapshot",
            ipvs.snapshot().map(|s| s.len()),
            SERVICES as usize,
        );
    }
    figure(&format!(
        "abandoned dumps: {SERVICES} services ({service_datagrams} datagrams per dump), \
         {DESTS} real servers ({dest_datagrams} datagrams per dump); 15 dumps abandoned \
         after their first datagram, then {calls} calls: {} failed, {:.3} s",
        failures.len(),
        started.elapsed().as_secs_f64()
    ));
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn errors_only_window_ending_in_an_invalid_change_returns_every_result() {
    let net = TestNet::new();
    let timeout = Duration::from_secs(20);
    let mut ipvs = open(
        &net,
        &OpenOptions::default()
            .with_timeout(timeout)
            .with_batch_acks(BatchAcks::ErrorsOnly)
            .with_batch_window(8),
    );
    let bad = |i| {
        Change::AddService(Service::new(key(1000 + i)).with_scheduler("a-name-too-long-for-ipvs"))
    };
    let mut changes = Vec::new();
    for w in 0..3u32 {
        for i in 0..7 {
            changes.push(Change::AddService(
                Service::new(key(w * 10 + i)).with_scheduler("rr"),
            ));
        }
        changes.push(bad(w)); // the last change of each window of 8
    }
    // One kernel failure in the middle (key 0 exists by then).
    changes[3] = Change::AddService(Service::new(key(0)));
    let started = Instant::now();
    let results = ipvs
        .apply(&changes, BatchMode::ContinueOnError)
        .expect("every result, no timeout");
    let elapsed = started.elapsed();
    assert_eq!(results.len(), changes.len());
    let mut invalid = 0;
    for (i, (c, r)) in changes.iter().zip(&results).enumerate() {
        match (c, r) {
            (_, Err(Error::InvalidArgument { .. })) => invalid += 1,
            (_, Err(e)) if i == 3 => assert_eq!(e.errno(), Some(libc::EEXIST)),
            (_, Ok(())) => {}
            (_, Err(e)) => panic!("change {i}: {e}"),
        }
    }
    assert_eq!(invalid, 3);
    assert_eq!(ipvs.services().unwrap().len(), 20);
    figure(&format!(
        "errors-only windows ending in invalid changes: {} changes, {} results in {:.3} s \
         (timeout {} s)",
        changes.len(),
        results.len(),
        elapsed.as_secs_f64(),
        timeout.as_secs()
    ));
}

#[test]
fn windows_fit_the_socket_buffers() {
    let net = TestNet::new();
    let mut ipvs = open(
        &net,
        &OpenOptions::default()
            .with_batch_acks(BatchAcks::ErrorsOnly)
            .with_batch_window(1_000_000),
    );
    let limits = ipvs.batch_limits();
    assert!(limits.window < 1_000_000, "{limits:?}");
    assert!(limits.receive_buffer >= 4096 && limits.send_buffer >= 4096);
    // 6,000 changes that all fail (real servers of a service that does not
    // exist): a reply for each, far more than one receive buffer holds,
    // and far more bytes than one send buffer.
    let missing = ServiceKey::tcp("192.0.2.250".parse().unwrap(), 1);
    let changes: Vec<Change> = (0..6000u32)
        .map(|i| {
            Change::AddDestination(
                missing,
                Destination::new(
                    IpAddr::V4(Ipv4Addr::from(0xc633_6400 + i)),
                    80,
                    ForwardMethod::DirectRoute,
                ),
            )
        })
        .collect();
    let started = Instant::now();
    let results = ipvs
        .apply(&changes, BatchMode::ContinueOnError)
        .expect("no ENOBUFS, no EMSGSIZE");
    let elapsed = started.elapsed();
    assert_eq!(results.len(), changes.len());
    for r in &results {
        assert_eq!(r.as_ref().unwrap_err().errno(), Some(libc::ESRCH));
    }
    // The same through apply_each, every result known.
    let each = ipvs.apply_each(&changes[..500], BatchMode::ContinueOnError);
    assert!(each
        .iter()
        .all(|r| r.as_ref().unwrap_err().errno() == Some(libc::ESRCH)));
    figure(&format!(
        "batch limits: SO_RCVBUF {} B, SO_SNDBUF {} B, reply reckoned {} B, window {} requests, \
         {} B per sendmsg; 6000 failing changes, 6000 errors back in {:.3} s",
        limits.receive_buffer,
        limits.send_buffer,
        limits.reply_cost,
        limits.window,
        limits.send_bytes,
        elapsed.as_secs_f64()
    ));
}
