"""Compare committed metrics with freshly regenerated ones.

Usage: compare_results.py COMMITTED_RESULTS NEW_RESULTS ASSIGNMENT [ASSIGNMENT ...]

Every numeric metric in every task.json of the committed results must be reproduced within
an absolute tolerance of 1e-6 + relative 1e-5 (float32 training is deterministic on one
machine; the tolerance absorbs BLAS kernel differences between machines).  Integers and
booleans (steps, stop epochs, pass/fail) must match exactly.  Exits 1 on any difference.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

ABS_TOL, REL_TOL = 1e-6, 1e-5


def walk(a, b, path, diffs):
    if isinstance(a, dict):
        if not isinstance(b, dict):
            diffs.append(f"{path}: committed a mapping, regenerated {b!r}")
            return
        for k in a:
            if k in ("finished", "key", "deps"):
                continue
            if k not in b:
                diffs.append(f"{path}.{k}: missing in the regenerated results")
            else:
                walk(a[k], b[k], f"{path}.{k}", diffs)
    elif isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            diffs.append(f"{path}: committed {a!r}, regenerated {b!r}")
            return
        for i, (x, y) in enumerate(zip(a, b)):
            walk(x, y, f"{path}[{i}]", diffs)
    elif isinstance(a, bool) or isinstance(a, int) and isinstance(b, int) or a is None or isinstance(a, str):
        if a != b:
            diffs.append(f"{path}: committed {a!r}, regenerated {b!r}")
    elif isinstance(a, (int, float)):
        if not isinstance(b, (int, float)) or not math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL):
            diffs.append(f"{path}: committed {a!r}, regenerated {b!r} (tolerance {ABS_TOL:g} + {REL_TOL:g} rel)")


def main() -> int:
    old_root, new_root, *assignments = sys.argv[1:]
    diffs: list[str] = []
    n = 0
    for a in assignments:
        for old in sorted(Path(old_root, a).glob("*/task.json")):
            new = Path(new_root, a, old.parent.name, "task.json")
            if not new.exists():
                diffs.append(f"{a}/{old.parent.name}: not regenerated")
                continue
            walk(json.loads(old.read_text()), json.loads(new.read_text()), f"{a}/{old.parent.name}", diffs)
            n += 1
    if n == 0:
        print("compare_results: no committed task.json found", file=sys.stderr)
        return 1
    for d in diffs:
        print("DIFF", d, file=sys.stderr)
    print(f"compare_results: {n} tasks compared, {len(diffs)} differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
