"""Compressed pickles, tar/zip/7z archives: payloads inside are found; extraction hazards are reported."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zlib
from pathlib import Path

import pytest
from ct_payloads import evil_pickle, prove_many
from ct_scan import assert_clean, assert_runs_os_system, describe, of_rule, rule_ids, scan_one
from ct_zipcraft import Member, build_zip, torch_members

from modelsieve.model import Verdict


def _lz4(data: bytes) -> bytes:
    import lz4.frame

    return lz4.frame.compress(data)  # type: ignore[no-any-return]


def _zstd(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor().compress(data)


CODECS = {
    "gzip": (gzip.compress, "import gzip as m; opener = m.open"),
    "bz2": (bz2.compress, "import bz2 as m; opener = m.open"),
    "xz": (lzma.compress, "import lzma as m; opener = m.open"),
    "lzma-alone": (lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE), "import lzma as m; opener = m.open"),
    "lz4": (_lz4, "import lz4.frame as m; opener = m.open"),
    "zstd": (_zstd, "import zstandard as m; opener = lambda p: m.ZstdDecompressor().stream_reader(open(p, 'rb'))"),
    "zlib": (zlib.compress, "import zlib, io; opener = lambda p: io.BytesIO(zlib.decompress(open(p, 'rb').read()))"),
}


@pytest.fixture(scope="session")
def compressed_cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, bool]]:
    cases: dict[str, tuple[str, Path]] = {}
    paths: dict[str, Path] = {}
    for name, (compress, opener) in CODECS.items():
        folder = tmp_path_factory.mktemp(name)
        marker = folder / "MARKER"
        path = folder / "config.dat"
        path.write_bytes(compress(evil_pickle(marker, protocol=4)))
        paths[name] = path
        cases[name] = (f"import pickle; {opener}; pickle.load(opener({str(path)!r}))", marker)
    proven = prove_many(cases)
    return {k: (paths[k], proven[k]) for k in paths}


@pytest.mark.parametrize("codec", list(CODECS))
def test_compressed_pickle(codec: str, compressed_cases: dict[str, tuple[Path, bool]]) -> None:
    path, ran = compressed_cases[codec]
    assert ran, f"pickle.load no longer runs the {codec} payload"
    result = scan_one(path)
    assert_runs_os_system(result, ("config.dat!",))


def test_truncated_gzip_still_shows_the_payload(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl.gz"
    path.write_bytes(gzip.compress(evil_pickle(tmp_path / "MARKER"))[:-6])
    result = scan_one(path)
    assert of_rule(result, "GEN001"), describe(result)
    assert_runs_os_system(result, ("model.pkl.gz!",))


def test_gzip_bomb_stops_at_the_ratio_limit(tmp_path: Path) -> None:
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(b"\0" * (40 * 1024**2), compresslevel=9))
    result = scan_one(path)
    bombs = of_rule(result, "ARC003")
    assert bombs and bombs[0].subject == "compression-ratio", describe(result)
    assert result.verdict is Verdict.INCONCLUSIVE


def test_zip_bomb_is_not_expanded(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.bin", b"\0" * (40 * 1024**2))
        z.writestr("b.bin", b"\0" * (40 * 1024**2))
    assert path.stat().st_size < 200_000
    result = scan_one(path)
    assert len(of_rule(result, "ARC003")) == 2, describe(result)
    assert result.verdict is Verdict.INCONCLUSIVE


def test_overlapping_member_zip_bomb(tmp_path: Path) -> None:
    """Fifield-style bomb: central entries that share the same compressed data."""
    data = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = data.compress(b"\0" * 1024) + data.flush()
    raw = bytearray(build_zip([Member("k", b"\0" * 1024, deflate=True)]))
    cd = raw.find(b"PK\x01\x02")
    entry = bytes(raw[cd : raw.find(b"PK\x05\x06")])
    copies = b"".join(entry[:46] + f"{i}".encode()[:1] + entry[47:] for i in range(5))
    eocd = raw[raw.find(b"PK\x05\x06") :]
    eocd = eocd[:8] + (5).to_bytes(2, "little") * 2 + len(copies).to_bytes(4, "little") + eocd[16:]
    path = tmp_path / "overlap.zip"
    path.write_bytes(bytes(raw[:cd]) + copies + bytes(eocd))
    assert len(body) > 0
    result = scan_one(path)
    assert [f for f in of_rule(result, "ARC003") if f.subject == "overlap"], describe(result)


def test_tar_path_traversal_and_escaping_links(tmp_path: Path) -> None:
    payload = evil_pickle(tmp_path / "MARKER")
    path = tmp_path / "model.tar"
    with tarfile.open(path, "w") as t:
        info = tarfile.TarInfo("../../outside.pkl")
        info.size = len(payload)
        t.addfile(info, io.BytesIO(payload))
        link = tarfile.TarInfo("weights/link")
        link.type = tarfile.SYMTYPE
        link.linkname = "../../../etc/passwd"
        t.addfile(link)
        hard = tarfile.TarInfo("weights/hard")
        hard.type = tarfile.LNKTYPE
        hard.linkname = "/etc/shadow"
        t.addfile(hard)
    dest = tmp_path / "a" / "b" / "dest"
    dest.mkdir(parents=True)
    with tarfile.open(path) as t:
        t.extract("../../outside.pkl", dest, filter="fully_trusted")  # what an unfiltered extractall does
    assert (tmp_path / "a" / "outside.pkl").exists()
    result = scan_one(path)
    assert [f.subject for f in of_rule(result, "ARC001")] == ["../../outside.pkl"], describe(result)
    assert sorted(f.subject for f in of_rule(result, "ARC002")) == ["weights/hard", "weights/link"]
    assert_runs_os_system(result, ("../../outside.pkl",))


def test_zip_slip_member_name(tmp_path: Path) -> None:
    path = tmp_path / "archive.zip"
    path.write_bytes(build_zip([Member("../evil.txt", b"hello"), Member("/abs/path.txt", b"x")]))
    result = scan_one(path)
    assert sorted(f.subject for f in of_rule(result, "ARC001")) == ["../evil.txt", "/abs/path.txt"], describe(result)


def test_tar_gz_with_pickle_inside(tmp_path: Path) -> None:
    payload = evil_pickle(tmp_path / "MARKER")
    path = tmp_path / "model.tar.gz"
    with tarfile.open(path, "w:gz") as t:
        info = tarfile.TarInfo("model/weights.p")
        info.size = len(payload)
        t.addfile(info, io.BytesIO(payload))
    result = scan_one(path)
    assert_runs_os_system(result, ("model.tar.gz!", "model/weights.p"))
    assert result.formats[:2] == ("gzip", "tar")


def test_nested_zip_in_zip(tmp_path: Path) -> None:
    inner = build_zip([Member("payload.pkl", evil_pickle(tmp_path / "MARKER"))])
    middle = build_zip([Member("inner.zip", inner, deflate=True)])
    path = tmp_path / "outer.zip"
    path.write_bytes(build_zip([Member("middle.zip", middle)]))
    result = scan_one(path)
    assert_runs_os_system(result, ("middle.zip", "inner.zip", "payload.pkl"))


def test_seven_zip_compressed_torch_archive_nullifai(
    torch_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """nullifAI: a torch archive packed with 7z, its data.pkl broken right after the payload."""
    import py7zr

    folder = tmp_path_factory.mktemp("nullifai")
    marker = folder / "MARKER"
    broken = evil_pickle(marker)[:-1] + b"\xff\xfe broken on purpose"
    members = [Member(n, broken if n.endswith("/data.pkl") else d) for n, d in torch_members(str(torch_checkpoint))]
    path = folder / "model.7z"
    with py7zr.SevenZipFile(path, "w") as z:
        z.writestr(build_zip(members), "model.pt")
    code = (
        f"import py7zr, torch; py7zr.SevenZipFile({str(path)!r}).extractall({str(folder / 'out')!r}); "
        f"torch.load({str(folder / 'out' / 'model.pt')!r}, weights_only=False)"
    )
    assert prove_many({"7z": (code, marker)})["7z"]
    result = scan_one(path)
    assert_runs_os_system(result, ("model.pt", "archive/data.pkl"))
    assert "7z" in result.formats


def test_benign_archives_of_models_are_clean(torch_checkpoint: Path, tmp_path: Path) -> None:
    path = tmp_path / "release.tar.gz"
    with tarfile.open(path, "w:gz") as t:
        t.add(torch_checkpoint, "release/pytorch_model.bin")
    result = scan_one(path)
    assert "pytorch" in result.formats, describe(result)
    assert_clean(result)
    assert "ARC001" not in rule_ids(result)
