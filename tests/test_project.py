"""The install story: pyproject and environment.yml agree, and the README's commands are the real ones."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def names(reqs):
    return {re.split(r"[<>=!~\[ ;]", r.strip(), maxsplit=1)[0].lower() for r in reqs if r.strip()}


def test_environment_yml_lists_every_pyproject_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = names(project["dependencies"]) | names(project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "-e .[dev]" in pip
    listed = names(p for p in pip if not p.startswith("-"))
    assert wanted - listed == set(), f"environment.yml lacks {sorted(wanted - listed)}"
    assert listed - wanted == set(), f"environment.yml has extras {sorted(listed - wanted)}"


def test_albumentations_stays_on_the_mit_line():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    album = next(d for d in deps if d.startswith("albumentations"))
    assert "<2.1" in album


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second():
    head = (ROOT / "README.md").read_text().splitlines()[:6]
    block = "\n".join(head)
    assert 'pip install -e ".[dev]"' in block and "python -m evalib reproduce" in block
    assert any(line.startswith("pytest") for line in head)
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 -m venv" in ci and 'pip install -e ".[dev]"' in ci and "\npytest" in ci
