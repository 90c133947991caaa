"""Strategies for events without stack traces: template and message."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from consumers.grouping.component import Component
from consumers.grouping.parameterization import normalize_message_for_grouping


def message_variants(logentry: Mapping[str, Any]) -> dict[str, Component]:
    """Return the ``message`` component of the ``default`` variant.

    The message template (``logentry.message``) is preferred over the
    formatted text, so parameters do not split groups.
    """
    raw = _text(logentry.get("message")) or _text(logentry.get("formatted")) or ""
    normalized = normalize_message_for_grouping(raw)
    hint = "stripped event-specific values" if normalized != raw else None
    return {"default": Component("message", [normalized], hint=hint)}


def template_variants(template: Mapping[str, Any]) -> dict[str, Component]:
    """Return the ``template`` component (file basename and line) of ``default``."""
    filename = Component("filename")
    name = _text(template.get("filename"))
    if name is not None:
        filename.update_component(values=[posixpath.basename(name)])
    context_line = Component("context_line")
    line = _text(template.get("context_line"))
    if line is not None:
        context_line.update_component(values=[line])
    return {"default": Component("template", [filename, context_line])}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
