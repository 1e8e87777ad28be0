"""Bounds on every resource an analysis may use; one immutable value per scan."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Resource bounds. Exceeding one yields a GEN002 finding, never a crash."""

    max_opcodes: int = 5_000_000
    max_stack_depth: int = 100_000
    max_memo_entries: int = 1_000_000
    max_value_nodes: int = 2_000_000
    max_nesting_depth: int = 8
    max_pickle_bytes: int = 2 * 1024**3
    max_archive_members: int = 20_000
    max_archive_expanded_bytes: int = 8 * 1024**3
    max_compression_ratio: int = 200
    max_member_in_memory: int = 64 * 1024**2
    max_text_scan_bytes: int = 4 * 1024**2
    max_header_bytes: int = 100 * 1024**2
    max_seconds_per_file: float = 120.0
