from __future__ import annotations

import pickle
import random
from pathlib import Path
from typing import Any

import pytest

from consumers.grouping import Enhancements, GroupingError, load_enhancements
from consumers.grouping.enhancements import DEFAULT_RULES_PATH


def test_default_rules_are_cached() -> None:
    assert load_enhancements() is load_enhancements(DEFAULT_RULES_PATH)


def test_invalid_rule_names_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules.txt"
    rules.write_text("# fine\nfunction:foo +app\nfunction:bar\n", encoding="utf-8")
    with pytest.raises(GroupingError, match=r"rules.txt:3"):
        load_enhancements(rules)


def test_unknown_matcher_is_invalid() -> None:
    with pytest.raises(GroupingError, match="invalid stack trace rule in <text>:1"):
        Enhancements.parse("nonsense:foo +app")


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(GroupingError, match="cannot read stack trace rules file"):
        load_enhancements(tmp_path / "absent.txt")


def test_comment_inside_quotes_is_kept() -> None:
    enhancements = Enhancements.parse('function:"a # b" +app  # real comment')
    frame = {
        "category": None,
        "family": b"other",
        "function": b"a # b",
        "in_app": False,
        "orig_in_app": None,
        "module": None,
        "package": None,
        "path": None,
    }
    results = enhancements.classifier.apply_modifications_to_frames(
        [frame], {"ty": None, "value": None, "mechanism": None}
    )
    assert results == [(None, True)]


def test_enhancements_pickle_by_text() -> None:
    enhancements = load_enhancements()
    copy = pickle.loads(pickle.dumps(enhancements))
    assert copy.text == enhancements.text
    assert copy.source == enhancements.source


NO_EXCEPTION: dict[str, bytes | None] = {"ty": None, "value": None, "mechanism": None}


def match_frame(function: str, *, package: str | None = None) -> dict[str, Any]:
    return {
        "category": None,
        "family": b"native",
        "function": function.encode(),
        "in_app": False,
        "orig_in_app": None,
        "module": None,
        "package": package.encode() if package else None,
        "path": None,
    }


MEMO_RULES = """
family:native package:/app/**      +app
family:native function:abort       category=throw
category:throw                     -app
function:helper*                   +app
"""


def test_classifier_memo_matches_whole_stack() -> None:
    enhancements = Enhancements.parse(MEMO_RULES)
    assert enhancements.classifier_per_frame is True
    stack = [
        match_frame("main", package="/app/bin"),
        match_frame("helper_one"),
        match_frame("abort", package="/app/bin"),
        match_frame("memcpy", package="/usr/lib/libc.so"),
    ]
    expected = list(
        enhancements.classifier.apply_modifications_to_frames(stack, NO_EXCEPTION)
    )
    assert enhancements.classify_frames(stack, NO_EXCEPTION) == expected
    # Remembered now: the same frames in another order and stack.
    reordered = [stack[3], stack[0], stack[2]]
    assert enhancements.classify_frames(reordered, NO_EXCEPTION) == [
        expected[3],
        expected[0],
        expected[2],
    ]


@pytest.mark.parametrize(
    "rule",
    [
        "function:abort ^+app",
        "function:abort v+app",
        "[ function:main ] | function:abort +app",
        "function:abort | [ function:memcpy ] +app",
    ],
)
def test_neighbour_rules_turn_classifier_memo_off(rule: str) -> None:
    enhancements = Enhancements.parse(rule)
    assert enhancements.classifier_per_frame is False
    stack = [match_frame("main"), match_frame("abort"), match_frame("memcpy")]
    expected = list(
        enhancements.classifier.apply_modifications_to_frames(stack, NO_EXCEPTION)
    )
    assert (None, True) in expected
    # Each frame alone first, so a per-frame memo would now return their results.
    for frame in stack:
        enhancements.classify_frames([frame], NO_EXCEPTION)
    assert enhancements.classify_frames(stack, NO_EXCEPTION) == expected


def test_exception_matcher_keys_memo_by_exception() -> None:
    enhancements = Enhancements.parse("error.type:Fatal* function:abort +app")
    assert enhancements.classifier_reads_exception is True
    stack = [match_frame("abort")]
    fatal = {**NO_EXCEPTION, "ty": b"FatalError"}
    assert enhancements.classify_frames(stack, fatal) == [(None, True)]
    assert enhancements.classify_frames(stack, NO_EXCEPTION) == [(None, False)]


def test_key_after_quoted_value_is_read() -> None:
    # sentry-ophio needs no space between a quoted value and the next matcher.
    enhancements = Enhancements.parse('function:"abort"error.type:Fatal* +app')
    assert enhancements.classifier_reads_exception is True
    stack = [match_frame("abort")]
    fatal = {**NO_EXCEPTION, "ty": b"FatalError"}
    assert enhancements.classify_frames(stack, fatal) == [(None, True)]
    assert enhancements.classify_frames(stack, NO_EXCEPTION) == [(None, False)]


@pytest.mark.parametrize(
    "rule",
    [
        "app:yes max-frames=1 +group",
        "app:yes max-frames = 1 +group",
        "app:yes max-frames= 1 +group",
        "app:yes max-frames =1 +group",
    ],
)
def test_frame_cap_is_found_with_spaces(rule: str) -> None:
    assert Enhancements.parse(rule).limits_contributing_frames is True


def test_spaced_category_action_is_a_classifier_rule() -> None:
    spaced = Enhancements.parse("function:abort category = throw -group")
    joined = Enhancements.parse("function:abort category=throw -group")
    stack = [match_frame("abort")]
    result = spaced.classify_frames(stack, NO_EXCEPTION)
    assert result[0][0] == "throw"
    assert result == joined.classify_frames(stack, NO_EXCEPTION)


def test_quoted_value_keeps_its_spaces() -> None:
    enhancements = Enhancements.parse('function:"a = b" +app')
    assert enhancements.classify_frames([match_frame("a = b")], NO_EXCEPTION) == [
        (None, True)
    ]


def test_default_rules_allow_classifier_memo() -> None:
    rules = load_enhancements()
    assert rules.classifier_per_frame is True
    assert rules.classifier_reads_exception is False


def test_classifier_memo_is_not_pickled() -> None:
    enhancements = Enhancements.parse(MEMO_RULES)
    enhancements.classify_frames([match_frame("abort")], NO_EXCEPTION)
    restored = pickle.loads(pickle.dumps(enhancements))
    assert len(restored._classified) == 0
    assert restored.classifier_per_frame is True


def test_default_rules_ignore_python_function_names() -> None:
    rules = Enhancements.parse(load_enhancements().text)
    frames = [
        {**match_frame(name), "family": b"other", "path": b"/srv/app/views.py"}
        for name in ("index", "index_va", "index_vb")
    ]
    rules.classify_frames(frames, NO_EXCEPTION)
    # No rule that can match a frame of family "other" reads its function.
    assert len(rules._classified) == 1
    native = [{**frame, "family": b"native"} for frame in frames]
    rules.classify_frames(native, NO_EXCEPTION)
    assert len(rules._classified) == 4


@pytest.mark.parametrize(
    ("rule", "families"),
    [
        ("family:native function:a +app", {b"native"}),
        ("family:native,javascript function:a +app", {b"native", b"javascript"}),
        ('family:"javascript" function:a +app', {b"javascript"}),
        ("family:all function:a +app", {b"native", b"javascript", b"other"}),
        # Negated or unusual spellings limit nothing.
        ("!family:native function:a +app", {b"native", b"javascript", b"other"}),
        ("family:Native function:a +app", {b"native", b"javascript", b"other"}),
        ("family:native, function:a +app", {b"native", b"javascript", b"other"}),
        # Text inside or glued to a value that only looks like a matcher.
        ('function:"a family:native " +app', {b"native", b"javascript", b"other"}),
        ("function:a|family:native +app", {b"native", b"javascript", b"other"}),
        ('function:a"family:native +app', {b"native", b"javascript", b"other"}),
        (
            'family:all stack.function:"a family:javascript" +app',
            {b"native", b"javascript", b"other"},
        ),
    ],
)
def test_function_read_for_rule_families(rule: str, families: set[bytes]) -> None:
    getters = Enhancements.parse(rule).classifier_key_getters
    reads_function = {
        family
        for family, getter in getters.items()
        if getter({**match_frame("a"), "family": family})
        != getter({**match_frame("b"), "family": family})
    }
    assert reads_function == families


# Pieces of classifier rules with family matchers of every form, for the
# randomized comparison with sentry-ophio below.
_FAMILY_MATCHERS = (
    "",
    "family:native ",
    "family:javascript ",
    "family:other ",
    "family:native,other ",
    'family:"javascript,native" ',
    "family:all ",
    "!family:native ",
    "!family:other ",
    "family:other family:native ",
    "family:NATIVE ",
)
_FRAME_MATCHERS = (
    "function:run*",
    "function:*_va",
    "module:app.*",
    "path:**/vendor/**",
    "package:/usr/lib/**",
    "app:yes",
    "category:throw",
    "!function:run",
    'function:"run family:native "',
    'stack.function:"* family:javascript *"',
    "module:app.*|family:other",
)
_ACTIONS = ("+app", "-app", "category=throw", "category=internals +app")


def _random_rules(generator: random.Random) -> str:
    lines = []
    for _ in range(generator.randint(1, 6)):
        family = generator.choice(_FAMILY_MATCHERS)
        matchers = " ".join(generator.sample(_FRAME_MATCHERS, generator.randint(1, 2)))
        lines.append(f"{family}{matchers} {generator.choice(_ACTIONS)}")
    return "\n".join(lines)


def _random_frame(generator: random.Random) -> dict[str, Any]:
    def pick(*values: bytes | None) -> bytes | None:
        return generator.choice(values)

    return {
        "category": pick(None, b"throw"),
        "family": pick(b"native", b"javascript", b"other"),
        "function": pick(b"run", b"run_va", b"stop_va", None),
        "in_app": generator.random() < 0.5,
        "orig_in_app": None,
        "module": pick(b"app.views", b"lib.core", None),
        "package": pick(b"/usr/lib/libc.so", b"/app/bin", None),
        "path": pick(b"/srv/vendor/x.py", b"/srv/app/x.py", None),
    }


def test_classifier_memo_matches_ophio_randomly() -> None:
    generator = random.Random(5)
    for _ in range(300):
        enhancements = Enhancements.parse(_random_rules(generator))
        assert enhancements.classifier_per_frame is True
        for _ in range(40):
            frame = _random_frame(generator)
            expected = enhancements.classifier.apply_modifications_to_frames(
                [frame], NO_EXCEPTION
            )
            # The memo returns most of these from frames classified before.
            assert enhancements.classify_frames([frame], NO_EXCEPTION) == expected, (
                enhancements.text,
                frame,
            )
