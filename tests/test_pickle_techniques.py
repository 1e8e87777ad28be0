"""Every pickle attack technique of the catalogue is reported with the exact rule, callable and behaviour.

The fixtures come from ``tests/fixtures/pickle_exploits.py`` (``tests/test_real_loaders_execute.py``
proves they are real attacks). Files are written under misleading names (``.bin``, ``.pt``,
``config.p``, no extension): detection must come from the content.
"""

from __future__ import annotations

import json
import pickle
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import modelsieve
from fixtures.pickle_exploits import (
    BOMB_DUPS,
    BY_NAME,
    PASTE_URL,
    Exploit,
    benign_pickles,
    bomb_memo_doubling,
    ccall,
    const,
    glob,
    p2,
    pickle_setitem,
)
from modelsieve.cli import app
from modelsieve.limits import Limits
from modelsieve.model import FileResult, Finding, IndicatorKind, Verdict
from modelsieve.options import ScanOptions


def scan_one(path: Path) -> FileResult:
    report = modelsieve.scan(path, ScanOptions(jobs=1))
    assert len(report.results) == 1, report
    return report.results[0]


def describe(result: FileResult) -> str:
    """A readable dump of what the scanner said, for failure messages."""
    lines = [f"verdict={result.verdict.value} formats={result.formats}"]
    for f in result.findings:
        loc = f.location
        behaviour = f.behaviour.description if f.behaviour else "-"
        lines.append(
            f"  {f.rule_id} subject={f.subject!r} @op={loc.opcode_index} off={loc.offset} "
            f"members={loc.members} behaviour={behaviour!r} msg={f.message!r}"
        )
    lines.extend(f"  call {c.callable}({c.arguments}) [{c.safety}]" for c in result.calls)
    return "\n".join(lines)


def findings_of(result: FileResult, rule_id: str, subjects: tuple[str, ...] | None = None) -> list[Finding]:
    return [
        f
        for f in result.findings
        if f.rule_id == rule_id and f.suppressed is None and (not subjects or f.subject in subjects)
    ]


def assert_reported(result: FileResult, exploit: Exploit) -> None:
    """The contract of a correct report for one technique."""
    dump = describe(result)
    assert result.verdict >= exploit.verdict, f"{exploit.name}: expected {exploit.verdict.value}\n{dump}"
    assert result.verdict is not Verdict.CLEAN, dump
    matching = findings_of(result, exploit.rule_id, exploit.subjects or None)
    assert matching, f"{exploit.name}: no {exploit.rule_id} finding about {exploit.subjects}\n{dump}"
    if exploit.rule_id.startswith("PKL"):
        located = [f for f in matching if f.location.opcode_index is not None and f.location.offset is not None]
        assert located, f"{exploit.name}: {exploit.rule_id} finding has no opcode index / offset\n{dump}"
    for rule_id, subject in exploit.extra:
        assert findings_of(result, rule_id, (subject,) if subject else None), (
            f"{exploit.name}: missing {rule_id} {subject or ''}\n{dump}"
        )
    if exploit.behaviour:
        words = [w.lower() for w in exploit.behaviour]
        descriptions = [b.description.lower() for b in result.behaviours]
        assert any(all(w in d for w in words) for d in descriptions), (
            f"{exploit.name}: no behaviour mentions all of {words}\n{dump}"
        )


def test_pickle_technique_detected(exploit: Exploit, exploit_file: Path, marker: Path) -> None:
    result = scan_one(exploit_file)
    assert_reported(result, exploit)
    assert not marker.exists(), "scanning ran the payload"


@pytest.mark.parametrize("name", ["model.pt", "pytorch_model.bin", "config.p", "weights", "data.model"])
def test_CVE_2025_10155_plain_pickle_under_any_name(name: str, tmp_path: Path) -> None:
    """A plain pickle named like a torch zip (or anything else) is still analysed as a pickle."""
    exploit = BY_NAME["os_system_proto2"]
    path = tmp_path / name
    path.write_bytes(exploit.build(str(tmp_path / "MARKER")))
    assert_reported(scan_one(path), exploit)


def test_os_system_call_record_and_argument(tmp_path: Path) -> None:
    """The reconstructed call is listed with its argument, so a reviewer sees the command itself."""
    marker = tmp_path / "MARKER"
    path = tmp_path / "x.bin"
    path.write_bytes(BY_NAME["os_system_proto2"].build(str(marker)))
    result = scan_one(path)
    calls = [c for c in result.calls if c.callable == "os.system"]
    assert calls, describe(result)
    assert str(marker) in calls[0].arguments
    assert calls[0].location.offset is not None


def test_nullifai_reports_call_and_break(tmp_path: Path) -> None:
    """Broken after the payload: the call is reported (PKL001) beside the break (PKL008); never clean."""
    result = scan_one(_write(tmp_path, "nullifai_broken_after_payload"))
    assert findings_of(result, "PKL001", ("os.system",)), describe(result)
    assert findings_of(result, "PKL008"), describe(result)
    assert result.verdict is Verdict.MALICIOUS


def test_download_and_execute_surfaces_url(tmp_path: Path) -> None:
    result = scan_one(_write(tmp_path, "download_and_execute"))
    urls = [i.value for i in result.indicators if i.kind is IndicatorKind.URL]
    assert PASTE_URL in urls, describe(result)
    assert result.verdict is Verdict.MALICIOUS


def test_dup_bomb_stops_at_limit_quickly(tmp_path: Path) -> None:
    assert Limits().max_stack_depth < BOMB_DUPS, "the bomb fixture must exceed the default stack limit"
    t0 = time.monotonic()
    result = scan_one(_write(tmp_path, "bomb_dup_stack"))
    assert time.monotonic() - t0 < 30
    assert findings_of(result, "GEN002"), describe(result)
    assert result.verdict >= Verdict.INCONCLUSIVE


def test_memo_doubling_bomb_is_bounded(tmp_path: Path) -> None:
    """2**200 leaves if anything expands shared references: the scan must finish fast and report, not hang."""
    path = tmp_path / "bomb.pkl"
    path.write_bytes(bomb_memo_doubling())
    t0 = time.monotonic()
    result = scan_one(path)
    assert time.monotonic() - t0 < 30
    assert not findings_of(result, "GEN006"), describe(result)
    assert "pickle" in " ".join(result.formats), describe(result)


@pytest.mark.parametrize(
    ("module", "name", "args"),
    [
        ("bdb", "Bdb", ()),
        ("trace", "Trace", (0, 0)),
        ("profile", "Profile", ()),
        ("code", "InteractiveInterpreter", ()),
    ],
)
def test_gadget_object_built_but_never_run_is_not_a_dangerous_call(
    module: str, name: str, args: tuple[int, ...], tmp_path: Path
) -> None:
    """Low noise: constructing a debugger/profiler object is a capability, not a call that runs code.
    The gadget fixtures call ``.run``/``.runcode`` on such an object; this one only stores it."""
    path = tmp_path / "holder.pkl"
    path.write_bytes(p2(pickle_setitem(const({}), "tool", ccall(glob(module, name), *args))))
    result = scan_one(path)
    assert not findings_of(result, "PKL001"), describe(result)
    assert result.verdict < Verdict.MALICIOUS, describe(result)


@pytest.mark.parametrize("name", sorted(benign_pickles()))
def test_benign_data_pickle_is_clean(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(benign_pickles()[name])
    result = scan_one(path)
    assert result.verdict is Verdict.CLEAN, describe(result)


# ---------------------------------------------------------------------------------------------------------------
# CLI: exit codes and JSON
# ---------------------------------------------------------------------------------------------------------------

runner = CliRunner()


def _write(tmp_path: Path, name: str, filename: str | None = None) -> Path:
    exploit = BY_NAME[name]
    path = tmp_path / (filename or exploit.file_name)
    path.write_bytes(exploit.build(str(tmp_path / "MARKER")))
    return path


def test_cli_exit_1_for_malicious(tmp_path: Path) -> None:
    path = _write(tmp_path, "os_system_proto4")
    result = runner.invoke(app, ["scan", "--no-progress", str(path)])
    assert result.exit_code == 1, result.output
    assert "PKL001" in result.output


def test_cli_exit_0_for_benign_pickle(tmp_path: Path) -> None:
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps({"a": [1, 2, 3]}))
    result = runner.invoke(app, ["scan", "--no-progress", str(path)])
    assert result.exit_code == 0, result.output


def _truncated() -> bytes:
    return pickle.dumps({"a": list(range(50)), "b": "text" * 10}, protocol=4)[:-15]


@pytest.mark.parametrize(
    ("kind", "content"),
    [
        ("truncated", _truncated()),
        ("random", random.Random(1234).randbytes(4096)),
        ("empty", b""),
    ],
)
def test_cli_exit_2_for_unanalysable(kind: str, content: bytes, tmp_path: Path) -> None:
    path = tmp_path / f"{kind}.bin"
    path.write_bytes(content)
    result = runner.invoke(app, ["scan", "--no-progress", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_truncated_pickle_is_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.pkl"
    path.write_bytes(_truncated())
    result = scan_one(path)
    assert findings_of(result, "GEN001"), describe(result)
    assert result.verdict is Verdict.INCONCLUSIVE


def test_cli_json_has_rule_id(tmp_path: Path) -> None:
    path = _write(tmp_path, "nested_base64")
    result = runner.invoke(app, ["scan", "--no-progress", "--format", "json", str(path)])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    rules = {f["rule_id"] for file in doc["files"] for f in file["findings"]}
    assert {"PKL001", "PKL006"} <= rules, rules
    subjects = {f["subject"] for file in doc["files"] for f in file["findings"] if f["rule_id"] == "PKL001"}
    assert "os.system" in subjects


def test_python_m_modelsieve_scan_subprocess(tmp_path: Path) -> None:
    """The installed entry point, as a user runs it: no payload runs, exit code 1."""
    path = _write(tmp_path, "builtins_exec", filename="model")
    proc = subprocess.run(
        [sys.executable, "-m", "modelsieve", "scan", "--no-progress", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "MARKER").exists()
