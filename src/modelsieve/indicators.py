"""Shared helpers that find network addresses, command lines, encoded code and executables.

Used by every analyser (pickle constants, configs, templates, archive names).
Pure functions over text and bytes; nothing here decides a verdict, and nothing
here runs, unpickles or unmarshals what it finds.
"""

from __future__ import annotations

import ast
import binascii
import functools
import ipaddress
import re
import struct
import zlib
from dataclasses import dataclass
from urllib.parse import urlsplit

from modelsieve.model import Finding, Indicator, IndicatorKind, Location
from modelsieve.rules import indicators_rules as rules

_URL_RE = re.compile(r"""\b((?:https?|ftp|wss?|tcp|udp)://[^\s'"<>`\\)\]}]{3,2048})""", re.IGNORECASE)
_IP_PORT_RE = re.compile(r"(?<![\w.])((?:\d{1,3}\.){3}\d{1,3})(?::(\d{1,5}))?(?![\w.])")
# Bare domains only with TLDs that do not collide with file extensions or method names (`x.to`, `run.sh`).
_TLDS = (
    "com|net|org|io|ai|co|app|dev|xyz|ru|cn|top|info|biz|me|cc|tk|pw|su|onion|site|online|live|club|"
    "us|uk|de|fr|jp|tv|gg|ly|ws|su|icu|shop|cloud|link|click|space|fun|lol"
)
_DOMAIN = rf"((?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+(?:{_TLDS}))"
# First labels that are Python names, so `logger.info` or `self.app` is not a domain.
_CODE_LABELS = frozenset(
    {"self", "cls", "os", "sys", "np", "torch", "logging", "logger", "log", "tf", "jnp", "config", "args", "kwargs"}
)
_COMMAND = r"""(?ix)
    (?:\b(?:curl|wget)\b[^|;\n]{0,300}\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b)
    |(?:\bwget\b\s+(?:-\S+\s+)*(?:https?|ftp)://\S+)
    |(?:\bcurl\b\s+(?:-\S+\s+)*(?:https?|ftp)://\S+)
    |(?:\bpowershell(?:\.exe)?\b[^\n]{0,200}\s-(?:e|ec|enc|encodedcommand|w\s+hidden|windowstyle)\b)
    |(?:\b(?:iex|invoke-expression)\b\s*\(?\s*\(?\s*new-object\s+net\.webclient)
    |(?:\binvoke-webrequest\b[^\n]{0,200}\|\s*iex\b)
    |(?:\b(?:ba|z|da)?sh\s+-c\s+\S)
    |(?:/bin/(?:ba)?sh\s+-i\b)
    |(?:\bnc(?:at)?\b\s+(?:-\w+\s+)*-[ec]\s)
    |(?:\bsocat\b[^\n]{0,100}\bexec:)
    |(?:\bmkfifo\b[^\n]{0,100}\bnc\b)
    |(?:/dev/(?:tcp|udp)/)
    |(?:\bchmod\s+(?:\+x|[0-7]?777)\b)
    |(?:\brm\s+-rf\s+(?:/|~|\$HOME)(?:\s|$|\*))
    |(?:\bcmd(?:\.exe)?\s+/[ck]\b)
    |(?:\bcertutil(?:\.exe)?\b[^\n]{0,100}-urlcache)
    |(?:\bbitsadmin(?:\.exe)?\b[^\n]{0,100}/transfer)
    |(?:\bmshta(?:\.exe)?\s+(?:https?|vbscript|javascript):)
    |(?:\bregsvr32(?:\.exe)?\b[^\n]{0,100}/i:https?)
    |(?:\brundll32(?:\.exe)?\s+\S+,\S+)
    |(?:\bbase64\s+(?:-d|--decode)\b[^\n]{0,100}\|\s*(?:ba|z)?sh\b)
    |(?:\bpython[0-9.]*\s+-c\s+['"][^'"]{0,200}(?:import|exec|socket|subprocess))
    |(?:\bperl\s+-e\s+['"][^'"]{0,200}socket)
    |(?:\bcrontab\s+-)
    """


# The two largest patterns are compiled on first use: most scanned strings never reach them (a
# candidate domain or a command trigger word comes first), and compiling them is slow.
@functools.cache
def _domain_re() -> re.Pattern[str]:
    return re.compile(_DOMAIN, re.IGNORECASE)


@functools.cache
def _command_re() -> re.Pattern[str]:
    return re.compile(_COMMAND)


_BASE64_RE = re.compile(r"(?<![A-Za-z0-9+/=_-])([A-Za-z0-9+/]{32,}={0,2}|[A-Za-z0-9_-]{32,}={0,2})(?![A-Za-z0-9+/=_-])")
_HEX_RE = re.compile(r"(?<![0-9A-Fa-f])((?:[0-9A-Fa-f]{2}){24,})(?![0-9A-Fa-f])")
_ESCAPED_HEX_RE = re.compile(r"((?:\\x[0-9A-Fa-f]{2}){16,})")
# Base64 (either alphabet) and hex tokens are runs of at least 32 characters of this class: text without
# such a run cannot hold either, and this search is far cheaper than the two lookbehind-led patterns.
_TOKEN_RUN_RE = re.compile(r"[A-Za-z0-9+/_-]{32}")

PASTE_SITES = frozenset(
    {
        "pastebin.com",
        "paste.ee",
        "hastebin.com",
        "ghostbin.com",
        "ghostbin.co",
        "rentry.co",
        "rentry.org",
        "controlc.com",
        "dpaste.org",
        "dpaste.com",
        "justpaste.it",
        "paste.rs",
        "pastes.io",
        "privatebin.net",
        "0bin.net",
        "gist.githubusercontent.com",
        "transfer.sh",
        "termbin.com",
        "ix.io",
        "sprunge.us",
        "pastie.org",
        "paste.centos.org",
        "pastebin.pl",
        "hst.sh",
        "paste.mozilla.org",
        "anonfiles.com",
        "file.io",
        "0x0.st",
        "temp.sh",
        "bashupload.com",
        "catbox.moe",
        "files.catbox.moe",
        "litter.catbox.moe",
    }
)
SHORTENERS = frozenset(
    {
        "bit.ly",
        "tinyurl.com",
        "t.co",
        "goo.gl",
        "is.gd",
        "cutt.ly",
        "rb.gy",
        "ow.ly",
        "shorturl.at",
        "v.gd",
        "t.ly",
        "tiny.cc",
        "buff.ly",
        "rebrand.ly",
        "bl.ink",
        "s.id",
        "shorturl.com",
        "lnkd.in",
        "adf.ly",
        "qrco.de",
        "tiny.one",
        "urlz.fr",
        "git.io",
    }
)
TUNNELS = (
    "ngrok.io",
    "ngrok-free.app",
    "ngrok.app",
    "ngrok.dev",
    "trycloudflare.com",
    "serveo.net",
    "serveousercontent.com",
    "localtunnel.me",
    "loca.lt",
    "localhost.run",
    "lhr.life",
    "pagekite.me",
    "telebit.cloud",
    "bore.pub",
    "tunnelmole.net",
    "portmap.io",
    "playit.gg",
    "pinggy.io",
    "pinggy.link",
    "devtunnels.ms",
    "burpcollaborator.net",
    "oastify.com",
    "interact.sh",
    "oast.fun",
    "oast.pro",
    "oast.live",
    "requestbin.net",
    "pipedream.net",
    "webhook.site",
    "beeceptor.com",
    "duckdns.org",
    "no-ip.org",
    "ddns.net",
    "hopto.org",
)
WEBHOOKS = (
    "discord.com/api/webhooks",
    "discordapp.com/api/webhooks",
    "canary.discord.com/api/webhooks",
    "hooks.slack.com",
    "api.telegram.org",
    "webhook.office.com",
    "outlook.office.com/webhook",
    "chat.googleapis.com/v1/spaces",
)


def _host_note(host: str, text: str = "") -> str | None:
    host = host.lower().rstrip(".")
    bare = host.removeprefix("www.")
    if host in PASTE_SITES or bare in PASTE_SITES:
        return "paste site"
    if host in SHORTENERS or bare in SHORTENERS:
        return "URL shortener"
    if any(host == t or host.endswith("." + t) for t in TUNNELS):
        return "tunnel or request catcher"
    lowered = text.lower()
    if lowered and any(w in lowered for w in WEBHOOKS):
        return "chat webhook"
    if host == "api.telegram.org":
        return "chat webhook"
    try:
        addr = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if addr.is_loopback or addr.is_unspecified:
        return None
    return "raw IP address"


def risk_note(url: str) -> str | None:
    """Why an address is risky (paste site, shortener, tunnel, webhook, raw IP), or None."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return "malformed URL"
    if not host:
        return None
    return _host_note(host, url)


def _urls(text: str, found: dict[Indicator, None]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    # Every URL the regex accepts holds "://": one C-speed substring test spares the regex pass on most text.
    if "://" not in text:
        return spans
    for m in _URL_RE.finditer(text):
        url = m.group(1).rstrip(".,;:'\"")
        found.setdefault(Indicator(IndicatorKind.URL, url, risk_note(url)), None)
        spans.append(m.span())
    return spans


def _inside(pos: int, spans: list[tuple[int, int]]) -> bool:
    return any(a <= pos < b for a, b in spans)


# Any dotted quad holds ".d.d.d" (one to three digits each): a pattern led by a literal dot, which the regex
# engine finds at C speed, whereas the full pattern (a lookbehind first) is tried at every character.
_DOTTED_TAIL_RE = re.compile(r"\.\d{1,3}\.\d{1,3}\.\d")


def _ips(text: str, spans: list[tuple[int, int]], found: dict[Indicator, None]) -> None:
    if _DOTTED_TAIL_RE.search(text) is None:
        return
    for m in _IP_PORT_RE.finditer(text):
        if _inside(m.start(), spans):
            continue
        ip, port = m.group(1), m.group(2)
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            continue
        # Version numbers like 1.2.3.4 are common; only an explicit port or a public address counts.
        if port is None and (addr.is_private or addr.is_loopback or addr.is_unspecified or addr.is_reserved):
            continue
        if port is None and all(int(o) < 10 for o in ip.split(".")):
            continue
        if port is not None and not 0 < int(port) < 65536:
            continue
        if addr.is_unspecified:
            continue
        value = f"{ip}:{port}" if port else ip
        found.setdefault(Indicator(IndicatorKind.IP, value, "raw IP address"), None)


_TLD_RE = re.compile(rf"\.(?:{_TLDS})(?![\w(-]|\.[a-z0-9])", re.IGNORECASE)
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")


def _domains(text: str, spans: list[tuple[int, int]], found: dict[Indicator, None]) -> None:
    # Search for the literal-led `.tld` and walk left: far faster than a full hostname regex on big text.
    for m in _TLD_RE.finditer(text):
        start = m.start()
        while start > 0 and m.start() - start < 253 and text[start - 1] in _HOST_CHARS:
            start -= 1
        if start > 0 and (text[start - 1] in "@/_" or text[start - 1].isalnum()):
            continue
        if _inside(start, spans):
            continue
        candidate = _domain_re().fullmatch(text, start, m.end())
        if candidate is None:
            continue
        domain = candidate.group(1).lower()
        if domain.split(".")[0] in _CODE_LABELS or len(domain) < 5:
            continue
        found.setdefault(Indicator(IndicatorKind.DOMAIN, domain, _host_note(domain)), None)


_COMMAND_TRIGGERS = (
    "curl", "wget", "powershell", "iex", "invoke-", "sh -", "/dev/", "nc ", "ncat", "socat", "mkfifo", "chmod",
    "rm -rf", "cmd", "certutil", "bitsadmin", "mshta", "regsvr32", "rundll32", "base64", "python", "perl", "crontab",
)  # fmt: skip


def _trigger_positions(text: str) -> list[int]:
    # str.find per keyword runs at C speed; one big case-insensitive alternation is ~100x slower on megabytes.
    lowered = text.lower()
    positions = []
    for word in _COMMAND_TRIGGERS:
        at = lowered.find(word)
        while at != -1:
            positions.append(at)
            at = lowered.find(word, at + 1)
    return sorted(positions)


def _commands(text: str, found: dict[Indicator, None]) -> None:
    # The full command regex is slow on megabytes of text; run it only around trigger words.
    done_lines: set[int] = set()
    for pos in _trigger_positions(text):
        line_start = text.rfind("\n", 0, pos) + 1
        lo = max(line_start, pos - 400)
        if lo in done_lines:
            continue
        done_lines.add(lo)
        line_end = text.find("\n", pos)
        line_end = len(text) if line_end == -1 else line_end
        # Long lines (minified JSON) are cut into windows around the trigger.
        hi = min(line_end, pos + 400)
        for m in _command_re().finditer(text, lo, hi):
            start = max(lo, m.start() - 80)
            end = min(hi, m.end() + 160)
            found.setdefault(Indicator(IndicatorKind.COMMAND, text[start:end].strip()), None)


def find_indicators(text: str, *, limit: int = 200) -> tuple[Indicator, ...]:
    """URLs, domains, raw IPs, command lines and encoded code in a string, deduplicated, in order."""
    found: dict[Indicator, None] = {}
    spans = _urls(text, found)
    _ips(text, spans, found)
    _domains(text, spans, found)
    _commands(text, found)
    for blob in find_encoded_payloads(text):
        found.setdefault(Indicator(IndicatorKind.ENCODED, blob.preview, f"{blob.encoding} of {blob.decoded}"), None)
    return tuple(found)[:limit]


def indicator_findings(text: str, location: Location) -> tuple[Finding, ...]:
    """One finding per indicator in ``text``: IND001 plain, IND002 risky, IND003 command, IND004 encoded code."""
    out = []
    for ind in find_indicators(text):
        if ind.kind is IndicatorKind.COMMAND:
            rule = rules.COMMAND_LINE
            msg = f"command line: {ind.value}"
        elif ind.kind is IndicatorKind.ENCODED:
            rule = rules.ENCODED_PAYLOAD
            msg = f"{ind.note}: {ind.value}"
        elif ind.note:
            rule = rules.RISKY_URL
            msg = f"{ind.note}: {ind.value}"
        else:
            rule = rules.URL
            msg = f"address: {ind.value}"
        out.append(rule.finding(location, msg, subject=ind.value, evidence=ind.value, indicators=(ind,)))
    return tuple(out)


# ---------------------------------------------------------------- encoded blobs


@dataclass(frozen=True)
class EncodedPayload:
    """A base64 / hex string whose decoded bytes are code, a pickle or an executable."""

    encoding: str
    decoded: str
    preview: str
    offset: int


_MAX_BLOBS = 64
_MAX_BLOB_CHARS = 4 * 1024 * 1024
_MAX_INFLATE = 4 * 1024 * 1024


def classify_bytes(data: bytes, *, _depth: int = 0) -> str | None:
    """What decoded bytes are when they are dangerous: a pickle, marshal'd code, Python source, an executable.

    Harmless content (images, plain text, random bytes) gives None.
    """
    if len(data) < 8:
        return None
    exe = executable_at(data, 0, include_scripts=True)
    if exe is not None:
        return exe
    if _looks_like_pickle(data):
        return "a pickle"
    if _looks_like_marshal_code(data):
        return "a marshal'd Python code object"
    if data[:1] == b"\x78" and data[1:2] in (b"\x01", b"\x5e", b"\x9c", b"\xda") and _depth == 0:
        try:
            inner = zlib.decompressobj().decompress(data, _MAX_INFLATE)
        except zlib.error:
            return None
        what = classify_bytes(inner, _depth=1)
        return f"zlib-compressed {what}" if what else None
    if _looks_like_python(data):
        return "Python source"
    return None


def _looks_like_pickle(data: bytes) -> bool:
    if data[0] == 0x80 and 2 <= data[1] <= 5:
        return data.rstrip(b"\x00").endswith(b".")
    # Protocol 0/1 reduce of a global: `c<module>\n<name>\n`.
    m = re.match(rb"c([A-Za-z_][\w.]{0,100})\n([A-Za-z_][\w.]{0,100})\n", data[:256])
    return m is not None and b"R" in data


def _looks_like_marshal_code(data: bytes) -> bool:
    # TYPE_CODE ('c', optionally with FLAG_REF) then argcount, posonlyargcount, kwonlyargcount, stacksize, flags.
    if data[0] not in (0x63, 0xE3) or len(data) < 24:
        return False
    argc, posonly, kwonly, stack, flags = struct.unpack_from("<5I", data, 1)
    return argc < 256 and posonly <= argc and kwonly < 256 and stack < 100_000 and flags < 0x4000000


def _looks_like_python(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if not re.search(r"\b(import|exec|eval|system|popen|__import__|socket|subprocess|open)\b", text):
        return False
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return any(isinstance(n, (ast.Import, ast.ImportFrom, ast.Call)) for n in ast.walk(tree))


def _preview(token: str) -> str:
    return token if len(token) <= 60 else f"{token[:28]}…{token[-28:]} ({len(token)} chars)"


def find_encoded_payloads(text: str) -> tuple[EncodedPayload, ...]:
    """Base64, hex and ``\\xNN``-escaped strings in ``text`` whose decoded bytes are code or executables."""
    out: list[EncodedPayload] = []
    tried = 0
    searches: list[tuple[re.Pattern[str], str]] = []
    if _TOKEN_RUN_RE.search(text) is not None:
        searches += [(_BASE64_RE, "base64"), (_HEX_RE, "hex")]
    if "\\x" in text:
        searches.append((_ESCAPED_HEX_RE, "escaped hex"))
    for regex, encoding in searches:
        for m in regex.finditer(text):
            token = m.group(1)
            if len(token) > _MAX_BLOB_CHARS:
                continue
            tried += 1
            if tried > _MAX_BLOBS * 4:
                return tuple(out)
            data = _decode(token, encoding)
            if data is None:
                continue
            what = classify_bytes(data)
            if what is not None:
                out.append(EncodedPayload(encoding, what, _preview(token), m.start()))
                if len(out) >= _MAX_BLOBS:
                    return tuple(out)
    return tuple(out)


def _decode(token: str, encoding: str) -> bytes | None:
    try:
        if encoding == "hex":
            return bytes.fromhex(token)
        if encoding == "escaped hex":
            return bytes.fromhex(token.replace("\\x", ""))
        if "-" in token or "_" in token:
            token = token.replace("-", "+").replace("_", "/")
        token += "=" * (-len(token) % 4)
        return binascii.a2b_base64(token.encode("ascii"), strict_mode=True)
    except (ValueError, binascii.Error):
        return None


# ---------------------------------------------------------------- executables


@dataclass(frozen=True)
class EmbeddedExecutable:
    """An executable whose header validated at ``offset`` of the searched bytes."""

    kind: str
    offset: int


_ELF_MACHINES = frozenset({2, 3, 8, 20, 21, 40, 42, 50, 62, 183, 243, 258})
_PE_MACHINES = frozenset({0x14C, 0x8664, 0x1C0, 0x1C4, 0xAA64, 0x200, 0x5064, 0x6264})
_MACHO_CPUS = frozenset({7, 0x01000007, 12, 0x0100000C, 0x0200000C, 18, 0x01000012})
_MACHO_MAGICS = {
    b"\xfe\xed\xfa\xce": (">", 28),
    b"\xce\xfa\xed\xfe": ("<", 28),
    b"\xfe\xed\xfa\xcf": (">", 32),
    b"\xcf\xfa\xed\xfe": ("<", 32),
}
_SHEBANG_RE = re.compile(rb"#!\s?/(?:usr/)?(?:local/)?bin/(?:env\s+)?(?:(?:ba|z|da|k)?sh|python|perl|ruby|node)")


def _elf(data: bytes, off: int) -> str | None:
    h = data[off : off + 64]
    if len(h) < 52:
        return None
    ei_class, ei_data, ei_version = h[4], h[5], h[6]
    if ei_class not in (1, 2) or ei_data not in (1, 2) or ei_version != 1 or any(h[9:16]):
        return None
    end = "<" if ei_data == 1 else ">"
    if ei_class == 1:
        e_type, e_machine, e_version, _entry, e_phoff, e_shoff = struct.unpack_from(end + "HHIIII", h, 16)
        e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum = struct.unpack_from(end + "HHHHH", h, 40)
        ehsize, phent, shent = 52, 32, 40
    else:
        if len(h) < 64:
            return None
        e_type, e_machine, e_version, _entry, e_phoff, e_shoff = struct.unpack_from(end + "HHIQQQ", h, 16)
        e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum = struct.unpack_from(end + "HHHHH", h, 52)
        ehsize, phent, shent = 64, 56, 64
    avail = len(data) - off
    if e_type not in (1, 2, 3, 4) or e_machine not in _ELF_MACHINES or e_version != 1 or e_ehsize != ehsize:
        return None
    if e_phnum == 0 and e_shnum == 0:
        return None
    if e_phnum and (e_phentsize != phent or not ehsize <= e_phoff <= avail - e_phnum * phent):
        return None
    if e_shnum and (e_shentsize != shent or not ehsize <= e_shoff <= avail - e_shnum * shent):
        return None
    if e_shnum == 0 and e_shoff != 0:
        return None
    return f"ELF {'64' if ei_class == 2 else '32'}-bit executable"


def _pe(data: bytes, off: int) -> str | None:
    if len(data) - off < 0x40:
        return None
    (lfanew,) = struct.unpack_from("<I", data, off + 0x3C)
    if not 0x40 <= lfanew <= 0x10000 or off + lfanew + 24 + 2 > len(data):
        return None
    pe = off + lfanew
    if data[pe : pe + 4] != b"PE\x00\x00":
        return None
    machine, nsections = struct.unpack_from("<HH", data, pe + 4)
    (opt_size,) = struct.unpack_from("<H", data, pe + 20)
    (magic,) = struct.unpack_from("<H", data, pe + 24)
    if machine not in _PE_MACHINES or not 0 < nsections <= 96 or magic not in (0x10B, 0x20B):
        return None
    if opt_size < (96 if magic == 0x10B else 112):
        return None
    return "PE (Windows) executable" if magic == 0x10B else "PE32+ (Windows) executable"


def _macho(data: bytes, off: int) -> str | None:
    spec = _MACHO_MAGICS.get(data[off : off + 4])
    if spec is None:
        return None
    end, header = spec
    if len(data) - off < header:
        return None
    cputype, _sub, filetype, ncmds, sizeofcmds = struct.unpack_from(end + "iiIII", data, off + 4)
    if cputype not in _MACHO_CPUS or not 1 <= filetype <= 12 or not 1 <= ncmds <= 1000:
        return None
    if not ncmds * 8 <= sizeofcmds <= len(data) - off - header:
        return None
    return "Mach-O executable"


def executable_at(data: bytes, offset: int, *, include_scripts: bool = False) -> str | None:
    """The kind of executable whose header validates at ``offset``, or None."""
    sig = data[offset : offset + 4]
    if sig == b"\x7fELF":
        return _elf(data, offset)
    if sig[:2] == b"MZ":
        return _pe(data, offset)
    if sig in _MACHO_MAGICS:
        return _macho(data, offset)
    if include_scripts and sig[:2] == b"#!" and _SHEBANG_RE.match(data, offset):
        return "shebang script"
    return None


_EXE_SEARCH = re.compile(rb"\x7fELF|MZ|\xfe\xed\xfa[\xce\xcf]|[\xce\xcf]\xfa\xed\xfe")


def find_executables(data: bytes, *, limit: int = 16, include_scripts: bool = False) -> tuple[EmbeddedExecutable, ...]:
    """Executables anywhere in ``data`` whose headers validate (chance byte patterns do not).

    Shebang scripts only count at offset 0 with ``include_scripts``: a `#!` line
    inside a text file is common and harmless.
    """
    out: list[EmbeddedExecutable] = []
    if include_scripts:
        kind = executable_at(data, 0, include_scripts=True)
        if kind == "shebang script":
            out.append(EmbeddedExecutable(kind, 0))
    for m in _EXE_SEARCH.finditer(data):
        kind = executable_at(data, m.start())
        if kind is not None:
            out.append(EmbeddedExecutable(kind, m.start()))
            if len(out) >= limit:
                break
    return tuple(out)


def executable_findings(data: bytes, location: Location, *, base_offset: int = 0) -> tuple[Finding, ...]:
    """IND005 for each validated executable in non-tensor ``data`` (offsets relative to the artifact)."""
    out = []
    for exe in find_executables(data):
        ind = Indicator(IndicatorKind.EXECUTABLE, exe.kind, f"at offset {base_offset + exe.offset}")
        out.append(
            rules.EMBEDDED_EXECUTABLE.finding(
                location.at(offset=base_offset + exe.offset),
                f"embedded {exe.kind} (header validated)",
                subject=exe.kind,
                evidence=data[exe.offset : exe.offset + 16].hex(),
                indicators=(ind,),
            )
        )
    return tuple(out)
