"""The strategy list of ``newstyle:2023-01-11`` and how its results combine.

Strategies run in priority order: exceptions, threads, stack trace, template,
security reports, message. Each returns components per variant. The first
strategy with a contributing component wins; later strategies' contributing
components are marked as overruled. Each variant's root component (``app``,
``system`` or ``default``) contains the components of every strategy that ran.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from consumers.grouping.component import Component
from consumers.grouping.enhancements import Enhancements
from consumers.grouping.exception_strategy import (
    chained_exception_variants,
    has_contributing_stacktrace,
    ignore_variants_without_stacktrace,
    is_exception_group,
)
from consumers.grouping.frames import is_mapping
from consumers.grouping.message_strategy import message_variants, template_variants
from consumers.grouping.security_strategy import csp_variants, hostname_report_variants
from consumers.grouping.threads_strategy import (
    stacktrace_only_variants,
    threads_variants,
)

Variants = dict[str, Component]
# (event, rules, whether frame components carry hints) -> component per variant.
Strategy = Callable[[Mapping[str, Any], Enhancements, bool], Variants | None]


def _exception_values(event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    exception = event.get("exception")
    values = exception.get("values") if is_mapping(exception) else None
    if not isinstance(values, list):
        return []
    return [value for value in values if is_mapping(value)]


def _exceptions(
    event: Mapping[str, Any],
    enhancements: Enhancements,
    hints: bool,
    *,
    app_only: bool = False,
) -> Variants | None:
    exceptions = _exception_values(event)
    if not exceptions:
        return None
    if app_only and any(is_exception_group(e) for e in exceptions):
        # Filtering an exception group compares both variants' hashes.
        return None
    variants = chained_exception_variants(
        exceptions,
        _platform(event),
        enhancements,
        filter_groups=not _is_python_sdk_3(event),
        hints=hints,
        app_only=app_only,
    )
    return variants


def _is_python_sdk_3(event: Mapping[str, Any]) -> bool:
    # Python SDK 3 added exception group ids that older events lacked; Sentry
    # skips group filtering for it so those hashes stay stable.
    sdk = event.get("sdk")
    version = sdk.get("version") if is_mapping(sdk) else None
    return (
        event.get("platform") == "python"
        and isinstance(version, str)
        and version.startswith("3")
    )


def _threads(
    event: Mapping[str, Any], enhancements: Enhancements, hints: bool
) -> Variants | None:
    threads = event.get("threads")
    values = threads.get("values") if is_mapping(threads) else None
    if not isinstance(values, list) or not values:
        return None
    return threads_variants(values, _platform(event), enhancements, hints=hints)


def _stacktrace(
    event: Mapping[str, Any], enhancements: Enhancements, hints: bool
) -> Variants | None:
    stacktrace = event.get("stacktrace")
    if not is_mapping(stacktrace):
        return None
    return stacktrace_only_variants(
        stacktrace, _platform(event), enhancements, hints=hints
    )


def _template(
    event: Mapping[str, Any], _enhancements: Enhancements, _hints: bool
) -> Variants | None:
    template = event.get("template")
    return template_variants(template) if is_mapping(template) else None


def _csp(
    event: Mapping[str, Any], _enhancements: Enhancements, _hints: bool
) -> Variants | None:
    report = event.get("csp")
    return csp_variants(report) if is_mapping(report) else None


def _report(key: str, kind: str) -> Strategy:
    def strategy(
        event: Mapping[str, Any], _enhancements: Enhancements, _hints: bool
    ) -> Variants | None:
        report = event.get(key)
        return hostname_report_variants(kind, report) if is_mapping(report) else None

    return strategy


def _message(
    event: Mapping[str, Any], _enhancements: Enhancements, _hints: bool
) -> Variants | None:
    logentry = event.get("logentry")
    return message_variants(logentry) if is_mapping(logentry) else None


# (name used in precedence hints, strategy, whether variants without a
# contributing stack trace yield to those with one), highest priority first.
STRATEGIES: list[tuple[str, Strategy, bool]] = [
    ("exception", _exceptions, True),
    ("threads", _threads, True),
    ("stacktrace", _stacktrace, True),
    ("template", _template, False),
    ("csp", _csp, False),
    ("hpkp", _report("hpkp", "hpkp"), False),
    ("expect-ct", _report("expectct", "expect-ct"), False),
    ("expect-staple", _report("expectstaple", "expect-staple"), False),
    ("message", _message, False),
]


def _mark_duplicate_system(variants: Variants) -> dict[str, str | None]:
    """Ignore the system component when it hashes like the app one.

    Returns the hashes computed on the way, so they need not be computed again.
    """
    app = variants.get("app")
    system = variants.get("system")
    if app is None or system is None or not (app.contributes and system.contributes):
        return {}
    app_hash = app.get_hash()
    system_hash = system.get_hash()
    if app_hash == system_hash:
        system.update_component(
            contributes=False, hint="ignored because hash matches app variant"
        )
        return {"app": app_hash}
    return {"app": app_hash, "system": system_hash}


@dataclass(frozen=True)
class VariantRoots:
    """The root component per variant name, and the hash of each contributing root.

    Only the winning strategy contributes to a root, so a root's hash is the
    hash of that strategy's component, computed once here.
    """

    roots: dict[str, Component]
    hashes: dict[str, str | None]


def build_variant_roots(
    event: Mapping[str, Any],
    enhancements: Enhancements,
    *,
    include_overruled: bool = True,
    hints: bool = True,
) -> VariantRoots:
    """Run the strategies and return the root component per variant name.

    With ``include_overruled`` False, strategies after the winning one are
    skipped: hashes stay the same, but the trees lack the overruled
    components that Sentry's grouping info shows. With ``hints`` False,
    frame components carry no hints.
    """
    collected: dict[str, list[Component]] = {}
    precedence_hint: str | None = None
    hashes: dict[str, str | None] = {}
    for name, strategy, prefers_stacktraces in STRATEGIES:
        if precedence_hint is not None and not include_overruled:
            break
        variants = strategy(event, enhancements, hints)
        if not variants:
            continue
        known = _mark_duplicate_system(variants)
        if prefers_stacktraces:
            ignore_variants_without_stacktrace(variants)
        for variant, component in variants.items():
            collected.setdefault(variant, []).append(component)
        contributing = sorted(v for v, c in variants.items() if c.contributes)
        if not contributing:
            continue
        if precedence_hint is None:
            verb = "take" if name.endswith("s") else "takes"
            precedence_hint = (
                f"ignored because {'/'.join(contributing)} {name} {verb} precedence"
            )
            for variant in contributing:
                hashes[variant] = known.get(variant) or variants[variant].get_hash()
        else:
            for component in variants.values():
                if component.contributes:
                    component.update_component(contributes=False, hint=precedence_hint)

    roots: dict[str, Component] = {}
    for variant, components in collected.items():
        root = Component(variant, components)
        if not root.contributes and precedence_hint is not None:
            root.hint = precedence_hint
        roots[variant] = root
    return VariantRoots(roots, hashes)


def _platform(event: Mapping[str, Any]) -> str | None:
    platform = event.get("platform")
    return platform if isinstance(platform, str) else None


def app_exception_roots(
    event: Mapping[str, Any], enhancements: Enhancements
) -> VariantRoots | None:
    """Return the app variant's root, built alone, when it decides the hash.

    That is when the exception strategy, which runs first, gives the app
    variant a contributing stack trace. The app variant then wins whatever
    the system variant contains. Its root and hash are the ones that
    `build_variant_roots` computes without overruled strategies and hints.
    Returns None when only the system variant can settle it: no exception,
    an exception group, rules with ``max-frames``, or an app variant
    without a contributing stack trace, which the system variant's stack
    trace would overrule.
    """
    if enhancements.limits_contributing_frames:
        return None
    variants = _exceptions(event, enhancements, False, app_only=True)
    app = variants.get("app") if variants else None
    if app is None or not has_contributing_stacktrace(app):
        return None
    return VariantRoots({"app": Component("app", [app])}, {"app": app.get_hash()})
