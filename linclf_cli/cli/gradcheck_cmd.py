"""``linclf gradcheck``: analytic gradients against centred differences, in float64."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from linclf_cli.errors import UsageError
from linclf_cli.assignments import gradchecks

from .common import handle_errors, parse_hidden

MODELS = (*gradchecks.TDT_MODELS, *gradchecks.DD2424_MODELS, "mlp", "aml-toy")


def render_table(rows: list[dict]) -> Table:
    t = Table(title="Gradient checks (centred differences, float64)")
    for col in ("model", "param", "λ", "size", "max |num - an|", "bound", "max rel. error", "result"):
        t.add_column(col, justify="right" if col not in ("model", "param", "result") else "left")
    for r in rows:
        bound = "-" if r.get("bound") is None else f"{r['bound']:.0e}"
        t.add_row(r["model"], r.get("param", "W"), f"{r['l2']:g}", str(r["n_weights"]),
                  f"{r['max_abs_error']:.2e}", bound, f"{r['max_rel_error']:.2e}",
                  "[green]pass[/]" if r["passed"] else "[red]FAIL[/]")
    return t


@handle_errors
def gradcheck(
    model: Annotated[list[str], typer.Option("--model", "-m", metavar="MODEL", help=f"Model to check (repeatable): {', '.join(MODELS)}. Default: binary and softmax.")] = [],
    l2: Annotated[list[float], typer.Option("--l2", metavar="L2", help="TDT4265 L2 coefficients (repeatable).")] = [0.0, 2.0],
    hidden: Annotated[list[str], typer.Option("--hidden", metavar="SIZES", help="MLP hidden sizes: --hidden 50, --hidden 128,64 or repeated.")] = ["50"],
    synthetic: Annotated[bool, typer.Option("--synthetic", help="TDT4265 models on random images instead of MNIST (no data needed).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON on stdout.")] = False,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Dataset folder (else $LINCLF_DATA_DIR, then the user cache).")] = None,
) -> None:
    """Check each model's analytic gradient, with and without regularisation. Exits 1 on failure.

    binary/softmax (TDT4265): eps = 1e-3, every weight, the first 100 pre-processed MNIST training images, pass when |numeric - analytic| <= eps^2.
    dd2424-*: h = 1e-6, first 20 dimensions, batch 1 and 20, lambda 0 and 0.1, relative error < 1e-6.
    mlp: h = 1e-5 on the regularised loss of a 20-HIDDEN-10 ReLU net, relative error < 1e-7.
    aml-toy: the AML text's toy network, relative error < 1e-8.

    [bold]Examples[/]

      linclf gradcheck
      linclf gradcheck --model softmax --l2 0 --l2 2 --json
      linclf gradcheck --synthetic -m dd2424-softmax -m dd2424-sigmoid
      linclf gradcheck --synthetic -m mlp --hidden 128,64
    """
    models = model or list(gradchecks.TDT_MODELS)
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise UsageError(f"Unknown model {unknown[0]!r}.", f"Choose from: {', '.join(MODELS)}.")
    sizes = parse_hidden(hidden)
    rows: list[dict] = []
    tdt = [m for m in models if m in gradchecks.TDT_MODELS]
    if tdt:
        rows += gradchecks.tdt_gradchecks(tdt, l2, data_dir=data_dir, synthetic=synthetic)
    dd = [m for m in models if m in gradchecks.DD2424_MODELS]
    if dd:
        rows += gradchecks.dd2424_gradchecks(dd)
    if "mlp" in models:
        rows += gradchecks.mlp_gradchecks(tuple(sizes))
    if "aml-toy" in models:
        rows += gradchecks.aml_toy_gradchecks()
    ok = all(r["passed"] for r in rows)
    if as_json:
        typer.echo(json.dumps({"passed": ok, "checks": rows}, indent=2))
    else:
        Console().print(render_table(rows))
    if not ok:
        raise typer.Exit(1)
