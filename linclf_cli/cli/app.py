"""The ``linclf`` command: one Typer app, one module per command.

Command modules are imported only when needed: ``linclf report`` (the console entry point)
builds an app holding just that command, so a fully cached report does not pay for importing
every other command.  ``linclf --help`` and ``from linclf_cli.cli.app import app`` get them all.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
from typing import Annotated, Callable

import typer
from typer.core import TyperCommand, TyperGroup

from linclf_cli import __version__

HELP = """Reproduce the classic 'neural networks from scratch' assignments end to end
(TDT4265 A1, DD2424 A1 + bonus, AML A2) on one NumPy engine.

[bold]Examples[/]

  linclf report                 [dim]# run what is stale, write results/report.html[/]
  linclf tasks tdt4265-a1       [dim]# what is up to date, stale or missing[/]
  linclf run 2b 3b -j 2         [dim]# run two tasks, two trainings at a time[/]
  linclf train --model binary   [dim]# one run directory under runs/[/]
  linclf runs --sort val_accuracy
  linclf compare runs/a runs/b -o compare.png

[bold]Exit codes[/]: 0 ok, 1 run failure, 2 usage error, 130 interrupted.
Every command takes -q/--quiet (only errors on stderr); train, run, report,
sweep-lambda, runs and tasks take --json (machine output on stdout)."""

# name -> (module, attribute, one-line help); "data" is a sub-app
COMMANDS: dict[str, tuple[str, str, str]] = {
    "train": ("train_cmd", "train", "Train one model and write a run directory."),
    "sweep": ("sweep_cmd", "sweep_any", "Sweep any train option over a grid or a random search (local or Dask)."),
    "sweep-lambda": ("sweep_cmd", "sweep_lambda", "Train one model per L2 coefficient and draw the 4c/4e figures."),
    "plot-weights": ("plot_weights_cmd", "plot_weights", "Draw each class's weights as 28x28 images, one row per run."),
    "gradcheck": ("gradcheck_cmd", "gradcheck", "Check every model's gradient against centred differences."),
    "report": ("report_cmd", "report", "Run stale tasks, then write REPORT.md and report.html."),
    "tasks": ("tasks_cmd", "tasks", "List the report tasks and whether each is up to date."),
    "run": ("tasks_cmd", "run", "Run report tasks (skipping up-to-date ones), in parallel."),
    "runs": ("runs_cmd", "runs", "List run directories with their parameters and final metrics."),
    "compare": ("compare_cmd", "compare", "Compare runs: differing config, metrics, overlaid curves."),
    "verify": ("verify_cmd", "verify", "Rerun tasks from scratch and compare with the committed results."),
    "data": ("data_cmd", "app", "Find, verify and fetch the datasets."),
}


def _no_flag_metavar(params: list) -> list:
    """Flags take no value: show no ``<bool>`` type next to them in --help."""
    for p in params:
        if getattr(p, "is_flag", False) and getattr(p, "metavar", None) is None:
            p.metavar = ""
    return params


class LinclfCommand(TyperCommand):
    def get_params(self, ctx):
        return _no_flag_metavar(super().get_params(ctx))


class LinclfGroup(TyperGroup):
    def get_params(self, ctx):
        return _no_flag_metavar(super().get_params(ctx))


QUIET = inspect.Parameter(
    "quiet", inspect.Parameter.KEYWORD_ONLY, default=False,
    annotation=Annotated[bool, typer.Option("--quiet", "-q", help="No progress or messages on stderr, only errors.")])


def with_quiet(fn: Callable) -> Callable:
    """Give a command ``-q/--quiet`` (every command has it, so it is added here once)."""
    sig = inspect.signature(fn, eval_str=True)
    if "quiet" in sig.parameters:
        return fn

    @functools.wraps(fn)
    def wrapper(*args, quiet: bool = False, **kwargs):
        from .common import set_quiet

        set_quiet(quiet)
        return fn(*args, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=[*sig.parameters.values(), QUIET])
    return wrapper


def _version(value: bool) -> None:
    if value:
        typer.echo(f"linclf {__version__}")
        raise typer.Exit()


def build_app(only: str | None = None) -> typer.Typer:
    """The Typer app with every command, or with just ``only``."""
    app = typer.Typer(name="linclf", help=HELP, no_args_is_help=True, rich_markup_mode="rich", cls=LinclfGroup,
                      context_settings={"help_option_names": ["-h", "--help"]},
                      pretty_exceptions_enable=False)

    @app.callback()
    def _root(
        version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                     help="Show the version and exit."),
    ) -> None:
        """Reproduce the classic 'neural networks from scratch' assignments end to end."""

    for name, (module, attr, help_) in COMMANDS.items():
        if only is not None and name != only:
            continue
        obj = getattr(importlib.import_module(f"linclf_cli.cli.{module}"), attr)
        if isinstance(obj, typer.Typer):
            for info in obj.registered_commands:
                info.cls = LinclfCommand
                info.callback = with_quiet(info.callback)
            app.add_typer(obj, name=name, help=obj.info.help or help_, short_help=help_, cls=LinclfGroup)
        else:  # the docstring gives the help: its first line in the command list, then examples
            app.command(name, short_help=help_, cls=LinclfCommand)(with_quiet(obj))
    return app


def __getattr__(name: str):
    if name == "app":
        return build_app()
    raise AttributeError(name)


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else None
    build_app(only=name if name in COMMANDS else None)()
