"""Red team: container tricks (multi-member compressed streams, member floods, nesting bombs, odd torch zips)."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from rt_support import SMALL_INPUT_BUDGET_S, describe, findings, runs_in_subprocess, scan_one, scan_timed

from fixtures.pickle_exploits import ccall, glob, p2, shell
from modelsieve.model import Verdict


def _evil(marker: Path) -> bytes:
    return p2(ccall(glob("os", "system"), shell(str(marker))))


def _os_system(result: object, members: tuple[str, ...] | None = None) -> bool:
    hits = findings(result, "PKL001", ("os.system",))  # type: ignore[arg-type]
    return bool(hits) and (members is None or any(f.location.members == members for f in hits))


SPLITTERS: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "gzip": (gzip.compress, "gzip"),
    "bz2": (bz2.compress, "bz2"),
    "xz": (lzma.compress, "lzma"),
}


@pytest.mark.parametrize("codec", sorted(SPLITTERS))
def test_pickle_split_across_concatenated_members(codec: str, tmp_path: Path) -> None:
    """Half the pickle in one compressed member/stream, half in the next: ``gzip.open`` & co. read both.

    (``joblib.load`` hangs on a two-member gzip, so the proof uses the stdlib readers, as pandas does.)
    """
    compress, module = SPLITTERS[codec]
    marker = tmp_path / "MARKER"
    evil = _evil(marker)
    half = len(evil) // 2
    path = tmp_path / f"model.pkl.{codec}"
    path.write_bytes(compress(evil[:half]) + compress(evil[half:]))
    code = f"import pickle, {module}\npickle.load({module}.open({str(path)!r}))"
    ran, output = runs_in_subprocess(code, marker, tmp_path)
    assert ran, output
    result = scan_one(path)
    assert result.verdict is Verdict.MALICIOUS, describe(result)
    assert _os_system(result), describe(result)


def test_tar_payload_after_10000_empty_members(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    evil = _evil(marker)
    path = tmp_path / "checkpoint.tar"
    with tarfile.open(path, "w") as tf:
        for i in range(10_000):
            info = tarfile.TarInfo(f"empty/{i}")
            tf.addfile(info)
        info = tarfile.TarInfo("pickle")
        info.size = len(evil)
        tf.addfile(info, io.BytesIO(evil))
    timed = scan_timed(path)
    result = timed.result
    # Either the payload is found, or the flood is reported as a limit (never a silent clean).
    assert result.verdict is not Verdict.CLEAN, describe(result)
    assert _os_system(result) or findings(result, "GEN002"), describe(result)
    assert timed.seconds < SMALL_INPUT_BUDGET_S, f"{timed.seconds:.1f}s"


def test_zip_in_zip_20_levels_is_bounded(tmp_path: Path) -> None:
    blob, name = _evil(tmp_path / "MARKER"), "data.pkl"
    for level in range(20):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(name, blob)
        blob, name = buf.getvalue(), f"level{level}.zip"
    path = tmp_path / "nested.zip"
    path.write_bytes(blob)
    timed = scan_timed(path)
    assert timed.result.verdict >= Verdict.INCONCLUSIVE, describe(timed.result)
    assert findings(timed.result, "GEN002") or _os_system(timed.result), describe(timed.result)
    assert timed.seconds < SMALL_INPUT_BUDGET_S


@pytest.fixture(scope="module")
def torch_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch = pytest.importorskip("torch")
    path = tmp_path_factory.mktemp("rt-torch") / "weights.pt"
    torch.save({"w": torch.ones(3)}, path)
    return path


def _rebuild(src: Path, dst: Path, replace: dict[str, bytes]) -> Path:
    pending = dict(replace)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = pending.pop(info.filename, None)
            zout.writestr(info, zin.read(info.filename) if data is None else data)
        for name, data in pending.items():
            zout.writestr(name, data)
    return dst


def test_second_pickle_member_beside_benign_data_pkl_is_reported(torch_zip: Path, tmp_path: Path) -> None:
    """torch.load reads only ``<root>/data.pkl``; a hidden ``extra.pkl`` is still shown (with its member name)."""
    path = _rebuild(torch_zip, tmp_path / "weights.pt", {"weights/extra.pkl": _evil(tmp_path / "MARKER")})
    result = scan_one(path)
    assert _os_system(result, ("weights/extra.pkl",)), describe(result)


def test_pickle_bytes_inside_a_storage_record_are_not_malicious(torch_zip: Path, tmp_path: Path) -> None:
    """``data/0`` is raw tensor bytes for torch.load: pickle-looking bytes there are never unpickled."""
    evil = _evil(tmp_path / "MARKER")
    evil += b"\0" * (-len(evil) % 12)
    path = _rebuild(torch_zip, tmp_path / "weights.pt", {"weights/data/0": evil})
    result = scan_one(path)
    assert result.verdict is not Verdict.MALICIOUS, describe(result)


def test_torch_zip_with_trailing_junk_or_comment_still_shows_payload(torch_zip: Path, tmp_path: Path) -> None:
    """torch.load (miniz) finds the end record behind appended bytes or a zip comment and runs data.pkl."""
    marker = tmp_path / "MARKER"
    raw = _rebuild(torch_zip, tmp_path / "evil.pt", {"weights/data.pkl": _evil(marker)}).read_bytes()
    variants = {
        "appended.pt": raw + b"J" * 1000,
        "comment.pt": raw[:-2] + (5).to_bytes(2, "little") + b"hello",
    }
    paths = []
    for name, data in variants.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(path)
    proof = "import torch\n" + "".join(
        f"try:\n    torch.load({str(p)!r}, weights_only=False)\nexcept Exception:\n    pass\n"
        f"import os\nos.rename({str(marker)!r}, {str(p) + '.ran'!r}) if os.path.exists({str(marker)!r}) else None\n"
        for p in paths
    )
    _ran, output = runs_in_subprocess(proof, marker, tmp_path)
    for path in paths:
        assert Path(str(path) + ".ran").exists(), f"torch.load did not run {path.name}\n{output}"
        result = scan_one(path)
        assert result.verdict is Verdict.MALICIOUS, describe(result)
        assert _os_system(result, ("weights/data.pkl",)), describe(result)
