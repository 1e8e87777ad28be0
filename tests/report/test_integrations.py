"""The pre-commit hook and the GitHub Action parse and only use options `modelsieve scan` has."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import typer
import yaml
from reportfix import RCE, Writer
from typer.testing import CliRunner

from modelsieve.cli import app

ROOT = Path(__file__).resolve().parents[2]


def _scan_options() -> set[str]:
    group = typer.main.get_command(app)
    scan = group.commands["scan"]  # type: ignore[attr-defined]
    names: set[str] = set()
    for param in scan.params:
        names.update(o for o in (*param.opts, *param.secondary_opts) if o.startswith("-"))
    return names


def _options_in(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text)) - {"--"}


def test_pre_commit_hook_definition() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert isinstance(hooks, list) and len(hooks) == 1
    hook = hooks[0]
    assert hook["id"] == "modelsieve"
    assert hook["language"] == "python"
    assert hook["types"] == ["file"]  # content decides, not names
    argv = shlex.split(hook["entry"])
    assert argv[:2] == ["modelsieve", "scan"]
    used = _options_in(hook["entry"]) | _options_in(" ".join(hook.get("args", [])))
    assert used and used <= _scan_options(), used - _scan_options()


def test_pre_commit_entry_runs_on_mixed_files(tmp_path: Path, write_fake: Writer) -> None:
    hook = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))[0]
    args = shlex.split(hook["entry"])[1:]
    readme = tmp_path / "README.md"
    readme.write_text("# a model\n")
    clean = write_fake(tmp_path / "weights.bin")
    runner = CliRunner()
    assert runner.invoke(app, [*args, "-j", "1", str(readme), str(clean)]).exit_code == 0
    bad = write_fake(tmp_path / "config.p", RCE)
    assert runner.invoke(app, [*args, "-j", "1", str(readme), str(bad)]).exit_code == 1


def test_github_action_definition() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("actions/setup-python@") for u in uses)
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert "modelsieve" in install["run"]
    scan = next(s for s in steps if s.get("id") == "scan")
    script = scan["run"]
    assert "--format sarif" in script
    used = _options_in(script)
    assert {"--format", "--fail-on", "--output"} <= used
    assert used <= _scan_options(), used - _scan_options()
    for name in ("paths", "fail-on", "sarif-file"):
        assert name in action["inputs"]
    # Inputs reach the script only through the environment (no ${{ }} inside run: no shell injection).
    for step in steps:
        assert "${{" not in step.get("run", ""), step.get("name")


def test_documented_fail_on_values_are_accepted(tmp_path: Path, write_fake: Writer) -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    values = re.findall(r"[a-z]+", action["inputs"]["fail-on"]["description"].split(":", 1)[1])
    levels = [v for v in values if v not in ("or",)]
    assert len(levels) == 7
    model = write_fake(tmp_path / "m.pt")
    for level in levels:
        result = CliRunner().invoke(app, ["scan", "-j", "1", "--fail-on", level, str(model)])
        assert result.exit_code == 0, (level, result.output)
