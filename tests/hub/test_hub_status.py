"""The Hub's own security status as typed values (current and older response shapes)."""

from __future__ import annotations

from hubrepos import SAFE_STATUS, UNSAFE_STATUS

from modelsieve.hub.status import RepoSecurity, parse_file_status, parse_repo_status

# The shape older answers used (``safe``, ``avScan.virusFound``, ``highestSafetyLevel`` + ``imports``).
OLD_SHAPE = {
    "blobId": "45fa7c3d85ee7dd4139adbc056da25ae136a65f2",
    "name": "pytorch_model.bin",
    "safe": False,
    "avScan": {"virusFound": False, "virusNames": None},
    "pickleImportScan": {
        "highestSafetyLevel": "dangerous",
        "imports": [
            {"module": "builtins", "name": "exec", "safety": "dangerous"},
            {"module": "collections", "name": "OrderedDict", "safety": "innocuous"},
        ],
    },
}
QUEUED = {
    "status": "queued",
    "avScan": {"status": "safe", "message": "clean"},
    "pickleImportScan": {"status": "unscanned", "pickleImports": [], "version": "0.0.0"},
}
CAUTION = {
    "status": "caution",
    "pickleImportScan": {
        "status": "caution",
        "pickleImports": [{"module": "__builtin__", "name": "set", "safety": "suspicious"}],
    },
}


def test_unsafe_file_names_its_scanners_and_imports() -> None:
    sec = parse_file_status("model.pkl", UNSAFE_STATUS)
    assert sec.verdict == "dangerous"
    assert [s.scanner for s in sec.scanners if s.verdict == "dangerous"] == [
        "pickleImportScan",
        "protectAiScan",
        "jFrogScan",
    ]
    assert [i.dotted for i in sec.flagged_imports] == ["posix.system"]
    ext = sec.external()
    assert ext.tool == "hf-hub" and ext.verdict == "dangerous"
    assert "posix.system (dangerous)" in ext.detail


def test_safe_file() -> None:
    sec = parse_file_status("pytorch_model.bin", SAFE_STATUS)
    assert sec.verdict == "safe"
    assert sec.flagged_imports == ()
    assert len(sec.pickle_imports) == 3


def test_old_shape_is_read() -> None:
    sec = parse_file_status("pytorch_model.bin", OLD_SHAPE)
    assert sec.status == "unsafe"
    assert sec.verdict == "dangerous"
    assert {s.scanner: s.status for s in sec.scanners} == {"pickleImportScan": "unsafe", "avScan": "safe"}
    assert [i.dotted for i in sec.flagged_imports] == ["builtins.exec"]


def test_queued_is_not_safe() -> None:
    """A file the Hub has not finished scanning must not read as safe, even if the antivirus answered."""
    sec = parse_file_status("model.safetensors", QUEUED)
    assert sec.status == "queued"
    assert sec.verdict == "unscanned"
    assert parse_file_status("x", {"status": "queued", "pickleImportScan": {"status": "unsafe"}}).verdict == (
        "dangerous"
    )


def test_caution_counts_as_dangerous() -> None:
    assert parse_file_status("x", CAUTION).verdict == "dangerous"


def test_repo_status_combines_issues_and_files() -> None:
    repo = parse_repo_status(
        {"scansDone": True, "filesWithIssues": [{"path": "a.pkl", "level": "danger"}]},
        {"b.bin": SAFE_STATUS},
    )
    assert repo.verdict == "dangerous"
    assert repo.external_for("a.pkl").verdict == "dangerous"  # type: ignore[union-attr]
    assert repo.external_for("b.bin").verdict == "safe"  # type: ignore[union-attr]
    assert repo.external_for("c.txt").verdict == "unscanned"  # type: ignore[union-attr]


def test_scans_not_done_is_unscanned_and_absence_is_unknown() -> None:
    pending = parse_repo_status({"scansDone": False, "filesWithIssues": []}, {})
    assert pending.verdict == "unscanned"
    assert pending.external_for("x.bin").verdict == "unscanned"  # type: ignore[union-attr]
    nothing = parse_repo_status(None, {})
    assert isinstance(nothing, RepoSecurity) and not nothing.available
    assert nothing.verdict == "error"
    assert nothing.external_for("x.bin") is None
