"""The policy data files load, carry versions, and classify names in context."""

from __future__ import annotations

import pytest

from modelsieve.model import BehaviourKind
from modelsieve.rules.policy import Safety, load_policy


def test_policy_files_load_with_versions() -> None:
    policy = load_policy()
    assert "allow 20" in policy.version and "deny 20" in policy.version and "aliases 20" in policy.version


@pytest.mark.parametrize(
    ("name", "safety"),
    [
        ("torch._utils._rebuild_tensor_v2", Safety.SAFE),
        ("torch.FloatStorage", Safety.SAFE),
        ("torch.nn.modules.linear.Linear", Safety.SAFE),
        ("numpy._core.multiarray._reconstruct", Safety.SAFE),
        ("collections.OrderedDict", Safety.SAFE),
        ("builtins.set", Safety.SAFE),
        ("sklearn.ensemble._forest.RandomForestClassifier", Safety.SAFE),
        ("ultralytics.nn.tasks.DetectionModel", Safety.SAFE),
        ("os.system", Safety.DANGEROUS),
        ("asyncio.unix_events._UnixSubprocessTransport._start", Safety.DANGEROUS),
        ("numpy.f2py.crackfortran.myeval", Safety.DANGEROUS),
        ("numpy.testing._private.utils.runstring", Safety.DANGEROUS),
        ("torch.utils.collect_env.run", Safety.DANGEROUS),
        ("builtins.eval", Safety.DANGEROUS),
        ("pip.main", Safety.DANGEROUS),
        ("ultralytics.utils.checks.check_requirements", Safety.UNKNOWN),
        ("__main__.MyNet", Safety.UNKNOWN),
        ("builtins.print", Safety.UNKNOWN),
        ("ossaudiodev.open", Safety.UNKNOWN),
    ],
)
def test_classification(name: str, safety: Safety) -> None:
    assert load_policy().classify(name).safety is safety


def test_behaviour_kinds_and_aliases() -> None:
    policy = load_policy()
    assert policy.classify("webbrowser.open").kind is BehaviourKind.OPENS_BROWSER
    assert policy.classify("ctypes.CDLL").kind is BehaviourKind.LOADS_NATIVE
    assert policy.canonical_module("posix") == "os"
    assert policy.canonical_module("__builtin__") == "builtins"
    assert policy.canonical_module("_operator") == "operator"


def test_compiled_policy_is_current() -> None:
    """compiled.json must be regenerated (python -m modelsieve.rules.policy) whenever a TOML file changes."""
    from modelsieve.rules import policy as policy_mod

    current = (policy_mod._folder() / policy_mod.COMPILED).read_text(encoding="utf-8")
    assert current == policy_mod.compile_sources(), "run: python -m modelsieve.rules.policy"


def test_stale_compiled_policy_falls_back_to_the_toml(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A compiled copy whose source hashes do not match is ignored: the TOML files are the truth."""
    import json
    import shutil

    from modelsieve.rules import policy as policy_mod

    folder = tmp_path / "policy"
    shutil.copytree(policy_mod._folder(), folder)
    compiled = json.loads((folder / policy_mod.COMPILED).read_text())
    compiled["data"]["deny.toml"]["dangerous"] = {}  # a tampered or outdated copy
    (folder / policy_mod.COMPILED).write_text(json.dumps(compiled))
    with (folder / "allow.toml").open("a") as f:
        f.write("\n# edited after compiling\n")
    monkeypatch.setattr(policy_mod, "_folder", lambda: folder)
    policy_mod._sources.cache_clear()
    try:
        assert policy_mod._sources()["deny.toml"]["dangerous"]
    finally:
        policy_mod._sources.cache_clear()
