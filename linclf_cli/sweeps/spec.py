"""A sweep's spec: fixed options, a grid or a random search, the sweep seed and the selection.

Every name is a field of :class:`~linclf_cli.assignments.train.TrainConfig` (``lr``, ``batch``
and ``iters`` are accepted as short names; ``-`` may stand for ``_``).  Values come as text
(``--grid``/``--space``/``--set``) or typed (a YAML spec file) and are checked against the
field's type and, for names, its allowed values, so a typo is a UsageError naming the option,
the value and what is allowed, before anything trains.

Points: a grid is the product of its axes in the order given; a random search draws N points
from a ``numpy.random.Generator`` seeded by the sweep seed (``log:lo:hi`` log-uniform,
``lin:lo:hi`` uniform, ``a,b,c`` a choice; integers rounded; numbers kept to 6 significant
digits).  Each point's seed is derived from the sweep seed and the point's swept values
(``--same-seed``: the sweep seed for every point, common random numbers), so a point's
result never depends on the other points, their order or the number of workers.  A point's
name is the content hash of its resolved train config.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linclf_cli.assignments.grid import expand_grid  # (below tasks and recipes, which use it too)
from linclf_cli.errors import UsageError

# short names, and the courses' own spellings of the one vocabulary (DD2424's eta, lam,
# n_batch, n_epochs; AML's reg, num_iters), accepted as input aliases
ALIASES = {"lr": "learning_rate", "batch": "batch_size", "iters": "iterations",
           "eta": "learning_rate", "lam": "l2", "reg": "l2", "n_batch": "batch_size",
           "n_epochs": "epochs", "num_iters": "iterations"}
SELECTABLE = ("val_accuracy", "val_loss", "train_accuracy", "train_loss", "train_cost")
SPEC_KEYS = ("fixed", "grid", "random", "space", "seed", "same_seed", "select", "mode")


def _train_fields() -> dict[str, Any]:
    from linclf_cli.assignments.train import TrainConfig

    hints = typing.get_type_hints(TrainConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(TrainConfig) if f.init}


def choices() -> dict[str, tuple[str, ...]]:
    from linclf_cli.assignments.train import DTYPES, MODELS, OPTIMIZERS, RECIPES
    from linclf_cli.engine.heads import HEADS
    from linclf_cli.engine.samplers import RNG_KINDS
    from linclf_cli.engine.schedules import SCHEDULES

    return {"recipe": tuple(RECIPES), "model": MODELS, "head": HEADS, "optimizer": OPTIMIZERS,
            "schedule": SCHEDULES, "l2_form": ("half", "full"), "rng": RNG_KINDS,
            "dtype": tuple(DTYPES)}


def _base(tp: Any) -> Any:
    """``float | None`` -> float; ``tuple[int, ...] | None`` -> tuple[int, ...]."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, getattr(__import__("types"), "UnionType", None)) and len(args) == 1:
        return args[0]
    return tp


def _kind(tp: Any) -> str:
    tp = _base(tp)
    if typing.get_origin(tp) is tuple:
        return "ints"
    return {float: "float", int: "int", bool: "bool", str: "str"}.get(tp, "str")


KIND_TEXT = {"float": "a number", "int": "an integer", "bool": "true or false", "str": "a name",
             "ints": "integers joined by 'x' (e.g. 128x64)"}


def canonical(name: str, option: str) -> str:
    """The TrainConfig field a user's name means; UsageError listing the allowed ones."""
    fields = _train_fields()
    n = str(name).strip().replace("-", "_")
    n = ALIASES.get(n, n)
    if n not in fields:
        raise UsageError(f"{option}: unknown train option {name!r}.",
                         f"Allowed: {', '.join(fields)} (and the short names {', '.join(ALIASES)}).")
    return n


def _round(v: float) -> float:
    return float(f"{v:.6g}")


def value(name: str, raw: Any, option: str) -> Any:
    """``raw`` (text or a YAML value) as the field's type, checked; UsageError otherwise."""
    kind = _kind(_train_fields()[name])
    allowed = choices().get(name)

    def bad(why: str = "") -> UsageError:
        expected = f"one of {', '.join(allowed)}" if allowed else KIND_TEXT[kind]
        return UsageError(f"{option}: {name} = {raw!r} is not {expected}{why}.",
                          f"Give {name} {expected}.")

    if raw is None:
        raise bad()
    if kind == "float":
        if isinstance(raw, bool):
            raise bad()
        try:
            v = float(raw)
        except (TypeError, ValueError):
            raise bad() from None
        if not math.isfinite(v):
            raise bad()
        return v
    if kind == "int":
        if isinstance(raw, bool) or isinstance(raw, float) and not raw.is_integer():
            raise bad()
        try:
            return int(raw) if not isinstance(raw, str) else int(raw.strip())
        except (TypeError, ValueError):
            raise bad() from None
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        t = str(raw).strip().lower()
        if t in ("true", "yes", "on", "1"):
            return True
        if t in ("false", "no", "off", "0"):
            return False
        raise bad()
    if kind == "ints":
        parts = raw if isinstance(raw, (list, tuple)) else str(raw).replace("x", " ").replace(",", " ").split()
        if isinstance(raw, int) and not isinstance(raw, bool):
            parts = [raw]
        try:
            out = [int(p) if not isinstance(p, bool) else None for p in parts]
        except (TypeError, ValueError):
            raise bad() from None
        if not out or None in out:
            raise bad()
        return out
    if not isinstance(raw, str) or not raw.strip():
        raise bad()
    if allowed and raw.strip() not in allowed:
        raise bad()
    if name == "data" and Path(raw.strip()).is_dir() and raw.strip() not in ("mnist", "mnist-2v3", "cifar10"):
        return str(Path(raw.strip()).resolve())  # a folder: absolute, so every worker finds it
    return raw.strip()


def split_assignment(text: str, option: str) -> tuple[str, str]:
    if "=" not in str(text):
        raise UsageError(f"{option} {text!r}: expected NAME=VALUES.",
                         f"For example {option} learning_rate=1e-3,5e-3.")
    name, _, rhs = str(text).partition("=")
    return canonical(name, option), rhs.strip()


# ----------------------------------------------------------------------------- spaces


@dataclass(frozen=True)
class Space:
    """One random-search dimension: ``log``/``lin`` between lo and hi, or a choice."""

    name: str
    dist: str  # log | lin | choice
    lo: float = 0.0
    hi: float = 0.0
    options: tuple = ()

    def to_dict(self) -> dict:
        if self.dist == "choice":
            return {"name": self.name, "choice": list(self.options)}
        return {"name": self.name, "dist": self.dist, "low": self.lo, "high": self.hi}

    def draw(self, rng) -> Any:
        if self.dist == "choice":
            return self.options[int(rng.integers(len(self.options)))]
        if self.dist == "log":
            v = math.exp(rng.uniform(math.log(self.lo), math.log(self.hi)))
        else:
            v = rng.uniform(self.lo, self.hi)
        return int(round(v)) if _kind(_train_fields()[self.name]) == "int" else _round(v)


def parse_space(name: str, raw: Any, option: str) -> Space:
    """``log:1e-4:1e-2``, ``lin:0:0.5``, ``a,b,c`` (or a YAML list: a choice)."""
    kind = _kind(_train_fields()[name])
    if isinstance(raw, (list, tuple)):
        opts = tuple(value(name, v, option) for v in raw)
    elif isinstance(raw, str) and raw.split(":", 1)[0] in ("log", "lin"):
        parts = raw.split(":")
        if kind not in ("float", "int"):
            raise UsageError(f"{option}: {name} = {raw!r}: a {parts[0]}: range needs a numeric option; "
                             f"{name} takes {KIND_TEXT[kind]}.", f"Give a choice instead: {name}=a,b,c.")
        if len(parts) != 3:
            raise UsageError(f"{option}: {name} = {raw!r} is not {parts[0]}:LOW:HIGH.",
                             f"For example {name}={parts[0]}:1e-4:1e-2.")
        try:
            lo, hi = float(parts[1]), float(parts[2])
        except ValueError:
            raise UsageError(f"{option}: {name} = {raw!r}: LOW and HIGH must be numbers.",
                             f"For example {name}={parts[0]}:1e-4:1e-2.") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi) or (parts[0] == "log" and lo <= 0):
            raise UsageError(f"{option}: {name} = {raw!r}: need LOW < HIGH" +
                             (" and LOW > 0 on a log scale." if parts[0] == "log" else "."))
        return Space(name, parts[0], lo, hi)
    else:
        text = str(raw)
        opts = tuple(value(name, v, option) for v in split_values(text))
    if not opts:
        raise UsageError(f"{option}: {name} has no values.", f"For example {name}=a,b.")
    return Space(name, "choice", options=opts)


def split_values(text: str) -> list[str]:
    return [v.strip() for v in str(text).split(",") if v.strip()]


# ----------------------------------------------------------------------------- the spec


@dataclass(frozen=True)
class Point:
    name: str  # "p-" + content hash of the resolved config
    values: dict  # the swept values (field -> value)
    config: dict  # the resolved TrainConfig as a dict (config.yaml of the run)


@dataclass
class SweepSpec:
    fixed: dict = field(default_factory=dict)
    grid: dict = field(default_factory=dict)  # field -> list of values (product, in order)
    random: int = 0
    space: list = field(default_factory=list)  # list[Space]
    seed: int = 0
    same_seed: bool = False
    select: str = "val_accuracy"
    mode: str | None = None  # max | min (default: min for losses, max otherwise)

    @property
    def maximize(self) -> bool:
        return (self.mode or ("min" if "loss" in self.select or "cost" in self.select else "max")) == "max"

    @property
    def swept(self) -> list[str]:
        return list(self.grid) if self.grid else [s.name for s in self.space]

    def to_dict(self) -> dict:
        d = {"fixed": self.fixed, "seed": self.seed, "same_seed": self.same_seed,
             "select": self.select, "mode": "max" if self.maximize else "min"}
        if self.grid:
            d["grid"] = self.grid
        else:
            d["random"] = self.random
            d["space"] = [s.to_dict() for s in self.space]
        return d

    def check(self) -> "SweepSpec":
        if self.grid and (self.random or self.space):
            raise UsageError("A sweep is a grid or a random search, not both.",
                             "Use --grid alone, or --random N with --space.")
        if not self.grid and not self.random and not self.space:
            raise UsageError("The sweep is empty: no --grid, --random or --spec.",
                             "For example --grid learning_rate=1e-3,5e-3 or --random 8 --space l2=log:1e-5:1e-1.")
        for name, vals in self.grid.items():
            if not vals:
                raise UsageError(f"--grid {name}: an empty list of values (an empty grid).",
                                 f"Give at least one value, e.g. --grid {name}=V1,V2.")
        if self.space and not self.random:
            raise UsageError("--space needs --random N (how many points to draw).", "For example --random 16.")
        if self.random and not self.space:
            raise UsageError(f"--random {self.random} has no space to draw from.",
                             "Add --space NAME=log:LOW:HIGH (or lin:LOW:HIGH, or a,b,c) for each option.")
        if self.random < 0 or isinstance(self.random, bool):
            raise UsageError(f"--random needs a positive number of points, got {self.random}.")
        names = [s.name for s in self.space]
        if len(set(names)) != len(names):
            raise UsageError(f"--space names an option twice: {names}.")
        for n in self.swept:
            if n in self.fixed:
                raise UsageError(f"{n} is both fixed and swept.", "Set it in one place.")
        if self.select not in SELECTABLE:
            raise UsageError(f"--select {self.select!r} is not a metric a sweep selects on.",
                             f"Choose one of: {', '.join(SELECTABLE)} (never a test metric: the test "
                             "set is evaluated, not tuned on).")
        if self.mode not in (None, "max", "min"):
            raise UsageError(f"mode {self.mode!r}: expected max or min.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise UsageError(f"The sweep seed must be an integer, got {self.seed!r}.")
        return self

    # -------------------------------------------------------------- points

    def value_sets(self) -> list[dict]:
        """The swept values of every point, in spec order (grid order, or draw order)."""
        if self.grid:
            return expand_grid(self.grid)
        import numpy as np

        rng = np.random.default_rng([int(self.seed) & 0xFFFFFFFF, 0x5EED])
        return [{s.name: s.draw(rng) for s in self.space} for _ in range(self.random)]

    def points(self) -> list[Point]:
        """Every point, resolved and validated; duplicates (same config) appear once."""
        from linclf_cli.assignments.train import TrainConfig
        from linclf_cli.tasks.typed import build

        out: dict[str, Point] = {}
        for values in self.value_sets():
            params = {**self.fixed, **values}
            if "seed" not in values:
                params["seed"] = self.seed if self.same_seed else point_seed(self.seed, values)
            try:
                cfg = build(TrainConfig, params, "sweep point").resolved()
            except UsageError as exc:
                shown = ", ".join(f"{k}={v}" for k, v in values.items())
                raise UsageError(f"Sweep point {shown}: {exc.message}", exc.hint) from None
            d = {"kind": "train", **cfg.to_dict()}
            name = "p-" + content_hash(d)[:12]
            out.setdefault(name, Point(name, values, cfg.to_dict()))
        return list(out.values())


def content_hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def point_seed(sweep_seed: int, values: dict) -> int:
    """A point's seed: a hash of the sweep seed and its swept values, in [0, 2^31)."""
    h = hashlib.sha256(json.dumps([int(sweep_seed), values], sort_keys=True, default=str).encode())
    return int.from_bytes(h.digest()[:4], "big") & 0x7FFFFFFF


# ----------------------------------------------------------------------------- from the CLI / a file


def from_options(grid: list[str], spaces: list[str], sets: list[str], random: int | None,
                 fixed: dict, spec_file: Path | None, seed: int | None, same_seed: bool | None,
                 select: str | None, mode: str | None) -> SweepSpec:
    """A spec from a YAML file (optional) overridden by the command line."""
    spec = load_spec(spec_file) if spec_file is not None else SweepSpec()
    for text in sets:
        name, rhs = split_assignment(text, "--set")
        spec.fixed[name] = value(name, rhs, "--set")
    flags = {"learning_rate": "--lr"}
    for name, raw in fixed.items():  # TrainConfig field -> the option's value (None: not given)
        if raw is not None:
            spec.fixed[name] = value(name, raw, flags.get(name, f"--{name.replace('_', '-')}"))
    if grid:
        spec.grid = {}
    for text in grid:
        name, rhs = split_assignment(text, "--grid")
        if name in spec.grid:
            raise UsageError(f"--grid names {name} twice.", f"Give every value in one --grid {name}=A,B,C.")
        spec.grid[name] = _dedupe([value(name, v, "--grid") for v in split_values(rhs)])
    if spaces:
        spec.space = []
    for text in spaces:
        name, rhs = split_assignment(text, "--space")
        spec.space.append(parse_space(name, rhs, "--space"))
    if random is not None:
        spec.random = random
    if seed is not None:
        spec.seed = seed
    if same_seed is not None:
        spec.same_seed = same_seed
    if select is not None:
        spec.select = select
    if mode is not None:
        spec.mode = mode
    return spec.check()


def _dedupe(vals: list) -> list:
    out = []
    for v in vals:
        if v not in out:
            out.append(v)
    return out


def load_spec(path: Path) -> SweepSpec:
    """A YAML spec: ``fixed``, ``grid`` or ``random`` + ``space``, ``seed``, ``same_seed``,
    ``select``, ``mode``.  Every error names the file and the key."""
    import yaml

    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"Cannot read the sweep spec {path}: {exc.strerror or exc}.") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"The sweep spec {path} is not valid YAML: {exc}.") from None
    where = str(path)
    if not isinstance(doc, dict):
        raise UsageError(f"{where}: expected a mapping with keys {', '.join(SPEC_KEYS)}, got {doc!r}.")
    for k in doc:
        if k not in SPEC_KEYS:
            raise UsageError(f"{where}: unknown key {k!r}.", f"Allowed: {', '.join(SPEC_KEYS)}.")
    spec = SweepSpec()
    fixed = doc.get("fixed") or {}
    if not isinstance(fixed, dict):
        raise UsageError(f"{where}.fixed: expected a mapping of option -> value, got {fixed!r}.")
    for k, v in fixed.items():
        name = canonical(k, f"{where}.fixed")
        spec.fixed[name] = value(name, v, f"{where}.fixed")
    if "grid" in doc:
        grid = doc["grid"]
        if not isinstance(grid, dict) or not grid:
            raise UsageError(f"{where}.grid: an empty grid (expected option -> list of values), got {grid!r}.")
        for k, vals in grid.items():
            name = canonical(k, f"{where}.grid")
            if not isinstance(vals, list):
                vals = [vals]
            spec.grid[name] = _dedupe([value(name, v, f"{where}.grid.{name}") for v in vals])
    if "space" in doc:
        space = doc["space"]
        if not isinstance(space, dict) or not space:
            raise UsageError(f"{where}.space: expected option -> log:LOW:HIGH, lin:LOW:HIGH or a list, got {space!r}.")
        spec.space = [parse_space(canonical(k, f"{where}.space"), v, f"{where}.space.{k}") for k, v in space.items()]
    if "random" in doc:
        r = doc["random"]
        if isinstance(r, bool) or not isinstance(r, int) or r < 1:
            raise UsageError(f"{where}.random: expected a number of points >= 1, got {r!r}.")
        spec.random = r
    for key, tp in (("seed", int), ("same_seed", bool), ("select", str), ("mode", str)):
        if key in doc:
            v = doc[key]
            if not isinstance(v, tp) or (tp is int and isinstance(v, bool)):
                raise UsageError(f"{where}.{key}: expected {tp.__name__}, got {v!r}.")
            setattr(spec, key, v)
    return spec
