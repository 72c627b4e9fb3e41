"""``linclf gradcheck``: analytic gradients against centred differences, in float64."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from linclf_cli.errors import UsageError
from linclf_cli.runs import gradchecks

from .common import handle_errors


def render_table(rows: list[dict]) -> Table:
    t = Table(title="Gradient checks (centred differences, float64)")
    for col in ("model", "param", "L2", "weights", "max |num - an|", "bound", "max rel. error", "result"):
        t.add_column(col, justify="right" if col not in ("model", "param", "result") else "left")
    for r in rows:
        bound = "-" if r.get("bound") is None else f"{r['bound']:.0e}"
        t.add_row(r["model"], r.get("param", "W"), f"{r['l2']:g}", str(r["n_weights"]),
                  f"{r['max_abs_error']:.2e}", bound, f"{r['max_rel_error']:.2e}",
                  "[green]pass[/]" if r["passed"] else "[red]FAIL[/]")
    return t


@handle_errors
def gradcheck(
    model: Annotated[list[str], typer.Option("--model", "-m", help="Model to check (repeatable): binary, softmax. Default: all.")] = [],
    l2: Annotated[list[float], typer.Option("--l2", help="L2 coefficients to check (repeatable).")] = [0.0, 2.0],
    synthetic: Annotated[bool, typer.Option("--synthetic", help="Use random images instead of MNIST (no data needed).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON on stdout.")] = False,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Dataset folder (else $LINCLF_DATA_DIR, then the user cache).")] = None,
) -> None:
    """Check each model's analytic gradient, with and without L2.

    TDT4265 form: eps = 1e-3, every weight, the first 100 pre-processed training images,
    pass when |numeric - analytic| <= eps^2; the maximum relative error is shown too.
    Exits 1 if any check fails.

    [bold]Examples[/]

      linclf gradcheck
      linclf gradcheck --model softmax --l2 0 --l2 2 --json
      linclf gradcheck --synthetic
    """
    models = model or list(gradchecks.TDT_MODELS)
    unknown = [m for m in models if m not in gradchecks.TDT_MODELS]
    if unknown:
        raise UsageError(f"Unknown model {unknown[0]!r}.",
                         f"Choose from: {', '.join(gradchecks.TDT_MODELS)}.")
    rows = gradchecks.tdt_gradchecks(models, l2, data_dir=data_dir, synthetic=synthetic)
    ok = all(r["passed"] for r in rows)
    if as_json:
        typer.echo(json.dumps({"passed": ok, "checks": rows}, indent=2))
    else:
        Console().print(render_table(rows))
    if not ok:
        raise typer.Exit(1)
