"""Normalising other scanners' answers, on output recorded from picklescan 1.0.5, modelscan 0.8.8,
fickling 0.1.12 and modelaudit 0.2.54 (paths shortened)."""

from __future__ import annotations

import json

from modelsieve.compare.peers import (
    DANGEROUS,
    ERROR,
    SAFE,
    parse_fickling,
    parse_modelaudit,
    parse_modelscan,
    parse_picklescan,
)

PICKLESCAN_INFECTED = """/tmp/p/evil.pkl: dangerous import 'posix system' FOUND
----------- SCAN SUMMARY -----------
Scanned files: 1
Infected files: 1
Suspicious globals: 0
Dangerous globals: 1
"""
PICKLESCAN_CLEAN = """----------- SCAN SUMMARY -----------
Scanned files: 1
Infected files: 0
Suspicious globals: 0
Dangerous globals: 0
"""
PICKLESCAN_ERROR = """Unhandled exception
Traceback (most recent call last):
  File "picklescan/cli.py", line 102, in main
FileNotFoundError: Path /nonexistent does not exist
"""
PICKLESCAN_NOTHING = PICKLESCAN_CLEAN.replace("Scanned files: 1", "Scanned files: 0")

MODELSCAN_ISSUE = json.dumps(
    {
        "summary": {
            "total_issues_by_severity": {"LOW": 0, "MEDIUM": 0, "HIGH": 0, "CRITICAL": 1},
            "total_issues": 1,
            "input_path": "evil.pkl",
            "absolute_path": "/tmp/p",
            "modelscan_version": "0.8.8",
            "timestamp": "2026-11-22T00:44:48.052122",
            "scanned": {"total_scanned": 1, "scanned_files": ["evil.pkl"]},
        },
        "issues": [
            {
                "description": "Use of unsafe operator 'system' from module 'posix'",
                "operator": "system",
                "module": "posix",
                "source": "evil.pkl",
                "scanner": "modelscan.scanners.PickleUnsafeOpScan",
                "severity": "CRITICAL",
            }
        ],
        "errors": [],
    }
)
MODELSCAN_CLEAN = json.dumps(
    {
        "summary": {"total_issues": 0, "scanned": {"total_scanned": 1, "scanned_files": ["good.pt:good/data.pkl"]}},
        "issues": [],
        "errors": [],
    }
)
MODELSCAN_NOTHING = json.dumps(
    {"summary": {"total_issues": 0, "scanned": {"total_scanned": 0}}, "issues": [], "errors": []}
)

FICKLING_MALICIOUS = json.dumps(
    {
        "severity": "LIKELY_OVERTLY_MALICIOUS",
        "analysis": "`from posix import system` is suspicious and indicative of an overtly malicious pickle file\n"
        "Variable `_var0` is assigned value `system('echo hi')` but unused afterward",
        "detailed_results": {"AnalysisResult": {"UnsafeImports": "from posix import system"}},
    }
)
FICKLING_SAFE = json.dumps(
    {
        "severity": "LIKELY_SAFE",
        "analysis": "Warning: Fickling failed to detect any overtly unsafe code",
        "detailed_results": {},
    }
)
FICKLING_PARSE_ERROR = """Fickling failed to parse this pickle file. Error: No pickle files detected
Parsing errors might be indicative of a maliciously crafted pickle file. DO NOT TRUST this file without \
performing further analysis!
"""

MODELAUDIT_CRITICAL = json.dumps(
    {
        "bytes_scanned": 45,
        "issues": [
            {
                "message": "Found REDUCE opcode invoking dangerous global: posix.system",
                "severity": "critical",
                "location": "/tmp/p/evil.pkl (pos 42)",
                "details": {"module": "posix", "name": "system", "pickle_rule_code": "DANGEROUS_CALL"},
                "type": "pickle_check",
                "rule_code": "S201",
            }
        ],
        "files_scanned": 1,
        "has_errors": False,
        "scanner_names": ["pickle"],
        "success": True,
    }
)
MODELAUDIT_INFO_ONLY = json.dumps(
    {
        "bytes_scanned": 8,
        "issues": [{"message": "Suspiciously small binary file: 8 bytes", "severity": "info", "rule_code": "S902"}],
        "files_scanned": 1,
        "has_errors": False,
        "success": True,
    }
)
MODELAUDIT_ERRORS = json.dumps({"issues": [], "files_scanned": 1, "has_errors": True, "success": False})


def test_picklescan() -> None:
    infected = parse_picklescan(PICKLESCAN_INFECTED, "", 1)
    assert infected.label == DANGEROUS and "dangerous posix system" in infected.detail
    assert parse_picklescan(PICKLESCAN_CLEAN, "", 0).label == SAFE
    assert parse_picklescan("", PICKLESCAN_ERROR, 2).label == ERROR
    assert parse_picklescan(PICKLESCAN_NOTHING, "", 0).label == ERROR
    assert parse_picklescan("", "", None).detail == "timed out"


def test_modelscan() -> None:
    issue = parse_modelscan(MODELSCAN_ISSUE, "", 1)
    assert issue.label == DANGEROUS and issue.detail == "posix.system (CRITICAL)"
    assert parse_modelscan(MODELSCAN_CLEAN, "", 0).label == SAFE
    assert parse_modelscan(MODELSCAN_NOTHING, "", 3).label == ERROR
    assert parse_modelscan(None, "Usage: modelscan ...", 4).label == ERROR


def test_fickling() -> None:
    bad = parse_fickling(FICKLING_MALICIOUS, "", 1)
    assert bad.label == DANGEROUS and bad.detail.startswith("LIKELY_OVERTLY_MALICIOUS")
    assert parse_fickling(FICKLING_SAFE, "", 0).label == SAFE
    error = parse_fickling(None, FICKLING_PARSE_ERROR, 2)
    assert error.label == ERROR and "failed to parse" in error.detail


def test_modelaudit() -> None:
    critical = parse_modelaudit(MODELAUDIT_CRITICAL, "", 1)
    assert critical.label == DANGEROUS and "posix.system" in critical.detail
    assert parse_modelaudit(MODELAUDIT_INFO_ONLY, "", 0).label == SAFE
    assert parse_modelaudit(MODELAUDIT_ERRORS, "", 2).label == ERROR
    assert parse_modelaudit("not json", "Error: boom", 2).label == ERROR
