"""The frame strategy on hand-written frames: what counts and how it is cleaned."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from consumers.grouping.frame_children import build_frame_children, frame_children


def children_of(
    frame: Mapping[str, Any], platform: str
) -> dict[str, Mapping[str, Any]]:
    function = frame.get("function")
    children, _contributes, _hint = frame_children(
        frame,
        filename=frame.get("filename"),
        platform=platform,
        function=function,
        raw_function=frame.get("raw_function"),
    )
    return {str(child["id"]): child for child in children}


def test_module_takes_precedence_over_filename() -> None:
    children = children_of(
        {"module": "app.views", "filename": "app/Views.py"}, "python"
    )
    assert children["module"]["contributes"] is True
    assert children["filename"]["contributes"] is False
    assert children["filename"]["hint"] == "ignored because module takes precedence"


def test_filename_is_lowercase_basename() -> None:
    children = children_of({"filename": "C:\\src\\App\\Main.CS"}, "csharp")
    assert children["filename"]["values"] == ["main.cs"]


def test_url_filename_is_ignored() -> None:
    frame = {
        "filename": "/static/app.js",
        "abs_path": "https://example.com/static/app.js",
    }
    children = children_of(frame, "javascript")
    assert children["filename"]["contributes"] is False
    assert children["filename"]["hint"] == "ignored because frame points to a URL"


@pytest.mark.parametrize(
    ("module", "expected", "hint"),
    [
        (
            "com.shop.Cart$$EnhancerBySpringCGLIB$$1a2b3c",
            "com.shop.Cart$$EnhancerBySpringCGLIB$$<auto>",
            "removed codegen marker",
        ),
        (
            "com.shop.Order$HibernateProxy$Zx9aQ",
            "com.shop.Order$HibernateProxy$<auto>",
            "removed codegen marker",
        ),
        (
            "sun.reflect.GeneratedMethodAccessor42",
            "sun.reflect.GeneratedMethodAccessor",
            "removed reflection marker",
        ),
        (
            "shop.core$checkout$fn__991",
            "shop.core$checkout$fn__<auto>",
            "removed codegen marker",
        ),
    ],
)
def test_java_generated_modules_are_cleaned(
    module: str, expected: str, hint: str
) -> None:
    children = children_of({"module": module, "function": "call"}, "java")
    assert children["module"]["values"] == [expected]
    assert children["module"]["hint"] == hint


def test_java_lambda_class_is_ignored() -> None:
    children = children_of(
        {"module": "shop.Cart$$Lambda$17/0x1234", "function": "x"}, "java"
    )
    assert children["module"]["contributes"] is False


def test_java_lambda_function_is_ignored() -> None:
    children = children_of(
        {"module": "shop.Cart", "function": "lambda$total$0"}, "java"
    )
    assert children["function"]["hint"] == "ignored lambda function"
    assert children["function"]["contributes"] is False


def test_ruby_erb_suffix_is_removed() -> None:
    frame = {"function": "_app_views_cart_html_erb__1234567_70211", "filename": "x"}
    children = children_of(frame, "ruby")
    assert children["function"]["values"] == ["_app_views_cart_html_erb"]


def test_ruby_block_is_generalised() -> None:
    children = children_of({"function": "block (2 levels) in run"}, "ruby")
    assert children["function"]["values"] == ["block"]


def test_php_anonymous_function_is_ignored() -> None:
    children = children_of({"function": "[Anonymous function]"}, "php")
    assert children["function"]["contributes"] is False


def test_javascript_function_loses_receiver() -> None:
    children = children_of(
        {"function": "Object.handleClick", "filename": "a.js"}, "javascript"
    )
    assert children["function"]["values"] == ["handleClick"]
    assert children["function"]["hint"] == "trimmed javascript function"


def test_javascript_unknown_function_is_ignored() -> None:
    children = children_of(
        {"function": "<anonymous>", "filename": "a.js"}, "javascript"
    )
    assert children["function"]["contributes"] is False
    assert children["function"]["hint"] == "ignored unknown function name"


def test_javascript_eval_frame_is_low_quality() -> None:
    _children, _contributes, hint = frame_children(
        {"function": "eval", "filename": "x.js"},
        filename="x.js",
        platform="javascript",
        function="eval",
        raw_function=None,
    )
    assert hint == "ignored low quality javascript frame"


def test_sourcemapped_function_yields_to_context_line() -> None:
    frame = {
        "function": "render",
        "filename": "app.js",
        "context_line": "throw new Error(message);",
        "data": {"sourcemap": "app.js.map"},
    }
    children = children_of(frame, "javascript")
    assert children["function"]["contributes"] is False
    assert children["context_line"]["contributes"] is True


def test_context_line_whitespace_is_collapsed() -> None:
    children = children_of({"function": "f", "context_line": "  x  =\t1  "}, "python")
    assert children["context_line"]["values"] == ["x = 1"]


def test_long_context_line_is_ignored() -> None:
    children = children_of({"function": "f", "context_line": "x" * 121}, "python")
    assert children["context_line"]["contributes"] is False
    assert children["context_line"]["hint"] == "ignored because line is too long"


def test_context_line_only_on_trusted_platforms() -> None:
    children = children_of({"function": "f", "context_line": "x = 1"}, "java")
    assert "context_line" not in children


def test_native_unknown_function_is_ignored() -> None:
    children = children_of({"function": "<unknown>", "package": "libc.so"}, "native")
    assert children["function"]["contributes"] is False


@pytest.mark.parametrize(
    ("frame", "platform"),
    [
        (
            {"module": "app.views", "function": "index", "context_line": "x = 1"},
            "python",
        ),
        ({"filename": "app.js", "abs_path": "https://a.io/app.js"}, "javascript"),
        ({"filename": "app.js", "function": "Foo.bar", "context_line": "f()"}, "node"),
        ({"module": "sun.reflect.GeneratedMethodAccessor12"}, "java"),
        ({"function": "<redacted>", "package": "/usr/lib/libc.so"}, "native"),
        ({"filename": "src/Main.c", "function": "run"}, "c"),
    ],
)
def test_frame_text_joins_contributing_leaves(
    frame: dict[str, Any], platform: str
) -> None:
    built = build_frame_children(
        frame.get("abs_path"),
        frame.get("module"),
        frame.get("filename"),
        platform,
        frame.get("context_line"),
        bool(frame.get("function")),
        frame.get("function"),
        None,
        False,
    )
    leaves = [
        str(value)
        for child in built.children
        if child["contributes"]
        for value in child["values"]
    ]
    assert built.text.leaf_text == "".join(leaves)


def test_frames_differing_in_function_share_children() -> None:
    first, second = (
        build_frame_children(
            "/srv/app/views.py",
            "app.views",
            "app/views.py",
            "python",
            "return render()",
            True,
            function,
            None,
            False,
        )
        for function in ("index", "detail")
    )
    assert first.children[0] is second.children[0]
    assert first.children[1] is second.children[1]
    assert first.children[3] is second.children[3]
    assert first.children[2]["values"] == ["index"]
    assert second.children[2]["values"] == ["detail"]
