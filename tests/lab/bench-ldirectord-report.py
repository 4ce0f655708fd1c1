#!/usr/bin/env python3
"""Writes the ldirectord benchmark's table (markdown) from the guest's @@LBENCH / @@LDETECT /
@@LINFO / @@LFAIL lines (tests/lab/guest/suite-bench-ldirectord.sh, tests/lab/bench
--ldirectord).

    bench-ldirectord-report.py RAW KERNEL DATE OUT.md

Exits 1 when the run had a failure (a daemon that did not reach an expected table, or a
phase without its figures), so that a broken build cannot print plausible figures."""
import statistics
import sys

raw, kernel, date, out = sys.argv[1:5]
B = {}  # (phase, daemon) -> {key: value}
det = {}  # (daemon, down|up) -> [seconds]
info = {}
fails = []
for line in open(raw):
    f = line.split()
    if not f:
        continue
    if f[0] == "@@LBENCH" and len(f) == 5:
        B.setdefault((f[1], f[2]), {})[f[3]] = f[4]
    elif f[0] == "@@LDETECT" and len(f) == 5:
        det.setdefault((f[1], f[2]), []).append(float(f[4]))
    elif f[0] == "@@LFAIL":
        fails.append(line.split(None, 1)[1].strip())
    elif f[0] == "@@LINFO" and len(f) >= 2:
        info.setdefault(f[1], []).append(f[2:])

P, O = "perl", "ours"
sizes = [int(x) for x in (info.get("sizes") or [["100", "500"]])[0]]
perl_max = int((info.get("perl_max") or [["100"]])[0][0])
window = (info.get("window") or [["30"]])[0][0]


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def get(phase, daemon, key):
    return B.get((str(phase), daemon), {}).get(key)


def fmt(v, digits=2):
    x = num(v)
    return "–" if x is None else f"{x:,.{digits}f}"


def fmt_int(v):
    x = num(v)
    return "–" if x is None else f"{int(x):,}"


def ratio(a, b):
    a, b = num(a), num(b)
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}x"


def spread(xs):
    if not xs:
        return "–"
    return f"{min(xs):.2f} / {statistics.median(xs):.2f} / {max(xs):.2f} (n={len(xs)})"


def per1000(phase, daemon):
    c, n = num(get(phase, daemon, "cpu_s")), num(get(phase, daemon, "checks_run"))
    return None if c is None or not n else c * 1000 / n


rows = []
rows.append(("start-up, 2 real servers: exec to both in the (empty) table (s)",
             fmt(get("detect", P, "startup_s")), fmt(get("detect", O, "startup_s")),
             ratio(get("detect", O, "startup_s"), get("detect", P, "startup_s"))))
for kind, what in (("down", "dead real server out of the table"), ("up", "returning real server back in the table")):
    a, b = det.get((P, kind), []), det.get((O, kind), [])
    rows.append((f"reaction, 2 real servers: {what} (s): min / median / max", spread(a), spread(b),
                 ratio(statistics.median(b) if b else None, statistics.median(a) if a else None)))
for n in sizes:
    has_p = (str(n), P) in B
    skipped = n > perl_max
    pnote = f"not run (above LAB_BLD_PERL_MAX={perl_max})" if skipped else "–"

    def pv(key, f=fmt):
        return f(get(n, P, key)) if has_p else pnote

    rows.append((f"**{n:,} real servers**: exec to every one checked once, table right (s; table loaded beforehand)",
                 pv("ready_s"), fmt(get(n, O, "ready_s")), ratio(get(n, O, "ready_s"), get(n, P, "ready_s"))))
    rows.append((f"{n:,}: checks run in {window} s (counted at the listener)", pv("checks_run", fmt_int),
                 fmt_int(get(n, O, "checks_run")), ratio(get(n, O, "checks_run"), get(n, P, "checks_run"))))
    rows.append((f"{n:,}: CPU of the daemon over those {window} s (s)", pv("cpu_s"), fmt(get(n, O, "cpu_s")),
                 ratio(get(n, O, "cpu_s"), get(n, P, "cpu_s"))))
    a, b = per1000(n, P), per1000(n, O)
    rows.append((f"{n:,}: **CPU seconds per 1,000 checks**", fmt(a, 3) if has_p else pnote, fmt(b, 3), ratio(b, a)))
    def passes(d):
        lo, hi = get(n, d, "pass_s"), get(n, d, "pass_max_s")
        return fmt(lo) if hi is None else f"{fmt(lo)} / {fmt(hi)}"

    rows.append((f"{n:,}: **one check pass**: {n:,} checks counted from a point in steady state (s; "
                 "shortest / longest of 3)", passes(P) if has_p else pnote, passes(O),
                 ratio(get(n, O, "pass_s"), get(n, P, "pass_s"))))
    rows.append((f"{n:,}: all {n:,} real servers down at once: until none is in the table (s)", pv("down_s"),
                 fmt(get(n, O, "down_s")), ratio(get(n, O, "down_s"), get(n, P, "down_s"))))
    rows.append((f"{n:,}: all back at once: until all {n:,} are in the table (s)", pv("up_s"),
                 fmt(get(n, O, "up_s")), ratio(get(n, O, "up_s"), get(n, P, "up_s"))))
    rows.append((f"{n:,}: peak RSS of the daemon (MB, VmHWM)",
                 (f"{num(get(n, P, 'rss_kb')) / 1024:.1f}" if num(get(n, P, "rss_kb")) else "–") if has_p else pnote,
                 f"{num(get(n, O, 'rss_kb')) / 1024:.1f}" if num(get(n, O, "rss_kb")) else "–", ""))
    rows.append((f"{n:,}: guest speed, a fixed awk loop before / after (s)",
                 f"{fmt(get(n, P, 'calib_s'))} / {fmt(get(n, P, 'calib_end_s'))}" if has_p else pnote,
                 f"{fmt(get(n, O, 'calib_s'))} / {fmt(get(n, O, 'calib_end_s'))}", ""))

# ldirectord above the largest size it ran: its pass and its mass events scale with the
# number of real servers (one after the other), extrapolated linearly from the largest run.
extra = []
ran = [n for n in sizes if (str(n), P) in B]
if ran:
    base = max(ran)
    for n in sizes:
        if n <= base or (str(n), P) in B:
            continue
        k = n / base
        for key, what in (("pass_s", "one check pass"), ("down_s", "all down: until none is in the table"),
                          ("up_s", "all back: until all are in the table"), ("ready_s", "exec to every one checked, table right")):
            v = num(get(base, P, key))
            if v is not None:
                extra.append(f"| {n:,}: {what} (s), **extrapolated** x{k:g} from {base:,} | {v * k:,.0f} | "
                             f"{fmt(get(n, O, key))} (measured) | |")

host = (info.get("hostload") or [[]])[0]
load = ""
if len(host) >= 7:
    load = (f" The host ({host[6]} cores, shared) had a load average of {host[0]} when the run began and "
            f"{host[3]} when it ended: other work slows the emulated CPU, so absolute times are inflated; "
            "the ratios compare runs of the same boot.")

with open(out, "w") as o:
    o.write(
        f"Measured {date} in the lab (qemu TCG guest, 1 vCPU, kernel {kernel}), same boot, one daemon at a "
        "time: Debian's ldirectord 4.12 (Perl 5.36, driving the oracle ipvsadm 1.31) and ours "
        "(`ldirectord`, package ipvs-director, release build) on the same ldirectord.cf: one virtual "
        "service (NAT, wrr), `checktype=connect`, `checkinterval=1`, `checktimeout=3`, `quiescent=no`, "
        "`fork=no`, `supervised=yes`. Real servers are AnyIP addresses of one namespace behind a veth; "
        "one listener per port (`labnet count`) counts every check that connected, whichever daemon "
        "sent it. CPU is the daemon's utime+stime from `/proc/PID/stat` (plus its waited-for "
        "children's, ldirectord's `sh` and `ipvsadm`) over the window; times from `/proc/uptime` "
        "(10 ms), tables read with `ipvsadm -Sn` every 0.05 s. Reaction: two real servers with their "
        "own listeners, from the listener's stop (start) to the first table read without (with) it. "
        "Sizes: the table is loaded with `ipvsadm -R` before the daemon starts (ldirectord then "
        "trusts it and writes nothing, but still reads the table twice per real server); a pass is "
        "the time for as many checks as real servers to be counted; ours checks every real server "
        "on its own period, concurrently, so its pass is bounded by `checkinterval`. Ratio: ours / "
        f"ldirectord.{load}\n\n")
    o.write("| figure | ldirectord 4.12 (Perl) | ours | ratio |\n|---|---:|---:|---:|\n")
    for r in rows:
        o.write("| " + " | ".join(r) + " |\n")
    for e in extra:
        o.write(e + "\n")
    if extra:
        o.write("\nExtrapolated rows: ldirectord was not run at that size (bounded run time); its "
                "pass and its state changes are sequential (one check, or one change with two "
                "`ipvsadm -L -n` listings and a write, after the other), so they are scaled "
                "linearly from its largest run. A listing of a larger table costs more, so the "
                "real figure is at least this.\n")
    missing = []
    for phase in ["detect"] + [str(n) for n in sizes]:
        for d in (P, O):
            if d == P and phase != "detect" and int(phase) > perl_max:
                continue
            key = "startup_s" if phase == "detect" else "up_s"
            if get(phase, d, key) is None:
                missing.append(f"{d} {phase}: no {key}")
    if fails or missing:
        o.write("\nFailures (the run exits non-zero):\n\n")
        for f in fails + missing:
            o.write(f"- {f}\n")
sys.exit(1 if fails or missing else 0)
