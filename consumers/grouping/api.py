"""The grouping entry point: hashes and component trees for one normalised event."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from consumers.grouping.enhancements import Enhancements, load_enhancements
from consumers.grouping.errors import GroupingError
from consumers.grouping.fingerprinting import (
    FingerprintRule,
    decide_fingerprint,
    is_default_fingerprint,
    load_built_in_rules,
)
from consumers.grouping.strategies import app_exception_roots, build_variant_roots
from consumers.grouping.variants import (
    GroupingVariant,
    checksum_variants,
    fingerprint_variants,
)


@dataclass(frozen=True)
class GroupingResult:
    """All variants of one event and its hashes, ``system`` last."""

    variants: dict[str, GroupingVariant]
    hashes: list[str]
    primary_hash: str | None

    def grouping_info(self) -> dict[str, dict[str, Any]]:
        """Return variant name -> Sentry's variant dict (hash, component ...)."""
        return {name: variant.as_dict() for name, variant in self.variants.items()}


@functools.lru_cache(maxsize=1)
def _built_in_rules() -> tuple[FingerprintRule, ...]:
    return tuple(load_built_in_rules())


def calculate_grouping(
    event: Mapping[str, Any],
    *,
    enhancements: Enhancements | None = None,
    fingerprint_rules: Sequence[FingerprintRule] | None = None,
    include_overruled: bool = True,
) -> GroupingResult:
    """Compute Sentry's ``newstyle:2023-01-11`` grouping of a normalised event.

    ``enhancements`` defaults to the project's rules file; ``fingerprint_rules``
    are project (server) rules, tried before the built-in ones.
    ``include_overruled`` False skips the strategies after the winning one.
    Hashes and the stack trace string stay the same and events with both
    exceptions and threads take about half the work, but the trees lack the
    overruled components (such as a non-contributing ``threads``) that Sentry
    shows. The event is not modified. Raises GroupingError when the rules
    engine rejects a frame or the event's shape breaks a strategy.
    """
    if enhancements is None:
        enhancements = load_enhancements()
    variants = compute_variants(
        event,
        enhancements,
        fingerprint_rules or (),
        include_overruled=include_overruled,
    )
    hashes = ordered_hashes(variants)
    return GroupingResult(variants, hashes, hashes[0] if hashes else None)


def compute_variants(
    event: Mapping[str, Any],
    enhancements: Enhancements,
    fingerprint_rules: Sequence[FingerprintRule],
    *,
    include_overruled: bool,
    hints: bool = True,
    system_if_needed: bool = False,
) -> dict[str, GroupingVariant]:
    """Compute the variants of a normalised event (see `calculate_grouping`).

    ``hints`` False leaves the hints out of frame components, which saves
    time when only hashes and flags are needed. Those frame components are
    shared with other events' results, so treat the trees as read-only.
    ``system_if_needed`` leaves the ``system`` variant out when the ``app``
    variant decides the hash without it (see `app_exception_roots`) and the
    fingerprint is the default one. It applies only when ``include_overruled``
    and ``hints`` are both False. Raises GroupingError.
    """
    try:
        return _compute_variants(
            event,
            enhancements,
            fingerprint_rules,
            include_overruled,
            hints,
            system_if_needed and not include_overruled and not hints,
        )
    except GroupingError:
        raise
    except (RuntimeError, TypeError, ValueError, KeyError, AttributeError) as error:
        event_id = event.get("event_id") or "<no id>"
        raise GroupingError(
            f"grouping failed for event {event_id}: {error!r}"
        ) from error


def _compute_variants(
    event: Mapping[str, Any],
    enhancements: Enhancements,
    fingerprint_rules: Sequence[FingerprintRule],
    include_overruled: bool,
    hints: bool,
    system_if_needed: bool,
) -> dict[str, GroupingVariant]:
    checksum = event.get("checksum")
    if isinstance(checksum, str) and checksum:
        return checksum_variants(checksum)
    decision = decide_fingerprint(event, [*fingerprint_rules, *_built_in_rules()])
    if system_if_needed and is_default_fingerprint(decision.fingerprint):
        app_alone = app_exception_roots(event, enhancements)
        if app_alone is not None:
            return fingerprint_variants(app_alone, decision, event)
    built = build_variant_roots(
        event, enhancements, include_overruled=include_overruled, hints=hints
    )
    return fingerprint_variants(built, decision, event)


def ordered_hashes(variants: Mapping[str, GroupingVariant]) -> list[str]:
    """Return the distinct hashes of contributing variants, ``system`` last."""
    hashes: list[str] = []
    ordered = sorted(variants.values(), key=lambda variant: variant.name == "system")
    for variant in ordered:
        if (
            variant.contributes
            and variant.hash is not None
            and variant.hash not in hashes
        ):
            hashes.append(variant.hash)
    return hashes
