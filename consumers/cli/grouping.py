"""`seer-backfill grouping`: inspect how events group and check conformance.

`explain` shows, for one event, every grouping variant with its hash and
component tree, and the stacktrace string Seer would embed, so a user can see
why two events share a group or not. `conformance` checks the grouping engine
and the stacktrace string against Sentry's reference cases.

Exit codes: 0 success, 1 failure (unreadable event, grouping error, cases
below the thresholds), 2 usage error.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import click

from consumers.cli.options import setting
from consumers.grouping import (
    Enhancements,
    GroupingError,
    calculate_grouping,
    get_exception_type,
    has_stacktrace,
    load_enhancements,
    normalize_event,
)
from consumers.grouping.conformance import ConformanceReport, run_conformance
from consumers.grouping.frames import (
    MAX_FRAME_COUNT,
    PLATFORMS_BYPASSING_FRAME_COUNT_CHECK,
    count_contributing_frames,
    has_too_many_contributing_frames,
)
from consumers.grouping.stacktrace_string import get_stacktrace_string
from consumers.grouping.string_cases import (
    StringCaseError,
    default_shared_dir,
    run_stacktrace_cases,
)
from consumers.ingest.sources import read_source

# Default floor for `conformance`: the share of Sentry's grouping inputs whose
# every variant hash must match. This project's choice, set under the rate the
# engine reaches, so that a regression fails the command.
DEFAULT_MIN_HASH_RATE = 0.9

# Keys of a variant dict that the text output renders itself; any other key
# (fingerprint values, checksum) is printed as JSON.
_VARIANT_KEYS = frozenset(["hash", "contributes", "component"])

_SEPARATOR = "-" * 74

shared_dir_option = setting(
    "--shared-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory containing reference/ (Sentry's cases). Default: ../shared "
    "next to the repository checkout.",
)


@click.group()
def grouping() -> None:
    """Inspect grouping hashes and Seer stacktrace strings."""


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    raise SystemExit(1)


def _read_event(path: str, index: int) -> dict[str, Any]:
    """Return event `index` of a file in any form `ingest` reads."""
    try:
        source = read_source(Path(path))
    except OSError as exc:
        _fail(f"cannot read event file {path}: {exc.strerror or exc}")
    if source.error is not None:
        _fail(f"event file {path}: {source.error}")
    if index >= len(source.items):
        count = len(source.items)
        noun = "event" if count == 1 else "events"
        raise click.BadParameter(
            f"{index} is out of range: {path} contains {count} {noun}",
            param_hint="--index",
        )
    item = source.items[index]
    if item.error is not None:
        _fail(f"event {index} of {path}: {item.error}")
    if not isinstance(item.value, dict):
        _fail(
            f"event {index} of {path} must be a JSON object, got "
            f"{type(item.value).__name__}"
        )
    return item.value


def _load_rules(rules: str | None) -> Enhancements:
    try:
        return load_enhancements(rules)
    except GroupingError as exc:
        _fail(str(exc))


def _seer_summary(
    event: Mapping[str, Any],
    grouping_info: Mapping[str, Any],
    primary_hash: str | None,
    stacktrace_string: str,
) -> dict[str, Any]:
    """Describe what the backfill would send to Seer, or why it would skip."""
    too_many = has_too_many_contributing_frames(event, grouping_info)
    checks = [
        (not has_stacktrace(event), "no stacktrace"),
        (too_many, f"more than {MAX_FRAME_COUNT} contributing frames"),
        (not stacktrace_string, "empty stacktrace string"),
        (primary_hash is None, "no primary hash"),
    ]
    skip_reason = next((reason for failed, reason in checks if failed), None)
    return {
        "exception_type": get_exception_type(event),
        "contributing_frames": count_contributing_frames(grouping_info),
        "too_many_contributing_frames": too_many,
        "skip_reason": skip_reason,
    }


def _leaf_text(value: Any) -> str:
    return (
        json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)
    )


def format_component(component: Mapping[str, Any], indent: int = 0) -> list[str]:
    """Render a component tree as Sentry's snapshots do.

    A `*` after the id marks a contributing node and a hint follows in
    parentheses. Leaf strings are JSON-quoted, numbers bare, each on its own
    line one level deeper.
    """
    marker = "*" if component.get("contributes") else ""
    hint = component.get("hint")
    line = f"{'  ' * indent}{component.get('id')}{marker}"
    lines = [f"{line} ({hint})" if hint else line]
    values = component.get("values")
    for value in values if isinstance(values, list) else []:
        if isinstance(value, Mapping):
            lines.extend(format_component(value, indent + 1))
        else:
            lines.append(f"{'  ' * (indent + 1)}{_leaf_text(value)}")
    return lines


def format_variant(name: str, variant: Mapping[str, Any]) -> list[str]:
    hash_value = variant.get("hash")
    lines = [
        f"{name}:",
        f"  hash: {json.dumps(hash_value)}",
        f"  contributes: {json.dumps(bool(variant.get('contributes')))}",
    ]
    for key, value in variant.items():
        if key not in _VARIANT_KEYS:
            lines.append(f"  {key}: {json.dumps(value, ensure_ascii=False)}")
    component = variant.get("component")
    if isinstance(component, Mapping):
        lines.append("  component:")
        lines.extend(format_component(component, indent=2))
    return lines


def format_explanation(report: Mapping[str, Any]) -> str:
    """Render the `explain` report as text."""
    lines = [
        f"event: {report['event']}",
        f"platform: {report['platform']}",
        f"normalized: {'yes' if report['normalized'] else 'no'}",
        f"primary hash: {report['primary_hash']}",
        f"hashes: {', '.join(report['hashes']) or '(none)'}",
        "",
    ]
    for index, (name, variant) in enumerate(report["variants"].items()):
        if index:
            lines.append(_SEPARATOR)
        lines.extend(format_variant(name, variant))

    seer = report["seer"]
    platform = report["platform"]
    frames = f"{seer['contributing_frames']} (limit {MAX_FRAME_COUNT}"
    if platform in PLATFORMS_BYPASSING_FRAME_COUNT_CHECK:
        frames += f", not applied to {platform}"
    lines += [
        "",
        "seer:",
        f"  exception type: {seer['exception_type']}",
        f"  contributing frames: {frames})",
        f"  skip reason: {seer['skip_reason'] or 'none, the event would be sent'}",
        "  stacktrace string:",
    ]
    string_lines = report["stacktrace_string"].splitlines() or ["(empty)"]
    lines.extend(f"    | {line}" for line in string_lines)
    return "\n".join(lines)


def explain_event(
    event_path: str,
    event: dict[str, Any],
    *,
    normalize: bool,
    enhancements: Enhancements,
) -> dict[str, Any]:
    """Group one event and collect everything `explain` prints.

    Raises `GroupingError` when normalising or grouping fails.
    """
    if normalize:
        event = normalize_event(event)
    result = calculate_grouping(event, enhancements=enhancements)
    grouping_info = result.grouping_info()
    platform = event.get("platform")
    stacktrace_string = get_stacktrace_string(
        grouping_info, platform if isinstance(platform, str) else None
    )
    return {
        "event": event_path,
        "platform": platform,
        "normalized": normalize,
        "primary_hash": result.primary_hash,
        "hashes": list(result.hashes),
        "variants": {
            name: {
                "hash": variant.get("hash"),
                "contributes": bool(variant.get("contributes")),
                "component": variant.get("component"),
                **{k: v for k, v in variant.items() if k not in _VARIANT_KEYS},
            }
            for name, variant in grouping_info.items()
        },
        "stacktrace_string": stacktrace_string,
        "seer": _seer_summary(
            event, grouping_info, result.primary_hash, stacktrace_string
        ),
    }


@grouping.command()
@click.argument(
    "event_file", metavar="EVENT.json", type=click.Path(exists=True, dir_okay=False)
)
@click.option(
    "--index",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Which event of a file with several (a JSON list, an envelope) to "
    "explain, counted from 0.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: variants, component trees and the Seer string for people; "
    "json: one object with variants, primary_hash and stacktrace_string.",
)
@click.option(
    "--normalize/--no-normalize",
    default=True,
    show_default=True,
    help="Run Relay's event normaliser first, as Sentry does at ingest. Use "
    "--no-normalize for events already stored after normalisation.",
)
@click.option(
    "--rules",
    type=click.Path(dir_okay=False),
    default=None,
    help="Stack-trace rules (enhancements) file. Default: the project's rules.",
)
def explain(
    event_file: str, index: int, output_format: str, normalize: bool, rules: str | None
) -> None:
    """Show the grouping variants, hashes and Seer string of one event.

    EVENT.json is read as `ingest` reads files: one event object, a JSON
    list of events or a Sentry envelope (such as `generate-events` writes).

    Exit codes: 0 success, 1 the event or rules cannot be read or grouped,
    2 usage error (a missing file or an --index out of range).
    """
    event = _read_event(event_file, index)
    enhancements = _load_rules(rules)
    try:
        report = explain_event(
            event_file, event, normalize=normalize, enhancements=enhancements
        )
    except GroupingError as exc:
        _fail(f"cannot group event file {event_file}: {exc}")

    if output_format == "json":
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        click.echo(format_explanation(report))


def _grouping_report_dict(report: ConformanceReport) -> dict[str, Any]:
    return {
        "inputs": len(report.cases),
        "app_hash_rate": report.rate("app"),
        "system_hash_rate": report.rate("system"),
        "all_hashes_rate": report.all_hashes_rate,
        "cases": [
            {
                **dataclasses.asdict(case),
                "all_hashes_match": case.all_hashes_match,
                "trees_match": case.trees_match,
            }
            for case in report.cases
        ],
    }


@grouping.command()
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table: one line per case and the match rates; json: one object.",
)
@click.option(
    "--min-hash-rate",
    type=click.FloatRange(0.0, 1.0),
    default=DEFAULT_MIN_HASH_RATE,
    show_default=True,
    help="Minimum fraction (0 to 1) of Sentry's grouping inputs whose every "
    "variant hash must match.",
)
@click.option(
    "--min-string-rate",
    type=click.FloatRange(0.0, 1.0),
    default=1.0,
    show_default=True,
    help="Minimum fraction (0 to 1) of Sentry's stacktrace-string cases that "
    "must match exactly.",
)
@shared_dir_option
def conformance(
    output_format: str,
    min_hash_rate: float,
    min_string_rate: float,
    shared_dir: Path | None,
) -> None:
    """Compare grouping hashes and Seer strings with Sentry's reference cases.

    Exits 1 when a match rate is below its minimum or the reference data is
    missing.
    """
    directory = shared_dir or default_shared_dir()
    try:
        grouping_report = run_conformance(directory)
        string_report = run_stacktrace_cases(directory)
    except (FileNotFoundError, StringCaseError) as exc:
        _fail(str(exc))

    string_rate = (
        string_report.passed / string_report.total if string_report.total else 0.0
    )
    passed = (
        grouping_report.all_hashes_rate >= min_hash_rate
        and string_rate >= min_string_rate
    )

    if output_format == "json":
        document = {
            "passed": passed,
            "min_hash_rate": min_hash_rate,
            "min_string_rate": min_string_rate,
            "grouping": _grouping_report_dict(grouping_report),
            "stacktrace_string": string_report.to_dict(),
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        click.echo(grouping_report.format_table())
        click.echo("")
        click.echo(string_report.format_table())
        click.echo("")
        click.echo(
            f"result: {'pass' if passed else 'FAIL'} "
            f"(minimum all-hashes rate {min_hash_rate:.1%}, "
            f"minimum stacktrace-string rate {min_string_rate:.1%})"
        )

    if not passed:
        raise SystemExit(1)
