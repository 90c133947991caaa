"""Replacement of event-specific values in messages with placeholders.

Numbers, ids, addresses and timestamps in an error message differ between
events of the same error. Sentry replaces them with ``<int>``, ``<uuid>``,
``<ip>`` and so on before hashing a message or an exception value. The
patterns and their order below produce the same placeholders, because the
first alternative that matches at a position wins.
"""

from __future__ import annotations

import functools
import re
from itertools import islice

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_ZONE = r"(?:UT|GMT|(?:E|C|M|P)(?:ST|DT)|[A-IK-Z])"
_OCTET = r"(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])"
_H16 = r"[0-9a-fA-F]{1,4}"

_TLDS = (
    "com|net|org|jp|de|uk|fr|br|it|ru|es|me|gov|pl|ca|au|cn|co|in|nl|edu|info|eu|ch|id|"
    "at|kr|cz|mx|be|tv|se|tr|tw|al|ua|ir|vn|cl|sk|ly|cc|to|no|fi|us|pt|dk|ar|hu|tk|gr|il|"
    "news|ro|my|biz|ie|za|nz|sg|ee|th|io|xyz|pe|bg|hk|rs|lt|link|ph|club|si|site|mobi|by|"
    "cat|wiki|la|ga|xxx|cf|hr|ng|jobs|online|kz|ug|gq|ae|is|lv|pro|fm|tips|ms|sa|app"
)

_IPV6 = "|".join(
    [
        rf"({_H16}:){{7,7}}{_H16}",
        rf"({_H16}:){{1,7}}:",
        rf"({_H16}:){{1,6}}:{_H16}",
        rf"({_H16}:){{1,5}}(:{_H16}){{1,2}}",
        rf"({_H16}:){{1,4}}(:{_H16}){{1,3}}",
        rf"({_H16}:){{1,3}}(:{_H16}){{1,4}}",
        rf"({_H16}:){{1,2}}(:{_H16}){{1,5}}",
        rf"{_H16}:((:{_H16}){{1,6}})",
        rf":((:{_H16}){{1,7}}|:)",
        r"fe80:(:[0-9a-fA-F]{0,4}){0,4}%[0-9a-zA-Z]{1,}",
        rf"::(ffff(:0{{1,4}}){{0,1}}:){{0,1}}({_OCTET}\.){{3,3}}{_OCTET}",
        rf"({_H16}:){{1,4}}:({_OCTET}\.){{3,3}}{_OCTET}\b",
    ]
)
_IPV4 = rf"\b({_OCTET}\.){{3,3}}{_OCTET}\b"

_DATE_FORMATS = [
    # RFC 822 / 1123: "Mon, 02 Jan 2006 15:04 MST"
    rf"((?:Sun|Mon|Tue|Wed|Thu|Fri|Sat),\s\d{{1,2}}\s{_MONTH}\s\d{{2,4}}\s\d{{1,2}}:\d{{1,2}}(:\d{{1,2}})?\s([-\+][\d]{{2}}[0-5][\d]|{_ZONE}))",
    # "Mon Jan 02, 1999" and "Jan 02, 1999"
    rf"(((?:Sun|Mon|Tue|Wed|Thu|Fri|Sat)\s)?{_MONTH}\s[0-3]\d,\s\d{{2,4}})",
    # RFC 850
    rf"((?:Sunday|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday),\s\d{{2}}-{_MONTH}-\d{{2}}\s\d{{2}}:\d{{2}}:\d{{2}}\s{_ZONE})",
    # RFC 3339 with optional fraction and offset
    r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?([+-]?\d{2}:\d{2})?)",
    # date and time separated by a space
    r"(\d{4}-?[01]\d-?[0-3]\d\s[0-2]\d:[0-5]\d:[0-5]\d)(\.\d+)?",
    # kitchen clock: "3:04PM", "15:04:05"
    r"(\d{1,2}:\d{2}(:\d{2})?(?: [aApP][Mm])?)",
    r"(\d{4}-[01]\d-[0-3]\d)",
    r"([0-2]\d:[0-5]\d:[0-5]\d)",
    r"((\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-5]\d\.\d+([+-][0-2]\d:[0-5]\d|Z))"
    r"|(\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-5]\d([+-][0-2]\d:[0-5]\d|Z))"
    r"|(\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d([+-][0-2]\d:[0-5]\d|Z)))",
    # ctime: "Mon Jan  2 15:04:05 2006"
    rf"(\b(?:(Sun|Mon|Tue|Wed|Thu|Fri|Sat)\s+)?{_MONTH}\s+([\d]{{1,2}})\s+([\d]{{2}}:[\d]{{2}}:[\d]{{2}})\s+[\d]{{4}})",
    # RFC 2822 with optional weekday and seconds
    rf"(\b(?:(Sun|Mon|Tue|Wed|Thu|Fri|Sat),\s+)?(0[1-9]|[1-2]?[\d]|3[01])\s+{_MONTH}\s+(19[\d]{{2}}|[2-9][\d]{{3}})\s+(2[0-3]|[0-1][\d]):([0-5][\d])(?::(60|[0-5][\d]))?\s+([-\+][\d]{{2}}[0-5][\d]|{_ZONE}))",
    # Python's repr of a datetime
    r"(datetime\.datetime\(.*?\))",
]

# (placeholder name, pattern, lookbehind); order decides between overlaps.
_PATTERNS: list[tuple[str, str, str | None]] = [
    (
        "email",
        r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*",
        None,
    ),
    ("url", r"\b(wss?|https?|ftp)://[^\s/$.?#].[^\s]*", None),
    (
        "hostname",
        rf"\b([a-zA-Z0-9\-]{{1,63}}\.)+?(({_TLDS.upper()})|({_TLDS}))\b",
        None,
    ),
    ("ip", rf"({_IPV6})|({_IPV4})", None),
    (
        "uuid",
        r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
        None,
    ),
    ("sha1", r"\b[0-9a-fA-F]{40}\b", None),
    ("md5", r"\b[0-9a-fA-F]{32}\b", None),
    ("date", "|".join(_DATE_FORMATS), None),
    ("duration", r"\b(\d+ms)|(\d+(\.\d+)?s)\b", None),
    ("hex", r"\b0[xX][0-9a-fA-F]+\b", None),
    ("float", r"-\d+\.\d+\b|\b\d+\.\d+\b", None),
    ("int", r"-\d+\b|\b\d+\b", None),
    # Quoted strings and booleans only as the value of key=value pairs.
    ("quoted_str", r"'([^']+)'|\"([^\"]+)\"", "="),
    ("bool", r"True|true|False|false", "="),
]


def _named(name: str, pattern: str, lookbehind: str | None) -> str:
    prefix = f"(?<={lookbehind})" if lookbehind else ""
    return f"{prefix}(?P<{name}>{pattern})"


# A pattern that cannot match anywhere in a text never changes the result of
# the combined regex, so each text is scanned only with the patterns whose
# required characters it contains. Each check below is a condition every
# match of its pattern meets, so the result stays identical. The checks save
# most of the cost on ordinary messages, because the date and address
# patterns are the slow alternatives.
_HEX_RUN_RE = re.compile(r"[0-9a-fA-F]{32}")
_DIGIT_RE = re.compile(r"\d")
# A hostname ends in a dot and a listed top-level domain.
_TLD_RE = re.compile(rf"\.(?:{_TLDS}|{_TLDS.upper()})\b")
# IPv4 addresses and floats need a digit, a dot and a digit. Every IPv6 form
# has a colon between hex digits, two colons in a row, or starts "fe80:".
_DIGIT_DOT_DIGIT_RE = re.compile(r"\d\.\d")
_IPV6_HINT_RE = re.compile(r"[0-9a-fA-F]:[0-9a-fA-F]|::|fe80:")
_UUID_HINT_RE = re.compile(r"[0-9a-fA-F]{8}-")
# Every date format has a time ("15:04"), a numeric date ("2006-01-02"), a
# month and day before a comma ("Jan 02,") or is Python's datetime repr.
_DATE_HINT_RE = re.compile(rf"\d:\d|\d-[01]\d-|{_MONTH}\s[0-3]\d,|datetime\.datetime\(")
# Durations end in a digit followed by "s" or "ms".
_DURATION_HINT_RE = re.compile(r"\d[ms]")


def _applicable(text: str) -> tuple[str, ...]:
    has_digit = _DIGIT_RE.search(text) is not None
    has_dot = "." in text
    has_colon = ":" in text
    digit_dot_digit = (
        has_dot and has_digit and _DIGIT_DOT_DIGIT_RE.search(text) is not None
    )
    checks = {
        "email": "@" in text,
        "url": "://" in text,
        "hostname": has_dot and _TLD_RE.search(text) is not None,
        "ip": digit_dot_digit or (has_colon and _IPV6_HINT_RE.search(text) is not None),
        "uuid": len(text) >= 36 and _UUID_HINT_RE.search(text) is not None,
        "sha1": len(text) >= 40 and _HEX_RUN_RE.search(text) is not None,
        "md5": len(text) >= 32 and _HEX_RUN_RE.search(text) is not None,
        "date": _DATE_HINT_RE.search(text) is not None,
        "duration": has_digit and _DURATION_HINT_RE.search(text) is not None,
        "hex": "0x" in text or "0X" in text,
        "float": digit_dot_digit,
        "int": has_digit,
        "quoted_str": "=" in text,
        "bool": "=" in text,
    }
    return tuple(name for name, _pattern, _lookbehind in _PATTERNS if checks[name])


@functools.lru_cache(maxsize=256)
def _combined(names: tuple[str, ...]) -> re.Pattern[str]:
    wanted = set(names)
    return re.compile(
        "|".join(_named(*entry) for entry in _PATTERNS if entry[0] in wanted)
    )


def _placeholder(match: re.Match[str]) -> str:
    # Each alternative is one named group around all of its own groups, so
    # the named group that closed last is the alternative that matched.
    name = match.lastgroup
    if name is not None:
        return f"<{name}>"
    for name, value in match.groupdict().items():
        if value is not None:
            return f"<{name}>"
    return ""


def parameterize(text: str) -> str:
    """Replace every event-specific value in ``text`` with its placeholder."""
    names = _applicable(text)
    if not names:
        return text
    return _combined(names).sub(_placeholder, text)


@functools.lru_cache(maxsize=4096)
def normalize_message_for_grouping(message: str) -> str:
    """Keep the first two non-blank lines (adding ``...`` if cut), then parameterize."""
    trimmed = "\n".join(
        islice((line for line in message.splitlines() if line.strip()), 2)
    )
    if trimmed != message:
        trimmed += "..."
    return parameterize(trimmed)
