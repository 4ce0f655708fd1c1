//! The engine's semantics against loopback servers: retry and delay_before_retry, rise and
//! fall, shared probes for equal checks, and state kept across replace.

mod check_support;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use check_support::*;
use ipvs_director::check::{
    CheckKind, CheckSpec, Engine, Event, EventKind, Failure, HttpCheck, UrlCheck,
};
use tokio::sync::mpsc::UnboundedReceiver;

const HOUR: Duration = Duration::from_secs(3600);

/// An HTTP server answering the given statuses in order, then the last one forever.
async fn scripted(statuses: &[u16]) -> (std::net::SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let queue = Arc::new(Mutex::new(
        statuses.iter().copied().collect::<VecDeque<u16>>(),
    ));
    let handler: Handler = Arc::new(move |_| {
        let mut q = queue.lock().unwrap();
        let status = if q.len() > 1 {
            q.pop_front()
        } else {
            q.front().copied()
        };
        Some(response(status.unwrap_or(200), "body"))
    });
    http_server("127.0.0.1:0", handler).await
}

fn http_kind() -> CheckKind {
    CheckKind::Http(HttpCheck::new(UrlCheck::new("/health")))
}

/// Events until `n` results were seen, as a compact trace: "ok", "fail", "UP", "DOWN",
/// "WEIGHT".
async fn trace<K: std::fmt::Debug>(rx: &mut UnboundedReceiver<Event<K>>, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut results = 0;
    while results < n {
        let e = next(rx).await;
        out.push(match e.kind {
            EventKind::Result if e.result.is_success() => "ok".to_string(),
            EventKind::Result => "fail".to_string(),
            EventKind::Up { .. } => "UP".to_string(),
            EventKind::Down { .. } => "DOWN".to_string(),
            EventKind::Weight(_) => "WEIGHT".to_string(),
        });
        if e.kind == EventKind::Result {
            results += 1;
        }
    }
    // The transition caused by the n-th result is sent with it.
    if let Ok(e) = rx.try_recv() {
        if e.kind != EventKind::Result {
            out.push(
                format!("{:?}", e.kind)
                    .split([' ', '{', '('])
                    .next()
                    .unwrap()
                    .to_uppercase(),
            );
        }
    }
    out
}

#[tokio::test]
async fn retries_use_delay_before_retry_then_down() {
    let (addr, log) = scripted(&[503]).await;
    let (engine, mut rx) = Engine::new(tokio::runtime::Handle::current(), true);
    let mut t = fast(2, 1);
    // Only the retry delay is short: a fourth probe would come an hour later.
    t.delay_loop = HOUR;
    engine.add("rs", spec(addr, http_kind(), t)).unwrap();
    assert_eq!(trace(&mut rx, 3).await, ["fail", "fail", "fail", "DOWN"]);
    let state = engine.state(&"rs").unwrap();
    assert!(!state.up);
    assert_eq!((state.probes, state.failures_in_row), (3, 3));
    assert_eq!(
        log.lock().unwrap().len(),
        3,
        "retry + 1 requests at the server"
    );
    assert!(matches!(
        state.last_failure.unwrap().outcome,
        Err(Failure::Status { code: 503, .. })
    ));
}

#[tokio::test]
async fn a_success_resets_the_retries() {
    let (addr, _) = scripted(&[503, 503, 200, 503, 503, 503]).await;
    let (engine, mut rx) = Engine::new(tokio::runtime::Handle::current(), true);
    let mut t = fast(2, 1);
    t.delay_loop = Duration::from_millis(20);
    engine.add(1, spec(addr, http_kind(), t)).unwrap();
    assert_eq!(
        trace(&mut rx, 6).await,
        ["fail", "fail", "ok", "fail", "fail", "fail", "DOWN"]
    );
}

#[tokio::test]
async fn rise_after_down_needs_consecutive_successes() {
    let (addr, _) = scripted(&[503, 200, 503, 200, 200, 200]).await;
    let (engine, mut rx) = Engine::new(tokio::runtime::Handle::current(), true);
    let mut t = fast(0, 3);
    t.delay_loop = Duration::from_millis(20);
    engine.add(1, spec(addr, http_kind(), t)).unwrap();
    assert_eq!(
        trace(&mut rx, 6).await,
        ["fail", "DOWN", "ok", "fail", "ok", "ok", "ok", "UP"]
    );
    let state = engine.state(&1).unwrap();
    assert!(state.up);
}

#[tokio::test]
async fn alpha_starts_down_and_rises_with_retry_delay() {
    let (addr, log) = scripted(&[200]).await;
    let (engine, mut rx) = Engine::new(tokio::runtime::Handle::current(), true);
    let mut t = fast(0, 3);
    t.alpha = true;
    t.delay_loop = HOUR;
    let initial = engine.add(1, spec(addr, http_kind(), t)).unwrap();
    assert!(!initial.up, "alpha: down until proven up");
    assert_eq!(trace(&mut rx, 3).await, ["ok", "ok", "ok", "UP"]);
    assert_eq!(log.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn equal_checks_share_one_probe() {
    let (addr, log) = scripted(&[200]).await;
    let (engine, mut rx) = Engine::new(tokio::runtime::Handle::current(), true);
    let mut t = fast(0, 1);
    t.delay_loop = Duration::from_millis(30);
    let s = spec(addr, http_kind(), t);
    let subscribers = 5;
    for k in 0..subscribers {
        engine.add(k, s.clone()).unwrap();
    }
    let stats = engine.stats();
    assert_eq!((stats.checks, stats.subscribers), (1, subscribers as usize));
    // Every subscriber gets every result.
    let mut results: BTreeMap<u32, usize> = BTreeMap::new();
    while results.len() < subscribers as usize || results.values().any(|&n| n < 4) {
        let e = next(&mut rx).await;
        if e.kind == EventKind::Result {
            *results.entry(e.key).or_default() += 1;
        }
    }
    for k in 0..subscribers {
        engine.remove(&k);
    }
    assert_eq!(
        engine.stats().checks,
        0,
        "the last unsubscribe stops the check"
    );
    // Take the results still queued.
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
        if e.kind == EventKind::Result {
            *results.entry(e.key).or_default() += 1;
        }
    }
    let counts: Vec<usize> = results.values().copied().collect();
    assert!(counts.iter().all(|&n| n == counts[0]), "{counts:?}");
    let requests = log.lock().unwrap().len();
    // One request per period for all subscribers (one more if a probe was in flight when the
    // check stopped).
    assert!(
        requests == counts[0] || requests == counts[0] + 1,
        "{requests} requests for {} results per subscriber",
        counts[0]
    );
    assert!(requests < 2 * counts[0], "not one probe per subscriber");
}

#[tokio::test]
async fn different_checks_of_one_server_are_separate() {
    let (addr, log) = scripted(&[200]).await;
    let (engine, mut rx) = Engine::new(tokio::runtime::Handle::current(), true);
    let mut t = fast(0, 1);
    t.delay_loop = HOUR;
    let a = spec(addr, http_kind(), t.clone());
    let mut b = a.clone();
    b.timing.retry = 1;
    engine.add("a", a).unwrap();
    engine.add("b", b).unwrap();
    assert_eq!(engine.stats().checks, 2);
    next(&mut rx).await;
    next(&mut rx).await;
    assert_eq!(log.lock().unwrap().len(), 2);
}

fn down_spec(addr: std::net::SocketAddr) -> CheckSpec {
    let mut t = fast(0, 1);
    t.delay_loop = HOUR;
    spec(addr, http_kind(), t)
}

#[tokio::test]
async fn replace_keeps_state_of_an_equal_check() {
    let (addr, log) = scripted(&[503]).await;
    let (engine, mut rx) = Engine::new(tokio::runtime::Handle::current(), false);
    let s = down_spec(addr);
    engine.add("a", s.clone()).unwrap();
    assert!(matches!(next(&mut rx).await.kind, EventKind::Down { .. }));
    // A reload with the same check: same state, no new probe.
    let kept = engine.replace("a", s.clone()).unwrap();
    assert!(!kept.up);
    assert_eq!(kept.probes, 1);
    // A new subscriber joins the running check and its state.
    let joined = engine.add("b", s.clone()).unwrap();
    assert_eq!(joined, kept);
    assert_eq!((engine.stats().checks, engine.stats().started), (1, 1));
    // sync with the same set keeps everything.
    engine
        .sync(vec![("a", s.clone()), ("b", s.clone())])
        .unwrap();
    assert_eq!(engine.state(&"a").unwrap().probes, 1);
    assert_eq!(engine.stats().started, 1);
    // A changed check starts afresh; the old one stops when its last subscriber leaves.
    let mut changed = s.clone();
    changed.timing.retry = 1;
    let fresh = engine.replace("a", changed.clone()).unwrap();
    assert!(fresh.up);
    assert_eq!(fresh.probes, 0);
    assert_eq!(engine.stats().checks, 2);
    engine.sync(vec![("a", changed)]).unwrap();
    assert_eq!(engine.stats().checks, 1);
    assert_eq!(engine.spec(&"b"), None);
    // An invalid spec changes nothing.
    let mut bad = s.clone();
    if let CheckKind::Http(h) = &mut bad.kind {
        h.urls[0].regex = Some("(".into());
    }
    assert!(engine.sync(vec![("z", bad)]).is_err());
    assert_eq!(engine.stats().subscribers, 1);
    engine.sync(Vec::<(&str, CheckSpec)>::new()).unwrap();
    assert_eq!(engine.stats().checks, 0);
    assert!(!log.lock().unwrap().is_empty());
}

#[tokio::test]
async fn tcp_down_when_the_listener_goes_and_up_when_it_returns() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (engine, mut rx) = Engine::new(tokio::runtime::Handle::current(), true);
    let mut t = fast(1, 2);
    t.delay_loop = Duration::from_millis(20);
    engine.add("rs", spec(addr, CheckKind::Tcp, t)).unwrap();
    // Connections complete in the kernel's backlog; nobody needs to accept.
    assert_eq!(trace(&mut rx, 2).await, ["ok", "ok"]);
    drop(l);
    // Results already queued before the drop are successes; then two refusals (retry 1).
    let mut seen = Vec::new();
    let reason = loop {
        let e = next(&mut rx).await;
        match e.kind {
            EventKind::Result => seen.push(e.result.is_success()),
            EventKind::Down { reason } => break reason,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(reason, Failure::Refused);
    assert!(seen.ends_with(&[false, false]), "{seen:?}");
    assert_eq!(
        seen.iter().filter(|ok| !**ok).count(),
        2,
        "fall = retry + 1 = 2"
    );
    let l = tokio::net::TcpListener::bind(addr).await.unwrap();
    let mut seen = Vec::new();
    loop {
        let e = next(&mut rx).await;
        match e.kind {
            EventKind::Result => seen.push(e.result.is_success()),
            EventKind::Up { weight } => {
                assert_eq!(weight, None);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(seen.ends_with(&[true, true]), "rise 2: {seen:?}");
    assert_eq!(seen.iter().filter(|ok| **ok).count(), 2);
    drop(l);
}

#[tokio::test]
async fn no_task_between_probes_and_none_left_after_removal_or_drop() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let settle = |want: usize| {
        let metrics = metrics.clone();
        async move {
            for _ in 0..1000 {
                if metrics.num_alive_tasks() == want {
                    return true;
                }
                tokio::task::yield_now().await;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            false
        }
    };
    // A server that accepts and never answers: an HTTP probe of it stays in flight.
    let mute = mute_server("127.0.0.1:0").await;
    let before = metrics.num_alive_tasks();
    let (engine, _rx) = Engine::new(tokio::runtime::Handle::current(), false);
    assert!(settle(before + 1).await, "the engine's one driver task");
    // Three checks whose first probe is an hour away: no task of their own.
    for i in 0..3u16 {
        let mut s = down_spec(mute);
        s.timing.warmup = HOUR;
        s.timing.rise = 1 + u32::from(i);
        engine.add(i, s).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        metrics.num_alive_tasks(),
        before + 1,
        "no task per waiting check"
    );
    // Two checks probing now, each hanging on the mute server: one task per probe in flight.
    for i in 3..5u16 {
        let mut s = down_spec(mute);
        s.timing.connect_timeout = HOUR;
        s.timing.rise = 1 + u32::from(i);
        engine.add(i, s).unwrap();
    }
    assert!(settle(before + 3).await, "one task per probe in flight");
    assert_eq!(engine.stats().in_flight, 2);
    engine.remove(&3);
    assert!(
        settle(before + 2).await,
        "a removed check's probe is stopped"
    );
    drop(engine);
    assert!(
        settle(before).await,
        "dropping the engine ends the driver and the probes in flight"
    );
}

/// `n` distinct checks keyed 0..n whose probes need no I/O (a maintenance directory list
/// with no entry: always up), due every `period`.
fn add_cpu_only_checks(engine: &Engine<u16>, n: u16, period: Duration) {
    for i in 0..n {
        let mut t = fast(0, 1);
        t.delay_loop = period;
        let target = std::net::SocketAddr::from(([192, 0, 2, 1], 1 + i));
        engine
            .add(i, spec(target, CheckKind::Maintenance(Vec::new()), t))
            .unwrap();
    }
}

/// More checks due than the thread can run: the due probes wait in the engine's schedule,
/// not as spawned tasks queued on the runtime (hundreds of bytes each; at 16,000 real servers
/// on a saturated guest that was megabytes), and every check is still probed.
#[tokio::test]
async fn a_saturated_engine_keeps_due_probes_out_of_the_runtime_queue() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    let (engine, _rx) = Engine::new(tokio::runtime::Handle::current(), false);
    // Probes that need no I/O (a maintenance directory list with no entry), each due again
    // 1 ms after it ran: 4,000 checks want 4,000,000 probes a second.
    let n = 4000u16;
    add_cpu_only_checks(&engine, n, Duration::from_millis(1));
    let mut most = 0;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(1)).await;
        most = most.max(metrics.num_alive_tasks() - before);
    }
    let probed = engine.stats();
    drop(engine);
    assert!(
        most <= 200,
        "{most} tasks alive at once for {n} due checks: the due probes were queued as tasks"
    );
    assert!(
        probed.finished >= u64::from(n),
        "only {} probes ran in 200 ms: the due checks were not all probed",
        probed.finished
    );
}

#[tokio::test]
async fn a_paused_engine_starts_no_probe_until_resumed() {
    let (engine, _rx) = Engine::new(tokio::runtime::Handle::current(), false);
    engine.pause();
    add_cpu_only_checks(&engine, 3, Duration::from_millis(5));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        engine.stats().started,
        0,
        "due probes held back while paused"
    );
    assert_eq!(engine.stats().checks, 3, "subscriptions still taken");
    engine.resume();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        engine.stats().finished >= 3,
        "probes run once resumed: {:?}",
        engine.stats()
    );
}

#[tokio::test]
async fn initial_state_is_the_start_whatever_the_probes_found() {
    let refused = closed_tcp("127.0.0.1:0").await;
    let (engine, mut rx) = Engine::new(tokio::runtime::Handle::current(), false);
    let s = spec(refused, CheckKind::Tcp, fast(0, 1));
    let mut alpha = s.clone();
    alpha.timing.alpha = true;
    alpha.timing.delay_loop = HOUR;
    engine.add("plain", s).unwrap();
    engine.add("alpha", alpha).unwrap();
    // The plain check goes down at its first probe...
    let e = next_transition(&mut rx).await;
    assert_eq!(e.key, "plain");
    assert!(matches!(e.kind, EventKind::Down { .. }), "{e:?}");
    assert!(!engine.state(&"plain").unwrap().up);
    // ...but started up: a director that listens only now starts from there, and the
    // event above is its transition. With alpha, the start is down.
    assert!(engine.initial_state(&"plain").unwrap().up);
    assert!(!engine.initial_state(&"alpha").unwrap().up);
    assert_eq!(engine.initial_state(&"none"), None);
}

/// One `sync` with every kind of move at once: a key that stays keeps its check's state, a
/// key that changes check leaves the old one (which stops when no one is left), a new key
/// joins a running equal check (even one whose only key leaves in the same sync), a key no
/// longer given leaves; a key given twice ends on the last of its checks.
#[tokio::test]
async fn sync_moves_joins_and_removes_keys_in_one_pass() {
    let (engine, _rx) = Engine::new(tokio::runtime::Handle::current(), false);
    engine.pause();
    let check = |port: u16| {
        let target = std::net::SocketAddr::from(([192, 0, 2, 1], port));
        spec(target, CheckKind::Maintenance(Vec::new()), fast(0, 1))
    };
    let kept = engine
        .sync(vec![
            (1u16, check(1)),
            (2, check(2)),
            (3, check(3)),
            (4, check(1)),
        ])
        .unwrap();
    assert!(
        Arc::ptr_eq(&kept[0], &kept[3]),
        "equal checks: one spec kept"
    );
    assert_eq!((engine.stats().checks, engine.stats().subscribers), (3, 4));
    // 1 stays on check 1; 2 moves to check 3 (check 2 stops); 3 leaves (check 3 goes on: 2
    // took it over); 4 leaves check 1 for a new check 4; 5 joins check 1.
    let kept2 = engine
        .sync(vec![
            (5u16, check(1)),
            (2, check(3)),
            (1, check(1)),
            (4, check(4)),
        ])
        .unwrap();
    assert!(Arc::ptr_eq(&kept2[0], &kept[0]) && Arc::ptr_eq(&kept2[2], &kept[0]));
    assert!(
        Arc::ptr_eq(&kept2[1], &kept[2]),
        "joined the running check 3"
    );
    assert_eq!((engine.stats().checks, engine.stats().subscribers), (3, 4));
    assert_eq!(engine.spec(&3), None);
    assert_eq!(engine.spec(&2), Some(check(3)));
    assert_eq!(engine.spec(&4), Some(check(4)));
    for k in [1u16, 2, 4, 5] {
        assert!(engine.state(&k).is_some(), "key {k} subscribed");
    }
    // A key given twice: the last check stays, the first is not left running for it.
    engine.sync(vec![(7u16, check(7)), (7, check(8))]).unwrap();
    assert_eq!((engine.stats().checks, engine.stats().subscribers), (1, 1));
    assert_eq!(engine.spec(&7), Some(check(8)));
    engine.sync(Vec::<(u16, CheckSpec)>::new()).unwrap();
    assert_eq!((engine.stats().checks, engine.stats().subscribers), (0, 0));
}
