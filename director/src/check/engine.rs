//! The engine: one schedule of distinct checks, each shared by its subscribers.
//!
//! One driver task keeps every check's next probe time in a heap and starts a task per probe
//! when it is due; between probes a check costs its state and one heap entry, not a task (a
//! sleeping tokio task with its timer is about half a kilobyte, which at tens of thousands of
//! checks was most of the daemon's memory).

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::one_or_many::OneOrMany;
use crate::sorted_map::SortedMap;

use super::{
    dialogue, dns, file, ftp, http, ldap, misc, net, ping, radius, random_u64, sip, smtp, udp,
    CheckKind, CheckSpec, Failure, ProbeResult, SpecError, Weight,
};

/// The state of a check, shared by all its subscribers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckState {
    /// Whether the check is up.
    pub up: bool,
    /// The last weight a dynamic check (MISC dynamic, FILE) reported while succeeding.
    pub weight: Option<Weight>,
    /// The last failed probe's result while the check is down or failing (the reason a down
    /// check is down); `None` once the check is up and its last probe succeeded. Boxed, and
    /// only for failures: a state is kept for every distinct check, and a pool that is up
    /// then holds no result at all.
    pub last_failure: Option<Box<ProbeResult>>,
    /// Probes run so far.
    pub probes: u64,
    /// Consecutive failed probes (toward fall while up).
    pub failures_in_row: u32,
    /// Consecutive successful probes (toward rise while down).
    pub successes_in_row: u32,
}

impl CheckState {
    /// A new check's state: up, or down with `alpha`; nothing probed yet.
    fn initial(spec: &CheckSpec) -> CheckState {
        CheckState {
            up: !spec.timing.alpha,
            weight: None,
            last_failure: None,
            probes: 0,
            failures_in_row: 0,
            successes_in_row: 0,
        }
    }
}

/// What happened to a subscriber's check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The check went up, with the weight a dynamic check reported.
    Up {
        /// The weight reported with the success, if the check is dynamic.
        weight: Option<Weight>,
    },
    /// The check went down.
    Down {
        /// The last failure.
        reason: Failure,
    },
    /// An up check reported a new weight.
    Weight(Weight),
    /// A probe finished (only when the engine reports every result).
    Result,
}

/// An event for one subscriber.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event<K> {
    /// The subscriber.
    pub key: K,
    /// What happened.
    pub kind: EventKind,
    /// The probe that caused it.
    pub result: ProbeResult,
}

/// Counters of the engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Distinct checks running (one probe each).
    pub checks: usize,
    /// Subscribers.
    pub subscribers: usize,
    /// Probes started since the engine was created.
    pub started: u64,
    /// Probes finished.
    pub finished: u64,
    /// Probes in flight now.
    pub in_flight: usize,
    /// The most probes in flight at once.
    pub peak_in_flight: usize,
}

/// A check's compiled parts.
enum Prepared {
    Plain,
    Http(http::PreparedHttp),
    Dns(Vec<u8>),
    Dialogue(Vec<regex::bytes::Regex>),
}

fn prepare(spec: &CheckSpec) -> Result<Prepared, SpecError> {
    if spec.timing.delay_loop.is_zero() {
        return Err(SpecError::ZeroPeriod);
    }
    Ok(match &spec.kind {
        CheckKind::Http(h) => Prepared::Http(http::prepare(h, false)?),
        CheckKind::Ssl(h) => Prepared::Http(http::prepare(h, true)?),
        CheckKind::Dns(d) => Prepared::Dns(dns::encode_name(&d.name)?),
        CheckKind::Misc(m) if m.argv.is_empty() => return Err(SpecError::NoProgram),
        CheckKind::Dialogue(d) => Prepared::Dialogue(dialogue::prepare(d)?),
        CheckKind::Ftp(f) => Prepared::Dialogue(ftp::prepare(f)?),
        CheckKind::Ldap(l) => Prepared::Dialogue(ldap::prepare(l)?),
        _ => Prepared::Plain,
    })
}

/// One probe. Each kind's future is boxed so that a task holds only the state of its own
/// kind while probing (an HTTPS exchange is kilobytes, a TCP connect a few words), and
/// nothing between probes.
async fn probe(spec: &CheckSpec, prepared: &Prepared) -> Result<Option<Weight>, Failure> {
    match (&spec.kind, prepared) {
        (CheckKind::Tcp, _) => Box::pin(net::tcp_check(spec)).await.map(|()| None),
        (CheckKind::Http(h), Prepared::Http(p)) => {
            Box::pin(http::check(spec, h, p)).await.map(|()| None)
        }
        (CheckKind::Ssl(h), Prepared::Http(p)) => {
            Box::pin(http::check(spec, h, p)).await.map(|()| None)
        }
        (CheckKind::Smtp(s), _) => Box::pin(smtp::check(spec, s)).await.map(|()| None),
        (CheckKind::Dns(d), Prepared::Dns(name)) => {
            Box::pin(dns::check(spec, d, name)).await.map(|()| None)
        }
        (CheckKind::Udp(u), _) => Box::pin(udp::check(spec, u)).await.map(|()| None),
        (CheckKind::Ping, _) => Box::pin(ping::check(spec)).await.map(|()| None),
        (CheckKind::Misc(m), _) => Box::pin(misc::check(spec, m)).await,
        (CheckKind::File(f), _) => file::check(f),
        (CheckKind::Maintenance(paths), _) => match paths.iter().find(|p| p.exists()) {
            Some(p) => Err(Failure::Maintenance(p.display().to_string())),
            None => Ok(None),
        },
        (CheckKind::Off, _) => Err(Failure::Off),
        (CheckKind::Dialogue(d), Prepared::Dialogue(res)) => {
            Box::pin(dialogue::check(spec, d, res)).await.map(|()| None)
        }
        (CheckKind::Ftp(f), Prepared::Dialogue(res)) => Box::pin(ftp::check(spec, f, res.first()))
            .await
            .map(|()| None),
        (CheckKind::Ldap(l), Prepared::Dialogue(res)) => {
            Box::pin(ldap::check(spec, l, res.first()))
                .await
                .map(|()| None)
        }
        (CheckKind::Radius(r), _) => Box::pin(radius::check(spec, r)).await.map(|()| None),
        (CheckKind::Sip(s), _) => Box::pin(sip::check(spec, s)).await.map(|()| None),
        (kind, _) => Err(Failure::Socket(format!("{} not prepared", kind.name()))),
    }
}

struct Probe<K> {
    id: u64,
    state: CheckState,
    /// Most checks have one subscriber: held in place.
    subscribers: OneOrMany<K>,
    /// The compiled parts (`None`: nothing to compile, as for TCP_CHECK).
    prepared: Option<Arc<Prepared>>,
    /// The probe running now, if any.
    in_flight: Option<AbortHandle>,
}

/// When a check's next probe is due. A check removed (or replaced) before then leaves its
/// entry behind; the driver skips it, the `id` no longer matching.
struct Due {
    at: Instant,
    id: u64,
    spec: Arc<CheckSpec>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.id) == (other.at, other.id)
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.id).cmp(&(other.at, other.id))
    }
}

struct Inner<K> {
    /// Boxed: a hash table keeps room for up to twice its entries (16,000 checks: 32,768
    /// slots), so a slot holds a pointer rather than a probe's hundred bytes.
    probes: HashMap<Arc<CheckSpec>, Box<Probe<K>>>,
    /// Each subscriber's check; sorted by key, exactly one entry per subscriber (rebuilt
    /// whole by [`Engine::sync`]).
    subs: SortedMap<K, Arc<CheckSpec>>,
    next_id: u64,
    /// Next probe times, earliest first.
    schedule: BinaryHeap<Reverse<Due>>,
}

/// Schedules a probe; whether it became the earliest (the driver must then be woken).
fn schedule_probe(heap: &mut BinaryHeap<Reverse<Due>>, due: Due) -> bool {
    let earliest = heap.peek().is_none_or(|Reverse(d)| due < *d);
    heap.push(Reverse(due));
    earliest
}

/// Probe counters, shared with the probes' tasks (which do not keep the engine alive).
#[derive(Default)]
struct Counters {
    started: AtomicU64,
    finished: AtomicU64,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

struct Shared<K> {
    inner: Mutex<Inner<K>>,
    events: mpsc::UnboundedSender<Event<K>>,
    report_results: bool,
    counters: Arc<Counters>,
    /// Wakes the driver when a probe is scheduled before everything it waits for.
    wake: Arc<Notify>,
    driver: OnceLock<AbortHandle>,
    observer: OnceLock<ProbeObserver>,
    /// Set by [`Engine::pause`]: the driver starts no probe.
    paused: AtomicBool,
}

/// A function told of every probe's result (once per probe, whatever the
/// number of subscribers), on the engine's thread: for metrics. It must be
/// quick and must not block.
pub type ProbeObserver = Arc<dyn Fn(&CheckSpec, &ProbeResult) + Send + Sync>;

impl<K> Shared<K> {
    fn lock(&self) -> MutexGuard<'_, Inner<K>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<K> Drop for Shared<K> {
    fn drop(&mut self) {
        if let Some(driver) = self.driver.get() {
            driver.abort();
        }
        let inner = self.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        for probe in inner.probes.values() {
            if let Some(task) = &probe.in_flight {
                task.abort();
            }
        }
    }
}

/// Counts a probe in flight until dropped (also when its task is aborted).
struct InFlight<'a>(&'a Counters);

impl<'a> InFlight<'a> {
    fn new(counters: &'a Counters) -> Self {
        counters.started.fetch_add(1, Ordering::Relaxed);
        let now = counters.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        counters.peak.fetch_max(now, Ordering::Relaxed);
        InFlight(counters)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.finished.fetch_add(1, Ordering::Relaxed);
    }
}

/// The health-check engine.
///
/// Checks run on the tokio runtime given to [`Engine::new`], which needs its I/O and time
/// drivers (`enable_all`): one task schedules them, and each probe runs as a task of its own
/// while in flight; a `current_thread` runtime holds tens of thousands of probes in flight on
/// one core. MISC_CHECK needs the runtime's process support (a SIGCHLD handler). The engine's methods are
/// synchronous and may be called from any thread. Dropping the last clone stops every check.
///
/// Subscribers are keyed by `K`. All subscribers with equal [`CheckSpec`]s share one probe and
/// one [`CheckState`]; each gets an [`Event`] on every transition of the shared state.
pub struct Engine<K> {
    shared: Arc<Shared<K>>,
}

impl<K> Clone for Engine<K> {
    fn clone(&self) -> Self {
        Engine {
            shared: self.shared.clone(),
        }
    }
}

impl<K> fmt::Debug for Engine<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl<K> Engine<K>
where
    K: Clone + Ord + Send + Sync + 'static,
{
    /// An engine running its checks on `runtime`, and the receiver of its events. With
    /// `report_results`, every probe's result is also sent to every subscriber
    /// ([`EventKind::Result`]), for logs and metrics.
    pub fn new(
        runtime: Handle,
        report_results: bool,
    ) -> (Engine<K>, mpsc::UnboundedReceiver<Event<K>>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let wake = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                probes: HashMap::new(),
                subs: SortedMap::default(),
                next_id: 0,
                schedule: BinaryHeap::new(),
            }),
            events: tx,
            report_results,
            counters: Arc::new(Counters::default()),
            wake: wake.clone(),
            driver: OnceLock::new(),
            observer: OnceLock::new(),
            paused: AtomicBool::new(false),
        });
        let driver = runtime.spawn(drive(Arc::downgrade(&shared), wake));
        let _ = shared.driver.set(driver.abort_handle());
        (Engine { shared }, rx)
    }

    /// Holds every probe back until [`Engine::resume`]: subscriptions go on
    /// (states, schedules), and probes in flight finish, but none starts. A
    /// daemon pauses its engine while it starts, so that its first write of
    /// the table does not share the CPU with thousands of first probes.
    pub fn pause(&self) {
        self.shared.paused.store(true, Ordering::SeqCst);
    }

    /// Lets the probes start again; those that came due meanwhile start at
    /// once (in due order, a few dozen at a time).
    pub fn resume(&self) {
        self.shared.paused.store(false, Ordering::SeqCst);
        self.shared.wake.notify_one();
    }

    /// Sets the function told of every probe's result (see
    /// [`ProbeObserver`]). Only the first call takes effect; whether this one did.
    pub fn observe(&self, observer: ProbeObserver) -> bool {
        self.shared.observer.set(observer).is_ok()
    }

    /// Subscribes `key` to `spec` and returns the check's current state. A check equal to a
    /// running one joins it (its state included); otherwise a new check starts, up (down with
    /// `alpha`), its first probe after a random warm-up. If `key` was subscribed to another
    /// spec, it leaves it first; if to the same spec, nothing changes (see
    /// [`Engine::replace`]).
    pub fn add(&self, key: K, spec: CheckSpec) -> Result<CheckState, SpecError> {
        self.attach(key, Arc::new(spec)).map(|(state, _)| state)
    }

    /// [`Engine::add`] with a shared spec; also returns the spec the engine
    /// keeps for `key` (the running check's when an equal one runs).
    fn attach(
        &self,
        key: K,
        spec: Arc<CheckSpec>,
    ) -> Result<(CheckState, Arc<CheckSpec>), SpecError> {
        let mut guard = self.shared.lock();
        let inner = &mut *guard;
        if let Some(old) = inner.subs.get(&key) {
            if **old == *spec {
                if let Some(probe) = inner.probes.get(old) {
                    return Ok((probe.state.clone(), old.clone()));
                }
            }
        }
        // Validate before changing anything.
        let prepared = match inner.probes.contains_key(&spec) {
            true => None,
            false => Some(prepare(&spec)?),
        };
        if let Some(old) = inner.subs.remove(&key) {
            leave(&mut inner.probes, &key, &old);
        }
        let (state, running) = self.join(inner, key.clone(), spec, prepared);
        inner.subs.insert(key, running.clone());
        Ok((state, running))
    }

    /// Adds `key` to the check of `spec` (starting it if none runs: `prepared` is its
    /// compiled parts, `None` to compile them here); its state and the spec the engine
    /// keeps. The caller records the subscription in `subs`.
    fn join(
        &self,
        inner: &mut Inner<K>,
        key: K,
        spec: Arc<CheckSpec>,
        prepared: Option<Prepared>,
    ) -> (CheckState, Arc<CheckSpec>) {
        let Inner {
            probes,
            next_id,
            schedule,
            ..
        } = inner;
        let (running, probe) = match probes.entry(spec) {
            Entry::Occupied(e) => (e.key().clone(), e.into_mut()),
            Entry::Vacant(e) => {
                let spec = e.key().clone();
                let prepared = match prepared {
                    Some(p) => p,
                    // Validated by the caller: an error here cannot happen; a check that
                    // failed to compile would probe as "not prepared".
                    None => prepare(&spec).unwrap_or(Prepared::Plain),
                };
                *next_id += 1;
                // The first probe after a random warm-up.
                let due = Due {
                    at: Instant::now() + jitter(spec.timing.warmup),
                    id: *next_id,
                    spec: spec.clone(),
                };
                if schedule_probe(schedule, due) {
                    self.shared.wake.notify_one();
                }
                let probe = Probe {
                    id: *next_id,
                    state: CheckState::initial(&spec),
                    subscribers: OneOrMany::new(),
                    prepared: match prepared {
                        Prepared::Plain => None,
                        p => Some(Arc::new(p)),
                    },
                    in_flight: None,
                };
                (spec, e.insert(Box::new(probe)))
            }
        };
        probe.subscribers.push(key);
        (probe.state.clone(), running)
    }

    /// [`Engine::add`] for a key that may already be subscribed: an equal spec keeps the
    /// check's state (a reload carries it over), a different one starts or joins another.
    pub fn replace(&self, key: K, spec: CheckSpec) -> Result<CheckState, SpecError> {
        self.add(key, spec)
    }

    /// Makes the subscriptions exactly `checks`: keys not in it are removed, the others added
    /// or replaced; a running check that any key of `checks` wants goes on, state and all,
    /// whichever keys subscribed to it before. Every spec is validated first; on an error
    /// nothing changes. Returns, in
    /// the order of `checks`, the spec the engine keeps for each key: the running check's
    /// where an equal spec was running already, so that a caller holding many copies can keep
    /// one (see [`crate::desired::Model::share_specs`]).
    pub fn sync<S>(&self, checks: Vec<(K, S)>) -> Result<Vec<Arc<CheckSpec>>, SpecError>
    where
        S: Into<Arc<CheckSpec>> + std::borrow::Borrow<CheckSpec>,
    {
        for (_, spec) in &checks {
            prepare(spec.borrow())?;
        }
        let mut keys: Vec<&K> = checks.iter().map(|(k, _)| k).collect();
        keys.sort_unstable();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            // A key given twice: one at a time, the last one staying (rare, and slow for a
            // large set: each subscription moves the map's entries after it).
            let gone: Vec<K> = {
                let inner = self.shared.lock();
                inner
                    .subs
                    .keys()
                    .filter(|k| keys.binary_search(k).is_err())
                    .cloned()
                    .collect()
            };
            drop(keys);
            for key in gone {
                self.remove(&key);
            }
            let mut kept = Vec::with_capacity(checks.len());
            for (key, spec) in checks {
                kept.push(self.attach(key, spec.into())?.1);
            }
            return Ok(kept);
        }
        let mut guard = self.shared.lock();
        let inner = &mut *guard;
        let old = std::mem::take(&mut inner.subs);
        // Checks left without subscribers stop only at the end: one that another key
        // subscribes to meanwhile goes on, state and all.
        let mut emptied = Vec::new();
        for (key, spec) in old.iter() {
            if keys.binary_search(&key).is_err() && unsubscribe(&mut inner.probes, key, spec) {
                emptied.push(spec.clone());
            }
        }
        drop(keys);
        let mut kept = Vec::with_capacity(checks.len());
        let mut subs = Vec::with_capacity(checks.len());
        for (key, spec) in checks {
            let spec: Arc<CheckSpec> = spec.into();
            let running = match old.get(&key) {
                // The same check: the key stays where it is, state and all.
                Some(was) if **was == *spec && inner.probes.contains_key(was) => was.clone(),
                was => {
                    if let Some(was) = was {
                        if unsubscribe(&mut inner.probes, &key, was) {
                            emptied.push(was.clone());
                        }
                    }
                    self.join(inner, key.clone(), spec, None).1
                }
            };
            kept.push(running.clone());
            subs.push((key, running));
        }
        for spec in &emptied {
            stop_if_unused(&mut inner.probes, spec);
        }
        inner.subs = SortedMap::from_entries(subs);
        Ok(kept)
    }

    /// Unsubscribes `key`; a check left without subscribers stops. Whether `key` was
    /// subscribed.
    pub fn remove(&self, key: &K) -> bool {
        let mut inner = self.shared.lock();
        detach(&mut inner, key)
    }

    /// The state of `key`'s check.
    pub fn state(&self, key: &K) -> Option<CheckState> {
        let inner = self.shared.lock();
        let spec = inner.subs.get(key)?;
        inner.probes.get(spec).map(|p| p.state.clone())
    }

    /// The state `key`'s check started in (up, or down with `alpha`), whatever its probes
    /// have found since: a caller that starts listening to the events after subscribing takes
    /// this as its starting point, so that a result that came first is still a transition.
    pub fn initial_state(&self, key: &K) -> Option<CheckState> {
        let inner = self.shared.lock();
        inner.subs.get(key).map(|spec| CheckState::initial(spec))
    }

    /// The spec `key` is subscribed to.
    pub fn spec(&self, key: &K) -> Option<CheckSpec> {
        let inner = self.shared.lock();
        inner.subs.get(key).map(|s| (**s).clone())
    }

    /// The engine's counters.
    pub fn stats(&self) -> EngineStats {
        let (checks, subscribers) = {
            let inner = self.shared.lock();
            (inner.probes.len(), inner.subs.len())
        };
        EngineStats {
            checks,
            subscribers,
            started: self.shared.counters.started.load(Ordering::Relaxed),
            finished: self.shared.counters.finished.load(Ordering::Relaxed),
            in_flight: self.shared.counters.in_flight.load(Ordering::Relaxed),
            peak_in_flight: self.shared.counters.peak.load(Ordering::Relaxed),
        }
    }
}

/// Takes `key` off its check, stopping the check if it was the last subscriber.
fn detach<K: Ord>(inner: &mut Inner<K>, key: &K) -> bool {
    let Some(spec) = inner.subs.remove(key) else {
        return false;
    };
    leave(&mut inner.probes, key, &spec);
    true
}

/// Takes `key` off the check of `spec` (its subscription itself is the caller's to drop);
/// a check left without subscribers stops.
fn leave<K: Eq>(
    probes: &mut HashMap<Arc<CheckSpec>, Box<Probe<K>>>,
    key: &K,
    spec: &Arc<CheckSpec>,
) {
    if unsubscribe(probes, key, spec) {
        stop_if_unused(probes, spec);
    }
}

/// Takes `key` off the check of `spec`; whether the check is left without subscribers.
fn unsubscribe<K: Eq>(
    probes: &mut HashMap<Arc<CheckSpec>, Box<Probe<K>>>,
    key: &K,
    spec: &Arc<CheckSpec>,
) -> bool {
    probes.get_mut(spec).is_some_and(|probe| {
        probe.subscribers.retain(|k| k != key);
        probe.subscribers.is_empty()
    })
}

/// Stops the check of `spec` if no one subscribes to it.
fn stop_if_unused<K>(probes: &mut HashMap<Arc<CheckSpec>, Box<Probe<K>>>, spec: &Arc<CheckSpec>) {
    if let Entry::Occupied(e) = probes.entry(spec.clone()) {
        if e.get().subscribers.is_empty() {
            if let Some(task) = e.remove().in_flight {
                task.abort();
            }
        }
    }
}

/// Applies a result to a state: the transition, if any, and the delay to the next probe.
pub(crate) fn apply(
    state: &mut CheckState,
    timing: &super::Timing,
    result: &ProbeResult,
) -> (Option<EventKind>, Duration) {
    state.probes += 1;
    match &result.outcome {
        Ok(weight) => {
            state.failures_in_row = 0;
            state.successes_in_row = state.successes_in_row.saturating_add(1);
            if state.up {
                state.last_failure = None;
                let changed = weight.is_some() && *weight != state.weight;
                if changed {
                    state.weight = *weight;
                }
                (
                    changed.then(|| EventKind::Weight(weight.unwrap_or(Weight::Configured))),
                    timing.delay_loop,
                )
            } else if state.successes_in_row >= timing.rise.max(1) {
                state.up = true;
                state.last_failure = None;
                if weight.is_some() {
                    state.weight = *weight;
                }
                (Some(EventKind::Up { weight: *weight }), timing.delay_loop)
            } else {
                (None, timing.delay_before_retry)
            }
        }
        Err(reason) => {
            state.last_failure = Some(Box::new(result.clone()));
            state.successes_in_row = 0;
            state.failures_in_row = state.failures_in_row.saturating_add(1);
            if !state.up {
                (None, timing.delay_loop)
            } else if state.failures_in_row >= timing.fall() {
                state.up = false;
                (
                    Some(EventKind::Down {
                        reason: reason.clone(),
                    }),
                    timing.delay_loop,
                )
            } else {
                (None, timing.delay_before_retry)
            }
        }
    }
}

fn jitter(max: Duration) -> Duration {
    let nanos = max.as_nanos().min(u128::from(u64::MAX)) as u64;
    Duration::from_nanos(if nanos == 0 {
        0
    } else {
        random_u64() % (nanos + 1)
    })
}

/// The probes the driver starts in one turn before it lets them run. When more are due than
/// the thread can run (a saturated engine), the others wait in the schedule, in due order,
/// as an entry of a few words each, instead of as spawned tasks of hundreds of bytes each
/// queued behind one another: at 16,000 checks that is megabytes. The driver yields after
/// a full turn, so the tasks it started run (or reach their first wait) before it starts
/// more; probes waiting for a reply are not counted, so the number in flight is not capped.
const STARTS_PER_TURN: usize = 64;

/// The driver: starts each check's probe when it is due, until the engine is dropped.
async fn drive<K>(shared: Weak<Shared<K>>, wake: Arc<Notify>)
where
    K: Clone + Ord + Send + Sync + 'static,
{
    loop {
        let (next, more_due) = {
            let Some(strong) = shared.upgrade() else {
                return;
            };
            if strong.paused.load(Ordering::SeqCst) {
                drop(strong);
                // Woken by resume (or by a new earliest probe: then paused again).
                wake.notified().await;
                continue;
            }
            let counters = &strong.counters;
            let mut inner = strong.lock();
            let now = Instant::now();
            let mut started = 0;
            while started < STARTS_PER_TURN
                && inner.schedule.peek().is_some_and(|Reverse(d)| d.at <= now)
            {
                let Some(Reverse(due)) = inner.schedule.pop() else {
                    break;
                };
                let Some(p) = inner
                    .probes
                    .get_mut(&due.spec)
                    .filter(|p| p.id == due.id && p.in_flight.is_none())
                else {
                    continue;
                };
                let task = tokio::spawn(probe_once(
                    shared.clone(),
                    counters.clone(),
                    due.spec,
                    p.prepared.clone(),
                    due.id,
                ));
                p.in_flight = Some(task.abort_handle());
                started += 1;
            }
            let next = inner.schedule.peek().map(|Reverse(d)| d.at);
            (next, next.is_some_and(|at| at <= now))
        };
        if more_due {
            tokio::task::yield_now().await;
            continue;
        }
        match next {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at.into()) => {}
                    _ = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

/// One probe of a check: run it, apply the result, tell the subscribers, schedule the next.
async fn probe_once<K>(
    shared: Weak<Shared<K>>,
    counters: Arc<Counters>,
    spec: Arc<CheckSpec>,
    prepared: Option<Arc<Prepared>>,
    id: u64,
) where
    K: Clone + Ord + Send + Sync + 'static,
{
    let result = {
        let _counted = InFlight::new(&counters);
        let start = Instant::now();
        let outcome = probe(&spec, prepared.as_deref().unwrap_or(&Prepared::Plain)).await;
        ProbeResult {
            outcome,
            duration: start.elapsed(),
        }
    };
    let Some(strong) = shared.upgrade() else {
        return;
    };
    if let Some(observe) = strong.observer.get() {
        observe(&spec, &result);
    }
    let mut inner = strong.lock();
    let Some(p) = inner.probes.get_mut(&spec).filter(|p| p.id == id) else {
        return;
    };
    p.in_flight = None;
    let (event, delay) = apply(&mut p.state, &spec.timing, &result);
    for key in &p.subscribers {
        if strong.report_results {
            let _ = strong.events.send(Event {
                key: key.clone(),
                kind: EventKind::Result,
                result: result.clone(),
            });
        }
        if let Some(kind) = &event {
            let _ = strong.events.send(Event {
                key: key.clone(),
                kind: kind.clone(),
                result: result.clone(),
            });
        }
    }
    let due = Due {
        at: Instant::now() + delay,
        id,
        spec,
    };
    if schedule_probe(&mut inner.schedule, due) {
        strong.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Stage, Timing};

    fn timing(retry: u32, rise: u32) -> Timing {
        Timing {
            delay_loop: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(1),
            retry,
            delay_before_retry: Duration::from_secs(2),
            warmup: Duration::ZERO,
            rise,
            alpha: false,
        }
    }

    fn ok() -> ProbeResult {
        ProbeResult {
            outcome: Ok(None),
            duration: Duration::ZERO,
        }
    }

    fn bad() -> ProbeResult {
        ProbeResult {
            outcome: Err(Failure::Timeout(Stage::Connect)),
            duration: Duration::ZERO,
        }
    }

    fn fresh(up: bool) -> CheckState {
        CheckState {
            up,
            weight: None,
            last_failure: None,
            probes: 0,
            failures_in_row: 0,
            successes_in_row: 0,
        }
    }

    /// The sequence of (transition, delay) for a sequence of results.
    fn walk(t: &Timing, up: bool, results: &[ProbeResult]) -> Vec<(Option<&'static str>, u64)> {
        let mut s = fresh(up);
        results
            .iter()
            .map(|r| {
                let (ev, d) = apply(&mut s, t, r);
                let name = ev.map(|e| match e {
                    EventKind::Up { .. } => "up",
                    EventKind::Down { .. } => "down",
                    EventKind::Weight(_) => "weight",
                    EventKind::Result => "result",
                });
                (name, d.as_secs())
            })
            .collect()
    }

    #[test]
    fn retry_then_down_with_delay_before_retry() {
        let t = timing(2, 1);
        assert_eq!(
            walk(&t, true, &[bad(), bad(), bad(), bad()]),
            [(None, 2), (None, 2), (Some("down"), 10), (None, 10)]
        );
        // A success in between resets the count.
        assert_eq!(
            walk(&t, true, &[bad(), bad(), ok(), bad(), bad(), bad()]),
            [
                (None, 2),
                (None, 2),
                (None, 10),
                (None, 2),
                (None, 2),
                (Some("down"), 10)
            ]
        );
    }

    #[test]
    fn rise_needs_consecutive_successes() {
        let t = timing(0, 3);
        assert_eq!(
            walk(
                &t,
                true,
                &[bad(), ok(), ok(), bad(), ok(), ok(), ok(), ok()]
            ),
            [
                (Some("down"), 10),
                (None, 2),
                (None, 2),
                (None, 10),
                (None, 2),
                (None, 2),
                (Some("up"), 10),
                (None, 10)
            ]
        );
        // alpha: starts down.
        assert_eq!(
            walk(&timing(0, 1), false, &[ok(), ok()]),
            [(Some("up"), 10), (None, 10)]
        );
    }

    #[test]
    fn weight_changes_only_when_different() {
        let t = timing(0, 1);
        let mut s = fresh(true);
        let w = |w| ProbeResult {
            outcome: Ok(Some(Weight::Set(w))),
            duration: Duration::ZERO,
        };
        assert_eq!(
            apply(&mut s, &t, &w(5)).0,
            Some(EventKind::Weight(Weight::Set(5)))
        );
        assert_eq!(apply(&mut s, &t, &w(5)).0, None);
        assert_eq!(
            apply(&mut s, &t, &w(7)).0,
            Some(EventKind::Weight(Weight::Set(7)))
        );
        assert!(matches!(
            apply(&mut s, &t, &bad()).0,
            Some(EventKind::Down { .. })
        ));
        assert_eq!(
            apply(&mut s, &t, &w(9)).0,
            Some(EventKind::Up {
                weight: Some(Weight::Set(9))
            })
        );
        assert_eq!(s.weight, Some(Weight::Set(9)));
    }
}
