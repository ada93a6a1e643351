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
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    album = next(d for d in deps if d.startswith("albumentations"))
    assert "<2.1" in album


def readme_commands() -> list[str]:
    """The commands of the README's first code block, comments stripped."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block and text.index("```bash") < 200, "the README does not open with a bash block of commands"
    return [line.split("  #")[0].strip() for line in block[1].splitlines() if line.strip()]


def ci_commands() -> list[str]:
    """The commands .ci/run runs at the top level (no comments, no blank lines, no continuation lines)."""
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second():
    install, tests = readme_commands()
    assert 'pip install -e ".[dev]"' in install and install.endswith("python -m evalib reproduce")
    ci = ci_commands()
    assert "python3 -m venv .ci-venv" in ci and 'pip install -e ".[dev]"' in ci
    # CI's last command is the README's test command, exactly, and nothing else in CI runs the tests
    assert ci[-1] == tests, f".ci/run ends in {ci[-1]!r}, but the README's test command is {tests!r}"
    assert [c for c in ci if "pytest" in c.split()[:3]] == [tests], "CI runs pytest other than as the README says"


def test_ci_fails_when_the_browser_cannot_be_installed():
    """Where apt-get can install Chromium, CI must not go green with its browser tests skipped."""
    ci = (ROOT / ".ci" / "run").read_text()
    install = next(line for line in ci.splitlines() if "apt-get install" in line and "chromium" in line)
    after = ci[ci.index(install):].splitlines()[1]
    assert "exit 1" in after, f"a failed Chromium install does not stop CI: {after!r}"
    assert "export DEPTHMASK_REQUIRE_BROWSER=1" in ci


def test_pytest_options_guard_against_hangs_and_typos():
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--strict-markers" in options["addopts"].split()
    assert 0 < int(options["timeout"]) <= 900, "every test needs a time limit (pytest-timeout)"
