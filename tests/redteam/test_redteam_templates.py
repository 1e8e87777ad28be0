"""Red team: chat-template (CVE-2024-34359 family) payloads that hide the dunder names from a text match.

Each template is proven by rendering it unsandboxed in a child (what llama-cpp-python < 0.2.72 did),
then written into a GGUF file and scanned.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rt_support import describe, findings, scan_one

from modelsieve.model import Verdict

gguf = pytest.importorskip("gguf")

TEMPLATES: dict[str, str] = {
    "attr_filter_hex_escaped_dunder": (
        "{{ (lipsum|attr('\\x5f\\x5fglobals\\x5f\\x5f'))['os'].popen('touch MARK').read() }}"
    ),
    "attr_filter_dunder_built_by_format": (
        "{% set u = '%c%c'|format(95,95) %}{{ (lipsum|attr(u~'globals'~u))['os'].popen('touch MARK').read() }}"
    ),
    "attr_filter_dunder_built_by_join": (
        "{% set g = ['_','_','glo','bals','_','_']|join %}{{ (cycler.__init__|attr(g)).os.popen('touch MARK').read() }}"
    ),
    "dunder_built_by_reverse_filter": (
        "{% set g = '__slabolg__'|reverse %}{{ (joiner.__init__|attr(g))['os'].popen('touch MARK').read() }}"
    ),
    "getitem_with_concatenated_dunder": "{{ lipsum['__glob'~'als__']['os'].popen('touch MARK').read() }}",
    "namespace_init_globals": "{{ namespace.__init__.__globals__['os'].popen('touch MARK').read() }}",
    "builtins_exec_via_globals": "{{ lipsum.__globals__['__builtins__']['exec'](\"open('MARK','w')\") }}",
    "payload_inside_call_block": (
        "{% macro x() %}{{ caller() }}{% endmacro %}"
        "{% call x() %}{{ lipsum.__globals__.os.popen('touch MARK').read() }}{% endcall %}"
    ),
    "builtins_import_subprocess": (
        "{{ cycler.__init__.__globals__.__builtins__.__import__('subprocess').getoutput('touch MARK') }}"
    ),
    "subclasses_walk_wrap_close": (
        "{% for c in ().__class__.__base__.__subclasses__() %}{% if c.__name__ == '_wrap_close' %}"
        "{{ c.__init__.__globals__['system']('touch MARK') }}{% endif %}{% endfor %}"
    ),
}

_RENDER = (
    "import sys, jinja2\n"
    "t = sys.stdin.read()\n"
    "jinja2.Environment().from_string(t).render(messages=[{'role': 'user', 'content': 'hi'}], bos_token='<s>')\n"
)


def _write(path: Path, template: str) -> Path:
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_chat_template(template)
    writer.add_tensor("w", np.zeros(2, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_injection_variant(name: str, tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    template = TEMPLATES[name].replace("MARK", str(marker))
    subprocess.run([sys.executable, "-c", _RENDER], input=template.encode(), capture_output=True, timeout=60)
    assert marker.exists(), "unsandboxed Jinja did not run the payload"
    marker.unlink()
    result = scan_one(_write(tmp_path / "model.gguf", template))
    assert not marker.exists(), "scanning rendered the payload"
    assert result.verdict is Verdict.MALICIOUS, describe(result)
    assert findings(result, "GGF001"), describe(result)
