"""Shared helpers that find network addresses and command lines in strings.

Used by every analyser (pickle constants, configs, templates, archive names).
Pure functions over text; nothing here decides a verdict.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from modelsieve.model import Finding, Indicator, IndicatorKind, Location
from modelsieve.rules import indicators_rules as rules

_URL_RE = re.compile(r"""\b((?:https?|ftp|wss?)://[^\s'"<>`\\)\]}]{3,2048})""", re.IGNORECASE)
_IP_PORT_RE = re.compile(r"\b((?:\d{1,3}\.){3}\d{1,3})(?::(\d{1,5}))?\b")
_COMMAND_RE = re.compile(
    r"""(?ix)
    (?:\bcurl\b[^|;\n]*\|\s*(?:ba|z)?sh\b)
    |(?:\bwget\b\s+\S+)
    |(?:\bpowershell(?:\.exe)?\b[^\n]*-(?:e|enc|encodedcommand)\b)
    |(?:\b(?:ba|z)?sh\s+-c\s+\S)
    |(?:\bnc(?:at)?\b\s+(?:-\w+\s+)*-e\s)
    |(?:/dev/tcp/)
    |(?:\bchmod\s+\+x\b)
    |(?:\brm\s+-rf\s+/)
    |(?:\bcmd(?:\.exe)?\s+/c\b)
    """
)

PASTE_SITES = frozenset(
    {
        "pastebin.com", "paste.ee", "hastebin.com", "ghostbin.com", "rentry.co", "rentry.org", "controlc.com",
        "dpaste.org", "dpaste.com", "justpaste.it", "paste.rs", "pastes.io", "privatebin.net", "0bin.net",
        "gist.githubusercontent.com", "transfer.sh", "termbin.com",
    }
)
SHORTENERS = frozenset({"bit.ly", "tinyurl.com", "t.co", "goo.gl", "is.gd", "cutt.ly", "rb.gy", "ow.ly", "shorturl.at"})
TUNNELS = ("ngrok.io", "ngrok-free.app", "ngrok.app", "trycloudflare.com", "serveo.net", "localtunnel.me", "loca.lt")
WEBHOOKS = ("discord.com/api/webhooks", "discordapp.com/api/webhooks", "hooks.slack.com", "api.telegram.org")


def risk_note(url: str) -> str | None:
    """Why an address is risky (paste site, shortener, tunnel, webhook, raw IP), or None."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return "malformed URL"
    if not host:
        return None
    if host in PASTE_SITES or host.removeprefix("www.") in PASTE_SITES:
        return "paste site"
    if host in SHORTENERS:
        return "URL shortener"
    if any(host == t or host.endswith("." + t) for t in TUNNELS):
        return "tunnel"
    if any(w in url.lower() for w in WEBHOOKS):
        return "chat webhook"
    try:
        ipaddress.ip_address(host)
        return "raw IP address"
    except ValueError:
        return None


def find_indicators(text: str, *, limit: int = 200) -> tuple[Indicator, ...]:
    """URLs, raw IPs and command lines in a string, deduplicated, in order of appearance."""
    found: dict[Indicator, None] = {}
    for m in _URL_RE.finditer(text):
        url = m.group(1).rstrip(".,;:")
        found.setdefault(Indicator(IndicatorKind.URL, url, risk_note(url)), None)
    for m in _IP_PORT_RE.finditer(text):
        ip, port = m.group(1), m.group(2)
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            continue
        # Version numbers like 1.2.3.4 are common; only an explicit port or a public address counts.
        if port is None and (addr.is_private or addr.is_loopback or addr.is_unspecified):
            continue
        if any(ip in i.value for i in found if i.kind is IndicatorKind.URL):
            continue
        value = f"{ip}:{port}" if port else ip
        found.setdefault(Indicator(IndicatorKind.IP, value, "raw IP address"), None)
    for m in _COMMAND_RE.finditer(text):
        found.setdefault(Indicator(IndicatorKind.COMMAND, text[max(0, m.start() - 40) : m.end() + 80].strip()), None)
    return tuple(found)[:limit]


def indicator_findings(text: str, location: Location) -> tuple[Finding, ...]:
    """One INFO/LOW finding per indicator in ``text`` (risky ones under IND002)."""
    out = []
    for ind in find_indicators(text):
        if ind.kind is IndicatorKind.COMMAND:
            rule = rules.COMMAND_LINE
            msg = f"command line: {ind.value}"
        elif ind.note:
            rule = rules.RISKY_URL
            msg = f"{ind.note}: {ind.value}"
        else:
            rule = rules.URL
            msg = f"address: {ind.value}"
        out.append(rule.finding(location, msg, subject=ind.value, evidence=ind.value, indicators=(ind,)))
    return tuple(out)
