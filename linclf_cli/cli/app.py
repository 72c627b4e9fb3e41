"""The ``linclf`` command: one Typer app, one module per command."""

from __future__ import annotations

import typer

from linclf_cli import __version__

app = typer.Typer(
    name="linclf",
    help="Reproduce the classic 'neural networks from scratch' assignments end to end "
         "(TDT4265 A1, DD2424 A1 + bonus, AML A2) on one NumPy engine.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"linclf {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    """Reproduce the classic 'neural networks from scratch' assignments end to end."""


def _register() -> None:
    from . import data_cmd, gradcheck_cmd, plot_weights_cmd, report_cmd, sweep_cmd, tasks_cmd, train_cmd

    app.command("train", help="Train one model and write a run directory.")(train_cmd.train)
    app.command("gradcheck", help="Check every model's gradient against centred differences.")(
        gradcheck_cmd.gradcheck)
    app.command("tasks", help="List the report tasks and whether each is up to date.")(tasks_cmd.tasks)
    app.command("run", help="Run report tasks (skipping up-to-date ones), in parallel.")(tasks_cmd.run)
    app.command("sweep-lambda", help="Train one model per L2 coefficient and draw the 4c/4e figures.")(
        sweep_cmd.sweep_lambda)
    app.command("plot-weights", help="Draw each class's weights as 28x28 images, one row per run.")(
        plot_weights_cmd.plot_weights)
    app.command("report", help="Run stale tasks, then write REPORT.md and report.html.")(report_cmd.report)
    app.add_typer(data_cmd.app, name="data", help="Find, verify and fetch the datasets.")


_register()


def main() -> None:
    app()
