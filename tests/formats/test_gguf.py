"""GGUF metadata and chat templates (CVE-2024-34359), with files written by gguf.GGUFWriter."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import chat_templates as ct
import numpy as np
import pytest
from scanhelp import fuzz_never_crashes, of_rule, rule_ids, scan_one

from modelsieve.model import BehaviourKind, Verdict

gguf = pytest.importorskip("gguf")


def _write(path: Path, template: str | list[dict[str, str]] | None = None, **strings: str) -> Path:
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny")
    writer.add_context_length(128)
    writer.add_token_list(["<s>", "</s>", "hello", "world"])
    for key, value in strings.items():
        writer.add_string(key, value)
    if template is not None:
        writer.add_chat_template(template)
    writer.add_tensor("w1", np.arange(8, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _render_unsandboxed_in_subprocess(template: str) -> None:
    """What llama-cpp-python < 0.2.72 did: jinja2.Environment().from_string(t).render(), here in a child."""
    code = (
        "import sys, jinja2\n"
        "t = sys.stdin.read()\n"
        "jinja2.Environment().from_string(t).render(messages=[{'role': 'user', 'content': 'hi'}], bos_token='<s>')\n"
    )
    subprocess.run([sys.executable, "-c", code], input=template.encode(), check=True, timeout=60)


@pytest.mark.parametrize("name", sorted(ct.BENIGN))
def test_real_chat_templates_are_clean(tmp_path: Path, name: str) -> None:
    result = scan_one(_write(tmp_path / f"{name}.gguf", ct.BENIGN[name]))
    assert result.formats == ("gguf",)
    assert result.verdict is Verdict.CLEAN, result.findings


def test_named_templates_are_analysed(tmp_path: Path) -> None:
    marker = tmp_path / "never"
    templates = [
        {"name": "default", "template": ct.CHATML},
        {"name": "tool_use", "template": ct.cve_2024_34359(str(marker))},
    ]
    result = scan_one(_write(tmp_path / "named.gguf", templates))
    (finding,) = of_rule(result, "GGF001")
    assert finding.location.detail == "metadata: tokenizer.chat_template.tool_use"
    assert result.verdict is Verdict.MALICIOUS
    assert not marker.exists()


def test_cve_2024_34359_payload_is_malicious(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    template = ct.cve_2024_34359(str(marker))
    result = scan_one(_write(tmp_path / "evil.gguf", template))
    (finding,) = of_rule(result, "GGF001")
    assert finding.location.detail == "metadata: tokenizer.chat_template"
    assert finding.subject == "tokenizer.chat_template:popen"
    assert "cycler.__init__.__globals__.os.popen()" in finding.message
    assert finding.behaviour is not None and finding.behaviour.kind is BehaviourKind.RUNS_COMMAND
    # The sandboxed second opinion refuses it too.
    assert "GGF003" in rule_ids(result)
    assert result.verdict is Verdict.MALICIOUS
    assert not marker.exists(), "scanning must not render the template"
    # Proof that the fixture is a real attack: an unsandboxed render touches the marker.
    _render_unsandboxed_in_subprocess(template)
    assert marker.exists()


def test_payload_through_set_aliases_is_malicious(tmp_path: Path) -> None:
    marker = tmp_path / "pwned2"
    template = ct.via_set_alias(str(marker))
    result = scan_one(_write(tmp_path / "alias.gguf", template))
    (finding,) = of_rule(result, "GGF001")
    assert "lipsum.__globals__.os.popen()" in finding.message
    _render_unsandboxed_in_subprocess(template)
    assert marker.exists()


def test_dunder_traversal_alone_is_suspicious(tmp_path: Path) -> None:
    result = scan_one(_write(tmp_path / "dunder.gguf", ct.DUNDER_ONLY))
    (finding,) = of_rule(result, "GGF002")
    assert "__subclasses__" in finding.evidence
    assert "GGF001" not in rule_ids(result)
    assert "GGF003" in rule_ids(result)
    assert result.verdict is Verdict.SUSPICIOUS


def test_invalid_template_syntax_is_inconclusive(tmp_path: Path) -> None:
    result = scan_one(_write(tmp_path / "broken.gguf", "{% for m in messages %}{{ m }"))
    (finding,) = of_rule(result, "GEN001")
    assert finding.location.detail == "metadata: tokenizer.chat_template"
    assert result.verdict is Verdict.INCONCLUSIVE


def test_metadata_urls_surface(tmp_path: Path) -> None:
    result = scan_one(_write(tmp_path / "url.gguf", ct.CHATML, **{"general.source.url": "https://x.ngrok-free.app/p"}))
    (finding,) = of_rule(result, "IND002")
    assert finding.location.detail == "metadata: general.source.url"
    assert result.verdict is Verdict.CLEAN


def _header(version: int, tensors: int, kvs: int) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, tensors, kvs)


def test_huge_metadata_count_is_gen002(tmp_path: Path) -> None:
    path = tmp_path / "count.gguf"
    path.write_bytes(_header(3, 0, 2**63))
    result = scan_one(path)
    assert rule_ids(result) == {"GEN002"}
    assert result.verdict is Verdict.INCONCLUSIVE


def test_huge_string_length_is_gen002(tmp_path: Path) -> None:
    path = tmp_path / "strlen.gguf"
    key = b"tokenizer.chat_template"
    path.write_bytes(_header(3, 0, 1) + struct.pack("<Q", len(key)) + key + struct.pack("<IQ", 8, 2**62) + b"{{")
    (finding,) = of_rule(scan_one(path), "GEN002")
    assert finding.location.offset == 24 + 8 + len(key) + 4


def test_huge_array_length_is_gen002(tmp_path: Path) -> None:
    path = tmp_path / "arr.gguf"
    key = b"tokenizer.ggml.tokens"
    path.write_bytes(_header(3, 0, 1) + struct.pack("<Q", len(key)) + key + struct.pack("<IIQ", 9, 8, 2**60))
    assert rule_ids(scan_one(path)) == {"GEN002"}


def test_truncated_and_unknown_type_are_gen001(tmp_path: Path) -> None:
    truncated = tmp_path / "trunc.gguf"
    truncated.write_bytes(_header(3, 0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<I", 4) + b"\x05\x00")
    assert rule_ids(scan_one(truncated)) == {"GEN001"}
    badtype = tmp_path / "type.gguf"
    badtype.write_bytes(_header(3, 0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<I", 99) + b"\x00" * 16)
    assert rule_ids(scan_one(badtype)) == {"GEN001"}
    version = tmp_path / "version.gguf"
    version.write_bytes(_header(7, 0, 0))
    assert rule_ids(scan_one(version)) == {"GEN001"}


def test_oversized_metadata_string_is_gen002(tmp_path: Path) -> None:
    result = scan_one(_write(tmp_path / "big.gguf", ct.CHATML, **{"general.description": "x" * (5 * 1024 * 1024)}))
    (finding,) = of_rule(result, "GEN002")
    assert finding.location.detail == "metadata: general.description"


def test_sandbox_is_bounded() -> None:
    from modelsieve.chat_template import sandbox_render

    assert sandbox_render("{{ 'a' * 4000000000 }}").outcome == "error"
    assert sandbox_render(ct.LLAMA3).outcome == "rendered"
    assert sandbox_render(ct.DUNDER_ONLY).outcome == "security"


def test_mutated_files_never_crash(tmp_path: Path) -> None:
    fuzz_never_crashes(_write(tmp_path / "f.gguf", ct.MISTRAL).read_bytes())


@pytest.mark.parametrize(
    "template",
    [
        "{{ cycler['__init__']['__globals__']['os'].popen('id').read() }}",
        "{{ (joiner|attr('__init__')|attr('__glo' ~ 'bals__'))['os'].system('id') }}",
        "{% set a = namespace.__init__ %}{% set b = a.__globals__ %}{{ b.__builtins__.eval('1') }}",
        "{{ request.application.__globals__.__builtins__.__import__('os').popen('id').read() }}",
        "{{ ''.__class__.__mro__[1].__subclasses__()[0].__init__.__globals__['sys'].modules['os'].system('x') }}",
    ],
)
def test_injection_variants_reach_execution(template: str) -> None:
    from modelsieve.chat_template import analyse_template

    verdict = analyse_template(template)
    assert verdict.error is None
    assert verdict.executes, verdict


def test_big_endian_gguf_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "be.gguf"
    writer = gguf.GGUFWriter(str(path), "llama", endianess=gguf.GGUFEndian.BIG)
    writer.add_chat_template(ct.cve_2024_34359(str(tmp_path / "never")))
    writer.add_tensor("w1", np.arange(8, dtype=np.float32).byteswap().view(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    (finding,) = of_rule(scan_one(path), "GGF001")
    assert finding.location.detail == "metadata: tokenizer.chat_template"
