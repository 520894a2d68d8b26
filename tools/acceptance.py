#!/usr/bin/env python3
"""Checks the default AKRP configuration against the acceptance criteria of the comparison, point by point,
from `akrp-sim run --json` sweeps, and says at each point that fails why, from the run's own figures.

usage: tools/acceptance.py --blocks R.json ... [--large L.json ...] [--ppbp P.json ...] [--config akrp]
                           [--saturation 1.0] [--factor 1.5]

  --blocks  sweeps with the default request size (256 bits), block-wise key, Poisson arrivals (one file
            per seed; every load and routing in them is checked)
  --large   the same with 4,096-bit requests (`--request-bits 4096`)
  --ppbp    the same with bursty arrivals (`--workload ppbp`)

Criteria, for the configuration (`--config`, default `akrp`) against each baseline in the same file,
routing, load and seed:
  throughput   at loads >= --saturation it delivers at least as much as hop-by-hop and rsvp
  mean, p99    its relay latency is at most rsvp's, at every load
  key/bit      with the authentication of every frame charged: at most hop-by-hop's for 4,096-bit
               requests; at most --factor (1.5) x hop-by-hop's for 256-bit requests
  waste        it wastes 0 bits of key
A point that fails is listed with its figures and a reason computed from them:
  latency      the run reports, per delivered request, the no-wait latency of its message pattern on the
               delivering path (`latency_floor_ms`: 3 crossings for AKRP, 2 for rsvp, 1 for hop-by-hop)
               and the rest (`waiting_ms`: waiting for key, behind held frames, and the attempts that
               failed before the delivering one — re-routes, rsvp's retries). When AKRP waits no longer
               than rsvp, the reason is its extra crossing; otherwise the larger of the two differences
               (floor, waiting) is named first.
  throughput   the share of requests each delivers and their p99 latency (a protocol that never refuses
               queues instead).
  key/bit      frames per delivered request and key per bit without authentication: whether the
               difference is the authentication of more frames or more relay key (longer paths).
Exit status 0 whatever the outcome (it reports; it does not judge); 2 for unreadable input or a file
without the configuration.
"""
import sys

import claims

BASELINES = claims.BASELINES


def load(path):
    return claims.load(path, tool="acceptance")


def files(args, name):
    return claims.files(args, name, tool="acceptance")


def option(args, name, default):
    return claims.option(args, name, default, tool="acceptance")


def points(paths, config):
    """(label, routing, load, seed, {protocol: row}) for every point of the files that has the configuration."""
    out = []
    for path in paths:
        rows = load(path)
        if not any(r.get("protocol") == config for r in rows):
            names = sorted({r.get("protocol", "?") for r in rows})
            print(f"acceptance: no results of configuration '{config}' in {path} (it has: {', '.join(names)})",
                  file=sys.stderr)
            sys.exit(2)
        needed = ("routing", "load", "seed", "protocol", "throughput_bps", "success_ratio", "key_wasted_bits",
                  "consumed_per_delivered_bit", "consumed_per_delivered_bit_with_authentication", "frames",
                  "delivered_requests", "latency_ms", "latency_floor_ms", "waiting_ms")
        for r in rows:
            missing = [k for k in needed if k not in r]
            if missing:
                print(f"acceptance: {path}: a result of '{r.get('protocol', '?')}' lacks {', '.join(missing)} "
                      "(written by an older akrp-sim? run the sweep again)", file=sys.stderr)
                sys.exit(2)
        keys = sorted({(r["routing"], r["load"], r["seed"]) for r in rows if r["protocol"] == config})
        for routing, point, seed in keys:
            at = {r["protocol"]: r for r in rows if (r["routing"], r["load"], r["seed"]) == (routing, point, seed)}
            out.append((routing, point, seed, at))
    return out


def frames_per_request(r):
    return r["frames"] / r["delivered_requests"] if r["delivered_requests"] else float("inf")


def latency_reason(a, b, which):
    """Why configuration row `a` has a higher mean or p99 latency than baseline row `b`, from the differences
    of the no-wait floors and of the waiting (for the mean they add up to the gap; for p99 each is a quantile
    of its own, so they are compared with each other, not with the gap)."""
    fa, fb = a["latency_floor_ms"][which], b["latency_floor_ms"][which]
    wa, wb = a["waiting_ms"][which], b["waiting_ms"][which]
    figures = f"no-wait {fa:.1f} vs {fb:.1f} ms, waiting {wa:.1f} vs {wb:.1f} ms"
    if wa <= wb:
        return f"the extra crossing ({figures})"
    if fa - fb >= wa - wb:
        return f"mostly the extra crossing ({figures})"
    return f"mostly waiting for key, held frames or re-routes ({figures})"


def throughput_reason(a, b):
    return (f"{b['protocol']} delivers {b['success_ratio']:.1%} of requests at p99 {b['latency_ms']['p99']:,.0f} ms, "
            f"{a['protocol']} {a['success_ratio']:.1%} at p99 {a['latency_ms']['p99']:,.0f} ms")


def key_reason(a, b):
    plain = a["consumed_per_delivered_bit"] <= b["consumed_per_delivered_bit"]
    figures = (f"frames per delivered request {frames_per_request(a):.2f} vs {frames_per_request(b):.2f}; "
               f"without authentication {a['consumed_per_delivered_bit']:.3f} vs {b['consumed_per_delivered_bit']:.3f}")
    return (f"authenticating more frames ({figures})" if plain else f"more relay key per bit, longer paths ({figures})")


class Criterion:
    def __init__(self, name):
        self.name = name
        self.checked = 0
        self.failures = []

    def check(self, ok, row):
        """Counts a point; `row` (a function giving the table row) is called only for a point that fails."""
        self.checked += 1
        if not ok:
            self.failures.append(row())


def ratio(x, y):
    return f"{x / y:.3f}×" if y > 0 else "— (nothing delivered)"


def evaluate(sets, config, saturation, factor):
    crits = {k: Criterion(k) for k in ("throughput", "mean latency", "p99 latency", "key per bit (256-bit)",
                                       "key per bit (4,096-bit)", "key wasted")}
    for label, pts in sets:
        for routing, point, seed, at in pts:
            a = at[config]
            where = f"| {label} | {routing} | {point:.2f} | {seed} |"
            crits["key wasted"].check(a["key_wasted_bits"] == 0, lambda: f"{where} {a['key_wasted_bits']:,} bits | — | — |")
            if point >= saturation - 1e-9:
                for name in BASELINES:
                    if name in at:
                        b = at[name]
                        ok = a["throughput_bps"] >= b["throughput_bps"]
                        d = (a["throughput_bps"] - b["throughput_bps"]) / b["throughput_bps"] * 100 if b["throughput_bps"] else 0
                        crits["throughput"].check(
                            ok, lambda: f"{where} {a['throughput_bps']:,.0f} vs {b['protocol']} {b['throughput_bps']:,.0f} "
                                        f"bit/s ({d:+.2f} %) | {throughput_reason(a, b)} |")
            if "rsvp" in at:
                b = at["rsvp"]
                for which, crit in (("mean", "mean latency"), ("p99", "p99 latency")):
                    x, y = a["latency_ms"][which], b["latency_ms"][which]
                    crits[crit].check(x <= y or a["delivered_requests"] == 0,
                                      lambda: f"{where} {x:,.1f} vs rsvp {y:,.1f} ms | {latency_reason(a, b, which)} |")
            if "hop-by-hop" in at:
                b = at["hop-by-hop"]
                x = a["consumed_per_delivered_bit_with_authentication"]
                y = b["consumed_per_delivered_bit_with_authentication"]
                large = label.startswith("4,096")
                limit = y if large else factor * y
                crit = "key per bit (4,096-bit)" if large else "key per bit (256-bit)"
                # A protocol that delivered nothing spent nothing per delivered bit (0): the point then says so.
                ok = x > 0 and (y == 0 or x <= limit)
                crits[crit].check(ok, lambda: f"{where} {x:.3f} vs hop-by-hop {y:.3f} ({ratio(x, y)}) | "
                                              f"{key_reason(a, b) if x > 0 and y > 0 else 'nothing delivered by one of them'} |")
    return crits


def main():
    args = sys.argv[1:]
    if not args or "--blocks" not in args and "--large" not in args and "--ppbp" not in args:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    config = option(args, "--config", "akrp")
    saturation = float(option(args, "--saturation", "1.0"))
    factor = float(option(args, "--factor", "1.5"))
    sets = []
    for name, label in (("--blocks", "256-bit"), ("--large", "4,096-bit"), ("--ppbp", "256-bit PPBP")):
        if name in args:
            sets.append((label, points(files(args, name), config)))
    crits = evaluate(sets, config, saturation, factor)
    seeds = sorted({p[2] for _, pts in sets for p in pts})
    print(f"## Acceptance of `{config}` (the default configuration), point by point\n")
    print(f"Seeds {', '.join(map(str, seeds))}; throughput from load {saturation:.1f}; 256-bit key per bit within "
          f"{factor}× of hop-by-hop's, 4,096-bit at most hop-by-hop's; latency at most rsvp's.\n")
    print("| criterion | points checked | met | not met |")
    print("|---|---|---|---|")
    for c in crits.values():
        print(f"| {c.name} | {c.checked} | {c.checked - len(c.failures)} | {len(c.failures)} |")
    for c in crits.values():
        if not c.failures:
            continue
        print(f"\n### {c.name}: the points where it is not met\n")
        print("| requests | routing | load | seed | figures | reason |")
        print("|---|---|---|---|---|---|")
        print("\n".join(c.failures))


if __name__ == "__main__":
    main()
