"""``tasks.yaml``: every report task as a typed, validated object.

Layout::

    version: 1
    assignments:
      - id: tdt4265-a1
        title: ...
        tasks:
          - id: "2b"
            title: ...
            command: train            # a linclf command (see linclf_cli.tasks.handlers)
            args: {model: binary, epochs: 50}
            uses: ["2d"]             # tasks whose outputs this one reads
            figures: [...]            # extra figures drawn from this and other tasks' runs
            expect:                   # what the run must meet; reported, and `report` exits 1 if not
              - {metric: val_accuracy, min: 0.97}
            notes: ...

Everything is checked before any work starts: unknown keys, wrong types, unknown commands,
unknown or circular references, with the file, the key path, the value and what was expected.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from .typed import ConfigError, build, unknown_key_error

SCHEMA_VERSION = 1
# assignment and task ids, figure files and outputs: plain names, one folder level, never
# ".", ".." or hidden (they become paths under the results folder)
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
PLAIN_NAME_TEXT = ("letters, digits, '_', '.' and '-', starting with a letter or digit "
                   "(no '/', no '..')")
FIGURE_SUFFIXES = (".png", ".svg")
OVERLAY_METRICS = ("val_accuracy", "train_accuracy", "val_loss", "train_loss")


@dataclass(frozen=True)
class Expectation:
    """``metric`` is a key of the task's metrics (dots go into nested mappings), or
    ``TASK:metric`` for another task's.  At least one condition must be given."""

    metric: str
    min: Optional[float] = None
    max: Optional[float] = None
    equals: Optional[Any] = None
    not_null: bool = False
    is_true: bool = False
    description: str = ""


@dataclass(frozen=True)
class FigureSpec:
    """``overlay``: one curve per run of ``metric`` against training steps.
    ``weights``: the 28x28 weight images of each run, one row per run (plot-weights)."""

    kind: str
    file: str
    runs: tuple[str, ...]
    labels: tuple[str, ...] = ()
    metric: str = "val_accuracy"
    ylim: Optional[tuple[float, float]] = None
    title: Optional[str] = None


@dataclass(frozen=True)
class TaskSpec:
    id: str
    title: str
    command: str
    args: dict = field(default_factory=dict)
    uses: tuple[str, ...] = ()
    figures: tuple[dict, ...] = ()  # validated into FigureSpec
    expect: tuple[dict, ...] = ()  # validated into Expectation
    outputs: tuple[str, ...] = ()  # files the task must produce (checked after it runs)
    notes: str = ""


@dataclass(frozen=True)
class Task:
    """A validated task.  ``ref`` is ``assignment/id``; ``uses`` holds refs."""

    assignment: str
    spec: TaskSpec
    uses: tuple[str, ...]
    figures: tuple[FigureSpec, ...]
    expect: tuple[Expectation, ...] = ()

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def ref(self) -> str:
        return f"{self.assignment}/{self.spec.id}"


@dataclass(frozen=True)
class Assignment:
    id: str
    title: str
    tasks: tuple[Task, ...]
    description: str = ""


@dataclass(frozen=True)
class TaskFile:
    path: Path
    assignments: tuple[Assignment, ...]

    def all_tasks(self) -> list[Task]:
        return [t for a in self.assignments for t in a.tasks]

    def by_ref(self) -> dict[str, Task]:
        return {t.ref: t for t in self.all_tasks()}

    def assignment(self, aid: str) -> Assignment:
        for a in self.assignments:
            if a.id == aid:
                return a
        raise KeyError(aid)

    def resolve(self, names: list[str]) -> list[Task]:
        """Task names as the user types them: ``2b``, ``tdt4265-a1/2b``, or an assignment id
        (all its tasks).  Unknown names get the closest suggestion."""
        refs = self.by_ref()
        out: list[Task] = []
        for name in names:
            if name in refs:
                out.append(refs[name])
                continue
            if any(a.id == name for a in self.assignments):
                out.extend(self.assignment(name).tasks)
                continue
            matches = [t for t in refs.values() if t.id == name]
            if len(matches) == 1:
                out.append(matches[0])
                continue
            if len(matches) > 1:
                raise ConfigError(f"Task id {name!r} is ambiguous.",
                                  f"Use one of: {', '.join(t.ref for t in matches)}.")
            candidates = list(refs) + [t.id for t in refs.values()] + [a.id for a in self.assignments]
            close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.5)
            hint = f"Did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"Unknown task {name!r} in {self.path}.",
                              f"{hint}List the tasks with `linclf tasks`.")
        seen, uniq = set(), []
        for t in out:
            if t.ref not in seen:
                seen.add(t.ref)
                uniq.append(t)
        return uniq

    def closure(self, tasks: list[Task]) -> list[Task]:
        """``tasks`` plus everything they use, dependencies first."""
        refs = self.by_ref()
        order: list[Task] = []
        seen: set[str] = set()

        def visit(t: Task) -> None:
            if t.ref in seen:
                return
            seen.add(t.ref)
            for u in t.uses:
                visit(refs[u])
            order.append(t)

        for t in tasks:
            visit(t)
        return order


_TOP_KEYS = {"version", "assignments"}
_ASSIGNMENT_KEYS = {"id", "title", "description", "tasks"}


def _check_keys(mapping: Any, allowed: set[str], where: str, required: tuple[str, ...] = ()) -> dict:
    if not isinstance(mapping, dict):
        raise ConfigError(f"{where}: expected a mapping, got {mapping!r}.")
    for k in mapping:
        if k not in allowed:
            raise unknown_key_error(str(k), allowed, where)
    for k in required:
        if k not in mapping:
            raise ConfigError(f"{where}: missing required key {k!r}.")
    return mapping


def check_name(value: Any, where: str, what: str = "a plain name") -> str:
    """``value`` if it is a plain name (see PLAIN_NAME), else a ConfigError naming ``where``."""
    if not isinstance(value, str) or not PLAIN_NAME.fullmatch(value) or ".." in value:
        raise ConfigError(f"{where}: expected {what}: {PLAIN_NAME_TEXT}; got {value!r}.")
    return value


def _read_text(path: Path) -> str:
    """The task file's text; not UTF-8 is a usage error naming the byte offset."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read the task file {path}: {exc.strerror or exc}.",
                          "Run from the repository root or pass --tasks-file.") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path} is not UTF-8 text: byte {exc.start} (line {line}) is "
                          f"{data[exc.start:exc.start + 1]!r}.",
                          "Save the file as UTF-8.") from None


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


MAX_YAML_NODES = 200_000  # a tasks file expands to a few thousand nodes


def _load_yaml(text: str, path: Path) -> Any:
    """Safe YAML whose size *after* expanding aliases is bounded (counted on the event stream
    before anything is built): an alias bomb of a few hundred bytes, which would expand to
    gigabytes when the task is hashed, is refused naming its line.  Plain anchors and aliases,
    as PyYAML writes for shared objects, are fine."""
    sizes: dict[str, int] = {}
    stack: list[list] = [[None, 0]]  # [anchor, expanded node count] per open collection
    total = 0
    for event in yaml.parse(text, Loader=_YAML_LOADER):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            stack.append([event.anchor, 1])
            continue
        if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            anchor, n = stack.pop()
            if anchor is not None:
                sizes[anchor] = n
            stack[-1][1] += n
            continue
        if isinstance(event, yaml.AliasEvent):
            n = sizes.get(event.anchor, 1)
        elif isinstance(event, yaml.ScalarEvent):
            n = 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        else:
            continue
        stack[-1][1] += n
        total = max(total, sum(f[1] for f in stack))
        if total > MAX_YAML_NODES:
            mark = event.start_mark
            raise ConfigError(f"{path}: the document expands to more than {MAX_YAML_NODES} values "
                              f"through YAML aliases (at line {mark.line + 1}, column "
                              f"{mark.column + 1}, alias *{getattr(event, 'anchor', '')}).",
                              "Write the values out instead of nesting aliases.")
    return yaml.load(text, Loader=_YAML_LOADER)


# the run kind whose config a command's args (or a grid's ``base`` and ``grid``) set
_COMMAND_KINDS = {"gradcheck": "gradcheck-tdt", "sweep-lambda": "tdt4265", "depth": "aml", "toy": "aml-toy"}


def _config_class(command: str, args: dict) -> type | None:
    from linclf_cli.assignments.registry import KINDS, TRAIN_MODELS

    kind = _COMMAND_KINDS.get(command)
    if command == "train":
        kind = TRAIN_MODELS.get(args.get("model"), (None, None))[0] if isinstance(args.get("model"), str) else None
    elif command == "grid":
        kind = args.get("kind")
    k = KINDS.get(kind) if isinstance(kind, str) else None
    return k.config if k is not None else None


def canonical_args(command: str, args: Any, where: str) -> Any:
    """A task's args in the one vocabulary (``learning_rate``, ``l2``, ``batch_size``,
    ``epochs``, ``iterations``, ``schedule``): the course spellings a run config accepts as
    input aliases (DD2424's ``eta``, ``lam``, ``n_batch``, ``n_epochs``, ``decay``; AML's
    ``reg``, ``num_iters``: the config's ``ALIASES``) renamed to its fields, in the args and
    in a grid's ``base`` and ``grid``.

    The handlers parse these args, the task's cache key hashes them and grid points are named
    by them, so an old tasks file in the course spelling plans the same runs, under the same
    keys and point names, as one in the one vocabulary.  Anything else (other commands,
    malformed args) is returned as is for the handler to judge; errors name the keys as
    written (:func:`_as_written`)."""
    return _canonical(command, args, where)[0]


def _canonical(command: str, args: Any, where: str) -> tuple[Any, dict[str, str]]:
    """:func:`canonical_args` and the key paths it renamed (as parsed -> as written)."""
    renamed: dict[str, str] = {}
    if not isinstance(args, dict):
        return args, renamed
    if command == "seeds" and isinstance(args.get("command"), str):  # a seed study's inner task
        inner, renamed = _canonical(args["command"], args.get("args"), f"{where}.args")
        return ({**args, "args": inner} if "args" in args else args), renamed
    cls = _config_class(command, args)
    aliases: dict = getattr(cls, "ALIASES", None) or {}
    if not aliases:
        return args, renamed
    fields = {f.name for f in dataclasses.fields(cls) if f.init}

    def rename(mapping: Any, at: str, strict: bool = False) -> Any:
        if not isinstance(mapping, dict):
            return mapping
        out: dict = {}
        given: dict = {}
        for key, value in mapping.items():
            name = aliases.get(key, key)
            if strict and name not in fields:  # a grid's axes: the handler knows only the fields
                raise unknown_key_error(str(key), fields | set(aliases), at)
            if name in out:
                raise ConfigError(f"{at}: {given[name]!r} and {key!r} name the same option; give one of them.")
            out[name], given[name] = value, key
            if name != key:
                renamed[f"{at}.{name}"] = f"{at}.{key}"
        return out

    if command in ("grid", "depth"):
        return {k: rename(v, f"{where}.{k}", strict=k == "grid") if k in ("base", "grid") else v
                for k, v in args.items()}, renamed
    return rename(args, where), renamed


def _as_written(exc: ConfigError, renamed: dict[str, str]) -> ConfigError:
    """``exc`` with the key paths :func:`canonical_args` renamed back in the file's spelling."""
    message = exc.message
    for parsed, written in renamed.items():
        message = re.sub(re.escape(parsed) + r"(?![A-Za-z0-9_])", written.replace("\\", "\\\\"), message)
    return exc if message == exc.message else ConfigError(message, exc.hint)


def load_task_file(path: Path, commands: dict | None = None) -> TaskFile:
    """Parse and validate ``path``.  ``commands`` maps command names to handlers whose
    ``parse_args(args, where)`` validates each task's args (defaults to the built-ins)."""
    path = Path(path)
    if commands is None:
        from .handlers import HANDLERS as commands
    text = _read_text(path)
    try:
        raw = _load_yaml(text, path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        loc = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: YAML syntax error{loc}: {problem}.") from None
    where = str(path)
    _check_keys(raw, _TOP_KEYS, where, required=("version", "assignments"))
    if raw["version"] != SCHEMA_VERSION:
        raise ConfigError(f"{where}: version: expected {SCHEMA_VERSION}, got {raw['version']!r}.")
    if not isinstance(raw["assignments"], list) or not raw["assignments"]:
        raise ConfigError(f"{where}: assignments: expected a non-empty list of assignments.")

    assignments = []
    refs: set[str] = set()
    pending: list[tuple[Task, str]] = []
    for i, a in enumerate(raw["assignments"]):
        aw = f"{where}: assignments[{i}]"
        _check_keys(a, _ASSIGNMENT_KEYS, aw, required=("id", "title", "tasks"))
        check_name(a["id"], f"{aw}.id", "an assignment id")
        if not isinstance(a["tasks"], list):
            raise ConfigError(f"{aw}.tasks: expected a list of tasks, got {a['tasks']!r}.")
        tasks = []
        for j, t in enumerate(a["tasks"]):
            tw = f"{aw}.tasks[{j}]"
            if isinstance(t, dict) and "id" in t and not isinstance(t["id"], str):
                t = {**t, "id": str(t["id"])}
            spec = build(TaskSpec, t, tw)
            check_name(spec.id, f"{tw}.id", "a task id")
            for k, o in enumerate(spec.outputs):
                check_name(o, f"{tw}.outputs[{k}]", "a file name inside the task folder")
            if spec.command not in commands:
                close = difflib.get_close_matches(spec.command, list(commands), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"{tw}.command: unknown command {spec.command!r}.{hint} "
                                  f"Known: {', '.join(sorted(commands))}.")
            args, renamed = _canonical(spec.command, spec.args, f"{tw}.args")
            spec = dataclasses.replace(spec, args=args)
            try:
                commands[spec.command].parse_args(spec.args, f"{tw}.args")
            except ConfigError as exc:
                raise _as_written(exc, renamed) from None
            figures = tuple(build(FigureSpec, f, f"{tw}.figures[{k}]")
                            for k, f in enumerate(t.get("figures") or ()))
            for k, f in enumerate(figures):
                check_name(f.file, f"{tw}.figures[{k}].file", "a file name inside the task folder")
                if not f.file.lower().endswith(FIGURE_SUFFIXES):
                    raise ConfigError(f"{tw}.figures[{k}].file: expected a name ending in "
                                      f"{' or '.join(FIGURE_SUFFIXES)}, got {f.file!r}.")
                if f.kind not in ("overlay", "weights"):
                    raise ConfigError(f"{tw}.figures[{k}].kind: expected 'overlay' or 'weights', got {f.kind!r}.")
                if f.kind == "overlay" and f.metric not in OVERLAY_METRICS:
                    raise ConfigError(f"{tw}.figures[{k}].metric: expected one of "
                                      f"{', '.join(OVERLAY_METRICS)}, got {f.metric!r}.")
            expect = tuple(build(Expectation, e, f"{tw}.expect[{k}]")
                           for k, e in enumerate(t.get("expect") or ()))
            for k, e in enumerate(expect):
                if e.min is None and e.max is None and e.equals is None and not e.not_null and not e.is_true:
                    raise ConfigError(f"{tw}.expect[{k}]: give at least one of min, max, equals, not_null, is_true.")
            ref = f"{a['id']}/{spec.id}"
            if ref in refs:
                raise ConfigError(f"{tw}.id: duplicate task id {spec.id!r} in {a['id']}.")
            refs.add(ref)

            def qualify(name: str) -> str:
                return name if "/" in name else f"{a['id']}/{name}"

            task = Task(
                assignment=a["id"], spec=spec,
                uses=tuple(qualify(u) for u in spec.uses),
                figures=tuple(FigureSpec(**{**f.__dict__, "runs": tuple(qualify(r) if r != "self" else ref for r in f.runs)}) for f in figures),
                expect=expect,
            )
            tasks.append(task)
            pending.append((task, tw))
        assignments.append(Assignment(a["id"], a["title"], tuple(tasks), a.get("description", "") or ""))

    for task, tw in pending:
        for k, u in enumerate(task.uses):
            if u not in refs:
                close = difflib.get_close_matches(u, sorted(refs), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"{tw}.uses[{k}]: unknown task {u!r}.{hint}")
        for k, f in enumerate(task.figures):
            for r in f.runs:
                if r != task.ref and r not in task.uses:
                    raise ConfigError(f"{tw}.figures[{k}].runs: {r!r} must be this task ('self') "
                                      f"or one listed in uses.")
        for k, e in enumerate(task.expect):
            if ":" in e.metric:
                dep = e.metric.split(":", 1)[0]
                dep_ref = dep if "/" in dep else f"{task.assignment}/{dep}"
                if dep_ref not in task.uses:
                    raise ConfigError(f"{tw}.expect[{k}].metric: {e.metric!r} reads task {dep!r}, "
                                      f"which is not listed in uses.")
    tf = TaskFile(path, tuple(assignments))
    _check_cycles(tf)
    return tf


def _check_cycles(tf: TaskFile) -> None:
    refs = tf.by_ref()
    state: dict[str, int] = {}

    def visit(r: str, chain: list[str]) -> None:
        if state.get(r) == 2:
            return
        if state.get(r) == 1:
            raise ConfigError(f"{tf.path}: circular task dependency: {' -> '.join(chain + [r])}.")
        state[r] = 1
        for u in refs[r].uses:
            visit(u, chain + [r])
        state[r] = 2

    for r in refs:
        visit(r, [])
