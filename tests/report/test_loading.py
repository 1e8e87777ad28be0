"""Which files standard loading reads: by name, by folder, and by checkpoint precedence."""

from __future__ import annotations

import json
from pathlib import Path

from reportfix import GETATTR, RCE, Writer

from modelsieve.api import scan
from modelsieve.loading import loaded_by_default, name_reason, shard_names, unloaded_reasons
from modelsieve.model import Verdict
from modelsieve.options import ScanOptions
from modelsieve.report import html


def test_training_by_products_are_not_loaded() -> None:
    for name in ("training_args.bin", "optimizer.pt", "scheduler.pt", "rng_state.pth", "rng_state_3.pth", "scaler.pt"):
        assert not loaded_by_default(name), name
        assert not loaded_by_default(f"sub/{name}"), name
    for name in ("pytorch_model.bin", "model.safetensors", "yolov8n.pt", "model.ckpt"):
        assert loaded_by_default(name), name


def test_checkpoint_subfolders_are_not_loaded() -> None:
    assert "checkpoint-500/" in (name_reason("checkpoint-500/pytorch_model.bin") or "")
    assert not loaded_by_default("global_step100/mp_rank_00_model_states.pt")
    assert loaded_by_default("checkpointing-notes/model.bin")


def test_names_are_judged_by_path_components_as_posix_paths_split_them() -> None:
    # Empty and "." components, Windows separators and a trailing slash do not hide a by-product or a folder.
    assert name_reason("./runs//checkpoint-500/./model.bin") is not None
    assert name_reason("runs\\checkpoint-500\\model.bin") is not None
    assert name_reason("out/training_args.bin/") is not None
    assert name_reason("/abs/global_step12/weights.pt") is not None
    # The checkpoint folder itself is the last component, not a folder above a file.
    assert name_reason("./checkpoint-7/") is None
    assert name_reason("") is None and name_reason(".") is None


def test_safetensors_takes_precedence_over_pytorch_bin() -> None:
    reasons = unloaded_reasons(["model.safetensors", "pytorch_model.bin", "config.json"])
    assert set(reasons) == {"pytorch_model.bin"}
    assert "model.safetensors" in reasons["pytorch_model.bin"]
    # Without safetensors the .bin is what transformers loads.
    assert unloaded_reasons(["pytorch_model.bin", "config.json"]) == {}
    # Precedence is per folder: a diffusers-style subfolder is judged on its own.
    assert unloaded_reasons(["unet/model.safetensors", "text_encoder/pytorch_model.bin"]) == {}


def test_index_names_the_loaded_shards() -> None:
    index = json.dumps({"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors"}}).encode()
    shards = shard_names(index)
    assert shards == frozenset({"model-00001-of-00002.safetensors"})
    paths = [
        "model.safetensors.index.json",
        "model-00001-of-00002.safetensors",
        "model-00003-of-00003.safetensors",
        "pytorch_model-00001-of-00002.bin",
    ]
    reasons = unloaded_reasons(paths, {"model.safetensors.index.json": shards})
    assert set(reasons) == {"model-00003-of-00003.safetensors", "pytorch_model-00001-of-00002.bin"}
    assert "model.safetensors.index.json" in reasons["model-00003-of-00003.safetensors"]


def test_bad_index_is_not_trusted() -> None:
    assert shard_names(b"{not json") is None
    assert shard_names(b'{"weight_map": 3}') is None
    assert shard_names(b"[1, 2]") is None


def test_repository_verdict_weighs_unloaded_files_separately(tmp_path: Path, write_fake: Writer) -> None:
    write_fake(tmp_path / "model.safetensors")
    write_fake(tmp_path / "pytorch_model.bin", RCE)
    write_fake(tmp_path / "training_args.bin", GETATTR)
    write_fake(tmp_path / "checkpoint-10" / "model.safetensors", RCE)
    report = scan(tmp_path, ScanOptions(jobs=1))
    by_name = {Path(r.path).relative_to(tmp_path).as_posix(): r for r in report.results}
    assert by_name["pytorch_model.bin"].verdict is Verdict.MALICIOUS
    assert not by_name["pytorch_model.bin"].loaded_by_default
    assert "model.safetensors" in (by_name["pytorch_model.bin"].unloaded_reason or "")
    assert not by_name["training_args.bin"].loaded_by_default
    assert not by_name["checkpoint-10/model.safetensors"].loaded_by_default
    assert by_name["model.safetensors"].loaded_by_default
    s = report.summary
    assert s.verdict is Verdict.CLEAN
    assert s.unloaded_verdict is Verdict.MALICIOUS
    assert len(s.unloaded) == 3
    assert any("weighed separately" in r and "pytorch_model.bin" in r for r in s.reasons)

    assert "do not load them by hand" in html.render(report)
    counted = scan(tmp_path, ScanOptions(jobs=1, include_unloaded=True)).summary
    assert counted.verdict is Verdict.MALICIOUS
    assert any(p.endswith("pytorch_model.bin") for p in counted.deciding)
    assert any("--include-unloaded" in r for r in counted.reasons)


def test_index_on_disk_decides_loaded_shards(tmp_path: Path, write_fake: Writer) -> None:
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"w": "model-00001-of-00001.safetensors"}})
    )
    write_fake(tmp_path / "model-00001-of-00001.safetensors")
    write_fake(tmp_path / "model-00002-of-00002.safetensors", RCE)
    report = scan(tmp_path, ScanOptions(jobs=1))
    stray = next(r for r in report.results if r.path.endswith("model-00002-of-00002.safetensors"))
    assert not stray.loaded_by_default
    assert report.summary.unloaded_verdict is Verdict.MALICIOUS
