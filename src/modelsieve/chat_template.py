"""Static analysis of Jinja2 chat templates (GGUF metadata, tokenizer_config.json).

Templates are parsed with Jinja2's own parser and the syntax tree is walked;
nothing is rendered in this process. A second opinion renders the template in
Jinja's ImmutableSandboxedEnvironment inside a separate, time- and
memory-limited Python process: a SecurityError there confirms that the
template reaches for something a chat template has no use for.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from modelsieve.indicators import indicator_findings
from modelsieve.model import Behaviour, BehaviourKind, Finding, Location
from modelsieve.rules import formats_rules as fr
from modelsieve.rules import general

# Calls that run code or commands once a template has climbed to Python internals.
EXEC_CALLS = frozenset(
    {
        "popen",
        "system",
        "eval",
        "exec",
        "__import__",
        "import_module",
        "check_output",
        "check_call",
        "getoutput",
        "getstatusoutput",
        "spawnl",
        "spawnv",
        "spawnve",
        "execv",
        "execve",
        "execl",
        "load_module",
        "compile",
        "run",
        "call",
        "Popen",
    }
)
# Names that give a template a path to Python internals (Flask/Jinja SSTI gadgets).
GADGETS = frozenset({"cycler", "joiner", "lipsum", "self", "config", "request", "url_for", "get_flashed_messages"})
DANGEROUS_NAMES = frozenset({"os", "subprocess", "builtins", "__builtins__", "sys", "importlib", "popen", "system"})
_DUNDER = re.compile(r"^__\w+__$")
_MAX_TEMPLATE_CHARS = 1024 * 1024
_MAX_CHAIN = 64


@dataclass(frozen=True)
class TemplateVerdict:
    """What the static walk found in one template.

    ``executes`` names a call chain that reaches code execution (e.g.
    ``self._TemplateReference__context.cycler.__init__.__globals__.os.popen()``);
    ``internals`` lists the dunder/private/gadget accesses seen.
    """

    executes: tuple[str, ...] = ()
    internals: tuple[str, ...] = ()
    error: str | None = None


def _const(node: Any) -> str | None:
    from jinja2 import nodes

    try:
        value = node.as_const(nodes.EvalContext(_environment()))
    except Exception:
        return None
    return value if isinstance(value, str) else None


def _environment() -> Any:
    from jinja2 import Environment

    return Environment()


def _risky_name(name: str) -> bool:
    return bool(_DUNDER.match(name)) or name.startswith("_") or name in DANGEROUS_NAMES


class _Walker:
    """Collects attribute chains; resolves `{% set x = ... %}` aliases one level at a time."""

    def __init__(self) -> None:
        self.aliases: dict[str, Any] = {}
        self.executes: list[str] = []
        self.internals: list[str] = []

    def chain(self, node: Any, depth: int = 0) -> list[str]:
        """Attribute/item/call names from the base outwards, e.g. ['self', '_T..context', 'cycler', ...]."""
        from jinja2 import nodes

        if depth > _MAX_CHAIN:
            return ["…"]
        if isinstance(node, nodes.Getattr):
            return [*self.chain(node.node, depth + 1), node.attr]
        if isinstance(node, nodes.Getitem):
            key = _const(node.arg)
            return [*self.chain(node.node, depth + 1), key if key is not None else "[?]"]
        if isinstance(node, nodes.Filter) and node.name == "attr" and node.node is not None:
            key = _const(node.args[0]) if node.args else None
            return [*self.chain(node.node, depth + 1), key if key is not None else "[dynamic attr]"]
        if isinstance(node, nodes.Call):
            return [*self.chain(node.node, depth + 1), "()"]
        if isinstance(node, nodes.Name):
            if node.name in self.aliases:
                return self._alias(node.name, depth)
            return [node.name]
        return ["<expr>"]

    def _alias(self, name: str, depth: int) -> list[str]:
        value = self.aliases[name]
        # Guard against `{% set x = x.y %}` cycles.
        del self.aliases[name]
        try:
            return self.chain(value, depth + 1)
        finally:
            self.aliases[name] = value

    def visit(self, template: Any) -> None:
        from jinja2 import nodes

        for node in template.find_all(nodes.Assign):
            if isinstance(node.target, nodes.Name):
                self.aliases[node.target.name] = node.node
        for node in template.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Call)):
            if isinstance(node, nodes.Call):
                self._call(node)
            elif isinstance(node, nodes.Filter) and node.name == "attr":
                key = _const(node.args[0]) if node.args else None
                if key is None:
                    self._note(f"{_render(self.chain(node))} (attribute name computed at render time)")
                elif _risky_name(key):
                    self._note(_render(self.chain(node)))
            elif isinstance(node, nodes.Getattr):
                base = self.chain(node.node)
                if _risky_name(node.attr) or (len(base) == 1 and base[0] in GADGETS):
                    self._note(_render([*base, node.attr]))
            elif isinstance(node, nodes.Getitem):
                key = _const(node.arg)
                if key is not None and _risky_name(key):
                    self._note(_render(self.chain(node)))

    def _call(self, node: Any) -> None:
        chain = self.chain(node.node)
        callee = chain[-1] if chain else ""
        reaches = any(_risky_name(p) or p in GADGETS or p == "[dynamic attr]" for p in chain[:-1])
        if callee in EXEC_CALLS and (reaches or callee in ("eval", "exec", "__import__")):
            self.executes.append(_render([*chain, "()"]))

    def _note(self, text: str) -> None:
        if text not in self.internals:
            self.internals.append(text)


def _render(chain: list[str]) -> str:
    out = ""
    for part in chain:
        out += part if not out or part == "()" else "." + part
    return out


def analyse_template(source: str) -> TemplateVerdict:
    """Parse a chat template and report code-execution chains and internals access."""
    from jinja2 import TemplateSyntaxError

    if len(source) > _MAX_TEMPLATE_CHARS:
        return TemplateVerdict(error=f"template longer than {_MAX_TEMPLATE_CHARS} characters")
    try:
        tree = _environment().parse(source)
    except TemplateSyntaxError as exc:
        return TemplateVerdict(error=f"not valid Jinja2: {exc.message} (line {exc.lineno})")
    except (RecursionError, MemoryError) as exc:
        return TemplateVerdict(error=f"template too deeply nested: {type(exc).__name__}")
    walker = _Walker()
    try:
        walker.visit(tree)
    except RecursionError:
        return TemplateVerdict(error="template too deeply nested")
    # Keep the longest chains only: `a.__init__` is implied by `a.__init__.__globals__`.
    internals = [i for i in walker.internals if not any(o != i and o.startswith(i + ".") for o in walker.internals)]
    return TemplateVerdict(tuple(dict.fromkeys(walker.executes)), tuple(internals))


# ---------------------------------------------------------------- sandboxed second opinion

_SANDBOX_SCRIPT = r"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (%(mem)d, %(mem)d))
resource.setrlimit(resource.RLIMIT_CPU, (%(cpu)d, %(cpu)d))
resource.setrlimit(resource.RLIMIT_NOFILE, (16, 16))
resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
source = sys.stdin.read()
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2 import TemplateError
def raise_exception(message):
    raise TemplateError(message)
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
env.globals["raise_exception"] = raise_exception
messages = [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Hello"},
    {"role": "assistant", "content": "Hi there"},
    {"role": "user", "content": "How are you?"},
]
try:
    env.from_string(source).render(
        messages=messages, add_generation_prompt=True, bos_token="<s>", eos_token="</s>", tools=None
    )
    out = {"outcome": "rendered"}
except SecurityError as exc:
    out = {"outcome": "security", "detail": str(exc)[:300]}
except Exception as exc:
    out = {"outcome": "error", "detail": (type(exc).__name__ + ": " + str(exc))[:300]}
sys.stdout.write(json.dumps(out))
"""


@dataclass(frozen=True)
class SandboxOutcome:
    """Result of the sandboxed render: ``rendered``, ``security``, ``error`` or ``unavailable``."""

    outcome: str
    detail: str = ""


def sandbox_render(source: str, *, timeout: float = 10.0, memory: int = 512 * 1024**2) -> SandboxOutcome:
    """Render in ImmutableSandboxedEnvironment in a child Python with rlimits; never in this process."""
    import subprocess

    script = _SANDBOX_SCRIPT % {"mem": memory, "cpu": max(1, int(timeout))}
    try:
        proc = subprocess.run(
            [sys.executable, "-I", "-c", script],
            input=source.encode("utf-8", "surrogatepass"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return SandboxOutcome("error", f"render took longer than {timeout:g}s")
    except OSError as exc:
        return SandboxOutcome("unavailable", str(exc))
    try:
        data = json.loads(proc.stdout.decode("utf-8", "replace") or "{}")
    except ValueError:
        data = {}
    if not isinstance(data, dict) or "outcome" not in data:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        return SandboxOutcome("error", tail[0][:300])
    return SandboxOutcome(str(data["outcome"]), str(data.get("detail", "")))


def template_keys(keys: Iterator[str] | list[str]) -> list[str]:
    """Metadata keys that hold chat templates (`tokenizer.chat_template`, `tokenizer.chat_template.<name>`)."""
    return [k for k in keys if k == "tokenizer.chat_template" or k.startswith("tokenizer.chat_template.")]


# ---------------------------------------------------------------- findings


def template_findings(source: str, location: Location, key: str, *, sandbox: bool = True) -> list[Finding]:
    """GGF001/GGF002/GGF003 (and indicators) for one chat template."""
    verdict = analyse_template(source)
    out: list[Finding] = []
    if verdict.error is not None:
        out.append(general.PARSE_ERROR.finding(location, f"chat template {key}: {verdict.error}", subject=key))
        return out
    if verdict.executes:
        chain = verdict.executes[0]
        call = chain.rsplit(".", 1)[-1].removesuffix("()")
        out.append(
            fr.GGUF_TEMPLATE_EXECUTES.finding(
                location,
                f"rendering chat template {key} calls {call}() through Python internals: {chain}",
                subject=f"{key}:{call}",
                evidence="; ".join(verdict.executes)[:2000],
                behaviour=Behaviour(
                    BehaviourKind.RUNS_COMMAND if call in ("popen", "system") else BehaviourKind.EXECUTES_CODE,
                    f"rendering the chat template calls {call}() (server-side template injection)",
                ),
            )
        )
    elif verdict.internals:
        out.append(
            fr.GGUF_TEMPLATE_INTERNALS.finding(
                location,
                f"chat template {key} reaches Python internals: {verdict.internals[0]}",
                subject=key,
                evidence="; ".join(verdict.internals)[:2000],
            )
        )
    if sandbox and len(source) <= 256 * 1024 and (verdict.executes or verdict.internals or _worth_sandbox(source)):
        outcome = sandbox_render(source)
        if outcome.outcome == "security":
            out.append(
                fr.GGUF_TEMPLATE_SANDBOX.finding(
                    location,
                    f"Jinja sandbox refused chat template {key}: {outcome.detail}",
                    subject=key,
                    evidence=outcome.detail,
                )
            )
    out.extend(indicator_findings(source, location))
    return out


def _worth_sandbox(source: str) -> bool:
    """Cheap pre-filter: a sandboxed render costs a process; only templates with odd syntax need one."""
    return "__" in source or "attr" in source or "|format" in source or "\\x" in source or "\\u" in source
