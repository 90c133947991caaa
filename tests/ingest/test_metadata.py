from __future__ import annotations

from consumers.ingest.metadata import UNLABELED, summarize


def test_summarize_error_uses_last_exception() -> None:
    event = {
        "exception": {
            "values": [
                {"type": "KeyError", "value": "'a'"},
                {
                    "type": "CheckoutError",
                    "value": "unknown coupon\nsecond line",
                    "stacktrace": {
                        "frames": [
                            {"function": "handle", "module": "web", "in_app": True},
                            {
                                "function": "charge",
                                "module": "pay",
                                "in_app": True,
                                "filename": "pay.py",
                            },
                            {"function": "get", "module": "dict", "in_app": False},
                        ]
                    },
                },
            ]
        }
    }
    summary = summarize(event)
    assert summary.type == "error"
    assert summary.title == "CheckoutError: unknown coupon"
    assert summary.metadata["function"] == "charge"
    assert summary.metadata["filename"] == "pay.py"
    assert summary.culprit == "pay in charge"


def test_summarize_prefers_transaction_culprit() -> None:
    event = {"transaction": "POST /checkout", "exception": {"values": [{"type": "E"}]}}
    summary = summarize(event)
    assert summary.culprit == "POST /checkout"
    assert summary.title == "E"


def test_summarize_default_event_uses_message() -> None:
    summary = summarize({"logentry": {"formatted": "disk full on /var"}})
    assert summary.type == "default"
    assert summary.title == "disk full on /var"
    assert summary.metadata == {"title": "disk full on /var"}


def test_summarize_culprit_without_module() -> None:
    event = {
        "exception": {
            "values": [{"type": "E", "stacktrace": {"frames": [{"function": "main"}]}}]
        }
    }
    assert summarize(event).culprit == "main"


def test_summarize_unlabeled() -> None:
    assert summarize({}).title == UNLABELED


def test_summarize_truncates_long_value() -> None:
    summary = summarize({"exception": {"values": [{"type": "E", "value": "x" * 500}]}})
    assert len(summary.title) == len("E: ") + 100
    assert summary.title.endswith("...")
