"""Strategies for browser security reports: CSP, HPKP, Expect-CT, Expect-Staple."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from consumers.grouping.component import Component

_SELF = "'self'"


def hostname_report_variants(
    kind: str, report: Mapping[str, Any]
) -> dict[str, Component]:
    """Group HPKP, Expect-CT and Expect-Staple reports by kind and host name.

    ``kind`` is the salt value (``hpkp``, ``expect-ct``, ``expect-staple``).
    """
    component_id = kind.replace("-", "_")
    hostname = report.get("hostname")
    return {
        "default": Component(
            component_id,
            [
                Component("salt", [kind], hint="a static salt"),
                Component("hostname", [hostname] if isinstance(hostname, str) else []),
            ],
        )
    }


def csp_variants(report: Mapping[str, Any]) -> dict[str, Component]:
    """Group CSP reports by directive and blocked origin or inline-script violation."""
    directive = _text(report.get("effective_directive"))
    blocked_uri = normalize_blocked_uri(_text(report.get("blocked_uri")) or "")
    violation_type = local_script_violation_type(report, blocked_uri)

    violation = Component("violation")
    uri = Component("uri")
    if violation_type is not None:
        violation.update_component(values=[f"'{violation_type}'"])
        uri.update_component(
            values=[blocked_uri], contributes=False, hint="violation takes precedence"
        )
    else:
        violation.update_component(
            contributes=False, hint="ignored because it's not a local script violation"
        )
        uri.update_component(values=[blocked_uri])
    salt = Component("salt", [directive] if directive else [], hint="a static salt")
    return {"default": Component("csp", [salt, violation, uri])}


def normalize_blocked_uri(value: str) -> str:
    """Reduce a blocked URI to its origin: host for http(s), else scheme and host."""
    if value in ("", _SELF, _SELF.strip("'")):
        return _SELF
    if ":" not in value:
        # Browsers often report a bare scheme such as "data" or "blob".
        scheme, hostname = value, ""
    else:
        parts = urlsplit(value)
        scheme, hostname = parts.scheme, parts.netloc
        if scheme in ("http", "https"):
            return hostname
    return urlunsplit((scheme, hostname, "", "", ""))


def local_script_violation_type(
    report: Mapping[str, Any], blocked_uri: str
) -> str | None:
    """Return ``unsafe-inline`` or ``unsafe-eval`` for a same-origin script error."""
    violated = _text(report.get("violated_directive"))
    if (
        violated
        and report.get("effective_directive") == "script-src"
        and blocked_uri == _SELF
    ):
        if "'unsafe-inline'" in violated:
            return "unsafe-inline"
        if "'unsafe-eval'" in violated:
            return "unsafe-eval"
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
