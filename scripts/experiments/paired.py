# Experiment script of docs/experiments.md (eighth session).
"""Paired differences between variants of an `encoder_aug_eval.py` row log: python paired.py ROWS.jsonl REFERENCE
(part contact share per case, and top-1 lift per verdict; mean difference with a 95% normal interval over cases)."""
import json
import sys
from collections import defaultdict

import numpy as np

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
ref = sys.argv[2]
by = defaultdict(dict)
for r in rows:
    by[r["variant"]][r["case"]] = r
common = set.intersection(*(set(v) for v in by.values()))
verdicts = sorted({k[5:] for r in rows for k in r if k.startswith("lift_")})


def measure(r, what):
    if what == "part":
        return np.mean(r["part_share"]) if r["part_share"] else 0.0
    return float(bool(r[f"lift_{what}"][:1] == [True]))


for name in sorted(by):
    out = []
    for what in ["part"] + verdicts:
        a = np.array([measure(by[name][c], what) for c in sorted(common)])
        b = np.array([measure(by[ref][c], what) for c in sorted(common)])
        d = a - b
        half = 1.96 * d.std(ddof=1) / np.sqrt(len(d))
        out.append(f"{what} {a.mean():.3f} ({d.mean():+.3f} [{d.mean() - half:+.3f}, {d.mean() + half:+.3f}])")
    print(f"{name} ({len(common)} cases vs {ref}): " + "; ".join(out))
