from __future__ import annotations

import hashlib
import pickle

from consumers.grouping.component import Component, hash_from_values


def test_hash_concatenates_contributing_leaves() -> None:
    tree = Component(
        "app",
        [
            Component("type", ["ValueError"]),
            Component("value", ["bad input"], contributes=False),
            Component("code", [42]),
        ],
    )
    assert tree.get_hash() == hashlib.md5(b"ValueError42").hexdigest()


def test_hash_is_none_when_not_contributing() -> None:
    tree = Component("app", [Component("type", ["ValueError"])], contributes=False)
    assert tree.get_hash() is None


def test_contributes_defaults_to_children() -> None:
    ignored = Component("value", ["x"], contributes=False)
    assert Component("exception", [ignored]).contributes is False
    assert (
        Component("exception", [ignored, Component("type", ["T"])]).contributes is True
    )


def test_empty_component_does_not_contribute() -> None:
    assert Component("module").contributes is False


def test_update_with_values_recomputes_contributes() -> None:
    component = Component("module", ["a"], contributes=False, hint="ignored")
    component.update_component(values=["b"], hint="cleaned")
    assert component.contributes is True
    assert component.hint == "cleaned"


def test_component_is_sentry_dict() -> None:
    component = Component("context_line", ["x = 1"], hint="why")
    assert dict(component) == {
        "id": "context_line",
        "name": "context-line",
        "contributes": True,
        "hint": "why",
        "values": ["x = 1"],
    }


def test_component_pickles_with_in_app() -> None:
    frame = Component("frame", [Component("function", ["main"])], in_app=True)
    copy = pickle.loads(pickle.dumps(frame))
    assert copy == frame
    assert copy.in_app is True
    assert copy.get_hash() == frame.get_hash()


def test_hash_from_values_of_nothing_is_md5_of_empty() -> None:
    assert hash_from_values([]) == "d41d8cd98f00b204e9800998ecf8427e"
