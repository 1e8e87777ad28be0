"""PyTorch zip checkpoints: the payload in data.pkl is found whatever zip quirk hides it from zipfile.

Every quirked archive is first proved to still load (and run its payload) in torch itself.
CVE-2025-10156 (bad CRC), CVE-2025-1945 (flag bits), CVE-2025-1944 (name mismatch), duplicates,
renamed top folder, case-variant data.pkl, deflated members, zip64.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from ct_payloads import evil_pickle, prove_many
from ct_scan import assert_runs_os_system, describe, of_rule, scan_one
from ct_zipcraft import Member, build_zip, torch_members

from modelsieve.model import Effect, Severity, Verdict

Quirk = Callable[[list[Member]], list[Member]]


def _data_pkl(members: list[Member]) -> Member:
    return next(m for m in members if m.name.endswith("/data.pkl"))


def _bad_crc(ms: list[Member]) -> list[Member]:
    _data_pkl(ms).crc = 0x12345678
    return ms


def _flag_bits(ms: list[Member]) -> list[Member]:
    m = _data_pkl(ms)
    m.local_flags = m.central_flags = 0x0010 | 0x0080
    return ms


def _local_encrypted_bit(ms: list[Member]) -> list[Member]:
    _data_pkl(ms).local_flags = 0x0001
    return ms


def _name_mismatch(ms: list[Member]) -> list[Member]:
    m = _data_pkl(ms)
    m.central_name = m.name
    m.name = "archive/weights.bin"
    return ms


def _renamed_top_folder(ms: list[Member]) -> list[Member]:
    for m in ms:
        m.name = "renamed/" + m.name.split("/", 1)[1]
    return ms


def _case_variant(ms: list[Member]) -> list[Member]:
    _data_pkl(ms).name = "archive/DATA.PKL"
    return ms


def _deflated(ms: list[Member]) -> list[Member]:
    for m in ms:
        m.deflate = True
    return ms


# (quirk, rule it must raise besides PKL001, member torch reads)
QUIRKS: dict[str, tuple[Quirk, str | None, str]] = {
    "plain": (lambda ms: ms, None, "archive/data.pkl"),
    "CVE-2025-10156-bad-crc": (_bad_crc, "ZIP001", "archive/data.pkl"),
    "CVE-2025-1945-flag-bits": (_flag_bits, "ZIP002", "archive/data.pkl"),
    "CVE-2025-1945-local-encrypted-bit": (_local_encrypted_bit, "ZIP002", "archive/data.pkl"),
    "CVE-2025-1944-name-mismatch": (_name_mismatch, "ZIP003", "archive/data.pkl"),
    "renamed-top-folder": (_renamed_top_folder, "TOR002", "renamed/data.pkl"),
    "case-variant-data-pkl": (_case_variant, "TOR002", "archive/DATA.PKL"),
    "deflated-members": (_deflated, None, "archive/data.pkl"),
}


def _evil_members(checkpoint: Path, marker: Path) -> list[Member]:
    payload = evil_pickle(marker)
    return [Member(n, payload if n.endswith("/data.pkl") else d) for n, d in torch_members(str(checkpoint))]


def _torch_load(path: Path) -> str:
    return f"import torch; torch.load({str(path)!r}, weights_only=False)"


@pytest.fixture(scope="session")
def quirk_cases(torch_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, bool]]:
    """Every quirked archive, written once, and whether torch ran its payload (one interpreter for all)."""
    cases: dict[str, tuple[str, Path]] = {}
    paths: dict[str, Path] = {}
    for quirk, (mutate, _, _) in QUIRKS.items():
        folder = tmp_path_factory.mktemp(quirk)
        marker = folder / "MARKER"
        path = folder / "pytorch_model.bin"
        path.write_bytes(build_zip(mutate(_evil_members(torch_checkpoint, marker))))
        cases[quirk] = (_torch_load(path), marker)
        paths[quirk] = path
    proven = prove_many(cases)
    return {quirk: (paths[quirk], proven[quirk]) for quirk in QUIRKS}


@pytest.mark.parametrize("quirk", list(QUIRKS))
def test_quirked_torch_zip_payload_found(quirk: str, quirk_cases: dict[str, tuple[Path, bool]]) -> None:
    _, rule, member = QUIRKS[quirk]
    path, torch_ran_it = quirk_cases[quirk]
    assert torch_ran_it, f"torch no longer loads the {quirk} archive"
    marker = path.parent / "MARKER"
    result = scan_one(path)
    assert_runs_os_system(result, (member,))
    if rule:
        assert of_rule(result, rule), describe(result)
    assert "pytorch" in result.formats
    assert not marker.exists()


@pytest.fixture(scope="session")
def variants(torch_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, bool]]:
    """Archives for the tests below, proved against torch in one interpreter."""
    builders: dict[str, Callable[[Path], bytes]] = {
        "zip64": lambda m: build_zip(_evil_members(torch_checkpoint, m), zip64=True),
    }
    for position in DUP_POSITIONS:
        builders[f"dup{position}"] = lambda m, p=position: build_zip(_with_duplicate(torch_checkpoint, m, p))
    for bit in REFUSED_BITS:
        builders[f"flag{bit}"] = lambda m, b=bit: build_zip(_with_central_flag(torch_checkpoint, m, b))
    cases: dict[str, tuple[str, Path]] = {}
    paths: dict[str, Path] = {}
    for key, build in builders.items():
        folder = tmp_path_factory.mktemp(key)
        paths[key] = folder / "model.ckpt"
        paths[key].write_bytes(build(folder / "MARKER"))
        cases[key] = (_torch_load(paths[key]), folder / "MARKER")
    proven = prove_many(cases)
    return {k: (paths[k], proven[k]) for k in paths}


DUP_POSITIONS = [0, 1, 5, 7]
REFUSED_BITS = [0x0001, 0x0020, 0x0040]


def _with_duplicate(checkpoint: Path, marker: Path, position: int) -> list[Member]:
    members = [Member(n, d) for n, d in torch_members(str(checkpoint))]
    members.insert(position, Member("archive/data.pkl", evil_pickle(marker)))
    return members


def _with_central_flag(checkpoint: Path, marker: Path, bit: int) -> list[Member]:
    members = _evil_members(checkpoint, marker)
    _data_pkl(members).central_flags = bit
    return members


def test_zip64_torch_archive(variants: dict[str, tuple[Path, bool]]) -> None:
    path, torch_ran_it = variants["zip64"]
    assert torch_ran_it
    assert_runs_os_system(scan_one(path), ("archive/data.pkl",))


@pytest.mark.parametrize("position", DUP_POSITIONS)
def test_duplicate_names_scanner_picks_the_copy_torch_reads(
    position: int, variants: dict[str, tuple[Path, bool]]
) -> None:
    """Two data.pkl: which one torch reads depends on miniz's heap sort, emulated exactly.

    Every copy is analysed; the one torch reads is labelled plainly, the other with its entry index.
    """
    from modelsieve.formats import ziplenient as zl
    from modelsieve.limits import Limits
    from modelsieve.model import Location
    from modelsieve.source import Artifact

    path, torch_runs_it = variants[f"dup{position}"]
    with open(path, "rb") as f:
        directory = zl.read_directory(Artifact(f, path.stat().st_size, Location(str(path)), path.name), Limits())
    chosen = directory.locate("archive/data.pkl")
    assert chosen is not None
    assert torch_runs_it == (chosen.index == position)
    result = scan_one(path)
    expected = "archive/data.pkl" if torch_runs_it else f"archive/data.pkl#{position}"
    assert_runs_os_system(result, (expected,))
    assert of_rule(result, "ZIP004"), describe(result)
    layout = [f for f in of_rule(result, "TOR002") if f.subject == "several-data-pkl"]
    assert layout and f"entry #{chosen.index}" in layout[0].message


def test_duplicate_emulation_covers_both_outcomes(variants: dict[str, tuple[Path, bool]]) -> None:
    outcomes = {variants[f"dup{p}"][1] for p in DUP_POSITIONS}
    assert outcomes == {True, False}


@pytest.mark.parametrize("bit", REFUSED_BITS)
def test_flag_bits_torch_refuses_are_still_analysed(bit: int, variants: dict[str, tuple[Path, bool]]) -> None:
    """Central encryption/patch bits make miniz refuse the member; the plaintext pickle is analysed anyway."""
    path, torch_ran_it = variants[f"flag{bit}"]
    assert not torch_ran_it
    result = scan_one(path)
    assert of_rule(result, "ZIP002"), describe(result)
    assert_runs_os_system(result, ("archive/data.pkl",))


def test_hidden_pickle_with_odd_name(torch_checkpoint: Path, marker: Path, tmp_path: Path) -> None:
    """CVE-2025-1889: a second pickle under a non-pickle name inside the archive is analysed by content."""
    members = [Member(n, d) for n, d in torch_members(str(torch_checkpoint))]
    members.append(Member("archive/extra/config.txt", evil_pickle(marker)))
    path = tmp_path / "hidden.pt"
    path.write_bytes(build_zip(members))
    result = scan_one(path)
    odd = of_rule(result, "ZIP005")
    assert odd and odd[0].subject == "archive/extra/config.txt", describe(result)
    assert_runs_os_system(result, ("archive/extra/config.txt",))


def test_nested_torch_zip_in_zip(torch_checkpoint: Path, marker: Path, tmp_path: Path) -> None:
    inner = build_zip(_evil_members(torch_checkpoint, marker))
    path = tmp_path / "bundle.zip"
    path.write_bytes(build_zip([Member("models/readme.txt", b"hello\n"), Member("models/inner.pt", inner)]))
    result = scan_one(path)
    assert_runs_os_system(result, ("models/inner.pt", "archive/data.pkl"))
    assert result.formats[0] == "zip"


def _sparse_checkpoint(path: Path, data_pkl: bytes, tensor_bytes: int) -> None:
    """A torch zip whose tensor member declares ``tensor_bytes`` stored bytes, written as a sparse hole."""
    import struct
    import zlib

    members = [("archive/data.pkl", data_pkl), ("archive/version", b"3\n")]
    with open(path, "wb") as f:
        central = bytearray()
        for name, data in members:
            off = f.tell()
            f.write(
                struct.pack(
                    "<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0, zlib.crc32(data), len(data), len(data), len(name), 0
                )
                + name.encode()
                + data
            )
            central += (
                struct.pack(
                    "<4sHHHHHHIIIHHHHHII",
                    b"PK\x01\x02",
                    20,
                    20,
                    0,
                    0,
                    0,
                    0,
                    zlib.crc32(data),
                    len(data),
                    len(data),
                    len(name),
                    0,
                    0,
                    0,
                    0,
                    0,
                    off,
                )
                + name.encode()
            )
        off = f.tell()
        name = b"archive/data/0"
        f.write(
            struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, tensor_bytes, tensor_bytes, len(name), 0)
            + name
        )
        central += (
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                20,
                20,
                0,
                0,
                0,
                0,
                0,
                tensor_bytes,
                tensor_bytes,
                len(name),
                0,
                0,
                0,
                0,
                0,
                off,
            )
            + name
        )
        f.seek(tensor_bytes, os.SEEK_CUR)
        cd = f.tell()
        f.write(bytes(central))
        f.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 3, 3, len(central), cd, 0))


def test_two_gigabyte_checkpoint_reads_only_what_it_needs(torch_checkpoint: Path, tmp_path: Path) -> None:
    data_pkl = dict(torch_members(str(torch_checkpoint)))["archive/data.pkl"]
    path = tmp_path / "big.pt"
    _sparse_checkpoint(path, data_pkl, 2 * 1024**3)
    assert path.stat().st_size > 2 * 1024**3
    scan_one(path)  # warm imports
    start = time.perf_counter()
    result = scan_one(path)
    elapsed = time.perf_counter() - start
    assert "pytorch" in result.formats
    assert result.verdict is not Verdict.MALICIOUS
    # Larger than the API's hash limit, so this times the format reader alone.
    assert elapsed < 0.2, describe(result)


def test_real_state_dict_is_clean_and_renamed_root_is_info(tmp_path: Path) -> None:
    import torch

    saved = tmp_path / "weights.pt"
    torch.save({"w": torch.ones(3)}, saved)
    renamed = tmp_path / "pytorch_model.bin"
    saved.rename(renamed)
    result = scan_one(renamed)
    info = [f for f in of_rule(result, "TOR002") if f.subject == "renamed-root"]
    assert info and info[0].severity is Severity.INFO and info[0].effect is Effect.NONE
    assert result.verdict is Verdict.CLEAN, describe(result)
