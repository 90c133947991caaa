"""The stack trace strategy: frames become a ``stacktrace`` component per variant.

The frames come prepared (`consumers.grouping.prepared_frames`): cleaned and
classified by the classifier rules. Each variant builds frame components and
lets the contribution rules decide which frames count: in the ``app``
variant only in-app frames do.
"""

from __future__ import annotations

from sentry_ophio.enhancers import AssembleResult
from sentry_ophio.enhancers import Component as RustComponent

from consumers.grouping.component import Component
from consumers.grouping.enhancements import Enhancements
from consumers.grouping.frame_children import FrameChildren
from consumers.grouping.hints import (
    app_variant_system_frame_hint,
    combine_hints,
    frame_hint,
    stacktrace_hint,
    system_variant_frame_hint,
)
from consumers.grouping.platforms import behavior_family, has_url_origin
from consumers.grouping.prepared_frames import PreparedFrame, PreparedStacktrace


def stacktrace_variants(
    stacktrace: PreparedStacktrace,
    enhancements: Enhancements,
    *,
    hints: bool = True,
    app_only: bool = False,
) -> dict[str, Component]:
    """Return the ``app`` and ``system`` stacktrace components of a stack trace.

    With ``hints`` False the frame components carry no hints, which saves
    most of the work per frame. Flags, values and so the hashes stay the same.
    With ``app_only`` the result has the ``app`` component alone, the same
    as in the full result, and the system variant's contribution pass is
    skipped. Only rules without ``max-frames`` allow it (see
    `Enhancements.limits_contributing_frames`): with such a rule, whether
    the app variant contributes depends on the system variant's pass.
    """
    frames = stacktrace.frames
    if not frames:
        return {
            variant: Component(
                "stacktrace",
                contributes=False,
                hint="ignored because it contains no frames",
            )
            for variant in (("app",) if app_only else ("app", "system"))
        }

    children = [frame.facts.children for frame in frames]
    contributes, incoming = _frame_flags(frames, children)
    in_app = [bool(frame.in_app) for frame in frames]
    if app_only:
        app_rules, app_result = _app_contribution_rules(
            stacktrace, enhancements, contributes, in_app
        )
    else:
        system_rules, system_result, app_rules, app_result = _apply_contribution_rules(
            stacktrace, enhancements, contributes, in_app
        )
    app_frames, app = _app_component(
        stacktrace,
        enhancements,
        children,
        (incoming if hints else None),
        in_app,
        app_rules,
        app_result,
    )
    if app_only:
        # Without `max-frames`, an in-app frame's flag is the same in both
        # passes, so the app pass shows whether an in-app frame contributes.
        _explain_ignored_app(
            app, in_app, any(frame["contributes"] for frame in app_frames)
        )
        return {"app": app}

    if hints:
        system_frames = [
            Component.for_frame(
                built,
                bool(rules.contributes),
                system_variant_frame_hint(rules.hint, hint),
                is_app,
            )
            for built, rules, hint, is_app in zip(
                children, system_rules, incoming, in_app, strict=True
            )
        ]
    else:
        # Without hints a frame component is one of four per distinct frame,
        # so the components are shared by both variants and all events.
        system_frames = [
            _shared_frame(built, bool(rules.contributes), is_app)
            for built, rules, is_app in zip(children, system_rules, in_app, strict=True)
        ]
    system = Component(
        "stacktrace",
        system_frames,
        contributes=bool(system_result.contributes),
        hint=stacktrace_hint(system_result.hint),
    )
    if not any(frame["contributes"] for frame in system_frames):
        system.update_component(
            contributes=False, hint="ignored because it contains no contributing frames"
        )
    # In-app frames are counted in the system variant because only there
    # does every frame keep its own contributes flag.
    _explain_ignored_app(
        app,
        in_app,
        any(
            frame["contributes"] and is_app
            for frame, is_app in zip(system_frames, in_app, strict=True)
        ),
    )
    return {"app": app, "system": system}


def _app_component(
    stacktrace: PreparedStacktrace,
    enhancements: Enhancements,
    children: list[FrameChildren],
    incoming: list[str | None] | None,
    in_app: list[bool],
    app_rules: list[RustComponent] | None,
    app_result: AssembleResult | None,
) -> tuple[list[Component], Component]:
    """Build the app variant's frame components and stacktrace component.

    ``incoming`` are the frame strategy's hints, or None to leave hints out.
    ``app_rules`` and ``app_result`` are None when no frame is in-app.
    """
    app_flags = (
        [False] * len(in_app)
        if app_rules is None
        else [
            is_app and bool(rules.contributes)
            for rules, is_app in zip(app_rules, in_app, strict=True)
        ]
    )
    if incoming is not None:
        app_frames = [
            Component.for_frame(built, flag, hint, is_app)
            for built, flag, hint, is_app in zip(
                children, app_flags, incoming, in_app, strict=True
            )
        ]
    else:
        app_frames = [
            _shared_frame(built, flag, is_app)
            for built, flag, is_app in zip(children, app_flags, in_app, strict=True)
        ]
    if app_result is None:
        app = Component("stacktrace", app_frames, contributes=False)
    else:
        app = Component(
            "stacktrace",
            app_frames,
            contributes=bool(app_result.contributes),
            hint=stacktrace_hint(app_result.hint),
        )
    if incoming is not None:
        add_app_frame_hints(stacktrace, enhancements, app_frames, app_rules)
    return app_frames, app


def _frame_flags(
    frames: list[PreparedFrame], children: list[FrameChildren]
) -> tuple[list[bool], list[str | None]]:
    """Return each frame's flag and hint before the contribution rules run.

    In the app variant, frames that are not in-app do not contribute either.
    """
    contributes = [built.contributes for built in children]
    incoming: list[str | None] = [None] * len(frames)
    for index, built in enumerate(children):
        if built.frame_hint is not None:
            contributes[index] = False
            incoming[index] = built.frame_hint
        if index and _is_recursion(frames[index], frames[index - 1]):
            contributes[index] = False
            incoming[index] = "ignored due to recursion"
    if len(frames) == 1 and contributes[0] and _is_lone_url_frame(frames[0]):
        contributes[0] = False
        incoming[0] = "ignored single non-URL JavaScript frame"
    return contributes, incoming


def _apply_contribution_rules(
    stacktrace: PreparedStacktrace,
    enhancements: Enhancements,
    contributes: list[bool],
    in_app: list[bool],
) -> tuple[
    list[RustComponent],
    AssembleResult,
    list[RustComponent] | None,
    AssembleResult | None,
]:
    """Run the contribution rules for the system and the app variant.

    Returns per variant the per-frame results and the stack trace's result.
    The app variant's are None when it has no in-app frame.
    """
    system_rules = [RustComponent(flag) for flag in contributes]
    system_result = enhancements.contributes.assemble_stacktrace_component(
        stacktrace.match_frames, stacktrace.exception_data, system_rules
    )
    # The app variant needs its own pass only when in-app and other frames
    # mix: without in-app frames it cannot contribute, and with only in-app
    # frames its input equals the system variant's.
    if all(in_app):
        return system_rules, system_result, system_rules, system_result
    app_rules, app_result = _app_contribution_rules(
        stacktrace, enhancements, contributes, in_app
    )
    return system_rules, system_result, app_rules, app_result


def _app_contribution_rules(
    stacktrace: PreparedStacktrace,
    enhancements: Enhancements,
    contributes: list[bool],
    in_app: list[bool],
) -> tuple[list[RustComponent] | None, AssembleResult | None]:
    """Run the contribution rules for the app variant, in which only in-app
    frames count. Returns (None, None) when no frame is in-app."""
    if not any(in_app):
        return None, None
    app_rules = [
        RustComponent(flag and app)
        for flag, app in zip(contributes, in_app, strict=True)
    ]
    app_result = enhancements.contributes.assemble_stacktrace_component(
        stacktrace.match_frames, stacktrace.exception_data, app_rules
    )
    return app_rules, app_result


def _shared_frame(built: FrameChildren, contributes: bool, in_app: bool) -> Component:
    """Return the hint-less frame component of these flags, built once."""
    index = 2 * contributes + in_app
    component = built.shared_frames[index]
    if component is None:
        component = Component.for_frame(built, contributes, None, in_app)
        built.shared_frames[index] = component
    return component


def _is_lone_url_frame(frame: PreparedFrame) -> bool:
    # A lone JavaScript frame without a function name that points at a URL
    # is too little to group by.
    return (
        behavior_family(frame.facts.platform) == "javascript"
        and not frame.raw.get("function")
        and has_url_origin(_text(frame.raw.get("abs_path")), files_count_as_urls=True)
    )


def add_app_frame_hints(
    stacktrace: PreparedStacktrace,
    enhancements: Enhancements,
    components: list[Component],
    contribution_rules: list[RustComponent] | None,
) -> None:
    """Replace the hints of the app variant's frame components with final ones.

    Each component carries its flag and the frame strategy's hint on input.
    ``contribution_rules`` are the contribution pass's per-frame results, or
    None when the variant has no in-app frame.
    """
    frames = stacktrace.frames
    # The classifier pass only yields in-app hints, and only for frames whose
    # in_app differs from the client's.
    in_app_hints: list[str | None] = [None] * len(frames)
    if any(frame.in_app != frame.client_in_app for frame in frames):
        rust_frames = [RustComponent(None) for _ in frames]
        enhancements.classifier.assemble_stacktrace_component(
            stacktrace.match_frames_with_orig_in_app(),
            stacktrace.exception_data,
            rust_frames,
        )
        in_app_hints = [rust_frame.hint for rust_frame in rust_frames]

    for index, (frame, component, in_app_hint) in enumerate(
        zip(frames, components, in_app_hints, strict=True)
    ):
        if not frame.in_app or contribution_rules is None:
            # System frames never count in the app variant; only why they
            # are not in-app is shown.
            component["hint"] = app_variant_system_frame_hint(
                in_app_hint, frame.client_in_app
            )
            continue
        rules_hint = contribution_rules[index].hint
        component["hint"] = combine_hints(
            "app",
            component,
            frame_hint("app", frame, component, in_app_hint, "in-app"),
            frame_hint("app", frame, component, rules_hint, "contributes"),
        )


def _explain_ignored_app(
    app: Component, in_app: list[bool], in_app_frame_contributes: bool
) -> None:
    if not any(in_app):
        app.update_component(
            contributes=False, hint="ignored because it contains no in-app frames"
        )
    elif not in_app_frame_contributes:
        app.update_component(
            contributes=False, hint="ignored because it contains no contributing frames"
        )


def _is_recursion(frame: PreparedFrame, previous: PreparedFrame) -> bool:
    """Return whether ``frame`` repeats the call of the frame before it.

    Function and file name (as grouped) must be equal, and so must the raw
    abs_path, package, module, lineno and colno.
    """
    facts, before = frame.facts, previous.facts
    if facts.function != before.function or facts.filename != before.filename:
        return False
    get, get_before = frame.raw.get, previous.raw.get
    return (
        get("abs_path") == get_before("abs_path")
        and get("package") == get_before("package")
        and get("module") == get_before("module")
        and get("lineno") == get_before("lineno")
        and get("colno") == get_before("colno")
    )


def _text(value: object) -> str | None:
    return value if type(value) is str else None
