"""Plain text in a model repository: configs, tokenizer configs, YAML, Python, Markdown.

Claims only content that decodes as UTF-8 text, and comes last in the registry.
Every text gets the indicator scan (URLs, commands, encoded code). On top:

* JSON configs: ``auto_map`` / ``custom_pipelines`` (code that ``trust_remote_code``
  imports, possibly from another repository), references to other repositories,
  and ``chat_template`` entries (analysed like GGUF templates);
* YAML: ``!!python/...`` tags that unsafe loaders turn into calls;
* Python: dangerous calls and imports, read with ``ast``.
"""

from __future__ import annotations

import ast
import codecs
import json
import re
from typing import Any

from modelsieve.chat_template import analyse_template, template_findings
from modelsieve.formats.base import ScanContext
from modelsieve.indicators import find_indicators, indicator_findings
from modelsieve.model import Analysis, Behaviour, BehaviourKind, Finding, Location
from modelsieve.pycode import parse_python, summarise
from modelsieve.rules import formats_rules as fr
from modelsieve.rules import general
from modelsieve.source import Artifact

_CHUNK = 1024 * 1024
_OVERLAP = 4096
_MAX_INDICATOR_BYTES = 64 * 1024 * 1024
_MAX_FINDINGS = 200
_ALLOWED_CONTROLS = frozenset(b"\t\n\r\f\v\x1b")
_YAML_TAG = re.compile(
    r"(?:!!python/|!<tag:yaml\.org,2002:python/)(object/apply|object/new|object|name|module)[:]([\w.]+)"
)
_REPO_KEYS = ("base_model_name_or_path", "pretrained_model_name_or_path", "model_name_or_path")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$")


def is_text(head: bytes) -> bool:
    """UTF-8 without NUL bytes or stray control characters (a cut multi-byte character at the end is fine)."""
    if not head or b"\x00" in head:
        return False
    try:
        # Incremental: an incomplete multi-byte character at the end of the head is buffered, not an error.
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    if not text:
        return False
    controls = sum(1 for ch in text if ord(ch) < 32 and ord(ch) not in _ALLOWED_CONTROLS)
    return controls == 0


class TextScanner:
    """UTF-8 text files (last in the registry)."""

    name = "text"

    def sniff(self, head: bytes, artifact: Artifact) -> bool:
        return is_text(head)

    def scan(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        loc = artifact.location
        if artifact.size > ctx.limits.max_text_scan_bytes:
            return self._large(artifact, ctx)
        text = artifact.read_at(0, artifact.size).decode("utf-8", "replace").removeprefix("\ufeff")
        findings: list[Finding] = []
        kind = "text"
        parsed = _json(text)
        if parsed is not None and _is_notebook(parsed):
            kind = "notebook"
            findings.extend(notebook_findings(parsed, loc))
        elif parsed is not None:
            kind = "json"
            findings.extend(config_findings(parsed, loc))
        else:
            tree = parse_python(text)
            if tree is not None:
                kind = "python"
                findings.extend(python_findings(tree, loc))
            elif _is_chat_template(text):
                # transformers saves templates as `chat_template.jinja`; recognised by content, not name.
                kind = "jinja"
                findings.extend(template_findings(text, loc.at(detail="chat template"), "chat_template"))
            else:
                findings.extend(yaml_findings(text, loc))
        findings.extend(_dedupe_indicators(text, loc, findings))
        return Analysis(formats=(f"{self.name}/{kind}",), findings=tuple(findings[:_MAX_FINDINGS]))

    def _large(self, artifact: Artifact, ctx: ScanContext) -> Analysis:
        """Big text (tokenizer.json, vocabularies): indicators only, streamed in overlapping chunks."""
        loc = artifact.location
        seen: dict[str, Finding] = {}
        pos = 0
        limit = min(artifact.size, _MAX_INDICATOR_BYTES)
        while pos < limit and len(seen) < _MAX_FINDINGS:
            ctx.check_time()
            chunk = artifact.read_at(max(0, pos - _OVERLAP), _CHUNK + (_OVERLAP if pos else 0))
            for f in indicator_findings(chunk.decode("utf-8", "replace"), loc):
                seen.setdefault(f.subject, f)
            pos += _CHUNK
        findings = list(seen.values())
        if artifact.size > _MAX_INDICATOR_BYTES:
            findings.append(
                general.LIMIT_EXCEEDED.finding(
                    loc.at(offset=_MAX_INDICATOR_BYTES),
                    f"text larger than {_MAX_INDICATOR_BYTES} bytes: only the start was scanned for indicators",
                    subject="text-size",
                )
            )
        return Analysis(formats=(f"{self.name}/large",), findings=tuple(findings))


def _is_chat_template(text: str) -> bool:
    if "{%" not in text and "{{" not in text:
        return False
    if re.search(r"\b(messages|bos_token|add_generation_prompt)\b", text) is None:
        return False
    # A README that quotes template snippets is not a template: only whole, valid Jinja counts.
    return analyse_template(text).error is None


def _json(text: str) -> Any:
    stripped = text.lstrip()
    if stripped[:1] not in ("{", "["):
        return None
    try:
        return json.loads(stripped)
    except (ValueError, RecursionError):
        return None


def _dedupe_indicators(text: str, loc: Location, already: list[Finding]) -> list[Finding]:
    # Template and Python findings already carry their own indicator findings for the same strings.
    known = {(f.rule_id, f.subject) for f in already}
    return [f for f in indicator_findings(text, loc) if (f.rule_id, f.subject) not in known]


# ---------------------------------------------------------------- JSON configs


def config_findings(config: Any, loc: Location) -> list[Finding]:
    """auto_map / custom_pipelines code, other-repository references and chat templates in a JSON config."""
    out: list[Finding] = []
    if not isinstance(config, dict):
        return out
    for where, ref in _code_refs(config):
        out.append(_code_ref_finding(where, ref, loc))
    for key in _REPO_KEYS:
        value = config.get(key)
        if isinstance(value, str) and _REPO_ID.match(value):
            out.append(
                fr.TEXT_OTHER_REPO.finding(
                    loc.at(detail=key),
                    f"loading this model also loads repository {value} ({key}); it was not scanned here",
                    subject=value,
                    evidence=f'"{key}": "{value}"',
                )
            )
    templates = config.get("chat_template")
    if isinstance(templates, str):
        out.extend(template_findings(templates, loc.at(detail="chat_template"), "chat_template"))
    elif isinstance(templates, list):
        for item in templates[:16]:
            if isinstance(item, dict) and isinstance(item.get("template"), str):
                key = f"chat_template.{item.get('name', '')}"
                out.extend(template_findings(item["template"], loc.at(detail=key), key))
    return out


def _code_refs(config: dict[str, Any]) -> list[tuple[str, str]]:
    refs: list[tuple[str, str]] = []
    auto_map = config.get("auto_map")
    if isinstance(auto_map, dict):
        for cls, value in auto_map.items():
            values = value if isinstance(value, list) else [value]
            refs.extend((f"auto_map.{cls}", v) for v in values if isinstance(v, str) and v)
    pipelines = config.get("custom_pipelines")
    if isinstance(pipelines, dict):
        for task, spec in pipelines.items():
            if isinstance(spec, dict):
                for part in ("impl", "pt", "tf"):
                    raw = spec.get(part)
                    items: list[Any] = raw if isinstance(raw, list) else [raw]
                    for v in items:
                        if isinstance(v, str) and v:
                            refs.append((f"custom_pipelines.{task}.{part}", v))
    return refs[:64]


def _code_ref_finding(where: str, ref: str, loc: Location) -> Finding:
    repo, _, target = ref.rpartition("--")
    module = target.rsplit(".", 1)[0] if "." in target else target
    if repo:
        return fr.TEXT_REMOTE_CODE.finding(
            loc.at(detail=where),
            f"loading with trust_remote_code=True downloads and imports {module}.py from repository {repo}",
            subject=ref,
            evidence=f"{where}: {ref}",
            behaviour=Behaviour(BehaviourKind.NEEDS_CODE, f"imports code from another repository ({repo}/{module}.py)"),
        )
    return fr.TEXT_AUTO_MAP.finding(
        loc.at(detail=where),
        f"loading with trust_remote_code=True imports code from {module}.py",
        subject=ref,
        evidence=f"{where}: {ref}",
        behaviour=Behaviour(BehaviourKind.NEEDS_CODE, f"imports code from {module}.py (trust_remote_code)"),
    )


# ---------------------------------------------------------------- YAML


def yaml_findings(text: str, loc: Location) -> list[Finding]:
    """``!!python/...`` tags, found textually so no YAML library is needed (and nothing is constructed)."""
    from modelsieve.pycode import DANGEROUS_CALLS

    out: list[Finding] = []
    for m in _YAML_TAG.finditer(text):
        tag, target = m.group(1), m.group(2)
        line = text.count("\n", 0, m.start()) + 1
        kind = DANGEROUS_CALLS.get(target) or DANGEROUS_CALLS.get(f"builtins.{target}")
        if kind is None and target.startswith(("posix.", "nt.")):
            kind = DANGEROUS_CALLS.get("os." + target.split(".", 1)[1])
        if tag in ("object/apply", "object/new") and kind is not None:
            out.append(
                fr.TEXT_YAML_DANGEROUS_APPLY.finding(
                    loc.at(detail=f"line {line}"),
                    f"yaml.unsafe_load calls {target}",
                    subject=target,
                    evidence=text[m.start() : m.start() + 200].splitlines()[0],
                    behaviour=Behaviour(kind, f"unsafe YAML loading calls {target}"),
                )
            )
        else:
            out.append(
                fr.TEXT_YAML_PYTHON_TAG.finding(
                    loc.at(detail=f"line {line}"),
                    f"YAML tag python/{tag}:{target} makes unsafe loaders import {target}",
                    subject=target,
                    evidence=m.group(0),
                )
            )
        if len(out) >= 50:
            break
    return out


# ---------------------------------------------------------------- Python


def _is_notebook(parsed: Any) -> bool:
    return isinstance(parsed, dict) and isinstance(parsed.get("cells"), list) and "nbformat" in parsed


def notebook_findings(notebook: dict[str, Any], loc: Location) -> list[Finding]:
    """Code cells of a Jupyter notebook, as Python (IPython `!cmd` / `%magic` lines become comments)."""
    out: list[Finding] = []
    for index, cell in enumerate(notebook["cells"][:2000]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        lines = [("# " + line) if line.lstrip().startswith(("!", "%")) else line for line in text.splitlines()]
        try:
            tree = ast.parse("\n".join(lines))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        out.extend(python_findings(tree, loc, where=f"cell {index}, "))
    return out


def python_findings(tree: Any, loc: Location, where: str = "") -> list[Finding]:
    """TXT003 per dangerous call, TXT004 per capability import."""
    summary = summarise(tree)
    out: list[Finding] = []
    for call in summary.calls[:100]:
        indicators = tuple(i for arg in call.literal_args for i in find_indicators(arg))
        out.append(
            fr.TEXT_PYTHON_DANGEROUS_CALL.finding(
                loc.at(detail=f"{where}line {call.line}"),
                f"calls {call.name}({call.arguments})",
                subject=call.name,
                evidence=f"line {call.line}: {call.name}({call.arguments})",
                behaviour=Behaviour(call.kind, f"Python code calls {call.name}({call.arguments})"),
                indicators=indicators,
            )
        )
    for imp in dict.fromkeys(summary.imports):
        out.append(
            fr.TEXT_PYTHON_DANGEROUS_IMPORT.finding(
                loc.at(detail=f"{where}line {imp.line}"), f"imports {imp.module}", subject=imp.module
            )
        )
    if summary.error:
        out.append(general.LIMIT_EXCEEDED.finding(loc, f"Python source: {summary.error}", subject="python-size"))
    return out


SCANNER = TextScanner()
