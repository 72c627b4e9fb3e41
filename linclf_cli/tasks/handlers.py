"""What each ``command:`` of tasks.yaml means: its args, the runs it needs, its own metrics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from linclf_cli.errors import UsageError
from linclf_cli.runs import sweep
from linclf_cli.runs.registry import KINDS, train_kind
from linclf_cli.runs.tdt4265 import TdtConfig

from .typed import ConfigError, build


@dataclass(frozen=True)
class JobSpec:
    """One training/check run.  ``name`` "" means the task directory itself."""

    name: str
    kind: str
    params: dict
    dataset: str | None


def _located(where: str, exc: UsageError) -> ConfigError:
    return ConfigError(f"{where}: {exc.message}", exc.hint)


class Handler:
    command = ""

    def parse_args(self, args: dict, where: str) -> Any:
        raise NotImplementedError

    def jobs(self, parsed: Any) -> list[JobSpec]:
        return []

    def finalize(self, task_dir: Path, parsed: Any, job_metrics: dict[str, dict]) -> dict:
        return dict(job_metrics.get("", {}))


class TrainHandler(Handler):
    """``train``: one run of ``linclf train`` with these options."""

    command = "train"

    def parse_args(self, args, where):
        args = dict(args or {})
        if "model" not in args:
            raise ConfigError(f"{where}: missing required key 'model'.")
        try:
            kind, fixed = train_kind(args.pop("model"))
            cfg = build(KINDS[kind].config, {**args, **fixed}, where).resolved()
        except ConfigError:
            raise
        except UsageError as exc:
            raise _located(where, exc) from None
        return kind, cfg

    def jobs(self, parsed):
        kind, cfg = parsed
        return [JobSpec("", kind, cfg.to_dict(), KINDS[kind].dataset(cfg))]


class GradcheckHandler(Handler):
    """``gradcheck``: the TDT4265 gradient-approximation test for these models and L2 values."""

    command = "gradcheck"

    def parse_args(self, args, where):
        try:
            return build(KINDS["gradcheck-tdt"].config, args, where).resolved()
        except ConfigError:
            raise
        except UsageError as exc:
            raise _located(where, exc) from None

    def jobs(self, cfg):
        return [JobSpec("", "gradcheck-tdt", cfg.to_dict(), cfg.dataset)]


class SweepLambdaHandler(Handler):
    """``sweep-lambda``: one softmax run per lambda, plus the 4c and 4e figures."""

    command = "sweep-lambda"

    def parse_args(self, args, where):
        args = dict(args or {})
        lambdas = args.pop("lambdas", list(sweep.DEFAULT_LAMBDAS))
        if not isinstance(lambdas, list):
            raise ConfigError(f"{where}.lambdas: expected a list of numbers, got {lambdas!r}.")
        try:
            base = build(TdtConfig, {"model": "softmax", **args}, where).resolved()
            return sweep.point_configs(base, lambdas), tuple(float(v) for v in lambdas)
        except ConfigError:
            raise
        except UsageError as exc:
            raise _located(where, exc) from None

    def jobs(self, parsed):
        points, _ = parsed
        return [JobSpec(name, "tdt4265", cfg.to_dict(), "mnist") for name, cfg in points.items()]

    def finalize(self, task_dir, parsed, job_metrics):
        points, lambdas = parsed
        return sweep.summarize(task_dir, lambdas, {n: task_dir / n for n in points}, job_metrics)


class DiscussHandler(Handler):
    """``discuss``: a discussion task; it runs nothing and reads the tasks it uses."""

    command = "discuss"

    def parse_args(self, args, where):
        if args:
            raise ConfigError(f"{where}: 'discuss' takes no args, got {args!r}.")
        return None


HANDLERS: dict[str, Handler] = {h.command: h for h in (
    TrainHandler(), GradcheckHandler(), SweepLambdaHandler(), DiscussHandler())}
