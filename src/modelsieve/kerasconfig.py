"""Analyse a Keras model config (JSON already parsed) without building the model.

Shared by the Keras .h5, Keras v3 .keras and TensorFlow keras_metadata.pb
readers, which differ only in where the JSON lives. It finds Lambda layers at
any depth (nested models, wrappers), decodes their marshalled bytecode with
``codeinspect`` and checks every ``module``/``class_name`` reference against
what Keras would import while deserialising. Pickles embedded in the config
(TorchModuleWrapper's base64 ``torch.save`` buffer, which from_config hands to
``torch.load(weights_only=False)``) are decoded and sent back through the
dispatcher as nested members, so the pickle engine judges them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelsieve import codeinspect
from modelsieve.indicators import find_indicators
from modelsieve.model import Analysis, Behaviour, BehaviourKind, Confidence, Finding, Location
from modelsieve.rules import formats_rules as rules
from modelsieve.rules import general
from modelsieve.source import bytes_artifact

if TYPE_CHECKING:
    from modelsieve.formats.base import ScanContext

MAX_CONFIG_DEPTH = 200
MAX_CONFIG_NODES = 2_000_000
MAX_LAMBDA_TEXT = 8 * 1024 * 1024
# Base64 characters of one embedded pickle; the config holding it was already read under max_header_bytes.
MAX_EMBEDDED_TEXT = 256 * 1024 * 1024
# Layer classes whose from_config unpickles a config field: class name -> (field, loader call).
_PICKLE_FIELDS = {"TorchModuleWrapper": ("module", "torch.load(weights_only=False)")}

# Packages whose layers Keras users load routinely; a reference to them needs no extra code.
KNOWN_LAYER_PACKAGES = frozenset(
    {
        "keras",
        "tf_keras",
        "keras_hub",
        "keras_nlp",
        "keras_cv",
        "keras_rs",
        "tensorflow",
        "tensorflow_addons",
        "tensorflow_hub",
        "tensorflow_text",
        "tensorflow_probability",
        "tensorflow_recommenders",
    }
)
_DANGEROUS_BUILTINS = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "__import__",
        "open",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "locals",
        "vars",
        "breakpoint",
        "input",
        "memoryview",
    }
)
# Functions inside Keras modules that act on files or switch safe mode off when a config calls them.
_GADGET_NAMES = frozenset(
    {
        "get_file",
        "enable_unsafe_deserialization",
        "load_model",
        "save_model",
        "load_weights",
        "save_weights",
        "rmtree",
        "copy",
        "remove",
        "makedirs",
        "write_file",
        "download",
        "load_img",
        "save_img",
    }
)
_LAYER_WRAPPER_KEYS = ("layer", "backward_layer", "forward_layer", "cell")


@dataclass(frozen=True)
class _Walk:
    """Mutable-free accumulator handed down the walk: location and layer path."""

    location: Location
    layers: tuple[str, ...]

    def detail(self) -> str:
        return "layer: " + ("/".join(self.layers) if self.layers else "<model>")

    def at(self) -> Location:
        return self.location.at(detail=self.detail())


@dataclass(frozen=True)
class _PendingLambda:
    """Lambda bytecode found during the walk, decoded in one batch afterwards."""

    raw: bytes
    location: Location
    layer: str


@dataclass(frozen=True)
class _PendingBlob:
    """A serialized object found in a layer config, decoded and dispatched after the walk."""

    text: str
    location: Location
    layer: str
    class_name: str
    field: str
    loader: str

    @property
    def member(self) -> str:
        return f"<config: layer {self.layer} {self.field}>"


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0
        self.exceeded = False
        self.lambdas: list[_PendingLambda] = []
        self.blobs: list[_PendingBlob] = []


def analyse(config: object, location: Location, ctx: ScanContext, *, is_model: bool = True, depth: int = 0) -> Analysis:
    """Analysis of one Keras model config, with embedded pickles analysed as nested members.

    ``depth`` is the nesting depth of whatever holds the config (a decoded blob sits one level below it).
    """
    findings, blobs = _analyse(config, location, is_model)
    children = [_embedded(blob, ctx, depth) for blob in blobs]
    return Analysis(findings=findings).merge(*children)


def analyse_config(
    config: object, location: Location, *, is_model: bool = True, ctx: ScanContext | None = None, depth: int = 0
) -> tuple[Finding, ...]:
    """Findings for one Keras model config (a parsed JSON value). Never raises on odd shapes.

    With ``is_model`` the top object's own name is not part of layer paths (it is the model, not a layer).
    Without ``ctx`` embedded pickles are reported (KER007) but not analysed.
    """
    if ctx is not None:
        return analyse(config, location, ctx, is_model=is_model, depth=depth).findings
    findings, blobs = _analyse(config, location, is_model)
    return findings + tuple(_blob_finding(blob, "its content was not analysed here") for blob in blobs)


def _analyse(config: object, location: Location, is_model: bool) -> tuple[tuple[Finding, ...], list[_PendingBlob]]:
    budget = _Budget()
    findings = list(_walk(config, _Walk(location, ()), 0, budget, root=is_model))
    if budget.lambdas:
        results = codeinspect.inspect_many([p.raw for p in budget.lambdas])
        for pending, result in zip(budget.lambdas, results, strict=True):
            findings.extend(lambda_findings(result, pending.location, pending.layer))
    if budget.exceeded:
        findings.append(
            general.LIMIT_EXCEEDED.finding(
                location,
                f"model config deeper than {MAX_CONFIG_DEPTH} levels or larger than {MAX_CONFIG_NODES} nodes; "
                "the rest was not analysed",
                subject="keras-config-size",
            )
        )
    return tuple(_dedupe(findings)), budget.blobs


def _blob_finding(blob: _PendingBlob, outcome: str) -> Finding:
    return rules.KERAS_EMBEDDED_PICKLE.finding(
        blob.location,
        f"{blob.class_name} layer `{blob.layer}` stores a pickle in `{blob.field}` that Keras passes to "
        f"{blob.loader} when the model is loaded with safe_mode=False; {outcome}",
        subject=f"{blob.class_name}:{blob.layer}",
        evidence=f"{blob.field}: {len(blob.text)} base64 characters, starting {blob.text[:48]!r}",
        behaviour=Behaviour(
            BehaviourKind.LOADS_NESTED, f"unpickles layer `{blob.layer}`'s {blob.field} with {blob.loader}"
        ),
    )


def _decode_blob(text: str) -> bytes | None:
    """The bytes Keras would unpickle, or None when its own decoding would fail (then nothing loads)."""
    try:
        # Same call as Keras: non-alphabet characters are dropped, bad padding fails.
        return base64.b64decode(text.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


def _embedded(blob: _PendingBlob, ctx: ScanContext, depth: int) -> Analysis:
    where = blob.location.child(blob.member)
    if len(blob.text) > MAX_EMBEDDED_TEXT:
        return Analysis(
            findings=(
                _blob_finding(blob, "it was not analysed"),
                general.LIMIT_EXCEEDED.finding(
                    where,
                    f"embedded pickle of layer `{blob.layer}` is {len(blob.text)} base64 characters, over the "
                    f"{MAX_EMBEDDED_TEXT}-character bound; not analysed",
                    subject="keras-embedded-size",
                ),
            )
        )
    ctx.check_time()
    raw = _decode_blob(blob.text)
    if raw is None or not raw:
        return Analysis(
            findings=(_blob_finding(blob, "it is empty or not valid base64, so loading fails before unpickling"),)
        )
    child = ctx.dispatch(bytes_artifact(raw, where, name=blob.member, depth=depth + 1))
    return Analysis(findings=(_blob_finding(blob, "its content is analysed as a nested member"),)).merge(child)


def _dedupe(findings: list[Finding]) -> Iterator[Finding]:
    seen: set[tuple[str, str, str | None]] = set()
    for f in findings:
        key = (f.rule_id, f.subject, f.location.detail)
        if key not in seen:
            seen.add(key)
            yield f


def _walk(node: object, walk: _Walk, depth: int, budget: _Budget, *, root: bool = False) -> Iterator[Finding]:
    budget.nodes += 1
    if depth > MAX_CONFIG_DEPTH or budget.nodes > MAX_CONFIG_NODES:
        budget.exceeded = True
        return
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, walk, depth + 1, budget)
        return
    if not isinstance(node, dict):
        return
    class_name = node.get("class_name")
    cfg = node.get("config")
    if not root and _is_layer(node):
        assert isinstance(cfg, dict)
        walk = _Walk(walk.location, (*walk.layers, str(cfg.get("name"))[:200]))
    # Keras 2 Lambda configs carry a bare `module` for their function; that case is handled with the Lambda.
    if isinstance(node.get("module"), str) and isinstance(class_name, str):
        yield from _reference(node, walk)
    if class_name == "__lambda__" and isinstance(cfg, dict):
        # Layer functions store `code`; serialize_keras_object stores func_dump's [code, defaults, closure] in
        # `value` (activations, losses, JaxLayer call_fn ...).
        code = cfg.get("code", cfg.get("value"))
        if isinstance(code, list) and code:
            code = code[0]
        yield from _lambda_code(code, walk, "function", budget)
    elif isinstance(class_name, str) and class_name.rsplit(".", 1)[-1] == "Lambda" and isinstance(cfg, dict):
        yield from _keras2_lambda(cfg, walk, budget)
    elif isinstance(class_name, str) and isinstance(cfg, dict):
        _pickle_field(class_name, cfg, walk, budget)
    for value in node.values():
        if isinstance(value, (dict, list)):
            yield from _walk(value, walk, depth + 1, budget)


def _pickle_field(class_name: str, cfg: dict[str, object], walk: _Walk, budget: _Budget) -> None:
    leaf = class_name.rsplit(".", 1)[-1]
    spec = _PICKLE_FIELDS.get(leaf)
    if spec is None:
        return
    field, loader = spec
    value = cfg.get(field)
    # from_config calls .encode on it: anything but a string makes loading fail before torch.load.
    if isinstance(value, str) and value:
        layer = walk.detail().removeprefix("layer: ")
        budget.blobs.append(_PendingBlob(value, walk.at(), layer, leaf, field, loader))


def _is_layer(node: dict[str, object]) -> bool:
    cfg = node.get("config")
    if not isinstance(node.get("class_name"), str) or not isinstance(cfg, dict):
        return False
    if not isinstance(cfg.get("name"), str):
        return False
    return "inbound_nodes" in node or "trainable" in cfg or isinstance(cfg.get("layers"), list)


def _reference(node: dict[str, object], walk: _Walk) -> Iterator[Finding]:
    module = node.get("module")
    class_name = node.get("class_name")
    registered = node.get("registered_name")
    cfg = node.get("config")
    name = class_name if isinstance(class_name, str) else ""
    if name == "function" and isinstance(cfg, str):
        name = cfg
    if not isinstance(module, str) or not module:
        return
    yield from check_reference(module, name, walk.at(), registered if isinstance(registered, str) else None)


def check_reference(module: str, name: str, location: Location, registered: str | None = None) -> Iterator[Finding]:
    """Findings for a (module, name) pair that Keras would import and look up."""
    module = module.strip()
    root = module.split(".")[0]
    target = f"{module}.{name}" if name else module
    leaf = name.rsplit(".", 1)[-1]
    if _is_dangerous(module, leaf):
        yield rules.KERAS_DANGEROUS_OBJECT.finding(
            location,
            f"config makes Keras import `{target}` while loading (CVE-2025-1550 family)",
            subject=target,
            evidence=f'module="{module}", name="{name}"' + (f', registered_name="{registered}"' if registered else ""),
            behaviour=_reference_behaviour(target, module),
        )
        return
    if root in KNOWN_LAYER_PACKAGES or (module == "builtins" and leaf not in _DANGEROUS_BUILTINS):
        if leaf in _GADGET_NAMES or "file_utils" in module:
            yield rules.KERAS_SAFE_MODE_GADGET.finding(
                location,
                f"config calls `{target}` while loading (safe-mode bypass gadget, CVE-2025-8747/9905/9906 family)",
                subject=target,
                evidence=f'module="{module}", name="{name}"',
                behaviour=_gadget_behaviour(target, leaf),
            )
        return
    yield rules.KERAS_CUSTOM_OBJECT.finding(
        location,
        f"loading imports `{module}` for `{name or module}` (custom object: its code runs on load)",
        subject=target,
        evidence=f'module="{module}", name="{name}"',
        behaviour=Behaviour(BehaviourKind.NEEDS_CODE, f"imports module `{module}`"),
    )


def _is_dangerous(module: str, leaf: str) -> bool:
    root = module.split(".")[0]
    if module == "builtins" or root == "__builtin__":
        return leaf in _DANGEROUS_BUILTINS
    return module in codeinspect.DANGEROUS_MODULES or root in codeinspect.DANGEROUS_MODULES


def _reference_behaviour(target: str, module: str) -> Behaviour:
    call = codeinspect.CodeCall(target, "", None)
    behaviour = codeinspect.classify(call)
    if behaviour is None and module in ("posix", "nt"):
        behaviour = codeinspect.classify(codeinspect.CodeCall("os." + target.split(".", 1)[-1], "", None))
    if behaviour is None:
        return Behaviour(BehaviourKind.EXECUTES_CODE, f"imports and calls `{target}`")
    if target in behaviour.description:
        return behaviour
    return Behaviour(behaviour.kind, f"{behaviour.description} via `{target}`")


def _gadget_behaviour(target: str, leaf: str) -> Behaviour:
    if leaf == "get_file":
        return Behaviour(BehaviourKind.NETWORK, f"downloads a file to disk via `{target}`")
    if leaf == "enable_unsafe_deserialization":
        return Behaviour(BehaviourKind.EXECUTES_CODE, "turns Keras safe mode off, so Lambda bytecode runs")
    if leaf in ("load_model", "load_weights"):
        return Behaviour(BehaviourKind.LOADS_NESTED, f"loads another file via `{target}`")
    return Behaviour(BehaviourKind.WRITES_FILE, f"changes files via `{target}`")


def _keras2_lambda(cfg: dict[str, object], walk: _Walk, budget: _Budget) -> Iterator[Finding]:
    # Keras 2 stores function/output_shape/mask either as [code, defaults, closure] with *_type "lambda",
    # or as a plain name with *_type "function" and the module in `module` / `<key>_module`.
    for key in ("function", "output_shape", "mask"):
        value = cfg.get(key)
        kind = cfg.get(f"{key}_type")
        if isinstance(value, (list, tuple)) and value and isinstance(value[0], str) and kind != "raw":
            yield from _lambda_code(value[0], walk, key, budget)
        elif isinstance(value, str) and kind == "lambda":
            yield from _lambda_code(value, walk, key, budget)
        elif isinstance(value, str) and kind == "function":
            module = cfg.get("module" if key == "function" else f"{key}_module")
            if isinstance(module, str) and module:
                yield from check_reference(module, value, walk.at())
            else:
                yield rules.KERAS_LAMBDA_CODE.finding(
                    walk.at(),
                    f"Lambda layer `{'/'.join(walk.layers)}` calls the Python function `{value}` by name",
                    subject=walk.detail().removeprefix("layer: "),
                    evidence=f"{key}={value!r}",
                )


def _decode_code(text: str) -> bytes | None:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=False)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raw = b""
    if raw[:1] in (b"c", b"\xe3"):
        return raw
    try:
        # Very old Keras stored the marshal bytes themselves, escaped.
        legacy = text.encode("raw_unicode_escape")
    except UnicodeEncodeError:
        return raw or None
    if legacy[:1] in (b"c", b"\xe3"):
        return legacy
    return raw or None


def _lambda_code(code: object, walk: _Walk, key: str, budget: _Budget) -> Iterator[Finding]:
    layer = walk.detail().removeprefix("layer: ")
    location = walk.at()
    if not isinstance(code, str) or not code:
        yield general.PARSE_ERROR.finding(
            location, f"Lambda layer `{layer}` has no readable code in `{key}`", subject=f"lambda:{layer}"
        )
        return
    if len(code) > MAX_LAMBDA_TEXT:
        yield general.LIMIT_EXCEEDED.finding(
            location, f"Lambda layer `{layer}` code is {len(code)} characters; not analysed", subject=f"lambda:{layer}"
        )
        return
    raw = _decode_code(code)
    if raw is None:
        yield general.PARSE_ERROR.finding(
            location,
            f"Lambda layer `{layer}` code is not base64-encoded bytecode; it could not be inspected",
            subject=f"lambda:{layer}",
            evidence=code[:120],
        )
        return
    budget.lambdas.append(_PendingLambda(raw, location, layer))


def lambda_findings(result: codeinspect.CodeInspection, location: Location, layer: str) -> Iterator[Finding]:
    """Turn one bytecode inspection into KER001/KER002/KER003 findings."""
    indicators = find_indicators("\n".join(result.strings))
    note = "" if result.decoded else f" ({result.note})"
    evidence = result.disassembly[:4000] if result.decoded else "names: " + ", ".join(result.names[:60])
    if result.dangerous:
        for d in result.dangerous:
            yield rules.KERAS_LAMBDA_DANGEROUS_CALL.finding(
                location,
                f"Lambda layer `{layer}` {d.behaviour.description} via {d.call.callable}({d.call.arguments})",
                subject=d.call.callable,
                evidence=evidence,
                behaviour=d.behaviour,
                indicators=indicators,
            )
        return
    refs = result.dangerous_references
    if not result.decoded:
        mods = [r for r in refs if r in codeinspect.DANGEROUS_MODULES]
        funcs = [r for r in refs if r not in codeinspect.DANGEROUS_MODULES]
        calls = [r for r in funcs if r not in ("__import__", "import_module")]
        if mods and calls:
            target = f"builtins.{calls[0]}" if calls[0] in ("eval", "exec") else f"{mods[0]}.{calls[0]}"
            behaviour = codeinspect.classify(codeinspect.CodeCall(target, "", None)) or Behaviour(
                BehaviourKind.EXECUTES_CODE, f"calls {target}"
            )
            yield rules.KERAS_LAMBDA_DANGEROUS_CALL.finding(
                location,
                f"Lambda layer `{layer}` names `{mods[0]}` and `{calls[0]}`{note}",
                subject=target,
                evidence=evidence,
                behaviour=behaviour,
                indicators=indicators,
                confidence=Confidence.MEDIUM,
            )
            return
    if refs:
        yield rules.KERAS_LAMBDA_DANGEROUS_REFERENCE.finding(
            location,
            f"Lambda layer `{layer}` references {', '.join(refs[:8])}{note}",
            subject=refs[0],
            evidence=evidence,
            indicators=indicators,
        )
        return
    yield rules.KERAS_LAMBDA_CODE.finding(
        location,
        f"Lambda layer `{layer}` contains Python bytecode that runs when the model is loaded{note}",
        subject=layer,
        evidence=evidence,
        behaviour=Behaviour(BehaviourKind.EXECUTES_CODE, f"runs the Python code of Lambda layer `{layer}`"),
        indicators=indicators,
    )
