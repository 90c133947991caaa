from __future__ import annotations

import pytest

from consumers.grouping.component import Component
from consumers.grouping.pysnap import (
    contributing_component,
    parse_snapshot,
    render_tree,
)

SNAPSHOT = """---
source: tests/example.py
---
app:
  hash: "0123456789abcdef0123456789abcdef"
  contributing component: exception
  hint: None
  root_component:
    app*
      exception*
        type*
          "ValueError"
        value (ignored because stacktrace takes precedence)
          "bad"
--------------------------------------------------------------------------
custom_fingerprint:
  hash: "fedcba9876543210fedcba9876543210"
  values: ["x"]
"""


def test_parse_snapshot_reads_variants() -> None:
    variants = parse_snapshot(SNAPSHOT)
    assert set(variants) == {"app", "custom_fingerprint"}
    assert variants["app"].hash == "0123456789abcdef0123456789abcdef"
    assert variants["app"].contributing_component == "exception"
    assert variants["app"].hint is None
    assert variants["custom_fingerprint"].fields["values"] == '["x"]'


def test_render_tree_matches_snapshot_lines() -> None:
    tree = Component(
        "app",
        [
            Component(
                "exception",
                [
                    Component("stacktrace"),
                    Component("type", ["ValueError"]),
                    Component(
                        "value",
                        ["bad"],
                        contributes=False,
                        hint="ignored because stacktrace takes precedence",
                    ),
                ],
            )
        ],
    )
    assert render_tree(tree) == parse_snapshot(SNAPSHOT)["app"].tree
    assert contributing_component(tree) == "exception"


def test_snapshot_without_front_matter_is_rejected() -> None:
    with pytest.raises(ValueError, match="front matter"):
        parse_snapshot("app:\n  hash: null\n")
