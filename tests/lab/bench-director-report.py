#!/usr/bin/env python3
"""Writes the director benchmark's table (markdown) from the guest's @@DBENCH / @@DDETECT /
@@DINFO lines (tests/lab/guest/suite-bench-director.sh).

    bench-director-report.py RAW KERNEL DATE OUT.md

Exits 1 when a daemon has no complete run (no start-up figure for the distinct variant)."""
import statistics
import sys

raw, kernel, date, out = sys.argv[1:5]
D = {}  # (variant, daemon) -> {key: value}
det = {}  # (daemon, down|up) -> [seconds]
rounds = {}  # round -> {daemon: (checks run, CPU ticks, whole-guest busy ticks, lvsd engine ticks)}
info = {}
fails = []
for line in open(raw):
    f = line.split()
    if not f:
        continue
    if f[0] == "@@DBENCH" and len(f) == 5:
        D.setdefault((f[1], f[2]), {})[f[3]] = f[4]
    elif f[0] == "@@DDETECT" and len(f) == 5:
        det.setdefault((f[1], f[2]), []).append(float(f[4]))
    elif f[0] == "@@DROUND" and len(f) in (5, 6, 7):
        x = [int(v) for v in f[3:]] + [None, None]
        rounds.setdefault(int(f[1]), {})[f[2]] = tuple(x[:4])
    elif f[0] == "@@DFAIL":
        fails.append(line.split(None, 1)[1].strip())
    elif f[0] == "@@DINFO" and len(f) >= 3:
        info[f[1]] = f[2:]

services, rs, window, delay = (info.get("size") or ["2000", "8", "30", "5"])[:4]
services, rs = int(services), int(rs)
K, L = "keepalived", "lvsd"


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def get(variant, daemon, key):
    v = D.get((variant, daemon), {}).get(key)
    # A reload that did not finish within the bound.
    if v is None and key in ("noop_s", "oneline_s"):
        t = D.get((variant, daemon), {}).get(key[:-2] + "_timeout")
        if t is not None:
            return f"not done in {t} s"
    return v


def fmt_int(v):
    x = num(v)
    return "–" if x is None else f"{int(x):,}"


def fmt(v, digits=2):
    x = num(v)
    if x is None and isinstance(v, str) and v.startswith("not done"):
        return f"**{v}**"
    return "–" if x is None else f"{x:.{digits}f}"


def ratio(a, b, digits=2):
    a, b = num(a), num(b)
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.{digits}f}x"


def mb(v):
    x = num(v)
    return "–" if x is None else f"{x / 1024:.1f}"


def run_due(variant, daemon, run, due):
    r, d = num(get(variant, daemon, run)), num(get(variant, daemon, due))
    # A reload that did not finish: due over its whole bound.
    t = num(get(variant, daemon, due[:-4] + "_timeout")) if due.endswith("_due") else None
    if d is None and t is not None and variant == "distinct":
        d = t * services * rs / float(delay)
    if r is not None and d is None:
        return f"{int(r):,} / –"
    if r is None or d is None:
        return "–"
    pct = f" ({100 * r / d:.0f}%)" if d else ""
    return f"{int(r):,} / {int(d):,}{pct}"


rows = []


def row(label, kv, lv, r="", note=""):
    rows.append(f"| {label} | {kv} | {lv} | {r} |")


V = "distinct"
row("start-up: exec to all %s real servers in the table and the start line (s)" % f"{services * rs:,}",
    fmt(get(V, K, "startup_s")), fmt(get(V, L, "startup_s")), ratio(get(V, L, "startup_s"), get(V, K, "startup_s")))
def knock(daemon):
    x = num(get(V, daemon, "knock_per_s"))
    return "–" if x is None else f"{int(x):,}"


row(f"the guest's ceiling before each run: TCP connect + reset a second, one thread, no daemon "
    f"(checks due: {int(services * rs / float(delay)):,} a second)", knock(K), knock(L), "")
row(f"checks run / due in {window} s (accepted at the real servers)",
    run_due(V, K, "checks_run", "checks_due"), run_due(V, L, "checks_run", "checks_due"),
    ratio(get(V, L, "checks_run"), get(V, K, "checks_run")))
row(f"CPU of the daemon over those {window} s (s)", fmt(get(V, K, "cpu_s")), fmt(get(V, L, "cpu_s")),
    ratio(get(V, L, "cpu_s"), get(V, K, "cpu_s")))
row("CPU per check run (ms)", fmt(get(V, K, "cpu_ms_per_check"), 3), fmt(get(V, L, "cpu_ms_per_check"), 3),
    ratio(get(V, L, "cpu_ms_per_check"), get(V, K, "cpu_ms_per_check")))
if len(rounds) > 1:
    # Every round (the daemons alternating in the same boot), then all rounds pooled.
    def per_check(cs, i=1):
        cs = [x for x in cs if x[i] is not None]
        c = sum(x[0] for x in cs)
        return f"{sum(x[i] for x in cs) * 10 / c:.3f}" if c else None

    def of(r, d):
        return [rounds[r][d]] if d in rounds[r] else []
    for r in sorted(rounds):
        k, l_ = per_check(of(r, K)), per_check(of(r, L))
        row(f"CPU per check run, round {r} of {len(rounds)} (ms)", fmt(k, 3), fmt(l_, 3), ratio(l_, k))
    k = per_check([x for r in rounds for x in of(r, K)])
    l_ = per_check([x for r in rounds for x in of(r, L)])
    row(f"CPU per check run, {len(rounds)} rounds pooled (ms)", f"**{fmt(k, 3)}**", f"**{fmt(l_, 3)}**",
        f"**{ratio(l_, k)}**")
    k = per_check([x for r in rounds for x in of(r, K)], 2)
    l_ = per_check([x for r in rounds for x in of(r, L)], 2)
    if k or l_:
        row(f"whole guest's CPU per check run (daemon, real servers' listener, softirq), {len(rounds)} rounds pooled (ms)",
            fmt(k, 3), fmt(l_, 3), ratio(l_, k))
    k = per_check([x for r in rounds for x in of(r, K)])
    l_ = per_check([x for r in rounds for x in of(r, L)], 3)
    if l_:
        row(f"lvsd's check-engine thread alone (its other threads read and write the kernel: the periodic reconcile), "
            f"{len(rounds)} rounds pooled (ms per check; ratio to keepalived's whole CPU per check)",
            fmt(k, 3), fmt(l_, 3), ratio(l_, k))
row("peak RSS, all processes (MB, VmHWM)", mb(get(V, K, "rss_kb")), mb(get(V, L, "rss_kb")),
    ratio(get(V, L, "rss_kb"), get(V, K, "rss_kb")))
for key, what in (("rss_start_kb", "of it: peak RSS once started (MB)"),
                  ("rss_now_kb", "RSS at the end of the checking window (MB, VmRSS)"),
                  ("rss_proc_kb", "peak RSS of the largest process (MB; keepalived: its checker child)")):
    if get(V, K, key) is not None or get(V, L, key) is not None:
        row(what, mb(get(V, K, key)), mb(get(V, L, key)), ratio(get(V, L, key), get(V, K, key)))
reloaded = any(k in D.get((V, d), {}) for d in (K, L) for k in ("noop_s", "noop_timeout"))
for name, what in (("noop", "no-op reload (same file)"), ("oneline", "one-line reload (one weight 1 → 5)")) if reloaded else ():
    def done(d):
        v = fmt(get(V, d, name + "_s"))
        # Runs before the one-line reload was skipped after an unfinished no-op reload: the
        # line then seen was the no-op reload's.
        if name == "oneline" and any(x.startswith(f"{d} distinct: noop reload not done") for x in fails):
            if num(get(V, d, name + "_s")) is None:
                v = "not run (the no-op reload had not finished)"
            else:
                v += " (sent while the no-op reload was still running: this `Reload complete` is the first one)"
        return v
    row(f"{what}: SIGHUP to done (s)", done(K), done(L),
        ratio(get(V, L, name + "_s"), get(V, K, name + "_s")))
    if name == "oneline":
        row(f"{what}: SIGHUP to the new weight in the kernel (s; one service polled every 0.1 s)",
            fmt(get(V, K, "oneline_kernel_s")), fmt(get(V, L, "oneline_kernel_s")),
            ratio(get(V, L, "oneline_kernel_s"), get(V, K, "oneline_kernel_s")))
    want = "0" if name == "noop" else "1"
    lw = get(V, L, name + "_writes")
    ok_key = "_unchanged" if name == "noop" else "_ok"
    kok = get(V, K, name + ok_key) or "–"
    lok = get(V, L, name + ok_key) or "–"
    okname = "table unchanged" if name == "noop" else "table right"
    row(f"{what}: kernel writes (lvsd must write {want}); {okname}",
        f"not logged; {kok}", f"{lw if lw is not None else '–'}; {lok}", "")
    row(f"{what}: checks run / due meanwhile", run_due(V, K, name + "_checks", name + "_due"),
        run_due(V, L, name + "_checks", name + "_due"),
        ratio(get(V, L, name + "_checks"), get(V, K, name + "_checks")))
if reloaded:
    row("peak RSS after the reloads (MB)", mb(get(V, K, "rss_after_kb")), mb(get(V, L, "rss_after_kb")),
        ratio(get(V, L, "rss_after_kb"), get(V, K, "rss_after_kb")))

row("guest speed: a fixed awk loop before the start / after the stop (s; host load slows the emulation)",
    f"{fmt(get(V, K, 'calib_s'))} / {fmt(get(V, K, 'calib_end_s'))}",
    f"{fmt(get(V, L, 'calib_s'))} / {fmt(get(V, L, 'calib_end_s'))}", "")

V = "shared"
if any((V, d) in D for d in (K, L)):
    row(f"**shared targets** ({rs} real servers in every service): start-up (s)", fmt(get(V, K, "startup_s")),
        fmt(get(V, L, "startup_s")), ratio(get(V, L, "startup_s"), get(V, K, "startup_s")))
    row(f"shared: connections accepted / checks due in {window} s",
        run_due(V, K, "checks_run", "checks_due"), run_due(V, L, "checks_run", "checks_due"), "")
    row(f"shared: connections accepted / distinct targets due ({rs} per delay_loop)",
        run_due(V, K, "checks_run", "probes_due"), run_due(V, L, "checks_run", "probes_due"), "")
    row(f"shared: CPU over {window} s (s)", fmt(get(V, K, "cpu_s")), fmt(get(V, L, "cpu_s")),
        ratio(get(V, L, "cpu_s"), get(V, K, "cpu_s")))
    row("shared: peak RSS (MB)", mb(get(V, K, "rss_kb")), mb(get(V, L, "rss_kb")),
        ratio(get(V, L, "rss_kb"), get(V, K, "rss_kb")))


def mmm(xs):
    if not xs:
        return "–"
    return f"{min(xs):.2f} / {statistics.median(xs):.2f} / {max(xs):.2f} (n={len(xs)})"


for ev, what in (("down", "dead real server out of the table (s): min / median / max"),
                 ("up", "returned real server back in the table (s): min / median / max")):
    k, l_ = det.get((K, ev), []), det.get((L, ev), [])
    row(f"detection, {what}", mmm(k), mmm(l_),
        ratio(statistics.median(l_), statistics.median(k)) if k and l_ else "–")

head = (
    f"Measured {date} in the lab (qemu TCG guest, 1 vCPU, kernel {kernel}), same boot, one daemon at a "
    f"time: keepalived 2.2.7 (Debian, `keepalived --check --dont-fork`) and lvsd (release build) on the "
    f"same keepalived.conf: {services:,} virtual services x {rs} real servers ({services * rs:,}), NAT, wrr, "
    f"TCP_CHECK (`connect_timeout 3`), `delay_loop {delay}`; every real server its own (address, port) "
    f"target (AnyIP addresses in 198.19.0.0/16 of one namespace) unless marked shared. Checks are counted "
    f"by the real servers' listener (`labnet count`); CPU is utime+stime of all the daemon's processes "
    f"over the window; times from `/proc/uptime` (10 ms). Reload: SIGHUP to keepalived's `Reload complete` "
    f"/ lvsd's `reload: ok` (printed once its reconcile has returned); lvsd's writes from its "
    f"`kernel: N changes applied` lines; tables read with `ipvsadm -Sn` before and after. Detection: one "
    f"service, two real servers, `delay_loop 1`, `retry 1`, `delay_before_retry 1`, `connect_timeout 1`; "
    f"from the kill of (start of) the listener to the first table read without (with) it, tables polled "
    f"every 0.05 s. Ratio: lvsd / keepalived."
)
hl = info.get("hostload")
if hl and len(hl) >= 7:
    head += (f" The host ({hl[6]} cores, shared) had a load average of {hl[0]} when the run began and "
             f"{hl[3]} when it ended: the emulated CPU was slowed by other work, so absolute times "
             f"and CPU figures are inflated; the ratios compare runs of the same boot.")
tail = ""
if fails:
    tail = "\nFailures (the run exits non-zero):\n\n" + "".join(f"- {x}\n" for x in fails)
text = head + "\n\n| figure | keepalived 2.2.7 | lvsd | ratio |\n|---|---:|---:|---:|\n" + "\n".join(rows) + "\n" + tail
with open(out, "w") as fh:
    fh.write(text)
ok = all(get("distinct", d, "startup_s") is not None for d in (K, L))
sys.exit(0 if ok else 1)
