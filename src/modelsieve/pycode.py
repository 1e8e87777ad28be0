"""Python source shipped with a model, read with ``ast`` (never imported, never run).

Finds calls that run commands, execute code, open connections or unpickle data,
resolving import aliases (``from os import system as s``), ``__import__('os')``
and ``getattr(mod, 'name')``, and the imports of modules that exist to do so.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass

from modelsieve.model import BehaviourKind

# Modules whose mere import is worth listing (a capability, not proof).
CAPABILITY_MODULES = frozenset(
    {"subprocess", "socket", "ctypes", "pty", "webbrowser", "marshal", "pickle", "dill", "cloudpickle", "telnetlib",
     "ftplib", "smtplib", "paramiko", "requests", "urllib.request", "http.client", "runpy", "code", "codeop"}
)  # fmt: skip

_COMMAND = BehaviourKind.RUNS_COMMAND
_CODE = BehaviourKind.EXECUTES_CODE
_NET = BehaviourKind.NETWORK
_NESTED = BehaviourKind.LOADS_NESTED
DANGEROUS_CALLS: dict[str, BehaviourKind] = {
    **{f"os.{n}": _COMMAND for n in ("system", "popen", "execv", "execve", "execl", "execle", "execlp", "execvp")},
    **{f"os.{n}": _COMMAND for n in ("spawnl", "spawnle", "spawnv", "spawnve", "spawnlp", "spawnvp", "posix_spawn")},
    **{f"subprocess.{n}": _COMMAND for n in ("Popen", "run", "call", "check_call", "check_output", "getoutput")},
    "subprocess.getstatusoutput": _COMMAND,
    "pty.spawn": _COMMAND,
    "commands.getoutput": _COMMAND,
    "builtins.eval": _CODE,
    "builtins.exec": _CODE,
    "builtins.compile": _CODE,
    "builtins.__import__": _CODE,
    "runpy.run_path": _CODE,
    "runpy.run_module": _CODE,
    "code.InteractiveInterpreter": _CODE,
    "types.FunctionType": _CODE,
    "types.CodeType": _CODE,
    "marshal.loads": _NESTED,
    "pickle.loads": _NESTED,
    "pickle.load": _NESTED,
    "pickle.Unpickler": _NESTED,
    "dill.loads": _NESTED,
    "dill.load": _NESTED,
    "cloudpickle.loads": _NESTED,
    "cloudpickle.load": _NESTED,
    "ctypes.CDLL": BehaviourKind.LOADS_NATIVE,
    "ctypes.cdll.LoadLibrary": BehaviourKind.LOADS_NATIVE,
    "ctypes.WinDLL": BehaviourKind.LOADS_NATIVE,
    "socket.socket": _NET,
    "socket.create_connection": _NET,
    "urllib.request.urlopen": _NET,
    "urllib.request.urlretrieve": _NET,
    "requests.get": _NET,
    "requests.post": _NET,
    "requests.put": _NET,
    "requests.request": _NET,
    "http.client.HTTPConnection": _NET,
    "http.client.HTTPSConnection": _NET,
    "webbrowser.open": BehaviourKind.OPENS_BROWSER,
    "pip.main": BehaviourKind.INSTALLS_PACKAGE,
    "pip._internal.main": BehaviourKind.INSTALLS_PACKAGE,
}
_BUILTINS = frozenset(dir(builtins))
_MAX_NODES = 500_000


@dataclass(frozen=True)
class PyCall:
    """A dangerous call found in source: qualified name, rendered arguments, line."""

    name: str
    kind: BehaviourKind
    arguments: str
    line: int
    literal_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class PyImport:
    """An import of a capability module."""

    module: str
    line: int


@dataclass(frozen=True)
class PySummary:
    """What the source does, or why it could not be read."""

    calls: tuple[PyCall, ...] = ()
    imports: tuple[PyImport, ...] = ()
    error: str | None = None


def parse_python(text: str) -> ast.Module | None:
    """The module AST when ``text`` is Python that does something (imports, defs, calls), else None."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return tree
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            return tree
    return None


class _Resolver:
    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def bind(self, tree: ast.Module) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.names[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        self.names[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    if alias.name != "*":
                        self.names[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def qualify(self, node: ast.expr, depth: int = 0) -> str | None:
        if depth > 32:
            return None
        if isinstance(node, ast.Name):
            if node.id in self.names:
                return self.names[node.id]
            return f"builtins.{node.id}" if node.id in _BUILTINS else None
        if isinstance(node, ast.Attribute):
            base = self.qualify(node.value, depth + 1)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call):
            func = self.qualify(node.func, depth + 1)
            args = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if func in ("builtins.__import__", "importlib.import_module") and args:
                return args[0]
            if func == "builtins.getattr" and len(node.args) >= 2 and len(args) >= 1:
                base = self.qualify(node.args[0], depth + 1)
                return f"{base}.{args[-1]}" if base else None
        return None


def _canonical(name: str) -> str:
    for prefix, real in (("posix.", "os."), ("nt.", "os."), ("__builtin__.", "builtins.")):
        if name.startswith(prefix):
            return real + name[len(prefix) :]
    return name


def summarise(tree: ast.Module) -> PySummary:
    """Dangerous calls and capability imports in a parsed module."""
    resolver = _Resolver()
    resolver.bind(tree)
    calls: list[PyCall] = []
    imports: list[PyImport] = []
    for count, node in enumerate(ast.walk(tree)):
        if count > _MAX_NODES:
            return PySummary(tuple(calls), tuple(imports), f"more than {_MAX_NODES} syntax nodes")
        if isinstance(node, ast.Import):
            imports.extend(PyImport(a.name, node.lineno) for a in node.names if a.name in CAPABILITY_MODULES)
        elif isinstance(node, ast.ImportFrom) and node.module in CAPABILITY_MODULES:
            imports.append(PyImport(node.module, node.lineno))
        elif isinstance(node, ast.Call):
            name = resolver.qualify(node.func)
            if name is None:
                continue
            name = _canonical(name)
            kind = DANGEROUS_CALLS.get(name)
            if kind is None:
                continue
            if name == "builtins.__import__" and node.args and isinstance(node.args[0], ast.Constant):
                # `__import__('os').system(...)` is reported as os.system; the import alone runs nothing new.
                continue
            literal = tuple(a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
            calls.append(PyCall(name.removeprefix("builtins."), kind, _args(node), node.lineno, literal))
    return PySummary(tuple(calls), tuple(imports))


def _args(node: ast.Call) -> str:
    try:
        text = ", ".join(ast.unparse(a) for a in [*node.args, *node.keywords])
    except (ValueError, RecursionError):
        return "…"
    return text if len(text) <= 200 else text[:199] + "…"
