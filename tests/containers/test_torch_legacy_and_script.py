"""Legacy (non-zip) torch files and TorchScript archives.

Legacy files are five pickles back to back (magic, protocol, sys_info, state, storage keys) and then raw
storage bytes: every pickle is analysed, the storage bytes never are. TorchScript archives are compiled from
their code/ folder on load; ``__setstate__`` there runs during torch.load (CVE-2025-32434 made that reachable
even with weights_only=True before torch 2.6).
"""

from __future__ import annotations

import io
import pickletools
import zipfile
from pathlib import Path

import pytest
from ct_payloads import evil_pickle, prove_many
from ct_scan import assert_clean, assert_runs_os_system, describe, of_rule, scan_one

from modelsieve.model import Verdict


def _boundaries(data: bytes, count: int = 5) -> list[int]:
    """End offsets of the first ``count`` pickles (test-side walk of a file we made ourselves)."""
    stream = io.BytesIO(data)
    ends = []
    for _ in range(count):
        for op, _, _ in pickletools.genops(stream):
            if op.name == "STOP":
                break
        ends.append(stream.tell())
    return ends


@pytest.fixture(scope="session")
def legacy_cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, bool]]:
    import torch

    folder = tmp_path_factory.mktemp("legacy")
    benign = folder / "pytorch_model.bin"
    torch.save(
        {"fc.weight": torch.randn(4, 3), "fc.bias": torch.zeros(4)}, benign, _use_new_zipfile_serialization=False
    )
    data = benign.read_bytes()
    ends = _boundaries(data)
    cases: dict[str, tuple[str, Path]] = {}
    paths: dict[str, Path] = {"benign": benign}
    for name, build in {
        "payload-in-1st-pickle": lambda m: evil_pickle(m) + data[ends[0] :],
        "payload-in-4th-pickle": lambda m: data[: ends[2]] + evil_pickle(m) + data[ends[3] :],
    }.items():
        sub = folder / name
        sub.mkdir()
        marker = sub / "MARKER"
        path = sub / "model.bin"
        path.write_bytes(build(marker))
        paths[name] = path
        cases[name] = (f"import torch; torch.load({str(path)!r}, weights_only=False)", marker)
    proven = prove_many(cases)
    return {k: (p, proven.get(k, False)) for k, p in paths.items()}


def test_legacy_state_dict_is_clean(legacy_cases: dict[str, tuple[Path, bool]]) -> None:
    result = scan_one(legacy_cases["benign"][0])
    assert "pytorch-legacy" in result.formats, describe(result)
    assert_clean(result)


@pytest.mark.parametrize("case", ["payload-in-1st-pickle", "payload-in-4th-pickle"])
def test_legacy_payload_in_any_pickle(case: str, legacy_cases: dict[str, tuple[Path, bool]]) -> None:
    path, torch_ran_it = legacy_cases[case]
    assert torch_ran_it, "torch.load no longer runs this pickle"
    result = scan_one(path)
    assert_runs_os_system(result, ())


def test_legacy_scan_stops_before_storage_bytes(legacy_cases: dict[str, tuple[Path, bool]]) -> None:
    """No finding about trailing bytes: the storages after the fifth pickle are not pickle data."""
    result = scan_one(legacy_cases["benign"][0])
    assert not of_rule(result, "PKL012"), describe(result)
    assert not of_rule(result, "GEN001"), describe(result)


def _script_module(path: Path) -> None:
    import torch

    class Scaler(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(2))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.w

        @torch.jit.export
        def __getstate__(self) -> tuple[torch.Tensor, bool]:
            return (self.w, self.training)

        @torch.jit.export
        def __setstate__(self, state: tuple[torch.Tensor, bool]) -> None:
            self.w = state[0]
            self.training = state[1]

    torch.jit.save(torch.jit.script(Scaler()), str(path))


def _patch_code(src: Path, dst: Path, old: bytes, new: bytes) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith(".py"):
                assert old in data, data
                data = data.replace(old, new)
            if info.filename.endswith(".debug_pkl"):
                continue  # source ranges of the original code; torch loads without them
            zout.writestr(info.filename, data)


def test_torchscript_benign_is_clean_with_info(tmp_path: Path) -> None:
    path = tmp_path / "scripted.pt"
    _script_module(path)
    result = scan_one(path)
    assert "torchscript" in result.formats
    code = of_rule(result, "TOR001")
    assert code and "code/__torch__" in code[0].message, describe(result)
    assert_clean(result)


def test_torchscript_setstate_file_op_runs_on_torch_load(tmp_path: Path) -> None:
    src = tmp_path / "scripted.pt"
    _script_module(src)
    marker = tmp_path / "MARKER"
    path = tmp_path / "model.pt"
    _patch_code(
        src,
        path,
        b"    self.w = (state)[0]\n",
        f'    self.w = torch.add((state)[0], torch.sum(torch.from_file("{marker}", True, 4)))\n'.encode(),
    )
    proven = prove_many({"ts": (f"import torch; torch.load({str(path)!r}, weights_only=False)", marker)})
    assert proven["ts"], "torch.load no longer runs TorchScript __setstate__"
    result = scan_one(path)
    ops = [f for f in of_rule(result, "TOR003") if f.subject == "torch.from_file"]
    assert ops and "__setstate__" in ops[0].message, describe(result)
    (member,) = ops[0].location.members
    assert member.startswith("scripted/code/__torch__") and member.endswith(".py")
    assert result.verdict is Verdict.MALICIOUS


def test_torchscript_custom_operator_is_suspicious(tmp_path: Path) -> None:
    src = tmp_path / "scripted.pt"
    _script_module(src)
    path = tmp_path / "custom.pt"
    _patch_code(src, path, b"    return torch.mul(x, w)\n", b"    return ops.evil_ns.run_shell(x, w)\n")
    result = scan_one(path)
    ops = of_rule(result, "TOR003")
    assert [f.subject for f in ops] == ["ops.evil_ns.run_shell"], describe(result)
    assert result.verdict is Verdict.SUSPICIOUS
