"""Trimming of function names to the part that identifies the function.

Native symbols carry argument lists, return types, template arguments,
compiler-specific lambda names and hash suffixes that differ between builds;
C# frames from Unity carry signatures. Grouping uses the trimmed name, with
the same rules as Sentry's ``trim_function_name`` so hashes agree.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from consumers.grouping.platforms import behavior_family

_WINDOWS_DECL_RE = re.compile(r"^@?(.*?)@[0-9]+$")
_RUST_HASH_RE = re.compile(r"::h[a-z0-9]{16}$")
_GLIBC_VERSION_RE = re.compile(r"@@?GLIBC_([0-9.]+)$")
_CPP_TRAILER_RE = re.compile(r"(\bconst\b|&)$")
_RUST_BLANKET_IMPL_RE = re.compile(r"^([A-Z] as )")
# Lambda spellings of gcc ({lambda(...)#1}), msvc (lambda_<32 hex>) and clang ($_0).
_LAMBDA_RE = re.compile(
    r"(?:\{lambda\(.*?\)\#\d+\})|(?:\blambda_[a-f0-9]{32}\b)|(?:\$_\d+\b)"
)
_MSVC_ANON_NAMESPACE_RE = re.compile(r"\?A0x[a-f0-9]{8}::")
_TOKEN_BREAK_RE = re.compile(r"\s|[({<\[]")

_CLOSING = {"(": ")", "{": "}", "[": "]", "<": ">"}

# Operators and markers that would unbalance the bracket scanning are swapped
# for characters that never occur in symbols, then swapped back at the end.
_PLACEHOLDERS = (
    ("operator<<", "operator\u27e8\u27e8"),
    ("operator<", "operator\u27e8"),
    ("operator()", "operator\u25ef"),
    ("operator->", "operator\u27ff"),
    (" -> ", " \u27ff "),
    ("`anonymous namespace'", "\u3014anonymousnamespace\u3015"),
)
_ARROW = "\u27ff"


def replace_enclosed(
    text: str,
    opening: str,
    closing: str,
    replacement: str | Callable[[str, int], str] | None,
) -> str:
    """Replace each outermost ``opening ... closing`` span of ``text``.

    ``replacement`` is a string, a function of (inner text, start index), or
    None to drop the span.
    """
    if opening not in text:
        return text
    depth = 0
    start = 0
    parts: list[str] = []
    for index, char in enumerate(text):
        if char == opening:
            if depth == 0:
                start = index
            depth += 1
        elif char == closing:
            depth -= 1
            if depth == 0:
                if isinstance(replacement, str):
                    parts.append(replacement)
                elif replacement is not None:
                    parts.append(replacement(text[start + 1 : index], start))
        elif depth == 0:
            parts.append(char)
    return "".join(parts)


def split_tokens(text: str) -> list[str]:
    """Split at top-level whitespace, keeping bracketed groups inside tokens."""
    if text and _TOKEN_BREAK_RE.search(text) is None:
        return [text]
    tokens: list[str] = []
    current: list[str] = []
    expected: list[str] = []
    end = 0
    for index, char in enumerate(text):
        if char in _CLOSING:
            expected.append(_CLOSING[char])
        elif expected and char == expected[-1]:
            expected.pop()
            if not expected:
                current.append(text[end : index + 1])
                end = index + 1
        elif not expected:
            if char.isspace():
                if current:
                    tokens.append("".join(current))
                current = []
            else:
                current.append(text[end : index + 1])
            end = index + 1
    if current:
        tokens.append("".join(current))
    return tokens


@functools.lru_cache(maxsize=1 << 13)
def trim_function_name(
    function: str, platform: str | None, *, normalize_lambdas: bool = True
) -> str:
    """Return the grouping-relevant part of ``function`` for ``platform``."""
    if platform == "csharp":
        return function.split(" (", 1)[0]
    if behavior_family(platform) == "native":
        return _trim_native(function, platform, normalize_lambdas)
    return function


def _drop_clone_annotation(inner: str, _start: int) -> str:
    return "" if inner.startswith("clone .") else f"[{inner}]"


def _drop_arguments(inner: str, _start: int) -> str:
    inner = inner.strip()
    if inner in ("anonymous namespace", "operator"):
        return f"({inner})"
    return ""


def _resolve_generics(inner: str, start: int) -> str:
    if inner == "lambda" or _LAMBDA_RE.match(inner):
        return f"<{inner}>"
    if start > 0:
        return "<T>"
    # A leading <Type as Trait> is Rust's trait notation: keep the type.
    inner = _RUST_BLANKET_IMPL_RE.sub("", inner)
    inner = replace_enclosed(inner, "<", ">", _resolve_generics)
    return inner.split(" as ", 1)[0]


def _trim_native(function: str, platform: str | None, normalize_lambdas: bool) -> str:
    if function in ("<redacted>", "<unknown>"):
        return function
    original = function
    function = function.strip()
    if function.startswith(("[", "+[", "-[")):
        return function  # Objective-C selectors are already minimal.

    function = replace_enclosed(function, "[", "]", _drop_clone_annotation).rstrip()
    while (match := _CPP_TRAILER_RE.search(function)) is not None:
        function = function[: match.start()].rstrip()

    for text, placeholder in _PLACEHOLDERS:
        function = function.replace(text, placeholder)
    if normalize_lambdas and ("lambda" in function or "$_" in function):
        function = _LAMBDA_RE.sub("lambda", function)
    if normalize_lambdas and "?A0x" in function:
        function = _MSVC_ANON_NAMESPACE_RE.sub(
            "\u3014anonymousnamespace\u3015::", function
        )

    function = replace_enclosed(function, "(", ")", _drop_arguments)
    function = replace_enclosed(function, "<", ">", _resolve_generics)
    is_thunk = "thunk for " in function
    tokens = split_tokens(function)
    if len(tokens) > 1 and tokens[-1] == "<T>":
        tokens.pop()
        tokens[-1] += " <T>"

    name = _pick_function_token(function, tokens)
    if not name:
        function = original
    else:
        if name.startswith("@") and platform in ("cocoa", "swift"):
            name = ("thunk for " if is_thunk else "") + "closure"
        elif "closure" in tokens and name != "closure":
            name = "closure in " + name
        function = (
            name.replace("\u27e8", "<")
            .replace("\u25ef", "()")
            .replace(_ARROW, "->")
            .replace("\u3014anonymousnamespace\u3015", "`anonymous namespace'")
        )

    if "::h" in function:
        function = _RUST_HASH_RE.sub("", function)
    if "@GLIBC_" in function:
        function = _GLIBC_VERSION_RE.sub("", function)
    if "@" in function:
        function = _WINDOWS_DECL_RE.sub(r"\1", function)
    return function


def _pick_function_token(function: str, tokens: list[str]) -> str | None:
    """Return the token that names the function: left of Swift's ``->``, else last."""
    if "initialization expression of" in function:
        last_of = len(tokens) - 1 - tokens[::-1].index("of")
        token = tokens[last_of + 1]
        if token == "static":
            token = tokens[last_of + 2]
        if token.startswith(":"):
            token = token[1:]
        return "initializer expression of " + token
    if not tokens:
        return None
    if _ARROW in tokens:
        last_arrow = len(tokens) - 1 - tokens[::-1].index(_ARROW)
        try:
            token = tokens[last_arrow - 1]
            if token == "throws":
                token = tokens[last_arrow - 2]
            return token
        except IndexError:
            return tokens[-1]
    return tokens[-1]
