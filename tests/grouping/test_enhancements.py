from __future__ import annotations

import pickle
from pathlib import Path

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
