"""Scanning repositories on a (fake) Hub by id: verdicts, errors never clean, range economy, Hub status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fakehub import FakeFile, FakeHub, FakeRepo
from hubrepos import malicious_pickle, torch_state_dict_bytes

from modelsieve.hub.client import HubConfig
from modelsieve.hub.scan import HubOptions, scan, scan_repo
from modelsieve.model import FileResult, Verdict
from modelsieve.options import ScanOptions


@pytest.fixture
def opts(tmp_path: Path) -> HubOptions:
    return HubOptions(config=HubConfig(cache_dir=str(tmp_path / "cache")))


def _by_name(results: tuple[FileResult, ...] | list[FileResult]) -> dict[str, FileResult]:
    return {r.path.rsplit("/", 1)[-1]: r for r in results}


def _rules(result: FileResult) -> set[str]:
    return {f.rule_id for f in result.findings}


def test_benign_repo_paths_hashes_and_hub_status(hub_env: FakeHub, opts: HubOptions) -> None:
    report = scan("hf://acme/benign", hub=opts)
    repo = hub_env.repos[("model", "acme/benign")]
    files = _by_name(report.results)
    assert set(files) == {"config.json", "pytorch_model.bin"}
    weights = files["pytorch_model.bin"]
    assert weights.path == f"hf://acme/benign@{repo.sha}/pytorch_model.bin"
    assert weights.sha256 == repo.sha256("pytorch_model.bin")
    assert weights.verdict not in (Verdict.MALICIOUS, Verdict.SUSPICIOUS)
    (hub,) = weights.external
    assert (hub.tool, hub.verdict) == ("hf-hub", "safe")
    assert [s.path for s in report.skipped] == [f"hf://acme/benign@{repo.sha}/README.md"]
    assert report.targets == ("hf://acme/benign",)


def test_benign_repo_is_clean(hub_env: FakeHub, opts: HubOptions) -> None:
    report = scan("hf://acme/benign", hub=opts)
    assert _by_name(report.results)["pytorch_model.bin"].verdict is Verdict.CLEAN


def test_malicious_pickle_is_malicious_with_its_call(hub_env: FakeHub, opts: HubOptions) -> None:
    report = scan("hf://acme/evil", hub=opts)
    files = _by_name(report.results)
    model = files["model.pkl"]
    assert model.verdict is Verdict.MALICIOUS
    assert any("system" in f.subject for f in model.findings if f.effect.value == "malicious")
    assert report.summary.verdict is Verdict.MALICIOUS
    # Chosen by content: no extension, but a pickle.
    assert files["weights"].verdict is Verdict.MALICIOUS


def test_malicious_repo_is_never_clean_and_hub_flags_it(hub_env: FakeHub, opts: HubOptions) -> None:
    report = scan("hf://acme/evil", hub=opts)
    files = _by_name(report.results)
    assert report.summary.verdict is not Verdict.CLEAN
    assert files["model.pkl"].verdict is not Verdict.CLEAN
    (hub,) = files["model.pkl"].external
    assert hub.verdict == "dangerous"
    assert "posix.system (dangerous)" in hub.detail
    assert "jFrogScan" in hub.detail
    # ``weights`` has no model name: it was picked up by its first bytes; notes.txt was not.
    assert "weights" in files
    skipped = {s.path.rsplit("/", 1)[-1]: s.reason for s in report.skipped}
    assert "not a model format by name or content" in skipped["notes.txt"]


def test_big_checkpoint_is_read_by_ranges_only(hub_env: FakeHub, opts: HubOptions) -> None:
    run = scan_repo("hf://acme/big", ScanOptions(), opts)
    repo = hub_env.repos[("model", "acme/big")]
    size = repo.files["pytorch_model.bin"].size
    (result,) = run.results
    assert result.size == size
    assert result.sha256 == repo.sha256("pytorch_model.bin")
    assert not _rules(result) & {"HUB001", "HUB002", "HUB003"}
    sent = hub_env.sent_for("pytorch_model.bin")
    assert 0 < sent < size // 20, f"server sent {sent} of {size} bytes"
    (stats,) = run.remote_stats
    assert stats.bytes_fetched <= sent
    # Nothing was written to the cache for the big file.
    assert not list(Path(opts.config.cache_dir or "").rglob("pytorch_model.bin"))


def test_big_checkpoint_is_clean(hub_env: FakeHub, opts: HubOptions) -> None:
    (result,) = scan("hf://acme/big", hub=opts).results
    assert result.verdict is Verdict.CLEAN


def test_size_limit_reports_not_analysed_and_fetches_nothing(hub_env: FakeHub, tmp_path: Path) -> None:
    options = HubOptions(config=HubConfig(cache_dir=str(tmp_path)), max_file_size=1_000_000)
    (result,) = scan("hf://acme/big", hub=options).results
    assert _rules(result) == {"HUB004"}
    assert result.verdict is Verdict.NOT_ANALYSED
    assert hub_env.sent_for("pytorch_model.bin") == 0


def test_gated_repo_without_token_is_inconclusive(hub_env: FakeHub, opts: HubOptions) -> None:
    report = scan("hf://acme/gated", hub=opts)
    assert {r.path.rsplit("/", 1)[-1] for r in report.results} == {"pytorch_model.bin", "big.bin"}
    for result in report.results:
        assert "HUB002" in _rules(result), result
        assert result.verdict is Verdict.INCONCLUSIVE
    assert report.summary.verdict is Verdict.INCONCLUSIVE


def test_gated_repo_with_token_is_read(hub_env: FakeHub, tmp_path: Path) -> None:
    options = HubOptions(config=HubConfig(cache_dir=str(tmp_path), token="hf_secret_token"))
    report = scan("hf://acme/gated", hub=options)
    for result in report.results:
        assert not _rules(result) & {"HUB001", "HUB002", "HUB003"}


def test_token_from_environment(hub_env: FakeHub, opts: HubOptions, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token")
    report = scan("hf://acme/gated@main/pytorch_model.bin", hub=opts)
    (result,) = report.results
    assert "HUB002" not in _rules(result)


def test_missing_file_is_an_error_never_clean(hub_env: FakeHub, opts: HubOptions) -> None:
    report = scan("hf://acme/broken", hub=opts)
    files = _by_name(report.results)
    for name in ("model.safetensors", "big.bin"):  # one downloaded, one read by ranges
        assert "HUB003" in _rules(files[name]), files[name]
        assert files[name].verdict is Verdict.INCONCLUSIVE
    assert report.summary.verdict is Verdict.INCONCLUSIVE


def test_missing_repo_revision_and_file(hub_env: FakeHub, opts: HubOptions) -> None:
    (repo,) = scan("hf://acme/does-not-exist", hub=opts).results
    assert _rules(repo) == {"HUB001"} and repo.verdict is Verdict.INCONCLUSIVE
    (rev,) = scan("hf://acme/benign@no-such-branch", hub=opts).results
    assert _rules(rev) == {"HUB001"} and rev.verdict is Verdict.INCONCLUSIVE
    (entry,) = scan("hf://acme/benign@main/nope.bin", hub=opts).results
    assert _rules(entry) == {"HUB003"} and entry.verdict is Verdict.INCONCLUSIVE


def test_malformed_target_is_an_error(hub_env: FakeHub, opts: HubOptions) -> None:
    (result,) = scan("hf://acme", hub=opts).results
    assert result.path == "hf://acme"
    assert _rules(result) == {"HUB001"} and result.verdict is Verdict.INCONCLUSIVE


def test_unreachable_hub_is_inconclusive(tmp_path: Path) -> None:
    options = HubOptions(config=HubConfig(endpoint="http://127.0.0.1:9", cache_dir=str(tmp_path), timeout=2))
    report = scan("hf://acme/benign", hub=options)
    (result,) = report.results
    assert result.verdict is Verdict.INCONCLUSIVE
    assert _rules(result) & {"HUB001", "HUB003"}


def test_single_file_target_and_url_forms(hub_env: FakeHub, opts: HubOptions) -> None:
    (one,) = scan("hf://acme/evil@main/model.pkl", hub=opts).results
    assert one.path.endswith("/model.pkl")
    url = scan("https://huggingface.co/acme/benign/tree/main", hub=opts)
    assert {r.path.rsplit("/", 1)[-1] for r in url.results} == {"config.json", "pytorch_model.bin"}


def test_dataset_and_space_repositories(hub_env: FakeHub, opts: HubOptions) -> None:
    data = scan("hf://datasets/acme/data", hub=opts)
    assert [r.path for r in data.results] == [
        "hf://datasets/acme/data@0123456789abcdef0123456789abcdef01234567/train.pkl"
    ]
    assert data.summary.verdict is not Verdict.CLEAN
    space = scan("hf://spaces/acme/app", hub=opts)
    assert {r.path.rsplit("/", 1)[-1] for r in space.results} == {"app.py", "model.pkl"}
    assert space.summary.verdict is not Verdict.CLEAN


def test_progress_is_reported_per_file(hub_env: FakeHub, opts: HubOptions) -> None:
    seen: list[str] = []
    report = scan("hf://acme/benign", hub=opts, progress=lambda r: seen.append(r.path))
    assert seen == [r.path for r in report.results]


def test_tree_pagination_collects_every_status(hub_env: FakeHub, opts: HubOptions) -> None:
    hub_env.page_size = 1
    try:
        report = scan("hf://acme/evil", hub=opts)
    finally:
        hub_env.page_size = 50
    assert _by_name(report.results)["model.pkl"].external[0].verdict == "dangerous"
    assert sum(1 for _, path, _ in hub_env.requests if "/tree/" in path) == 4


def test_local_and_hub_targets_in_one_report(hub_env: FakeHub, opts: HubOptions, tmp_path: Path) -> None:
    local = tmp_path / "local.bin"
    local.write_bytes(b"\x00" * 64)
    report = scan([str(local), "hf://acme/benign"], hub=opts)
    assert report.results[0].path == str(local)
    assert any(r.path.startswith("hf://acme/benign@") for r in report.results)


def test_api_scan_routes_hub_targets(hub_env: FakeHub) -> None:
    import modelsieve

    report = modelsieve.scan("hf://acme/evil@main/model.pkl")
    (result,) = report.results
    assert result.path.startswith("hf://acme/evil@feedface")
    assert result.external and result.external[0].verdict == "dangerous"


def test_training_by_products_are_weighed_separately(hub_env: FakeHub, opts: HubOptions) -> None:
    hub_env.add(
        FakeRepo(
            "acme/trained",
            {
                "pytorch_model.bin": FakeFile(torch_state_dict_bytes()),
                "training_args.bin": FakeFile(malicious_pickle()),
            },
        )
    )
    try:
        report = scan("hf://acme/trained", hub=opts)
    finally:
        del hub_env.repos[("model", "acme/trained")]
    files = _by_name(report.results)
    assert files["training_args.bin"].loaded_by_default is False
    assert files["pytorch_model.bin"].loaded_by_default is True


def test_fixture_pickle_really_runs_a_command(tmp_path: Path) -> None:
    """Proof that the malicious fixture is a real attack: loaded in a subprocess, it touches a marker."""
    marker = tmp_path / "marker"
    payload = tmp_path / "evil.pkl"
    payload.write_bytes(malicious_pickle(f"touch {marker}"))
    code = f"import pickle; pickle.load(open({str(payload)!r}, 'rb'))"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert marker.exists()


def test_paths_leaving_the_repository_are_refused(hub_env: FakeHub, opts: HubOptions, tmp_path: Path) -> None:
    from modelsieve.hub.client import safe_repo_path

    assert safe_repo_path("a/b/model.pkl")
    for name in ("../x.pkl", "a/../../x", "/etc/passwd", "C:/x", "a//b", "a\\b", ""):
        assert not safe_repo_path(name), name
    hub_env.add(FakeRepo("acme/escape", {"../../outside.pkl": FakeFile(malicious_pickle()), "ok.pkl": FakeFile(b".")}))
    try:
        report = scan("hf://acme/escape", hub=opts)
    finally:
        del hub_env.repos[("model", "acme/escape")]
    escaped = next(r for r in report.results if "outside" in r.path)
    assert _rules(escaped) == {"HUB003"} and escaped.verdict is Verdict.INCONCLUSIVE
    assert not list(tmp_path.rglob("outside.pkl"))
