from __future__ import annotations

import random
import re

import pytest

from consumers.grouping import parameterization
from consumers.grouping.parameterization import (
    normalize_message_for_grouping,
    parameterize,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("retry 3 of 10", "retry <int> of <int>"),
        ("took -4 steps", "took <int> steps"),
        ("ratio 0.75", "ratio <float>"),
        ("bad pointer 0xdeadBEEF", "bad pointer <hex>"),
        ("id 550e8400-e29b-41d4-a716-446655440000", "id <uuid>"),
        ("from 10.0.0.12 refused", "from <ip> refused"),
        ("from 2001:0db8:85a3:0000:0000:8a2e:0370:7334 x", "from <ip> x"),
        ("from ::1 refused", "from <ip> refused"),
        ("mail bob@example.com now", "mail <email> now"),
        ("GET https://example.com/a?b=1 failed", "GET <url> failed"),
        ("host db.internal.example.com down", "host <hostname> down"),
        ("at 2024-05-06T07:08:09Z", "at <date>"),
        ("timeout after 250ms", "timeout after <duration>"),
        ("sha " + "a1" * 20, "sha <sha1>"),
        ("md5 " + "b2" * 16, "md5 <md5>"),
        ("user='alice' admin=true", "user=<quoted_str> admin=<bool>"),
        ("no values here", "no values here"),
    ],
)
def test_parameterize_replaces_values(text: str, expected: str) -> None:
    assert parameterize(text) == expected


def test_quoted_string_needs_key() -> None:
    assert parameterize("said 'hello'") == "said 'hello'"


def test_message_keeps_two_non_blank_lines() -> None:
    message = "first line\n\n  \nsecond 2\nthird"
    assert normalize_message_for_grouping(message) == "first line\nsecond <int>..."


def test_short_message_gets_no_ellipsis() -> None:
    assert normalize_message_for_grouping("one 1") == "one <int>"


def _full_regex() -> re.Pattern[str]:
    return re.compile(
        "|".join(
            parameterization._named(*entry) for entry in parameterization._PATTERNS
        )
    )


# Pieces of the values the patterns look for, so that random texts built
# from them come close to every pattern, and often match one.
_PIECES = [
    "a", "b", "x", " ", ".", ":", "::", "-", "=", "@", "/", "(", ")", ",", "'",
    '"', "0", "7", "12", "255", "2024", "0x1f", "deadbeef", "ms", "s", "T", "Z",
    "Jan", "Mon", "Sunday", "GMT", "PST", "com", "COM", "io", "jso", "https://",
    "datetime.datetime(", "True", "false", "fe80", "ffff", "%eth0",
]  # fmt: skip


def _random_texts(seed: int, count: int) -> list[str]:
    generator = random.Random(seed)
    alphabet = "ab0123456789.:-=@/xX ZzfFeE'\"T,"
    texts = [
        "".join(generator.choice(alphabet) for _ in range(generator.randint(0, 40)))
        for _ in range(count)
    ]
    texts += [
        "".join(generator.choice(_PIECES) for _ in range(generator.randint(1, 14)))
        for _ in range(count)
    ]
    return texts


def test_prefilter_gives_same_result_as_full_regex() -> None:
    # The prefilter leaves out patterns that cannot match; it must never
    # change the outcome of the combined expression.
    full = _full_regex()
    texts = [
        *_random_texts(7, 3000),
        "Mon Jan 02, 1999 at noon",
        "due Jan 02, 1999",
        "at datetime.datetime(x) now",
        "took 1.5s and 30ms",
        "ping db.example.com and WWW.EXAMPLE.COM",
        "settings tenant-72.json is not an object",
        "id 550e8400-e29b-41d4-a716-446655440000",
        "at 15:04",
        "on 2006-01-02",
        "Sunday, 02-Jan-06 15:04:05 MST",
        "Not enough stock in iad-2: requested 2",
        "link fe80:%eth0 down",
        "from 2001:db8:85a3:0:0:8a2e:370:7334 x",
    ]
    differing = [
        text
        for text in texts
        if parameterize(text) != full.sub(parameterization._placeholder, text)
    ]
    assert differing == []


def _first_named_group(match: re.Match[str]) -> str:
    for name, value in match.groupdict().items():
        if value is not None:
            return f"<{name}>"
    return ""


def test_placeholder_names_the_matching_pattern() -> None:
    # The placeholder reads `Match.lastgroup`; it must name the same pattern
    # as the first named group that matched.
    full = _full_regex()
    alphabet = "ab0123456789.:-=@/xX ZzfFeE'\"T,%"
    generator = random.Random(11)
    texts = [
        "".join(generator.choice(alphabet) for _ in range(generator.randint(0, 60)))
        for _ in range(3000)
    ]
    texts += ["fe80::1%eth0 up", "::ffff:10.0.0.1 x", "key=\"quoted\" y='z'"]
    differing = [
        text
        for text in texts
        if full.sub(parameterization._placeholder, text)
        != full.sub(_first_named_group, text)
    ]
    assert differing == []
