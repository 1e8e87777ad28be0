"""Rules of the containers area. Ids are permanent; add new ones, never renumber."""

from __future__ import annotations

from modelsieve.model import Confidence, Effect, Severity
from modelsieve.rules.base import Rule

_AREA = "containers"

ZIP_CRC_MISMATCH = Rule(
    id="ZIP001",
    title="Zip member CRC does not match its content",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.SUSPICIOUS,
    cwe=354,
    description=(
        "The CRC-32 stored for a member disagrees with its bytes. PyTorch's zip reader does not check CRCs, so the "
        "model still loads, while scanners built on Python's zipfile stop with an error and skip the member "
        "(CVE-2025-10156). modelsieve analyses the content anyway."
    ),
    remediation="Obtain the file again from its source; a deliberately wrong CRC is a sign of scanner evasion.",
    references=("https://nvd.nist.gov/vuln/detail/CVE-2025-10156",),
    area=_AREA,
)

ZIP_FLAG_BITS = Rule(
    id="ZIP002",
    title="Zip member has unusual general-purpose flag bits",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    effect=Effect.SUSPICIOUS,
    cwe=20,
    description=(
        "A local or central header sets flag bits that normal writers never set (encryption, patched data, strong "
        "encryption, reserved bits) or the two headers disagree. Loaders ignore most of them while scanners may "
        "refuse the member (CVE-2025-1945)."
    ),
    remediation="Re-create the archive with a standard writer; treat the file as tampered with until explained.",
    references=("https://nvd.nist.gov/vuln/detail/CVE-2025-1945",),
    area=_AREA,
)

ZIP_NAME_MISMATCH = Rule(
    id="ZIP003",
    title="Zip member name differs between local and central header",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.SUSPICIOUS,
    cwe=436,
    description=(
        "The file name in a member's local header is not the name in the central directory. PyTorch looks members "
        "up by the central name; tools that walk local headers see another name (CVE-2025-1944)."
    ),
    remediation="Treat as tampered with; no standard writer produces this.",
    references=("https://nvd.nist.gov/vuln/detail/CVE-2025-1944",),
    area=_AREA,
)

ZIP_DUPLICATE_NAME = Rule(
    id="ZIP004",
    title="Several zip members share one name",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.SUSPICIOUS,
    cwe=436,
    description=(
        "Two or more central-directory entries have the same name (or names equal ignoring case, which is how "
        "PyTorch's reader compares them). Different readers pick different copies; every copy is analysed."
    ),
    remediation="Treat as tampered with; no standard writer produces duplicate members.",
    area=_AREA,
)

ZIP_ODD_MEMBER = Rule(
    id="ZIP005",
    title="Pickle or odd name hidden in a model archive",
    severity=Severity.LOW,
    confidence=Confidence.MEDIUM,
    effect=Effect.SUSPICIOUS,
    cwe=434,
    description=(
        "A member outside the standard layout holds a pickle under a non-pickle name, or its name contains control "
        "characters or backslashes. Scanners that choose members by extension miss it (CVE-2025-1889); it is "
        "analysed by content."
    ),
    remediation="Check why the archive carries this member; remove it if it is not part of the model.",
    references=("https://nvd.nist.gov/vuln/detail/CVE-2025-1889",),
    area=_AREA,
)

ZIP_ENCRYPTED = Rule(
    id="ZIP006",
    title="Encrypted zip member not analysed",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.INCONCLUSIVE,
    cwe=311,
    description="The member is encrypted, so its content cannot be analysed.",
    remediation="Obtain an unencrypted copy and scan it before loading.",
    area=_AREA,
)

ZIP_UNSUPPORTED_METHOD = Rule(
    id="ZIP007",
    title="Zip member uses a compression method that cannot be analysed",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.INCONCLUSIVE,
    cwe=20,
    description="The member is compressed with a method modelsieve does not decode, so its content was not analysed.",
    remediation="Re-pack the archive with stored or deflate members and scan again.",
    area=_AREA,
)

ARCHIVE_TRAVERSAL = Rule(
    id="ARC001",
    title="Archive member path escapes the extraction folder",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    effect=Effect.SUSPICIOUS,
    cwe=22,
    description=(
        "A member name is absolute, has a drive letter or contains '..' segments; extracting the archive writes "
        "outside the target folder (zip-slip / tar-slip, CVE-2024-5187 family)."
    ),
    remediation="Do not extract the archive with tools that follow member paths; obtain a clean copy.",
    references=("https://nvd.nist.gov/vuln/detail/CVE-2024-5187",),
    area=_AREA,
)

ARCHIVE_LINK_ESCAPE = Rule(
    id="ARC002",
    title="Archive link points outside the extraction folder",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    effect=Effect.SUSPICIOUS,
    cwe=59,
    description=(
        "A symbolic or hard link member targets an absolute path or climbs out with '..'; extraction then reads or "
        "overwrites files elsewhere on the machine."
    ),
    remediation="Do not extract the archive; obtain a copy without links.",
    area=_AREA,
)

ARCHIVE_BOMB = Rule(
    id="ARC003",
    title="Archive expands beyond the limits (archive bomb)",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    effect=Effect.INCONCLUSIVE,
    cwe=409,
    description=(
        "The archive or compressed stream declares or produces too many members, too many expanded bytes, an "
        "extreme compression ratio or overlapping members. Expansion was stopped; the rest was not analysed."
    ),
    remediation="Do not extract the archive; if the size is expected, raise the limits explicitly and re-scan.",
    area=_AREA,
)

TORCHSCRIPT_CODE = Rule(
    id="TOR001",
    title="TorchScript code present",
    severity=Severity.INFO,
    confidence=Confidence.HIGH,
    effect=Effect.NONE,
    cwe=94,
    description=(
        "The archive is a TorchScript module: `code/` holds TorchScript sources that torch.jit.load compiles, and "
        "`__setstate__` methods in them run during loading. torch.load dispatches such archives to torch.jit.load "
        "(the weights_only bypass of CVE-2025-32434 in torch < 2.6)."
    ),
    remediation="Load TorchScript only from trusted sources; prefer safetensors for weights.",
    references=("https://nvd.nist.gov/vuln/detail/CVE-2025-32434",),
    area=_AREA,
)

TORCH_LAYOUT = Rule(
    id="TOR002",
    title="PyTorch archive layout anomaly",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    effect=Effect.SUSPICIOUS,
    cwe=436,
    description=(
        "The archive does not have the layout torch.save writes: members outside the top folder, several data.pkl, "
        "or a top folder renamed after saving. PyTorch reads the data.pkl under the first member's folder; "
        "scanners that look for `archive/data.pkl` miss it."
    ),
    remediation="Re-save the model with torch.save from trusted code; treat the odd members as hostile.",
    area=_AREA,
)

TORCHSCRIPT_OPS = Rule(
    id="TOR003",
    title="TorchScript code calls custom or file operators",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    effect=Effect.SUSPICIOUS,
    cwe=94,
    description=(
        "TorchScript code in the archive calls operators outside the standard ATen set (custom `torch.ops` "
        "namespaces that need a native library, file or process operators), possibly from `__setstate__`, "
        "which runs while loading."
    ),
    remediation="Review the code in the archive's `code/` folder before loading it.",
    area=_AREA,
)

NUMPY_OBJECT_ARRAY = Rule(
    id="NPY001",
    title="NumPy object array: loading unpickles its content",
    severity=Severity.INFO,
    confidence=Confidence.HIGH,
    effect=Effect.NONE,
    cwe=502,
    description=(
        "The .npy data is a pickle because the dtype holds Python objects; np.load(allow_pickle=True) runs it. "
        "The inner pickle is analysed; when it holds only plain data this is informational."
    ),
    remediation="Store plain numeric arrays, or load with allow_pickle=False.",
    area=_AREA,
)

RULES: tuple[Rule, ...] = (
    ZIP_CRC_MISMATCH,
    ZIP_FLAG_BITS,
    ZIP_NAME_MISMATCH,
    ZIP_DUPLICATE_NAME,
    ZIP_ODD_MEMBER,
    ZIP_ENCRYPTED,
    ZIP_UNSUPPORTED_METHOD,
    ARCHIVE_TRAVERSAL,
    ARCHIVE_LINK_ESCAPE,
    ARCHIVE_BOMB,
    TORCHSCRIPT_CODE,
    TORCH_LAYOUT,
    TORCHSCRIPT_OPS,
    NUMPY_OBJECT_ARRAY,
)
