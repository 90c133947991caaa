"""The frame strategy: one frame becomes a ``frame`` component.

Children, in order: ``module``, ``filename``, ``function`` and, on platforms
with trusted source, ``context_line``. Each child is cleaned per platform
(basename and lower case for file names, generated-class markers removed for
Java modules, trimmed names for native and JavaScript functions) and marked
non-contributing where the value is known to vary between equal errors.

The children depend only on a few strings and flags, so they are built by
cached functions and shared between variants and events: never modify them.
"""

from __future__ import annotations

import functools
import re

from consumers.grouping.component import Component
from consumers.grouping.platforms import (
    behavior_family,
)

_RUBY_ERB_SUFFIX_RE = re.compile(r"__\d{4,}_\d{4,}$")
_PATH_SEPARATOR_RE = re.compile(r"[/\\]")

# Generated Java classes whose numeric or hex suffix changes between runs.
_JAVA_REFLECT_RE = re.compile(
    r"(sun\.reflect\.Generated(?:Serialization)?ConstructorAccessor)\d+"
)
_JAVA_CGLIB_RE = re.compile(r"(\$\$[\w_]+?CGLIB\$\$)[a-fA-F0-9]+(_[0-9]+)?")
_JAVA_JAVASSIST_RE = re.compile(r"(\$\$_javassist)(?:_seam)?(?:_[0-9]+)?")
_CLOJURE_FN_RE = re.compile(r"(\$fn__)\d+")
_JAVA_ENHANCER_BY_RE = re.compile(
    r"(\$\$?EnhancerBy[\w_]+?\$?\$)[a-fA-F0-9]+(_[0-9]+)?"
)
_JAVA_FAST_CLASS_BY_RE = re.compile(
    r"(\$\$?FastClassBy[\w_]+?\$?\$)[a-fA-F0-9]+(_[0-9]+)?"
)
_JAVA_HIBERNATE_PROXY_RE = re.compile(r"(\$\$?HibernateProxy\$?\$)\w+(_[0-9]+)?")
_JAVA_CODEGEN_RES = (
    _JAVA_REFLECT_RE,
    _JAVA_CGLIB_RE,
    _JAVA_JAVASSIST_RE,
    _CLOJURE_FN_RE,
    _JAVA_ENHANCER_BY_RE,
    _JAVA_FAST_CLASS_BY_RE,
    _JAVA_HIBERNATE_PROXY_RE,
)

_REFLECTION_ACCESSORS = (
    "sun.reflect.GeneratedMethodAccessor",
    "jdk.internal.reflect.GeneratedMethodAccessor",
)
_UNKNOWN_JS_FUNCTIONS = frozenset(
    {"?", "<anonymous function>", "<anonymous>", "Anonymous function"}
)

MAX_CONTEXT_LINE_LENGTH = 120
_CACHE_SIZE = 1 << 12

_EMPTY_FUNCTION = Component("function")
_EMPTY_CONTEXT_LINE = Component("context_line")


@functools.lru_cache(maxsize=_CACHE_SIZE)
def module_component(
    module: str, platform: str | None, path_ends_with_module: bool
) -> Component:
    """Build the module child.

    ``path_ends_with_module`` is whether the frame's abs_path ends with it.
    """
    if platform == "javascript" and "/" in module and path_ends_with_module:
        return Component(
            "module", [module], contributes=False, hint="ignored bad javascript module"
        )
    if platform != "java":
        return Component("module", [module])
    contributes = None
    hint = None
    if "$$Lambda$" in module:
        contributes, hint = False, "ignored java lambda"
    # Replacing the value makes the module count again, even a lambda's, as
    # in Sentry.
    for accessor in _REFLECTION_ACCESSORS:
        if module.startswith(accessor):
            return Component("module", [accessor], hint="removed reflection marker")
    cleaned = module
    for pattern in _JAVA_CODEGEN_RES:
        cleaned = pattern.sub(r"\1<auto>", cleaned)
    if cleaned != module:
        return Component("module", [cleaned], hint="removed codegen marker")
    return Component("module", [module], contributes=contributes, hint=hint)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def filename_component(
    filename: str, platform: str | None, points_to_url: bool, module_contributes: bool
) -> Component:
    """Build the filename child: lower-case basename, ignored for URLs and markers."""
    basename = _PATH_SEPARATOR_RE.split(filename)[-1].lower()
    if points_to_url:
        return Component(
            "filename",
            [basename],
            contributes=False,
            hint="ignored because frame points to a URL",
        )
    if basename == "<anonymous>":
        return Component(
            "filename",
            [basename],
            contributes=False,
            hint="ignored because filename is anonymous",
        )
    if basename == "[native code]":
        return Component(
            "filename",
            [basename],
            contributes=False,
            hint="ignored because filename suggests native code",
        )
    hint = None
    if platform == "java":
        cleaned = _JAVA_JAVASSIST_RE.sub(r"\1<auto>", basename)
        if cleaned != basename:
            basename, hint = cleaned, "cleaned javassist parts"
    if module_contributes:
        return Component(
            "filename",
            [basename],
            contributes=False,
            hint="ignored because module takes precedence",
        )
    return Component("filename", [basename], hint=hint)


def function_component(
    function: str | None,
    raw_function: str | None,
    platform: str | None,
    sourcemap_used: bool,
    context_line_available: bool,
) -> Component:
    """Build the function child from the trimmed and the raw function name.

    The JavaScript rule for unknown names is left to
    `apply_unknown_javascript_name`, because Sentry applies it after the
    frame took its flag from this child. C# prefers the raw name because
    Sentry started trimming C# names after their hashes were fixed.
    """
    if platform == "csharp":
        name = raw_function or function
    else:
        name = function or raw_function
    family = behavior_family(platform)
    if not name:
        return _EMPTY_FUNCTION
    component = _named_function_component(name, platform, family)
    if family == "javascript" and sourcemap_used and context_line_available:
        # Function names from source maps are unreliable when the
        # context line can identify the frame instead.
        component = Component(
            "function",
            component.values_list,
            contributes=False,
            hint="ignored because sourcemap used and context line available",
        )
    return component


def _named_function_component(
    name: str, platform: str | None, family: str
) -> Component:
    if platform == "ruby":
        if name.startswith("block "):
            return Component("function", ["block"], hint="ruby block")
        cleaned = _RUBY_ERB_SUFFIX_RE.sub("", name)
        if cleaned != name:
            return Component(
                "function", [cleaned], hint="removed generated erb template suffix"
            )
    elif platform == "php":
        contributes = None
        hint = None
        if name.startswith(("[Anonymous", "class@anonymous\x00")):
            contributes, hint = False, "ignored anonymous function"
        if name.startswith("class@anonymous"):
            method = name.rsplit("::", 1)[-1]
            if method != name:
                return Component("function", [method], hint="anonymous class method")
        return Component("function", [name], contributes=contributes, hint=hint)
    elif platform == "java":
        if name.startswith("lambda$"):
            return Component(
                "function", [name], contributes=False, hint="ignored lambda function"
            )
    elif family == "native":
        if name in ("<redacted>", "<unknown>"):
            return Component(
                "function", [name], contributes=False, hint="ignored unknown function"
            )
    elif family == "javascript":
        # Browsers disagree on the receiver prefix (Object.foo versus foo).
        method = name.rsplit(".", 1)[-1]
        if method != name:
            return Component("function", [method], hint="trimmed javascript function")
    return Component("function", [name])


def apply_unknown_javascript_name(component: Component, name: str | None) -> Component:
    """Mark a JavaScript function child without a usable name as not contributing.

    Unknown function names are dropped consistently, so equal errors from
    different browsers share a hash.
    """
    if name:
        name = name.rsplit(".", 1)[-1]
    if not name:
        if not component.contributes:
            return component
        return Component(
            "function", component.values_list, contributes=False, hint=component.hint
        )
    if name in _UNKNOWN_JS_FUNCTIONS or name.endswith("/<"):
        return Component(
            "function",
            component.values_list,
            contributes=False,
            hint="ignored unknown function name",
        )
    return component


@functools.lru_cache(maxsize=_CACHE_SIZE)
def context_line_component(raw: str, url_without_function: bool) -> Component:
    """Build the context line child (whitespace collapsed).

    ``url_without_function``: a JavaScript frame whose path is a URL and
    which has no function name.
    """
    line = " ".join(raw.split())
    if not line:
        return _EMPTY_CONTEXT_LINE
    if len(raw) > MAX_CONTEXT_LINE_LENGTH:
        return Component(
            "context_line",
            [line],
            contributes=False,
            hint="ignored because line is too long",
        )
    if url_without_function:
        return Component(
            "context_line",
            [line],
            contributes=False,
            hint="ignored because file path is a URL and function name is missing",
        )
    return Component("context_line", [line])
