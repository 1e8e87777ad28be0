"""Red team: pickle evasions that the catalogue in ``tests/fixtures/pickle_exploits.py`` does not cover.

Two tests per technique: ``test_real_loader_runs_it`` proves in a subprocess that ``pickle.loads`` runs
the harmless payload (touches a marker), ``test_modelsieve_reports_it`` asserts the verdict, rule and
callable modelsieve should report. Known gaps are ``xfail(strict=True)``: when a fix lands the test
passes, strict xfail turns that into a failure, and the mark must be removed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import rt_pickles as rp
from rt_pickles import Case
from rt_support import describe, findings, pickle_loader_code, runs_in_subprocess, scan_one

from modelsieve.model import Confidence, Verdict

NET = "needs the network"
NATIVE = "loads a native library; loading libc harmlessly leaves no trace to prove"

CASES: tuple[Case, ...] = (
    # string-to-callable indirection
    Case("builtins_dict_getitem_exec", rp.builtins_dict_getitem_exec, ("builtins.exec",)),
    Case("sys_modules_getattr", rp.sys_modules_getattr, ("os.system",)),
    Case("sys_modules_global_get", rp.sys_modules_global, ("os.system",)),
    Case(
        "copyreg_reconstructor_popen",
        rp.copyreg_reconstructor_popen,
        ("subprocess.Popen", "copyreg._reconstructor"),
    ),
    Case("functools_reduce_exec", rp.functools_reduce_exec, ("builtins.exec",)),
    Case("list_map_os_system_reduce", rp.list_map_os_system, ("os.system",)),
    Case("sorted_filter_os_system", rp.sorted_filter_os_system, ("os.system",)),
    Case("dict_fromkeys_map", rp.dict_fromkeys_map, ("os.system",)),
    Case("itertools_starmap_list", rp.itertools_starmap, ("os.system",)),
    Case("deque_consumes_map", rp.deque_consume, ("os.system",)),
    Case("any_consumes_map", rp.any_map, ("os.system",)),
    Case("operator_call", rp.operator_call, ("os.system",)),
    Case("underscore_operator_call", rp.underscore_operator_call, ("os.system",)),
    Case("methodtype_bound_command", rp.methodtype_bound, ("os.system", "types.MethodType")),
    Case(
        "defaultdict_factory_getitem",
        rp.defaultdict_factory,
        ("os.system",),
    ),
    Case(
        "defaultdict_dunder_getitem_dotted",
        rp.defaultdict_getitem_dotted,
        ("os.system",),
    ),
    Case(
        "exitstack_callback_close",
        rp.exitstack_callback,
        ("os.system",),
    ),
    Case("atexit_register_deferred", rp.atexit_register, ("os.system",)),
    Case("weakref_finalize_deferred", rp.weakref_finalize, ("os.system",)),
    Case("threading_thread_start", rp.threading_thread_start, ("os.system", "threading.Thread.start")),
    Case(
        "multiprocessing_run_finalizers",
        rp.multiprocessing_finalizers,
        ("os.system", "multiprocessing.util._run_finalizers"),
    ),
    # process spawning gadgets
    Case("uuid_get_command_stdout", rp.uuid_get_command_stdout, ("uuid._get_command_stdout",)),
    Case("os_posix_spawnp", rp.os_posix_spawnp, ("os.posix_spawnp",)),
    Case("os_spawnlp", rp.os_spawnlp, ("os.spawnlp",)),
    Case("distutils_spawn", rp.distutils_spawn, ("distutils.spawn.spawn",)),
    # nested loaders
    Case(
        "numpy_lib_format_read_array",
        rp.numpy_read_array_bytesio,
        ("os.system",),
        needs="numpy",
    ),
    Case("numpy_load_bytesio_positional", rp.numpy_load_bytesio, ("os.system",), needs="numpy"),
    Case(
        "torch_serialization_load_pickle_module",
        rp.torch_serialization_load_pickle_module,
        ("os.system",),
        needs="torch",
    ),
    Case("pandas_read_pickle", rp.pandas_read_pickle, ("os.system",), needs="pandas"),
    Case(
        "pandas_io_pickle_read_pickle",
        rp.pandas_io_pickle_read_pickle,
        ("os.system",),
        needs="pandas",
    ),
    Case(
        "pickle_unpickler_load_nested",
        rp.pickle_unpickler_load,
        ("os.system",),
    ),
    Case(
        "shelve_open",
        rp.shelve_open,
        (),
        floor="suspicious",
        loader="none",
        no_proof="dbm picks the file suffix, so the marker name is not predictable",
    ),
    # file writes
    Case("shutil_copyfile", rp.shutil_copyfile, ("shutil.copyfile",), behaviour=("writes",)),
    Case("builtins_open_write", rp.builtins_open_write, ("builtins.open",), behaviour=("writes",)),
    Case("io_open_mode_w", rp.io_open_write, ("_io.open",), behaviour=("writes",)),
    Case("pathlib_path_write_text", rp.pathlib_write_text, ("pathlib.Path.write_text",), behaviour=("writes",)),
    Case("tempfile_then_os_rename", rp.tempfile_os_rename, ("os.rename",), behaviour=("writes",)),
    Case(
        "urlretrieve_file_url_writes",
        rp.urlretrieve_file_url,
        ("urllib.request.urlretrieve",),
        behaviour=("writes",),
    ),
    # code loaded from disk
    Case(
        "zipimporter_load_module",
        rp.zipimporter_load_module,
        ("zipimport.zipimporter.load_module", "zipimport.zipimporter"),
    ),
    Case(
        "source_file_loader_load_module",
        rp.source_file_loader,
        ("importlib.machinery.SourceFileLoader.load_module",),
    ),
    Case("runpy_run_path", rp.runpy_run_path, ("runpy.run_path",)),
    Case("jinja2_template_render", rp.jinja2_template_render, ("jinja2.Template.render",), needs="jinja2"),
    Case(
        "logging_config_listen",
        rp.logging_config_listen,
        ("logging.config.listen",),
        loader="none",
        no_proof="a listening config server cannot be proven harmlessly",
    ),
    # native code
    Case(
        "numpy_ctypeslib_load_library",
        rp.numpy_ctypeslib_load_library,
        ("numpy.ctypeslib.load_library",),
        loader="none",
        no_proof=NATIVE,
    ),
    Case(
        "torch_ops_load_library",
        rp.torch_ops_load_library,
        ("torch.ops.load_library",),
        loader="none",
        no_proof=NATIVE,
    ),
    Case(
        "torch_classes_load_library",
        rp.torch_classes_load_library,
        ("torch.classes.load_library",),
        loader="none",
        no_proof=NATIVE,
    ),
    # network
    Case("torch_hub_load", rp.torch_hub_load, ("torch.hub.load",), loader="none", no_proof=NET),
    Case(
        "torch_hub_load_state_dict_from_url",
        rp.torch_hub_load_state_dict_from_url,
        ("torch.hub.load_state_dict_from_url",),
        loader="none",
        no_proof=NET,
    ),
    Case(
        "socket_create_connection",
        rp.socket_create_connection,
        ("socket.create_connection",),
        loader="none",
        no_proof=NET,
    ),
    Case(
        "http_client_request",
        rp.http_client_connection,
        ("http.client.HTTPConnection.request", "http.client.HTTPConnection"),
        loader="none",
        no_proof=NET,
        behaviour=("203.0.113.7",),
    ),
    Case(
        "urlretrieve_then_run_path",
        rp.urlretrieve_then_exec,
        ("runpy.run_path",),
        loader="none",
        no_proof=NET,
        behaviour=("pastebin.com",),
    ),
    # obfuscated names
    Case("obf_str_join_bound", rp.obf_str_join, ("os.system",)),
    Case("obf_str_join_dotted", rp.obf_str_join_unbound, ("os.system",)),
    Case("obf_str_swapcase_dotted", rp.obf_str_swapcase_unbound, ("os.system",)),
    Case("obf_bytes_decode", rp.obf_bytes_decode, ("os.system",)),
    Case("obf_codecs_rot13", rp.obf_codecs_rot13, ("os.system",)),
    Case("obf_operator_add", rp.obf_operator_add, ("os.system",)),
    Case("obf_stack_global_rot13_operands", rp.obf_stack_global_decoded, ("os.system",)),
    Case(
        "obf_reversed_join",
        rp.obf_reversed,
        ("os.system",),
    ),
    Case(
        "obf_getitem_slice",
        rp.obf_getitem_slice,
        ("os.system",),
    ),
    Case(
        "obf_str_format",
        rp.obf_format,
        ("os.system",),
    ),
    # opcode-level
    Case("proto5_next_buffer_after_payload", rp.proto5_next_buffer_after_payload, ("os.system",)),
    Case("proto5_bytearray8_before_payload", rp.proto5_readonly_buffer_arg, ("os.system",)),
    Case("inst_argument_from_memo", rp.inst_args_from_memo, ("os.system",)),
    Case("inst_subprocess_check_call_list", rp.inst_callable_module_dotted, ("subprocess.check_call",)),
    Case("obj_with_computed_class", rp.inst_class_from_obj, ("os.system",)),
    Case(
        "ext_registry_setitem_opcode",
        rp.ext_registry_setitem_opcode,
        ("os.system",),
    ),
    Case(
        "ext_registry_dunder_setitem",
        rp.ext_registry_dunder_setitem,
        ("os.system",),
    ),
    Case("memo_reduce_result_reused", rp.memo_reduce_result_reused, ("os.system",)),
    Case("payload_in_dict_key", rp.payload_in_dict_key, ("os.system",)),
    Case("payload_in_set_additems", rp.payload_in_set_member, ("os.system",)),
    Case("payload_in_frozenset", rp.payload_in_frozenset, ("os.system",)),
    Case(
        "hash_slot_monkeypatch_dict_insert",
        rp.hash_hook_monkeypatch,
        ("subprocess.getoutput",),
    ),
    # monkey patches whose effect comes after loading
    Case(
        "builtins_dict_setitem_patch",
        rp.builtins_dict_setitem_patch,
        (),
        rule="PKL014",
        floor="suspicious",
        loader="none",
        no_proof="the effect is deferred: `print` becomes os.system for the rest of the victim process",
    ),
    Case(
        "sys_modules_setitem_hijack",
        rp.sys_modules_setitem_hijack,
        (),
        rule="PKL014",
        floor="suspicious",
        loader="none",
        no_proof="the effect is deferred: a later `import json` in the victim returns os",
    ),
    # second wave: string resolvers, call-forwarding methods, odd consumers, write primitives
    Case("partial_rebuilt_by_build", rp.partial_build_setstate, ("os.system",)),
    Case("staticmethod_object_called", rp.staticmethod_callable, ("os.system",)),
    Case("functools_cache_wrapper_called", rp.functools_cache_wrapper, ("os.system",)),
    Case("type_created_str_subclass_del", rp.type_created_class_del, ("subprocess.getoutput",)),
    Case(
        "logging_dictconfig_factory_string", rp.logging_dictconfig_factory, ("os.system", "logging.config.dictConfig")
    ),
    Case("pydoc_locate", rp.pydoc_locate, ("os.system",)),
    Case("logging_config_resolve", rp.logging_config_resolve, ("os.system", "logging.config._resolve")),
    Case("torch_utils_import_dotted_name", rp.torch_import_dotted_name, ("os.system",), needs="torch"),
    Case("ctypes_pythonapi_pyrun_simplestring", rp.ctypes_pyrun_simplestring, ("ctypes.pythonapi.PyRun_SimpleString",)),
    Case("cprofile_profile_runcall", rp.cprofile_runcall, ("os.system", "cProfile.Profile.runcall")),
    Case("trace_trace_runfunc", rp.trace_runfunc, ("os.system", "trace.Trace.runfunc")),
    Case("bdb_bdb_runcall", rp.bdb_runcall, ("os.system", "bdb.Bdb.runcall")),
    Case("threadpool_submit", rp.threadpool_submit, ("os.system", "concurrent.futures.ThreadPoolExecutor.submit")),
    Case("sched_enter_run", rp.sched_enter_run, ("os.system", "sched.scheduler.run", "sched.scheduler.enter")),
    Case("bytes_consumes_map", rp.bytes_consumes_map, ("os.system",)),
    Case("heapq_nsmallest_key_function", rp.heapq_nsmallest_key, ("os.system",)),
    Case("itertools_groupby_key_function", rp.groupby_key_list, ("os.system",)),
    Case("vars_module_itemgetter", rp.vars_itemgetter, ("os.system",)),
    Case("numpy_npyio_impl_load", rp.npyio_impl_load, ("os.system",), needs="numpy"),
    Case("joblib_load_bytesio", rp.joblib_load_bytesio, ("os.system",), needs="joblib"),
    Case("underscore_pickle_unpickler", rp.underscore_pickle_unpickler, ("os.system",)),
    Case("pickle_pure_python_loads", rp.pickle_pure_loads, ("os.system",)),
    Case("os_symlink", rp.os_symlink, ("os.symlink",), behaviour=("writes",)),
    Case("os_replace", rp.os_replace, ("os.replace",), behaviour=("writes",)),
    Case("zipfile_extractall", rp.zipfile_extractall, ("zipfile.ZipFile.extractall",), behaviour=("writes",)),
    Case("shutil_unpack_archive", rp.shutil_unpack_archive, ("shutil.unpack_archive",), behaviour=("writes",)),
    Case("sqlite3_connect_creates_file", rp.sqlite3_connect, ("sqlite3.connect",), behaviour=("writes",)),
    Case("logging_filehandler_creates_file", rp.logging_filehandler, ("logging.FileHandler",), behaviour=("writes",)),
    Case("site_addsitedir_runs_pth", rp.site_addsitedir, ("site.addsitedir",)),
    Case(
        "os_environ_setitem_ld_preload",
        rp.environ_setitem,
        (),
        rule="PKL014",
        floor="suspicious",
        loader="none",
        no_proof="the effect is deferred: LD_PRELOAD applies to child processes the victim starts later",
    ),
    Case(
        "sys_path_append_opcode",
        rp.sys_path_append,
        (),
        rule="PKL014",
        floor="suspicious",
        loader="none",
        no_proof="the effect is deferred: later imports may resolve to files in the appended folder",
    ),
    # third wave: opcodes that call methods of the object itself; callables fetched back out of containers
    Case("namespace_setstate_then_second_build", rp.namespace_setstate_second_build, ("os.system",)),
    Case("namespace_append_attribute_hook", rp.namespace_append_hook, ("os.system",)),
    Case("namespace_extend_attribute_hook", rp.namespace_extend_hook, ("subprocess.check_call",)),
    Case("namespace_add_attribute_hook", rp.namespace_additems_hook, ("os.system",)),
    Case("max_of_single_callable", rp.max_of_one_callable, ("os.system",)),
    Case("next_iter_over_callable", rp.next_iter_callable, ("os.system",)),
    Case("list_pop_returns_callable", rp.list_pop_callable, ("os.system",)),
    Case("dict_get_returns_callable", rp.dict_get_callable, ("os.system",)),
    Case("map_operator_call_pairs", rp.map_operator_call, ("os.system",)),
    Case("dict_of_zip_consumes_map", rp.dict_zip_map, ("os.system",)),
    # protocol-dependent dotted names that a real loader does walk
    Case("proto_switch_mid_stream_enables_dots", rp.proto_switch_mid_stream, ("os.system",)),
    Case("proto4_text_global_dotted", rp.proto4_text_global_dotted, ("os.system",)),
)

# Known gaps, keyed by case name: strict xfail with this reason. Remove an entry when its fix lands.
GAPS: dict[str, str] = {}

# Streams a real loader refuses (or that only set data): modelsieve must not call them MALICIOUS for sure.
REFUSED: tuple[Case, ...] = (
    Case("global_crlf_line_ends", rp.global_crlf, ()),
    Case("global_trailing_space", rp.global_trailing_space, ()),
    Case("global_cyrillic_homoglyph", rp.global_homoglyph, ()),
    Case("simplenamespace_state_names_os_system", rp.build_setstate_simplenamespace, ()),
    Case("dotted_global_in_proto2_stream", rp.dotted_global_proto2, ()),
    Case("dotted_stack_global_in_proto2_stream", rp.dotted_stack_global_proto2, ()),
    Case("dotted_global_in_proto0_stream", rp.dotted_global_no_proto, ()),
)

VERDICT = {"malicious": Verdict.MALICIOUS, "suspicious": Verdict.SUSPICIOUS}


def _param(case: Case) -> object:
    gap = GAPS.get(case.name)
    marks = [pytest.mark.xfail(strict=True, reason=gap)] if gap else []
    return pytest.param(case, id=case.name, marks=marks)


def _write(case: Case, tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "MARKER"
    path = tmp_path / f"{case.name}.bin"
    path.write_bytes(case.builder(str(marker), tmp_path))
    return path, marker


def _skip_unless_available(case: Case) -> None:
    if case.needs and importlib.util.find_spec(case.needs) is None:
        pytest.skip(f"{case.needs} is not installed")


@pytest.mark.parametrize("case", [c for c in CASES if c.loader == "pickle"], ids=lambda c: c.name)
def test_real_loader_runs_it(case: Case, tmp_path: Path) -> None:
    _skip_unless_available(case)
    path, marker = _write(case, tmp_path)
    ran, output = runs_in_subprocess(pickle_loader_code(path), marker, tmp_path)
    assert ran, f"{case.name}: pickle.loads did not run the payload\n{output}"


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_modelsieve_reports_it(case: Case, tmp_path: Path) -> None:
    path, marker = _write(case, tmp_path)
    result = scan_one(path)
    dump = describe(result)
    assert not marker.exists(), "scanning ran the payload"
    assert result.verdict >= VERDICT[case.floor], f"{case.name}: expected at least {case.floor}\n{dump}"
    assert findings(result, case.rule, case.subjects), f"{case.name}: no {case.rule} on {case.subjects}\n{dump}"
    if case.behaviour:
        words = [w.lower() for w in case.behaviour]
        texts = [b.description.lower() for b in result.behaviours]
        assert any(all(w in t for w in words) for t in texts), f"{case.name}: no behaviour with {words}\n{dump}"


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.name)
def test_real_loader_refuses_it(case: Case, tmp_path: Path) -> None:
    path, marker = _write(case, tmp_path)
    ran, output = runs_in_subprocess(pickle_loader_code(path), marker, tmp_path)
    assert not ran, f"{case.name}: the loader ran it, it belongs in CASES\n{output}"


@pytest.mark.parametrize("case", [_param(c) for c in REFUSED])
def test_refused_streams_are_not_called_malicious(case: Case, tmp_path: Path) -> None:
    path, _marker = _write(case, tmp_path)
    result = scan_one(path)
    sure = [f for f in findings(result, "PKL001") if f.confidence is Confidence.HIGH]
    assert not sure, describe(result)
    assert result.verdict is not Verdict.MALICIOUS, describe(result)
