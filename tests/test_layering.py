"""The import graph runs one way: CLI -> report / sweeps -> tasks -> assignments -> plots ->
runs -> engine, data, typed -> errors.  Every ``import`` of every module (also the ones
inside functions and under ``TYPE_CHECKING``) is parsed with ``ast``; a module may import
its own package and anything in a lower layer, never a package of its own layer or above.

A new top-level package or module under ``linclf_cli/`` must be given a layer here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "linclf_cli"

# top to bottom; the packages of one layer do not import each other
LAYERS: list[tuple[str, ...]] = [
    ("__main__",),
    ("cli",),  # one module per command
    ("report", "sweeps"),  # REPORT.md / HTML / PDF; linclf sweep
    ("tasks",),  # tasks.yaml, cache keys, scheduler, verify
    ("assignments",),  # the course folders (recipe, report section), run kinds, train
    ("plots",),
    ("runs",),  # the run writer
    ("engine", "data", "typed"),  # the NumPy engine, datasets, strict config building
    ("errors", "__init__"),
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def imports(path: Path, name: str, known: set[str], top: str) -> list[tuple[int, str]]:
    """(line, imported module) for every import of a ``top`` module in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:  # `from pkg import module` imports pkg.module
                sub = f"{target}.{a.name}"
                out.append((node.lineno, sub if sub in known else target))
    return [(line, t) for line, t in out if t == top or t.startswith(top + ".")]


def component(name: str) -> str:
    """``linclf_cli.tasks.scheduler`` -> ``tasks``; ``linclf_cli`` -> ``__init__``."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def violations(root: Path) -> list[str]:
    top = root.name
    mods = modules(root)
    found = []
    for name, path in mods.items():
        src = component(name)
        for line, target in imports(path, name, set(mods), top):
            dst = component(target)
            if dst == src or dst not in RANK or src not in RANK:
                continue
            if RANK[dst] <= RANK[src]:
                how = "in the same layer as" if RANK[dst] == RANK[src] else "above"
                found.append(f"{path.relative_to(root.parent)}:{line} imports {target} "
                             f"({dst!r} is {how} {src!r})")
    return found


def test_every_package_has_a_layer():
    names = {component(n) for n in modules(ROOT)}
    missing = sorted(names - set(RANK))
    assert not missing, f"give these linclf_cli packages a layer in tests/test_layering.py: {missing}"


def test_imports_only_go_down():
    found = violations(ROOT)
    assert not found, "imports that go up (or sideways) the layers:\n" + "\n".join(found)


def test_an_assignment_report_reads_only_its_folder_and_the_kit():
    """``assignments/<course>/report.py``: its own course folder, ``report_kit`` and the
    layers below; and the kit imports nothing of linclf's (both the builder and the
    sections import it)."""
    mods = modules(ROOT)
    reports = {n: p for n, p in mods.items() if n.startswith("linclf_cli.assignments.") and n.endswith(".report")}
    assert len(reports) >= 3
    for name, path in reports.items():
        folder = name.rpartition(".")[0]
        for line, target in imports(path, name, set(mods), "linclf_cli"):
            if component(target) == "assignments":
                assert target.startswith(folder + ".") or target == "linclf_cli.assignments.report_kit", \
                    f"{path}:{line} imports {target}"
    kit = mods["linclf_cli.assignments.report_kit"]
    assert imports(kit, "linclf_cli.assignments.report_kit", set(mods), "linclf_cli") == []


def test_the_report_builder_imports_no_course():
    """The builder finds an assignment's sections through the assignment registry, not by
    importing a course's module."""
    mods = modules(ROOT)
    courses = {n for n in mods if n.count(".") == 2 and n.startswith("linclf_cli.assignments.")
               and (ROOT / "assignments" / n.split(".")[2]).is_dir()}
    assert {"linclf_cli.assignments.tdt4265", "linclf_cli.assignments.aml2020"} <= courses
    for name in ("linclf_cli.report.builder", "linclf_cli.report.html", "linclf_cli.report.pdf"):
        for line, target in imports(mods[name], name, set(mods), "linclf_cli"):
            assert not any(target == c or target.startswith(c + ".") for c in courses), f"{name}:{line} imports {target}"


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "linclf_cli"
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


@pytest.mark.parametrize("upward", [
    "from linclf_cli.tasks.typed import build\n",  # absolute, at module level
    "def f():\n    from linclf_cli.report import builder\n",  # inside a function
    "from ...cli import app\n",  # relative
    "import linclf_cli.tasks.scheduler\n",
])
def test_the_check_catches_an_upward_import(tmp_path, upward):
    root = _package(tmp_path, {
        "__init__.py": "", "errors.py": "", "engine/__init__.py": "",
        "engine/model.py": "from linclf_cli.errors import UsageError\nfrom . import model\n",
        "tasks/__init__.py": "", "tasks/typed.py": "", "tasks/scheduler.py": "",
        "report/__init__.py": "", "report/builder.py": "", "cli/__init__.py": "", "cli/app.py": "",
        "assignments/__init__.py": "", "assignments/dd2424/__init__.py": "",
        "assignments/dd2424/recipe.py": "from linclf_cli.engine import model\n" + upward,
    })
    found = violations(root)
    assert len(found) == 1 and "assignments/dd2424/recipe.py" in found[0], found


def test_the_check_allows_imports_down_and_within_a_package(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "", "errors.py": "", "engine/__init__.py": "", "engine/model.py": "",
        "tasks/__init__.py": "", "tasks/scheduler.py": "from . import handlers\nfrom ..engine import model\n",
        "tasks/handlers.py": "from linclf_cli.errors import UsageError\nfrom linclf_cli import __version__\n",
    })
    assert violations(root) == []


def test_the_check_flags_a_sideways_import(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "", "engine/__init__.py": "", "data/__init__.py": "",
        "engine/model.py": "from linclf_cli.data import splits\n", "data/splits.py": "",
    })
    assert [v.split(" imports ")[1] for v in violations(root)] == ["linclf_cli.data.splits ('data' is in the same layer as 'engine')"]


def test_the_registry_finds_each_assignments_sections():
    from linclf_cli.assignments.registry import ASSIGNMENTS, report_writers

    for aid, folder in ASSIGNMENTS.items():
        writers, intro = report_writers(aid)
        assert writers and all(w.__module__ == f"linclf_cli.assignments.{folder}.report" for w in writers.values())
    assert {"1a", "2b", "4e"} <= set(report_writers("tdt4265-a1")[0])
    assert report_writers("dd2424-a1")[1] is not None and report_writers("aml-a2")[1] is not None
    assert report_writers("my-course") == ({}, None)  # a tasks file's own assignment: default sections
