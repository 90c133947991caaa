"""Tests of `seer-backfill grouping explain` and `grouping conformance`."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from consumers.cli.grouping import grouping
from consumers.grouping.string_cases import (
    default_shared_dir,
    load_string_cases,
    string_cases_path,
)


def python_frame(function: str, lineno: int, context_line: str) -> dict[str, Any]:
    return {
        "filename": "shop/checkout.py",
        "abs_path": "/srv/app/shop/checkout.py",
        "module": "shop.checkout",
        "function": function,
        "lineno": lineno,
        "context_line": context_line,
        "in_app": True,
    }


EVENT: dict[str, Any] = {
    "event_id": "6d2f0ab0c4f44bb4a0d7d37c6d2b8a11",
    "platform": "python",
    "timestamp": 1733300000.0,
    "level": "error",
    "exception": {
        "values": [
            {
                "type": "KeyError",
                "value": "'sku'",
                "module": "builtins",
                "stacktrace": {
                    "frames": [
                        python_frame("load_item", 40, "sku = row['sku']"),
                    ]
                },
            },
            {
                "type": "CheckoutError",
                "value": "cart 7 cannot be priced",
                "module": "shop.errors",
                "stacktrace": {
                    "frames": [
                        python_frame("checkout", 12, "total = price(cart)"),
                        python_frame("price", 25, "raise CheckoutError(cart)"),
                    ]
                },
            },
        ]
    },
}

# Sentry puts the exception value into the string as grouping parameterises it.
EXPECTED_STRING = (
    "CheckoutError: cart <int> cannot be priced\n"
    '  File "checkout.py", function checkout\n'
    "    total = price(cart)\n"
    '  File "checkout.py", function price\n'
    "    raise CheckoutError(cart)\n"
    "KeyError: 'sku'\n"
    '  File "checkout.py", function load_item\n'
    "    sku = row['sku']"
)


def write_event(
    directory: Path, event: dict[str, Any], name: str = "event.json"
) -> str:
    path = directory / name
    path.write_text(json.dumps(event), encoding="utf-8")
    return str(path)


def run_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(grouping, ["explain", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.output)
    return report


def test_explain_json_shape(tmp_path: Path) -> None:
    report = run_json(write_event(tmp_path, EVENT))
    assert set(report["variants"]) >= {"app", "system"}
    assert report["primary_hash"] == report["variants"]["app"]["hash"]
    assert report["variants"]["app"]["contributes"] is True
    assert report["variants"]["app"]["component"]["id"] == "app"


def test_explain_json_stacktrace_string(tmp_path: Path) -> None:
    report = run_json(write_event(tmp_path, EVENT))
    assert report["stacktrace_string"] == EXPECTED_STRING


def test_explain_json_seer_summary(tmp_path: Path) -> None:
    seer = run_json(write_event(tmp_path, EVENT))["seer"]
    assert seer["exception_type"] == "CheckoutError"
    assert seer["contributing_frames"] == 3
    assert seer["skip_reason"] is None


def test_explain_same_group_despite_line_numbers(tmp_path: Path) -> None:
    moved = copy.deepcopy(EVENT)
    for exception in moved["exception"]["values"]:
        for frame in exception["stacktrace"]["frames"]:
            frame["lineno"] += 100
    first = run_json(write_event(tmp_path, EVENT, "a.json"))
    second = run_json(write_event(tmp_path, moved, "b.json"))
    assert first["primary_hash"] == second["primary_hash"]


def test_explain_other_group_for_other_function(tmp_path: Path) -> None:
    renamed = copy.deepcopy(EVENT)
    renamed["exception"]["values"][1]["stacktrace"]["frames"][1]["function"] = "tax"
    first = run_json(write_event(tmp_path, EVENT, "a.json"))
    second = run_json(write_event(tmp_path, renamed, "b.json"))
    assert first["primary_hash"] != second["primary_hash"]


def test_explain_text(tmp_path: Path) -> None:
    path = write_event(tmp_path, EVENT)
    result = CliRunner().invoke(grouping, ["explain", path])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "app:" in lines
    assert "system:" in lines
    assert "    app*" in lines
    assert any(line.strip() == '"load_item"' for line in lines)
    assert "    | KeyError: 'sku'" in lines
    assert "  skip reason: none, the event would be sent" in lines


def test_explain_text_marks_non_contributing(tmp_path: Path) -> None:
    event = copy.deepcopy(EVENT)
    for exception in event["exception"]["values"]:
        for frame in exception["stacktrace"]["frames"]:
            frame["in_app"] = False
    path = write_event(tmp_path, event)
    result = CliRunner().invoke(grouping, ["explain", path])
    assert result.exit_code == 0, result.output
    app_part = result.output.split("system:")[0]
    assert "frame*" not in app_part
    assert "frame (" in app_part


def test_explain_no_normalize(tmp_path: Path) -> None:
    report = run_json("--no-normalize", write_event(tmp_path, EVENT))
    assert report["normalized"] is False
    assert report["stacktrace_string"] == EXPECTED_STRING


def test_explain_rules_file(tmp_path: Path) -> None:
    rules = tmp_path / "rules.txt"
    rules.write_text("stack.function:price -group\n", encoding="utf-8")
    report = run_json("--rules", str(rules), write_event(tmp_path, EVENT))
    assert "function price" not in report["stacktrace_string"]
    assert report["seer"]["contributing_frames"] == 2


def test_explain_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"platform": "python",', encoding="utf-8")
    result = CliRunner().invoke(grouping, ["explain", str(path)])
    assert result.exit_code == 1
    assert f"event file {path}: invalid JSON" in result.output


def test_explain_missing_file_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    result = CliRunner().invoke(grouping, ["explain", str(path)])
    assert result.exit_code == 2
    assert f"File '{path}' does not exist" in result.output


def test_explain_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2]", encoding="utf-8")
    result = CliRunner().invoke(grouping, ["explain", str(path)])
    assert result.exit_code == 1
    assert f"event 0 of {path} must be a JSON object, got int" in result.output


def test_explain_index_picks_from_a_list(tmp_path: Path) -> None:
    renamed = copy.deepcopy(EVENT)
    renamed["exception"]["values"][1]["stacktrace"]["frames"][1]["function"] = "tax"
    path = tmp_path / "events.json"
    path.write_text(json.dumps([EVENT, renamed]), encoding="utf-8")
    first = run_json(str(path))
    second = run_json(str(path), "--index", "1")
    alone = run_json(write_event(tmp_path, renamed, "renamed.json"))
    assert second["primary_hash"] == alone["primary_hash"]
    assert first["primary_hash"] != second["primary_hash"]


def test_explain_reads_an_envelope(tmp_path: Path) -> None:
    header = json.dumps({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc"})
    item = json.dumps(EVENT)
    item_header = json.dumps({"type": "event", "length": len(item.encode())})
    path = tmp_path / "event.envelope"
    path.write_text(f"{header}\n{item_header}\n{item}\n", encoding="utf-8")
    report = run_json(str(path))
    assert report["stacktrace_string"] == EXPECTED_STRING


def test_explain_index_out_of_range(tmp_path: Path) -> None:
    path = write_event(tmp_path, EVENT)
    result = CliRunner().invoke(grouping, ["explain", "--index", "1", path])
    assert result.exit_code == 2
    assert f"1 is out of range: {path} contains 1 event" in result.output
    assert "--index" in result.output


def test_explain_bad_format_is_usage_error(tmp_path: Path) -> None:
    path = write_event(tmp_path, EVENT)
    result = CliRunner().invoke(grouping, ["explain", "--format", "yaml", path])
    assert result.exit_code == 2


def test_conformance_table() -> None:
    total = len(load_string_cases())
    result = CliRunner().invoke(grouping, ["conformance"])
    assert result.exit_code == 0, result.output
    assert f"stacktrace string: {total}/{total} cases match" in result.output
    assert "all hashes match:" in result.output


def test_conformance_json() -> None:
    result = CliRunner().invoke(grouping, ["conformance", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    strings = document["stacktrace_string"]
    assert document["passed"] is True
    assert strings["passed"] == strings["total"]
    assert document["grouping"]["inputs"] == len(document["grouping"]["cases"])


def test_conformance_missing_data(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        grouping, ["conformance", "--shared-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert str(tmp_path) in result.output


def test_conformance_string_mismatch_fails(tmp_path: Path) -> None:
    source = default_shared_dir() / "reference"
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "sentry-grouping").symlink_to(source / "sentry-grouping")
    cases = json.loads(string_cases_path(default_shared_dir()).read_text("utf-8"))
    cases[0]["expected"] = "something else"
    changed = string_cases_path(tmp_path)
    changed.parent.mkdir()
    changed.write_text(json.dumps(cases), encoding="utf-8")

    result = CliRunner().invoke(
        grouping, ["conformance", "--shared-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert f"{cases[0]['name']}" in result.output
    assert "result: FAIL" in result.output
