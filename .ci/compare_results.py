"""Compare committed results with freshly regenerated ones (a thin wrapper over
``linclf_cli.tasks.verify``, the implementation ``linclf verify`` uses).

Usage: compare_results.py COMMITTED_RESULTS NEW_RESULTS ASSIGNMENT [ASSIGNMENT ...]

Every task with a task.json under the named assignments, in either folder, is compared:
metrics within 1e-6 + 1e-5 x |committed| (integers, booleans and strings exactly), every
expectation's pass/fail, histories, and every figure with matplotlib's image comparison.
Exits 1 on any difference.  Prefer ``linclf verify --against NEW_RESULTS --results-dir
COMMITTED_RESULTS [TASK...]``, which also knows the tasks whose data is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from linclf_cli.tasks.verify import _task_refs, compare_trees, summary  # noqa: E402


def main() -> int:
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    old_root, new_root, *assignments = sys.argv[1:]
    refs = sorted({r for root in (old_root, new_root) for r in _task_refs(Path(root))
                   if r.split("/")[0] in assignments})
    if not refs:
        print("compare_results: no committed task.json found", file=sys.stderr)
        return 1
    verdicts = compare_trees(Path(old_root), Path(new_root), refs)
    for v in verdicts:
        for d in v.differences:
            c, r = d.values()
            print("DIFF", d.task, d.what, f"committed {c}, regenerated {r}", d.detail, file=sys.stderr)
    print(f"compare_results: {summary(verdicts)}")
    return 1 if any(v.status == "differs" for v in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
