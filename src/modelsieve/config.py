"""Settings from ``[tool.modelsieve]`` in ``pyproject.toml`` or from a ``--config`` TOML file.

Where settings may come from is a security decision: a downloaded repository can
carry a ``pyproject.toml`` that ignores every rule. Settings are therefore read only
from the current working directory or from a file named with ``--config``, and a
``pyproject.toml`` that lies inside a folder being scanned is never used silently:
it is skipped with a warning unless it is named explicitly with ``--config``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelsieve.verdict import Threshold

# Key in the TOML file -> field of Settings; dashes and underscores are both accepted.
_KEYS = {
    "select": "select",
    "ignore": "ignore",
    "fail-on": "fail_on",
    "strict": "strict",
    "include-unloaded": "include_unloaded",
    "baseline": "baseline",
}


class ConfigError(ValueError):
    """The settings file is unreadable or has an unknown or mistyped key."""


@dataclass(frozen=True)
class Settings:
    """Scan settings from a file; ``None`` means "not set here" so the CLI default applies.

    ``source`` is the file they came from; ``warnings`` says what was skipped and why.
    """

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    fail_on: Threshold | None = None
    strict: bool | None = None
    include_unloaded: bool | None = None
    baseline: Path | None = None
    source: Path | None = None
    warnings: tuple[str, ...] = ()


def load(
    config_file: Path | None = None, *, cwd: Path | None = None, scan_targets: Sequence[str | Path] = ()
) -> Settings:
    """Settings from ``config_file`` if given, else from ``cwd/pyproject.toml`` unless that is being scanned."""
    if config_file is not None:
        return _from_file(config_file, explicit=True)
    cwd = cwd or Path.cwd()
    candidate = cwd / "pyproject.toml"
    if not candidate.is_file():
        return Settings()
    inside = _inside_scanned_folder(candidate, scan_targets)
    if inside is not None:
        settings = _from_file(candidate, explicit=False)
        if settings.source is None:
            return Settings()
        return Settings(
            warnings=(
                f"ignored [tool.modelsieve] in {candidate}: it lies inside the scanned folder {inside}; "
                f"pass --config {candidate} to use it",
            )
        )
    return _from_file(candidate, explicit=False)


def _inside_scanned_folder(path: Path, targets: Sequence[str | Path]) -> Path | None:
    resolved = path.resolve()
    for target in targets:
        t = Path(target)
        if not t.is_dir():
            continue
        root = t.resolve()
        if resolved.is_relative_to(root):
            return t
    return None


def _from_file(path: Path, *, explicit: bool) -> Settings:
    # Imported here: most scans find no configuration file, and parsing TOML is slow to import.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    section: Any = data.get("tool", {}).get("modelsieve") if isinstance(data.get("tool"), dict) else None
    if section is None:
        if path.name == "pyproject.toml" or not explicit:
            return Settings()
        # A dedicated modelsieve.toml may hold the keys at top level.
        section = data
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.modelsieve] must be a table")
    return _parse(section, path)


def _parse(section: Mapping[str, Any], path: Path) -> Settings:
    values: dict[str, Any] = {}
    for raw_key, value in section.items():
        key = _KEYS.get(raw_key.replace("_", "-"))
        if key is None:
            raise ConfigError(f"{path}: unknown setting {raw_key!r} (known: {', '.join(sorted(_KEYS))})")
        values[key] = value
    out: dict[str, Any] = {"source": path}
    for key in ("select", "ignore"):
        if key in values:
            out[key] = _str_list(values[key], key, path)
    for key in ("strict", "include_unloaded"):
        if key in values:
            if not isinstance(values[key], bool):
                raise ConfigError(f"{path}: {key.replace('_', '-')} must be true or false")
            out[key] = values[key]
    if "fail_on" in values:
        if not isinstance(values["fail_on"], str):
            raise ConfigError(f"{path}: fail-on must be a string")
        try:
            out["fail_on"] = Threshold.parse(values["fail_on"])
        except ValueError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    if "baseline" in values:
        if not isinstance(values["baseline"], str):
            raise ConfigError(f"{path}: baseline must be a path string")
        out["baseline"] = (path.parent / values["baseline"]).resolve()
    return Settings(**out)


def _str_list(value: Any, key: str, path: Path) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: {key} must be a list of rule ids")
    return tuple(v.strip().upper() for v in value if v.strip())
