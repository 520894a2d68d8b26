#!/usr/bin/env python3
"""Flow bound of an akrp-sim scenario: the maximum concurrent multicommodity flow.

Input: the JSON written by `akrp-sim run --scenario-out FILE` (nodes, links [a, b, rate bit/s],
demand [s, d, weight], weights summing to 1). Both directions of a link share its key rate.

    maximise  lambda
    subject to, for every source s and node v (commodities aggregated by source):
        out_s(v) - in_s(v) = lambda * sum_d w(s, d)   if v == s
                           = -lambda * w(s, v)        otherwise
        sum_s (f_s(a->b) + f_s(b->a)) <= rate(a, b)   for every link
        f >= 0

lambda is the largest end-to-end key throughput (bit/s) the demand mix can get. Solved with
scipy's HiGHS. Prints lambda (bit/s) on standard output; `--json` prints an object.
"""
import argparse
import json
import sys

try:
    import numpy as np
    from scipy.optimize import linprog
    from scipy.sparse import lil_matrix
except ImportError:  # pragma: no cover
    sys.exit("flow-bound.py needs numpy and scipy: python3 -m pip install numpy scipy")


def bound(scenario):
    n = scenario["nodes"]
    links = scenario["links"]
    demand = scenario["demand"]
    sources = sorted({int(s) for s, _, _ in demand})
    m = len(links)
    arcs = []
    for e, (a, b, _) in enumerate(links):
        arcs.append((int(a) - 1, int(b) - 1, e))
        arcs.append((int(b) - 1, int(a) - 1, e))
    na = len(arcs)
    nvar = len(sources) * na + 1
    lam = nvar - 1
    weights = {}
    for s, d, w in demand:
        weights.setdefault(int(s) - 1, {})[int(d) - 1] = weights.get(int(s) - 1, {}).get(int(d) - 1, 0) + float(w)
    a_eq = lil_matrix((len(sources) * n, nvar))
    b_eq = np.zeros(len(sources) * n)
    for k, s1 in enumerate(sources):
        s = s1 - 1
        base = k * na
        for j, (x, y, _) in enumerate(arcs):
            a_eq[k * n + x, base + j] += 1
            a_eq[k * n + y, base + j] -= 1
        row = weights.get(s, {})
        a_eq[k * n + s, lam] = -sum(row.values())
        for d, w in row.items():
            a_eq[k * n + d, lam] = w
    a_ub = lil_matrix((m, nvar))
    b_ub = np.array([float(r) for _, _, r in links])
    for k in range(len(sources)):
        for j, (_, _, e) in enumerate(arcs):
            a_ub[e, k * na + j] = 1
    c = np.zeros(nvar)
    c[lam] = -1
    res = linprog(c, A_ub=a_ub.tocsr(), b_ub=b_ub, A_eq=a_eq.tocsr(), b_eq=b_eq, bounds=(0, None), method="highs")
    if res.status != 0:
        raise SystemExit(f"flow-bound.py: LP failed: {res.message}")
    return float(res.x[lam])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", help="JSON from akrp-sim run --scenario-out")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    args = p.parse_args()
    with open(args.scenario) as f:
        scenario = json.load(f)
    value = bound(scenario)
    if args.json:
        print(json.dumps({"topology": scenario.get("topology"), "bound_throughput_bps": value, "method": "lp-highs"}))
    else:
        print(f"{value:.3f}")


if __name__ == "__main__":
    main()
