"""Noise and misses: findings by severity and verdict for benign and malicious fixture families.

For each benign family (torch state dicts, YOLO-style checkpoints, training_args.bin,
sklearn, numpy, Keras, ONNX, GGUF, safetensors) and each malicious family, fixtures
are generated in a temporary folder (with the real libraries where installed; the
attack fixtures reuse the generators under tests/ when present) and scanned by
modelsieve in-process. Peers installed on this machine (picklescan, modelscan,
modelaudit, fickling) are run as subprocesses on the same files and shown side by
side; a peer that is not installed is shown as "not installed". Nothing is loaded:
the generators write files, the scanners read them.

Run: python benchmarks/noise.py [--workdir DIR] [--family NAME ...] [--no-peers] [--json]
Exit code 1 when a benign fixture is called suspicious/malicious or an attack is missed.
With peers installed a full run takes long (some peers need seconds per file); --no-peers
or --family narrows it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT / "src", ROOT / "tests", ROOT / "tests" / "formats"):
    if str(extra) not in sys.path:
        sys.path.append(str(extra))

from modelsieve.api import scan  # noqa: E402
from modelsieve.model import Severity, Verdict  # noqa: E402
from modelsieve.options import ScanOptions  # noqa: E402

SEVERITIES = tuple(s for s in reversed(Severity))


@dataclass(frozen=True)
class Fixture:
    family: str
    name: str
    path: Path
    malicious: bool


@dataclass
class Row:
    fixture: Fixture
    verdict: str
    counts: dict[str, int]
    rules: list[str]
    peers: dict[str, str] = field(default_factory=dict)

    @property
    def wrong(self) -> bool:
        flagged = self.verdict in (Verdict.SUSPICIOUS.value, Verdict.MALICIOUS.value)
        return flagged != self.fixture.malicious


# ---------------------------------------------------------------- peers


@dataclass(frozen=True)
class Peer:
    name: str
    argv: tuple[str, ...]
    module: str

    def command(self) -> list[str] | None:
        exe = shutil.which(self.argv[0])
        if exe:
            return [exe, *self.argv[1:]]
        if importlib.util.find_spec(self.module) is not None:
            return [sys.executable, "-m", self.module, *self.argv[1:]]
        return None


PEERS = (
    Peer("picklescan", ("picklescan", "-p", "{path}"), "picklescan"),
    Peer("modelscan", ("modelscan", "-p", "{path}"), "modelscan"),
    Peer("modelaudit", ("modelaudit", "scan", "{path}"), "modelaudit"),
    Peer("fickling", ("fickling", "--check-safety", "{path}"), "fickling"),
)


# Exit codes other than 0 (nothing found) and 1 (findings) that a peer documents.
_PEER_CODES = {
    "modelscan": {2: "error", 3: "unsupported", 4: "usage error"},
    "picklescan": {2: "error"},
    "modelaudit": {2: "error"},
}


def run_peer(name: str, cmd: list[str], path: Path) -> str:
    argv = [a.replace("{path}", str(path)) for a in cmd]
    try:
        # Peers may drop report files in their working directory (fickling: safety_results.json).
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired:
        return "timeout"
    except OSError as exc:
        return f"error: {exc.strerror}"
    if proc.returncode == 0:
        return "clean"
    if proc.returncode == 1:
        return "flagged"
    return f"{_PEER_CODES.get(name, {}).get(proc.returncode, 'flagged?')} (rc={proc.returncode})"


# ---------------------------------------------------------------- generators

Generator = Callable[[Path], Iterator[tuple[str, Path]]]


def _fake_module(name: str, **classes: type) -> types.ModuleType:
    """A module registered under a library's name, so pickles reference that library's classes by name."""
    module = types.ModuleType(name)
    # pickle imports the module by its dotted name, so every parent package must exist too.
    parts = name.split(".")
    for i in range(1, len(parts)):
        parent = ".".join(parts[:i])
        if parent not in sys.modules:
            sys.modules[parent] = types.ModuleType(parent)
        setattr(sys.modules[parent], parts[i], sys.modules.get(".".join(parts[: i + 1]), module))
    for cls_name, cls in classes.items():
        cls.__module__ = name
        cls.__qualname__ = cls_name
        cls.__name__ = cls_name
        setattr(module, cls_name, cls)
    sys.modules[name] = module
    return module


def gen_torch(root: Path) -> Iterator[tuple[str, Path]]:
    import torch

    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    torch.save(net.state_dict(), root / "pytorch_model.bin")
    yield "state_dict (zip)", root / "pytorch_model.bin"
    torch.save(net.state_dict(), root / "legacy.pt", _use_new_zipfile_serialization=False)
    yield "state_dict (legacy)", root / "legacy.pt"
    torch.save({"epoch": 3, "model": net.state_dict(), "lr": 0.1}, root / "checkpoint.pth")
    yield "checkpoint dict", root / "checkpoint.pth"
    torch.save(net, root / "full_model.pt")
    yield "full model (torch.nn classes)", root / "full_model.pt"


def gen_yolo(root: Path) -> Iterator[tuple[str, Path]]:
    import torch

    class DetectionModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 1)

    _fake_module("ultralytics.nn.tasks", DetectionModel=DetectionModel)
    model = DetectionModel()
    # Ultralytics pickles bound methods (builtins.getattr) and sets beside its classes.
    ckpt = {
        "model": model,
        "ema": None,
        "updates": 10,
        "optimizer": None,
        "train_args": {"task": "detect", "imgsz": 640, "classes": {1, 2}},
        "forward": model.forward,
        "date": "2026-01-01",
        "version": "8.3.0",
    }
    torch.save(ckpt, root / "yolov8n.pt")
    yield "YOLO-style checkpoint", root / "yolov8n.pt"


def gen_training_args(root: Path) -> Iterator[tuple[str, Path]]:
    import enum

    import torch

    class OptimizerNames(str, enum.Enum):
        ADAMW_TORCH = "adamw_torch"

    class IntervalStrategy(str, enum.Enum):
        STEPS = "steps"

    class SchedulerType(str, enum.Enum):
        LINEAR = "linear"

    class HubStrategy(str, enum.Enum):
        EVERY_SAVE = "every_save"

    class TrainingArguments:
        pass

    class PartialState:
        pass

    _fake_module(
        "transformers.training_args",
        TrainingArguments=TrainingArguments,
        OptimizerNames=OptimizerNames,
    )
    _fake_module(
        "transformers.trainer_utils",
        IntervalStrategy=IntervalStrategy,
        SchedulerType=SchedulerType,
        HubStrategy=HubStrategy,
    )
    _fake_module("accelerate.state", PartialState=PartialState)
    args = TrainingArguments()
    args.__dict__.update(
        output_dir="out",
        learning_rate=5e-5,
        optim=OptimizerNames.ADAMW_TORCH,
        eval_strategy=IntervalStrategy.STEPS,
        lr_scheduler_type=SchedulerType.LINEAR,
        hub_strategy=HubStrategy.EVERY_SAVE,
        distributed_state=PartialState(),
        _n_gpu=0,
        device=torch.device("cpu"),
    )
    torch.save(args, root / "training_args.bin")
    yield "training_args.bin", root / "training_args.bin"


def gen_sklearn(root: Path) -> Iterator[tuple[str, Path]]:
    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.random.default_rng(0).normal(size=(40, 3))
    y = (x[:, 0] > 0).astype(int)
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    joblib.dump(pipe, root / "pipeline.joblib")
    yield "pipeline (joblib)", root / "pipeline.joblib"
    joblib.dump(pipe, root / "pipeline_z.joblib", compress=3)
    yield "pipeline (joblib, zlib)", root / "pipeline_z.joblib"
    (root / "model.pkl").write_bytes(pickle.dumps(pipe, protocol=4))
    yield "pipeline (pickle)", root / "model.pkl"


def gen_numpy(root: Path) -> Iterator[tuple[str, Path]]:
    import numpy as np

    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(root / "array.npy", arr)
    yield "npy", root / "array.npy"
    np.savez(root / "arrays.npz", a=arr, b=arr.T)
    yield "npz", root / "arrays.npz"
    np.save(root / "objects.npy", np.array([{"a": 1}, [1, 2], "text"], dtype=object), allow_pickle=True)
    yield "npy object array (plain data)", root / "objects.npy"
    (root / "array_p2.pkl").write_bytes(pickle.dumps(arr, protocol=2))
    yield "array pickled (protocol 2)", root / "array_p2.pkl"


def gen_keras(root: Path) -> Iterator[tuple[str, Path]]:
    import kerasfix

    fx = kerasfix.build(root)
    for name in ("sequential_keras", "functional_keras", "sequential_h5", "functional_h5"):
        yield name, getattr(fx, name)


def gen_onnx(root: Path) -> Iterator[tuple[str, Path]]:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.arange(4, dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["s"]), helper.make_node("Relu", ["s"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(root / "model.onnx"))
    yield "add+relu", root / "model.onnx"


def gen_gguf(root: Path) -> Iterator[tuple[str, Path]]:
    import chat_templates
    import gguf
    import numpy as np

    for name, template in sorted(chat_templates.BENIGN.items()):
        path = root / f"{name}.gguf"
        _write_gguf(gguf, np, path, template)
        yield f"chat template {name}", path


def _write_gguf(gguf: Any, np: Any, path: Path, template: str) -> None:
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny")
    writer.add_token_list(["<s>", "</s>", "hello"])
    writer.add_chat_template(template)
    writer.add_tensor("w", np.arange(8, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def gen_safetensors(root: Path) -> Iterator[tuple[str, Path]]:
    data = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, len(data)]}, "__metadata__": {"format": "pt"}}
    ).encode()
    header += b" " * (-len(header) % 8)
    path = root / "model.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + data)
    yield "one tensor", path


def gen_pickle_attacks(root: Path) -> Iterator[tuple[str, Path]]:
    from fixtures.pickle_exploits import EXPLOITS

    marker = str(root / "MARKER")
    for exploit in EXPLOITS:
        if exploit.verdict is not Verdict.MALICIOUS:
            continue
        path = root / exploit.name / exploit.file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(exploit.build(marker))
        yield exploit.name, path


def gen_pickle_attacks_minimal(root: Path) -> Iterator[tuple[str, Path]]:
    """Used when the test fixtures are not available: the classic os.system reduce, protocols 0 and 2."""
    cmd = f"touch {root / 'MARKER'}"
    p0 = b"cos\nsystem\n(V" + cmd.encode() + b"\ntR."
    (root / "p0.pkl").write_bytes(p0)
    yield "os.system protocol 0", root / "p0.pkl"
    arg = cmd.encode()
    p2 = b"\x80\x02cposix\nsystem\nX" + struct.pack("<I", len(arg)) + arg + b"\x85R."
    (root / "pytorch_model.bin").write_bytes(p2)
    yield "posix.system protocol 2 as .bin", root / "pytorch_model.bin"


def gen_keras_attacks(root: Path) -> Iterator[tuple[str, Path]]:
    import kerasfix

    fx = kerasfix.build(root)
    for name in ("evil_lambda_h5", "evil_nested_h5", "evil_lambda_keras", "os_system_keras"):
        yield name, getattr(fx, name)


def gen_gguf_attacks(root: Path) -> Iterator[tuple[str, Path]]:
    import chat_templates
    import gguf
    import numpy as np

    path = root / "cve_2024_34359.gguf"
    _write_gguf(gguf, np, path, chat_templates.cve_2024_34359(str(root / "MARKER")))
    yield "CVE-2024-34359 chat template", path


BENIGN: dict[str, Generator] = {
    "torch": gen_torch,
    "yolo": gen_yolo,
    "training_args": gen_training_args,
    "sklearn": gen_sklearn,
    "numpy": gen_numpy,
    "keras": gen_keras,
    "onnx": gen_onnx,
    "gguf": gen_gguf,
    "safetensors": gen_safetensors,
}
MALICIOUS: dict[str, Generator] = {
    "pickle-attacks": gen_pickle_attacks,
    "keras-attacks": gen_keras_attacks,
    "gguf-attacks": gen_gguf_attacks,
}


def generate(workdir: Path, families: set[str] | None) -> tuple[list[Fixture], list[str]]:
    fixtures: list[Fixture] = []
    notes: list[str] = []
    for malicious, table in ((False, BENIGN), (True, MALICIOUS)):
        for family, gen in table.items():
            if families and family not in families:
                continue
            root = workdir / family
            root.mkdir(parents=True, exist_ok=True)
            try:
                made = list(gen(root))
            except ImportError as exc:
                if gen is gen_pickle_attacks:
                    made = list(gen_pickle_attacks_minimal(root))
                    notes.append(f"{family}: tests/fixtures not importable ({exc.name}); minimal attacks used")
                else:
                    notes.append(f"{family}: skipped ({exc.name} not installed)")
                    continue
            except Exception as exc:  # one broken generator must not stop the benchmark
                notes.append(f"{family}: generator failed: {type(exc).__name__}: {exc}")
                continue
            fixtures.extend(Fixture(family, name, path, malicious) for name, path in made)
    return fixtures, notes


# ---------------------------------------------------------------- run


def measure(fixtures: list[Fixture], peers: bool) -> list[Row]:
    commands = {p.name: (p.command() if peers else None) for p in PEERS}
    rows = []
    for fx in fixtures:
        result = scan(fx.path, ScanOptions(jobs=1)).results[0]
        counts = {s.value: 0 for s in SEVERITIES}
        for f in result.findings:
            counts[f.severity.value] += 1
        row = Row(fx, result.verdict.value, counts, sorted({f.rule_id for f in result.findings}))
        for name, cmd in commands.items():
            row.peers[name] = run_peer(name, cmd, fx.path) if cmd else ("not installed" if peers else "skipped")
        rows.append(row)
    return rows


def render(rows: list[Row], notes: list[str]) -> str:
    peer_names = [p.name for p in PEERS]
    header = ["family", "fixture", "expect", "modelsieve", *(s.value[:4] for s in SEVERITIES), "rules", *peer_names]
    table = [header]
    for r in rows:
        verdict = r.verdict + (" !!" if r.wrong else "")
        table.append(
            [
                r.fixture.family,
                r.fixture.name,
                "attack" if r.fixture.malicious else "benign",
                verdict,
                *(str(r.counts[s.value]) for s in SEVERITIES),
                ",".join(r.rules),
                *(r.peers[p] for p in peer_names),
            ]
        )
    widths = [min(40, max(len(row[i]) for row in table)) for i in range(len(header))]
    lines = ["  ".join(cell[:40].ljust(w) for cell, w in zip(row, widths, strict=True)) for row in table]
    benign = [r for r in rows if not r.fixture.malicious]
    attacks = [r for r in rows if r.fixture.malicious]
    lines.append("")
    lines.append(
        f"benign: {len(benign)} fixtures, {sum(r.wrong for r in benign)} called suspicious/malicious; "
        f"attacks: {len(attacks)} fixtures, {sum(r.wrong for r in attacks)} missed "
        f"(!! marks a wrong verdict)"
    )
    lines.extend(f"note: {n}" for n in notes)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="keep the generated fixtures here")
    parser.add_argument("--family", action="append", help="only this family (repeatable)")
    parser.add_argument("--no-peers", action="store_true", help="do not run the peers")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    tmp = None
    workdir = args.workdir
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="modelsieve-noise-")
        workdir = Path(tmp.name)
    try:
        fixtures, notes = generate(workdir, set(args.family) if args.family else None)
        rows = measure(fixtures, peers=not args.no_peers)
    finally:
        if tmp is not None:
            tmp.cleanup()
    if args.json:
        doc = [
            {
                "family": r.fixture.family,
                "fixture": r.fixture.name,
                "malicious": r.fixture.malicious,
                "verdict": r.verdict,
                "severity_counts": r.counts,
                "rules": r.rules,
                "peers": r.peers,
                "wrong": r.wrong,
            }
            for r in rows
        ]
        print(json.dumps({"rows": doc, "notes": notes}, indent=2, sort_keys=True))
    else:
        print(render(rows, notes))
    return 1 if any(r.wrong for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
