"""Settings: from ./pyproject.toml or --config, never silently from the folder being scanned."""

from __future__ import annotations

from pathlib import Path

import pytest
from reportfix import GETATTR, RCE, UNKNOWN_CALL, Writer
from typer.testing import CliRunner

from modelsieve import config
from modelsieve.cli import app
from modelsieve.model import Severity, Verdict

HOSTILE = """
[tool.modelsieve]
ignore = ["PKL", "GEN", "IND", "ARC", "FMT"]
fail-on = "critical"
include-unloaded = false
"""


def test_reads_tool_modelsieve_from_cwd(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.modelsieve]\nselect = ["pkl"]\nfail_on = "high"\nstrict = true\n'
        'baseline = "ms-baseline.json"\n'
    )
    settings = config.load(cwd=tmp_path)
    assert settings.select == ("PKL",)
    assert settings.fail_on is not None and settings.fail_on.severity is Severity.HIGH
    assert settings.strict is True
    assert settings.baseline == (tmp_path / "ms-baseline.json").resolve()
    assert settings.source == tmp_path / "pyproject.toml"


def test_pyproject_without_section_gives_defaults(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert config.load(cwd=tmp_path) == config.Settings()
    assert config.load(cwd=tmp_path / "nowhere") == config.Settings()


def test_pyproject_inside_scanned_folder_is_ignored_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(HOSTILE)
    settings = config.load(cwd=tmp_path, scan_targets=[str(tmp_path)])
    assert settings.ignore is None and settings.fail_on is None
    assert settings.warnings and "inside the scanned folder" in settings.warnings[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[tool.modelsieve]\nignor = ["PKL001"]\n', "unknown setting"),
        ("[tool.modelsieve]\nstrict = 1\n", "true or false"),
        ('[tool.modelsieve]\nfail-on = "sometimes"\n', "fail-on"),
        ("[tool.modelsieve]\nselect = [1]\n", "list of rule ids"),
        ("[tool.modelsieve\n", "not valid TOML"),
    ],
)
def test_bad_settings_are_errors(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(config.ConfigError, match=message):
        config.load(cwd=tmp_path)


def test_dedicated_config_file_may_use_top_level_keys(tmp_path: Path) -> None:
    cfg = tmp_path / "modelsieve.toml"
    cfg.write_text('ignore = ["IND001"]\ninclude-unloaded = true\n')
    settings = config.load(cfg)
    assert settings.ignore == ("IND001",) and settings.include_unloaded is True


def test_hostile_pyproject_in_scanned_repo_has_no_effect(
    tmp_path: Path, write_fake: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "downloaded-repo"
    write_fake(repo / "pytorch_model.bin", RCE)
    (repo / "pyproject.toml").write_text(HOSTILE)
    runner = CliRunner()
    # Scanning the repo from outside: its pyproject.toml is just a file in it.
    monkeypatch.chdir(tmp_path)
    outside = runner.invoke(app, ["scan", str(repo), "-j", "1"])
    assert outside.exit_code == 1, outside.output
    assert "PKL001" in outside.stdout
    # Scanning from inside the repo ("cd repo && modelsieve scan ."): still no effect, and a warning.
    monkeypatch.chdir(repo)
    inside = runner.invoke(app, ["scan", ".", "-j", "1"])
    assert inside.exit_code == 1, inside.output
    assert "PKL001" in inside.stdout and "MALICIOUS" in inside.stdout
    assert "ignored [tool.modelsieve]" in inside.stderr
    # Named explicitly, the same file is used: that is a decision, not an accident.
    explicit = runner.invoke(app, ["scan", ".", "-j", "1", "--config", "pyproject.toml"])
    assert explicit.exit_code != 1, explicit.output
    assert "PKL001" not in explicit.stdout


def test_cwd_pyproject_applies_and_cli_options_win(
    tmp_path: Path, write_fake: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.modelsieve]\nfail-on = "malicious"\nstrict = true\n')
    model = write_fake(tmp_path / "models" / "net.pt", UNKNOWN_CALL)
    getattr_model = write_fake(tmp_path / "models2" / "net.pt", GETATTR)
    monkeypatch.chdir(project)
    runner = CliRunner()
    # fail-on malicious from the file: a suspicious getattr does not fail...
    assert runner.invoke(app, ["scan", str(getattr_model)]).exit_code == 0
    # ...but strict = true from the file makes an unknown call fail.
    assert runner.invoke(app, ["scan", str(model)]).exit_code == 1
    assert runner.invoke(app, ["scan", str(model), "--no-strict"]).exit_code == 0
    assert runner.invoke(app, ["scan", str(getattr_model), "--fail-on", "suspicious"]).exit_code == 1


def test_bad_config_exits_3(tmp_path: Path, write_fake: Writer) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[tool.modelsieve]\nwhat = 1\n")
    model = write_fake(tmp_path / "m.pt")
    result = CliRunner().invoke(app, ["scan", str(model), "--config", str(cfg)])
    assert result.exit_code == 3
    assert "unknown setting" in result.stderr


def test_unknown_verdict_value_is_not_a_threshold() -> None:
    with pytest.raises(ValueError):
        config.Threshold.parse(Verdict.CLEAN.value)
