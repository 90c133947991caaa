"""Hints on frame and stack trace components, worded as Sentry words them.

A frame can carry two kinds of hint: an in-app hint (why it is or is not
in-app, app variant only) and a contribution hint (why it is ignored or
un-ignored). Hints come from the client's ``in_app`` flag, from the rules
engine, or from the frame strategy; `frame_hint` picks one per kind and
`combine_hints` joins them.
"""

from __future__ import annotations

import re
from typing import Literal, Protocol

from consumers.grouping.component import Component

HintKind = Literal["in-app", "contributes"]

# sentry-ophio names the rule as "stack trace rule (<rule>)"; every rule we
# load is a base rule, which Sentry labels "built-in".
_RULE_RE = re.compile(r"stack trace rule \((.+)\)$")


class _FrameFlags(Protocol):
    @property
    def in_app(self) -> bool | None: ...

    @property
    def client_in_app(self) -> bool | None: ...


def _with_rule_source(hint: str | None) -> str | None:
    if not hint:
        return None
    if "rule (" not in hint:
        return hint
    return _RULE_RE.sub(
        lambda match: f"built-in stacktrace rule ({match.group(1)})", hint
    )


def _kind(hint: str) -> HintKind:
    return "contributes" if "ignored" in hint else "in-app"


def _usable(variant: str, in_app: bool, hint: str | None, wanted: HintKind) -> bool:
    if hint is None or _kind(hint) != wanted:
        return False
    # A system frame never counts in the app variant, so why it is ignored
    # does not matter there. In-app changes do not matter in the system variant.
    if variant == "app" and not in_app and wanted == "contributes":
        return False
    return not (variant == "system" and wanted == "in-app")


def frame_hint(
    variant: str,
    frame: _FrameFlags,
    component: Component,
    rules_hint: str | None,
    wanted: HintKind,
) -> str | None:
    """Return the hint of kind ``wanted`` for one frame component, or None."""
    final_in_app = bool(frame.in_app)
    client_in_app = frame.client_in_app
    incoming = component.hint
    if variant == "app" and wanted == "in-app":
        client_hint = None
        if client_in_app is not None and client_in_app == final_in_app:
            client_hint = (
                f"marked {'in-app' if client_in_app else 'out of app'} by the client"
            )
        default_hint = None if final_in_app else "non app frame"
        incoming = client_hint or default_hint or incoming

    use_rules_hint = _usable(variant, final_in_app, rules_hint, wanted)
    # The rules engine reports an in-app change even when the rule set the
    # value the client had sent; the client gets the credit then.
    if (
        variant == "app"
        and rules_hint is not None
        and rules_hint.startswith("marked")
        and final_in_app == client_in_app
    ):
        use_rules_hint = False
    if use_rules_hint:
        return _with_rule_source(rules_hint)
    if _usable(variant, final_in_app, incoming, wanted):
        return _with_rule_source(incoming)
    return None


def system_variant_frame_hint(
    rules_hint: str | None, incoming: str | None
) -> str | None:
    """Return a frame's hint in the system variant: why it is (un-)ignored, if known.

    Same result as `frame_hint` for the ``contributes`` kind, which is the
    only kind the system variant shows.
    """
    if rules_hint is not None and "ignored" in rules_hint:
        return _with_rule_source(rules_hint)
    if incoming is not None and "ignored" in incoming:
        return _with_rule_source(incoming)
    return None


def app_variant_system_frame_hint(
    rules_hint: str | None, client_in_app: bool | None
) -> str:
    """Return the hint of a frame that is not in-app, in the app variant.

    Same result as `frame_hint` for the ``in-app`` kind with a final
    ``in_app`` of False, which is the only hint such a frame shows there.
    """
    if (
        rules_hint is not None
        and "ignored" not in rules_hint
        and not (rules_hint.startswith("marked") and client_in_app is False)
    ):
        return _with_rule_source(rules_hint) or rules_hint
    if client_in_app is False:
        return "marked out of app by the client"
    return "non app frame"


def combine_hints(
    variant: str,
    component: Component,
    in_app_hint: str | None,
    contributes_hint: str | None,
) -> str | None:
    """Join a frame's in-app and contribution hints into its final hint."""
    if variant == "system":
        return contributes_hint
    if not component.in_app:
        return in_app_hint
    if in_app_hint and contributes_hint:
        conjunction = "and" if component.contributes else "but"
        return f"{in_app_hint} {conjunction} {contributes_hint}"
    return in_app_hint or contributes_hint


def stacktrace_hint(rules_hint: str | None) -> str | None:
    """Return the stack trace component's hint from the rules engine's hint."""
    hint = _with_rule_source(rules_hint)
    return hint.replace("stack trace", "stacktrace") if hint else None
