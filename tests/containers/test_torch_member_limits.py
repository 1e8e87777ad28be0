"""PyTorch zips: storage records do not count against the member limit; unread pickles are labelled as such."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from ct_payloads import evil_pickle, proves
from ct_scan import assert_clean, describe, of_rule, rule_ids, scan_one
from ct_zipcraft import Member, build_zip, torch_members

from modelsieve.formats import ziplenient
from modelsieve.limits import Limits
from modelsieve.model import Confidence, Verdict
from modelsieve.options import ScanOptions


def _small_limits(members: int) -> ScanOptions:
    return ScanOptions(jobs=1, limits=Limits(max_archive_members=members))


@pytest.fixture(scope="module")
def many_tensors(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real torch.save state dict with 300 tensors (300 ``moe/data/N`` storage records)."""
    import torch

    path = tmp_path_factory.mktemp("torch-many") / "moe.pt"
    torch.save({f"experts.{i}.w": torch.full((2,), float(i)) for i in range(300)}, path)
    return path


def test_storage_records_do_not_count_against_the_member_limit(many_tensors: Path) -> None:
    result = scan_one(many_tensors, _small_limits(50))
    assert_clean(result)
    assert "ARC003" not in rule_ids(result)


def test_malicious_data_pkl_among_many_storages_is_found(many_tensors: Path, marker: Path, tmp_path: Path) -> None:
    members = [
        Member(name, evil_pickle(marker) if name.endswith("/data.pkl") else data)
        for name, data in torch_members(str(many_tensors))
    ]
    path = tmp_path / "moe.pt"
    path.write_bytes(build_zip(members))
    result = scan_one(path, _small_limits(50))
    hits = [f for f in of_rule(result, "PKL001") if f.location.members == ("moe/data.pkl",)]
    assert hits and hits[0].confidence is Confidence.HIGH, describe(result)
    assert "not read by torch.load" not in hits[0].message
    assert result.verdict is Verdict.MALICIOUS
    assert proves(f"import torch; torch.load({str(path)!r}, weights_only=False)", marker)


def test_too_many_members_besides_storages_is_inconclusive(many_tensors: Path, tmp_path: Path) -> None:
    members = [Member(name, data) for name, data in torch_members(str(many_tensors))]
    members[1:1] = [Member(f"moe/extra/{i}.txt", b"x") for i in range(60)]
    path = tmp_path / "extras.pt"
    path.write_bytes(build_zip(members))
    result = scan_one(path, _small_limits(50))
    (f,) = of_rule(result, "ARC003")
    assert "besides tensor storages" in f.message
    assert result.verdict is Verdict.INCONCLUSIVE, describe(result)


def test_central_directory_over_the_hard_bound_is_inconclusive(
    many_tensors: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Storage records are exempt from the member limit, not from the bound on the directory itself."""
    monkeypatch.setattr(ziplenient, "MAX_CENTRAL_ENTRIES", 100)
    started = time.monotonic()
    result = scan_one(many_tensors)
    assert time.monotonic() - started < 30
    (f,) = of_rule(result, "ARC003")
    assert "more than 100 members" in f.message
    assert result.verdict is Verdict.INCONCLUSIVE


def test_second_pickle_is_reported_as_not_read_by_torch_load(
    torch_checkpoint: Path, marker: Path, tmp_path: Path
) -> None:
    members = [Member(name, data) for name, data in torch_members(str(torch_checkpoint))]
    members.append(Member("archive/extra.pkl", evil_pickle(marker)))
    path = tmp_path / "archive.pt"
    path.write_bytes(build_zip(members))
    result = scan_one(path)
    (f,) = [f for f in of_rule(result, "PKL001") if f.subject == "os.system"]
    assert f.location.members == ("archive/extra.pkl",)
    assert "not read by torch.load" in f.message
    assert f.confidence is Confidence.MEDIUM
    # Conservative: another loader or an unzip-and-unpickle script may still read it.
    assert result.verdict >= Verdict.SUSPICIOUS
    assert not proves(f"import torch; torch.load({str(path)!r}, weights_only=False)", marker)


def test_miniz_order_fast_path_matches_the_heap_sort() -> None:
    """Unique names take a plain sort; the result must be the order miniz's heap sort produces."""
    import random

    rng = random.Random(7)
    names = list({"".join(rng.choice("abcXYZ/._0") for _ in range(rng.randint(1, 12))) for _ in range(400)})
    keys = {n.lower() for n in names}
    unique = [n for n in names if n.lower() in keys and (keys.discard(n.lower()) or True)]
    entries = tuple(ziplenient.ZipEntry(i, n, n.encode(), 0, 0, 0, 0, 0, 0, 0, 0, 0) for i, n in enumerate(unique))
    order = ziplenient._miniz_sorted(entries)
    assert [entries[i].raw_name.lower() for i in order] == sorted(n.encode().lower() for n in unique)
    directory = ziplenient.ZipDirectory(entries=entries)
    for e in entries[:50]:
        assert directory.locate(e.name.upper()) is e


def test_data_pkl_after_more_storages_than_the_sniff_limit(
    many_tensors: Path, marker: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """data.pkl written last, behind more storage records than the member limit, is still found (as miniz does)."""
    from modelsieve.formats import torch as torch_format

    monkeypatch.setattr(torch_format, "_SNIFF_LIMITS", Limits(max_archive_members=50))
    members = [Member(name, data) for name, data in torch_members(str(many_tensors))]
    main = next(m for m in members if m.name.endswith("/data.pkl"))
    members.remove(main)
    members.append(Member(main.name, evil_pickle(marker)))
    path = tmp_path / "moe.pt"
    path.write_bytes(build_zip(members))
    result = scan_one(path, _small_limits(50))
    assert "pytorch" in result.formats, describe(result)
    assert [f for f in of_rule(result, "PKL001") if f.location.members == ("moe/data.pkl",)], describe(result)
    assert proves(f"import torch; torch.load({str(path)!r}, weights_only=False)", marker)


def test_storage_bytes_do_not_count_against_the_expansion_budget(tmp_path: Path) -> None:
    """A checkpoint larger than max_archive_expanded_bytes is mostly tensor bytes that are never read."""
    import torch

    path = tmp_path / "big.pt"
    torch.save({"w": torch.zeros(100_000), "b": torch.zeros(10)}, path)
    assert path.stat().st_size > 400_000
    assert_clean(scan_one(path, ScanOptions(jobs=1, limits=Limits(max_archive_expanded_bytes=64 * 1024))))
