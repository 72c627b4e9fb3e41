"""A hostile tasks file: alias bombs and non-UTF-8 bytes give a usage error (10.4, 9.5)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from linclf_cli.cli.app import app
from linclf_cli.tasks.schema import load_task_file
from linclf_cli.tasks.typed import ConfigError

BOMB = """\
version: 1
assignments:
  - id: t
    title: T
    tasks:
      - id: g
        title: toy
        command: toy
        expect:
          - metric: x
            equals: &a0 [x, x, x, x, x, x, x, x, x]
          - {metric: y, equals: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]}
          - {metric: y, equals: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]}
          - {metric: y, equals: &a3 [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]}
          - {metric: y, equals: &a4 [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3]}
          - {metric: y, equals: &a5 [*a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4]}
          - {metric: y, equals: &a6 [*a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5]}
          - {metric: y, equals: &a7 [*a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6]}
          - {metric: y, equals: &a8 [*a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7]}
"""


def test_alias_bomb_is_refused_quickly_in_little_memory(tmp_path):
    p = tmp_path / "tasks.yaml"
    p.write_text(BOMB)
    assert len(BOMB) < 1500
    code = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # 1 GiB
        from linclf_cli.cli.app import main
        sys.argv = ["linclf", "tasks", "--tasks-file", {str(p)!r}, "--results-dir", {str(tmp_path / 'r')!r}]
        main()
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert "expands to more than" in r.stderr and "line 16" in r.stderr and "Traceback" not in r.stderr


def test_plain_aliases_as_pyyaml_writes_them_are_fine(tmp_path):
    import yaml

    shared = {"metric": "toy_final_loss", "not_null": True}
    doc = {"version": 1, "assignments": [{"id": "t", "title": "T", "tasks": [
        {"id": f"g{i}", "title": "toy", "command": "toy", "expect": [shared]} for i in range(3)]}]}
    p = tmp_path / "tasks.yaml"
    p.write_text(yaml.safe_dump(doc))
    assert "&id001" in p.read_text()
    assert len(load_task_file(p).all_tasks()) == 3


@pytest.mark.parametrize("cmd", [["tasks"], ["run", "--all", "--dry-run"], ["report"]])
def test_non_utf8_tasks_file_is_a_usage_error(tmp_path, cmd):
    p = tmp_path / "tasks.yaml"
    p.write_bytes(b"version: 1\n# caf\xe9\nassignments: []\n")
    r = CliRunner().invoke(app, [*cmd, "--tasks-file", str(p), "--results-dir", str(tmp_path / "r")])
    assert r.exit_code == 2, r.output
    assert str(p) in r.output and "not UTF-8" in r.output and "byte 16" in r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "r").exists()
