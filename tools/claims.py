#!/usr/bin/env python3
"""Checks AKRP's claims for ONE configuration against each baseline, from an `akrp-sim run --json` sweep.

usage: tools/claims.py RESULTS.json [--config akrp] [--variants] [--saturation 1.0] [--moderate 0.6]
                       [--frontier FRONTIER.json] [--seeds MORE.json ...] [--default-budget-ms 900]

A deployment runs one configuration, so a claim is made for one named configuration (`--config`, default
`akrp`: the simulator's default AKRP settings) against each baseline (hop-by-hop, rsvp) separately — never
the best of several AKRP variants against the best of the baselines. Per routing and load, and per
baseline:
  throughput      at and above saturation, the configuration delivers more key than the baseline
  waste           the configuration wastes 0 bits (no faults in the simulator)
  key/bit         it consumes less link key per delivered bit than the baseline (without, and with, the
                  authentication key of every frame)
  mean, p99       from moderate load up, its relay latency is below the baseline's
A claim that does not hold is shown with its figures. --variants prints the same table for every other
AKRP protocol in the file (akrp-multipath, the no-CD&R ablations, …), each labelled with its name. When
`akrp-nocdr` is in the file, a CD&R ablation table shows what CD&R changes (throughput, mean and p99).
With --frontier (a sweep over AKRP latency budgets, `akrp-sim run --budget-ms A,B,…`) it shows, for each
baseline point, which budgets of the configuration dominate it (at least as much throughput, no higher
mean and p99 latency) — each budget is another setting of the configuration, reported by name, not a
claim of the default.
With --seeds (the same sweep with other seeds) it shows, per routing and load from saturation up, the
configuration's throughput against each baseline's in each seed, so that a difference can be told from
noise.
Exit status 0 whatever the outcome (it reports; it does not judge the run); 2 for unreadable input.
"""
import json
import sys

BASELINES = ("hop-by-hop", "rsvp")


def load(path, tool="claims"):
    """The result rows of an `akrp-sim run --json` file; exits 2 naming the file when it cannot."""
    try:
        with open(path) as f:
            rows = json.load(f)
    except (OSError, ValueError) as e:
        print(f"{tool}: cannot read {path}: {e}", file=sys.stderr)
        sys.exit(2)
    if not isinstance(rows, list):
        print(f"{tool}: {path}: expected the JSON array of `akrp-sim run --json`", file=sys.stderr)
        sys.exit(2)
    return rows


def option(args, name, default, tool="claims"):
    """The value after option `name`, or `default` when it is absent; exits 2 when the value is missing."""
    if name not in args:
        return default
    k = args.index(name)
    if k + 1 >= len(args) or args[k + 1].startswith("--"):
        print(f"{tool}: {name} needs a value", file=sys.stderr)
        sys.exit(2)
    return args[k + 1]


def files(args, name, tool="claims"):
    """The paths after option `name` up to the next option ([] when it is absent); exits 2 when none."""
    if name not in args:
        return []
    out = []
    for a in args[args.index(name) + 1:]:
        if a.startswith("--"):
            break
        out.append(a)
    if not out:
        print(f"{tool}: {name} needs at least one file", file=sys.stderr)
        sys.exit(2)
    return out


def value(r, key):
    return r[key[0]][key[1]] if isinstance(key, tuple) else r[key]


def claims_table(rows, config, saturation, moderate):
    """Rows of the claims table for protocol `config`; returns (lines, held, failed)."""
    out = [f"| routing | load | claim | {config} | baseline | value | holds |", "|---|---|---|---|---|---|---|"]
    held = failed = 0
    for routing in sorted({r["routing"] for r in rows}):
        for point in sorted({r["load"] for r in rows if r["routing"] == routing}):
            at = [r for r in rows if r["routing"] == routing and r["load"] == point]
            mine = [r for r in at if r["protocol"] == config]
            if not mine:
                continue
            a = mine[0]
            checks = []
            if point >= saturation - 1e-9:
                checks.append(("throughput (bit/s)", "throughput_bps", lambda x, y: x > y, "{:,.0f}"))
            checks.append(("wasted bits", "key_wasted_bits", None, "{:,.0f}"))
            checks.append(("key per delivered bit", "consumed_per_delivered_bit", lambda x, y: x < y, "{:.3f}"))
            checks.append(("… with authentication", "consumed_per_delivered_bit_with_authentication",
                           lambda x, y: x < y, "{:.3f}"))
            if point >= moderate - 1e-9:
                checks.append(("mean latency (ms)", ("latency_ms", "mean"), lambda x, y: x < y, "{:,.1f}"))
                checks.append(("p99 latency (ms)", ("latency_ms", "p99"), lambda x, y: x < y, "{:,.1f}"))
            for name, key, better, fmt in checks:
                if better is None:
                    ok = value(a, key) == 0
                    held += ok
                    failed += not ok
                    out.append(f"| {routing} | {point:.2f} | {name} | {fmt.format(value(a, key))} | — | — | "
                               f"{'yes' if ok else '**no**'} |")
                    continue
                for b in sorted((r for r in at if r["protocol"] in BASELINES), key=lambda r: r["protocol"]):
                    ok = better(value(a, key), value(b, key))
                    held += ok
                    failed += not ok
                    out.append(f"| {routing} | {point:.2f} | {name} | {fmt.format(value(a, key))} | {b['protocol']} | "
                               f"{fmt.format(value(b, key))} | {'yes' if ok else '**no**'} |")
    return out, held, failed


def ablation(rows, config):
    """What CD&R changes: the configuration against its no-CD&R ablation."""
    other = {"akrp": "akrp-nocdr", "akrp-multipath": "akrp-multipath-nocdr"}.get(config)
    if not other or not any(r["protocol"] == other for r in rows):
        return []
    out = [f"\n### CD&R ablation: {config} against {other}\n",
           f"| routing | load | throughput {config} / {other} (kbit/s) | mean ms | p99 ms |", "|---|---|---|---|---|"]
    for routing in sorted({r["routing"] for r in rows}):
        for point in sorted({r["load"] for r in rows if r["routing"] == routing}):
            at = {r["protocol"]: r for r in rows if r["routing"] == routing and r["load"] == point}
            if config not in at or other not in at:
                continue
            a, b = at[config], at[other]
            out.append(f"| {routing} | {point:.2f} | {a['throughput_bps'] / 1000:.2f} / {b['throughput_bps'] / 1000:.2f} | "
                       f"{a['latency_ms']['mean']:.0f} / {b['latency_ms']['mean']:.0f} | "
                       f"{a['latency_ms']['p99']:.0f} / {b['latency_ms']['p99']:.0f} |")
    return out


def seeds(paths, config, saturation):
    runs = [load(p) for p in paths]
    print(f"\n| routing | load | seed | baseline | {config} (kbit/s) | baseline (kbit/s) | difference |")
    print("|---|---|---|---|---|---|---|")
    ahead = total = 0
    keys = sorted({(r["routing"], r["load"]) for r in runs[0] if r["load"] >= saturation - 1e-9})
    for routing, point in keys:
        for baseline in BASELINES:
            diffs = []
            for rows in runs:
                at = {r["protocol"]: r for r in rows if r["routing"] == routing and r["load"] == point}
                if config not in at or baseline not in at or at[baseline]["throughput_bps"] <= 0:
                    continue
                a, b = at[config], at[baseline]
                d = (a["throughput_bps"] - b["throughput_bps"]) / b["throughput_bps"] * 100
                diffs.append(d)
                total += 1
                ahead += d > 0
                print(f"| {routing} | {point:.2f} | {a['seed']} | {baseline} | {a['throughput_bps'] / 1000:.2f} | "
                      f"{b['throughput_bps'] / 1000:.2f} | {d:+.2f} % |")
            if len(diffs) > 1:
                mean = sum(diffs) / len(diffs)
                print(f"| {routing} | {point:.2f} | all | {baseline} | | | mean {mean:+.2f} %, "
                      f"range {min(diffs):+.2f} … {max(diffs):+.2f} % |")
    print(f"\n{config} delivers more than the baseline in {ahead} of {total} (routing, load, seed, baseline) points.")


def frontier(path, config):
    rows = load(path)
    family = config.split("@")[0]
    settings = lambda r: r["protocol"] == family or r["protocol"].startswith(family + "@")
    print(f"\n| routing | load | baseline | throughput, mean / p99 ms | budgets of {family} that dominate it | "
          "nearest setting: throughput, mean / p99 ms |")
    print("|---|---|---|---|---|---|")
    dominated = total = 0
    for routing in sorted({r["routing"] for r in rows}):
        for point in sorted({r["load"] for r in rows if r["routing"] == routing}):
            at = [r for r in rows if r["routing"] == routing and r["load"] == point and r["delivered_requests"] > 0]
            mine = [r for r in at if settings(r)]
            for b in sorted((r for r in at if r["protocol"] in BASELINES), key=lambda r: r["protocol"]):
                total += 1

                def text(r):
                    return (f"{r['throughput_bps'] / 1000:.1f} kbit/s, {r['latency_ms']['mean']:.0f} / "
                            f"{r['latency_ms']['p99']:.0f}")
                winners = [a for a in mine if a["throughput_bps"] >= b["throughput_bps"]
                           and a["latency_ms"]["mean"] <= b["latency_ms"]["mean"]
                           and a["latency_ms"]["p99"] <= b["latency_ms"]["p99"]]
                near = [a for a in mine if a["latency_ms"]["p99"] <= b["latency_ms"]["p99"]]
                w = max(winners or near, key=lambda a: a["throughput_bps"]) if (winners or near) else None
                dominated += bool(winners)
                names = ", ".join(sorted(a["protocol"] for a in winners)) if winners else "**none**"
                print(f"| {routing} | {point:.2f} | {b['protocol']} | {text(b)} | {names} | "
                      f"{(w['protocol'] + ': ' + text(w)) if w else '—'} |")
    print(f"\n{dominated} of {total} baseline points are dominated by at least one budget setting of {family} "
          "(each budget is a setting one would deploy on its own).")


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("--"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    rows = load(args[0])
    config = option(args, "--config", "akrp")
    saturation = float(option(args, "--saturation", "1.0"))
    moderate = float(option(args, "--moderate", "0.6"))
    default_budget = option(args, "--default-budget-ms", "900")
    if not any(r["protocol"] == config for r in rows) and any(r["protocol"] == f"{config}@{default_budget}ms" for r in rows):
        # A budget sweep: the default configuration is the one with the default budget (900 ms).
        config += f"@{default_budget}ms"
    if not any(r["protocol"] == config for r in rows):
        names = sorted({r["protocol"] for r in rows})
        print(f"claims: no results of configuration '{config}' in {args[0]} (it has: {', '.join(names)})",
              file=sys.stderr)
        sys.exit(2)
    print(f"## Claims of `{config}` (one configuration) against each baseline\n")
    lines, held, failed = claims_table(rows, config, saturation, moderate)
    print("\n".join(lines))
    print(f"\n{held} of {held + failed} comparisons hold for {config}.")
    print("\n".join(ablation(rows, config)))
    if "--variants" in args:
        for variant in sorted({r["protocol"] for r in rows if r["protocol"].startswith("akrp") and r["protocol"] != config
                               and "@" not in r["protocol"]}):
            print(f"\n## Variant `{variant}` (labelled separately; not the default configuration)\n")
            lines, held, failed = claims_table(rows, variant, saturation, moderate)
            print("\n".join(lines))
            print(f"\n{held} of {held + failed} comparisons hold for {variant}.")
    if "--frontier" in args:
        frontier(option(args, "--frontier", ""), config)
    if "--seeds" in args:
        seeds([args[0]] + files(args, "--seeds"), config, saturation)


if __name__ == "__main__":
    main()
