"""Is this the start of a pickle? Decided by running the first opcodes, not by a magic byte alone."""

from __future__ import annotations

import io

from modelsieve.limits import Limits
from modelsieve.pickle.reader import Reader
from modelsieve.pickle.values import Const, LargeBytes, Site, Unknown, Value
from modelsieve.pickle.vm import OPCODES, LimitError, Machine, ParseError

_MIN_OPCODES = 4
_PROTO_HEAD = 64
_TEXT_HEAD = 1024
_LIMITS = Limits(max_opcodes=10_000, max_stack_depth=10_000, max_memo_entries=10_000, max_value_nodes=100_000)


class _NullHost:
    """A host that resolves nothing: sniffing must stay cheap and side-effect free."""

    def find_class(self, module: str, name: str, site: Site, proto: int | None = None) -> Value:
        if (
            not module.replace(".", "").replace("_", "").isalnum()
            or not name.replace(".", "").replace("_", "").isalnum()
        ):
            raise ParseError(site.offset, "not a global name")
        return Unknown("global")

    def call(
        self, func: Value, args: tuple[Value, ...], kwargs: tuple[tuple[str, Value], ...], site: Site, how: str
    ) -> Value:
        return Unknown("call")

    def build(self, obj: Value, state: Value, site: Site) -> None:
        return None

    def extension(self, code: int, site: Site, proto: int | None = None) -> Value:
        return Unknown("ext")

    def persistent(self, pid: Value, site: Site) -> Value:
        return Unknown("persistent")

    def mutate(self, obj: Value, method: str, args: tuple[Value, ...], site: Site) -> None:
        return None

    def string(self, value: Const | LargeBytes, site: Site) -> None:
        return None

    def anomaly(self, rule_id: str, site: Site, message: str, subject: str, evidence: str = "") -> None:
        return None

    def after_build(self, obj: Value, machine: Machine, site: Site) -> Value | None:
        return None


def looks_like_pickle(head: bytes) -> bool:
    """True when ``head`` starts a pickle: protocol 2-5 header, or protocol 0/1 opcodes that parse.

    The first opcodes are interpreted; text, JSON and random bytes fail within a few
    bytes (unknown opcode, unquoted STRING, MARK-less TUPLE, non-identifier GLOBAL ...).
    Running out of ``head`` after several valid opcodes counts as a pickle.
    """
    if len(head) < 2 or head[0] not in OPCODES:
        return False
    if head[0] == 0x80 and head[1] not in (0, 1, 2, 3, 4, 5):
        return False
    # The verdict comes from the first few opcodes; interpreting all of a small file's head would
    # make every raw pickle cost two full runs of the machine.
    head = head[: _PROTO_HEAD if head[0] == 0x80 else _TEXT_HEAD]
    machine = Machine(Reader(io.BytesIO(head), 0, len(head)), _NullHost(), _LIMITS)
    try:
        machine.run()
    except ParseError as exc:
        if "truncated" in exc.message:
            # The head ended inside the stream: enough when it started well.
            return machine.index >= (1 if head[0] == 0x80 else _MIN_OPCODES - 1)
        # Invalid later on (nullifAI-style breaks): still a pickle if it started with valid opcodes.
        return machine.index >= _MIN_OPCODES + (0 if head[0] == 0x80 else 2)
    except (LimitError, RecursionError, MemoryError):
        return machine.index >= _MIN_OPCODES
    return head[0] == 0x80 or machine.index >= 1
