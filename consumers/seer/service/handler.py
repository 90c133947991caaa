"""HTTP plumbing of the local Seer service: routes, body limits, faults, signatures.

One `Handler` thread serves one keep-alive connection. Seer's endpoints go
through the fault injector and the signature check, while `/health/live` and
the `/_admin/` endpoints go through neither.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from consumers.seer import types
from consumers.seer.service.api import ApiResponse
from consumers.seer.service.faults import FaultDecision
from consumers.seer.service.stats import NO_RESPONSE
from consumers.seer.service.validation import MAX_ID
from consumers.seer.signing import AUTHORIZATION_HEADER

if TYPE_CHECKING:
    from consumers.seer.service.server import SeerService

logger = logging.getLogger(__name__)

_DELETE_PROJECT = re.compile(
    re.escape(types.DELETE_PROJECT_PATH_PREFIX) + r"(\d{1,19})"
)


class Server(ThreadingHTTPServer):
    """A threading HTTP server that tracks its connections so `stop` can close them."""

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        service: SeerService,
        family: socket.AddressFamily,
    ) -> None:
        self.address_family = family
        self.service = service
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def track(self, connection: socket.socket, active: bool) -> None:
        with self._connections_lock:
            if active:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut down every open connection, idle keep-alive ones included."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


@dataclass(frozen=True)
class _Route:
    name: str
    api: bool
    call: Callable[[Handler, bytes], ApiResponse]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Seconds an idle keep-alive connection stays open.
    timeout = 60
    server: Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, active=True)

    def finish(self) -> None:
        self.server.track(self.connection, active=False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    @property
    def service(self) -> SeerService:
        return self.server.service

    def _handle(self, method: str) -> None:
        path = urlsplit(self.path).path
        route, known_path = _match(method, path)
        if route is None:
            self.close_connection = True
            status = self._respond(
                405 if known_path else 404, {"detail": f"No route for {method} {path}"}
            )
            self.service.counters.record("unknown", status)
            return
        body = self._read_body()
        if isinstance(body, int):
            self.service.counters.record(route.name, body)
            return
        if not route.api:
            try:
                response = route.call(self, body)
            except Exception as error:
                logger.exception("Seer-compatible %s failed: %s", path, error)
                response = ApiResponse(500, {"detail": f"Internal error: {error}"})
            self._respond(response.status, response.payload)
            return
        self.service.counters.enter()
        try:
            sent = self._handle_api(route, body)
            # Counted before the request leaves the in-flight count, so a
            # caller that waits until nothing is in flight reads every status.
            self.service.counters.record(route.name, sent)
        finally:
            self.service.counters.exit()

    def _handle_api(self, route: _Route, body: bytes) -> int | str:
        """Serve one Seer request under the fault knobs; return the status sent."""
        service = self.service
        with service.injector.slot(service.stopping) as admitted:
            if not admitted:
                retry_after = service.injector.config.retry_after_seconds
                self.close_connection = service.stopping.is_set()
                return self._respond(
                    503, {"detail": "Service over capacity"}, retry_after
                )
            decision = service.injector.decide()
            if decision.delay_seconds > 0 and service.stopping.wait(
                decision.delay_seconds
            ):
                return self._drop()
            if decision.phase == "before":
                injected = self._inject(decision)
                if injected is not None:
                    return injected
            response = self._call(route, body)
            if decision.phase == "after":
                injected = self._inject(decision)
                if injected is not None:
                    return injected
            return self._respond(response.status, response.payload)

    def _inject(self, decision: FaultDecision) -> int | str | None:
        """Apply a hang and an injected error; return the status if one was sent."""
        if decision.hang_seconds is not None:
            forever = decision.hang_seconds == float("inf")
            stopped = self.service.stopping.wait(
                None if forever else decision.hang_seconds
            )
            if stopped or forever:
                return self._drop()
        if decision.error_status is not None:
            return self._respond(
                decision.error_status,
                {"detail": f"Injected fault: HTTP {decision.error_status}"},
                decision.retry_after_seconds,
            )
        return None

    def _call(self, route: _Route, body: bytes) -> ApiResponse:
        header = self.headers.get(AUTHORIZATION_HEADER)
        if not self.service.check_signature(body, header):
            logger.warning(
                "Rejected %s from %s (%s): Rpcsignature missing or invalid",
                route.name,
                self.address_string(),
                _describe(body),
            )
            return ApiResponse(
                401, {"detail": "Rpcsignature is missing or does not match the body"}
            )
        try:
            return route.call(self, body)
        except Exception as error:
            logger.exception(
                "Seer-compatible service failed on %s (%s): %s",
                route.name,
                _describe(body),
                error,
            )
            return ApiResponse(
                500, {"detail": f"Internal error: {type(error).__name__}"}
            )

    def _read_body(self) -> bytes | int:
        """Read the request body, or reject it and return the status sent."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            return self._respond(
                411, {"detail": "Send a Content-Length, not chunked data"}
            )
        raw_length = self.headers.get("Content-Length", "0")
        try:
            length = int(raw_length)
        except ValueError:
            length = -1
        limit = self.service.max_body_bytes
        if length < 0 or length > limit:
            self.close_connection = True
            detail = f"Invalid Content-Length {raw_length!r}: the limit is {limit} B"
            return self._respond(413, {"detail": detail})
        return self.rfile.read(length) if length else b""

    def _respond(
        self,
        status: int,
        payload: dict[str, object],
        retry_after_seconds: int | None = None,
    ) -> int:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if retry_after_seconds is not None:
                self.send_header("Retry-After", str(retry_after_seconds))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError as error:
            # The client gave up (typically its read timeout) before the response.
            logger.debug(
                "Response %d to %s not delivered: %s", status, self.path, error
            )
            self.close_connection = True
        return status

    def _drop(self) -> str:
        """Close the connection without a response."""
        self.close_connection = True
        return NO_RESPONSE

    # Route implementations. Each returns the response to send.

    def _grouping_records(self, body: bytes) -> ApiResponse:
        return _with_json(
            body, self.headers.get("Content-Type"), self.service.api.grouping_records
        )

    def _delete_project(self, body: bytes) -> ApiResponse:
        match = _DELETE_PROJECT.fullmatch(urlsplit(self.path).path)
        assert match is not None
        return self.service.api.delete_project(int(match.group(1)))

    def _delete_by_hash(self, body: bytes) -> ApiResponse:
        return _with_json(
            body, self.headers.get("Content-Type"), self.service.api.delete_by_hash
        )

    def _similar_issues(self, body: bytes) -> ApiResponse:
        return _with_json(
            body, self.headers.get("Content-Type"), self.service.api.similar_issues
        )

    def _health(self, body: bytes) -> ApiResponse:
        return ApiResponse(200, {"status": "ok"})

    def _get_stats(self, body: bytes) -> ApiResponse:
        snapshot = self.service.stats()
        return ApiResponse(
            200, {**snapshot.to_json(), "faults": self.service.faults.to_json()}
        )

    def _reset_stats(self, body: bytes) -> ApiResponse:
        self.service.reset_stats()
        return self._get_stats(body)

    def _get_faults(self, body: bytes) -> ApiResponse:
        return ApiResponse(200, {"faults": self.service.faults.to_json()})

    def _set_faults(self, body: bytes) -> ApiResponse:
        try:
            changes = json.loads(body or b"{}")
        except ValueError as error:
            return ApiResponse(400, {"detail": f"Invalid JSON: {error}"})
        if not isinstance(changes, dict):
            return ApiResponse(400, {"detail": "Send a JSON object of fault settings"})
        try:
            faults = self.service.update_faults(**changes)
        except ValueError as error:
            return ApiResponse(400, {"detail": str(error)})
        return ApiResponse(200, {"faults": faults.to_json()})


def _with_json(
    body: bytes,
    content_type: str | None,
    endpoint: Callable[[object], ApiResponse],
) -> ApiResponse:
    """Decode a JSON body for an endpoint; return 415 or 400 when it is not JSON."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        return ApiResponse(
            415,
            {"detail": f"Invalid Content-Type {content_type!r}: use application/json"},
        )
    try:
        decoded = json.loads(body)
    except ValueError as error:
        return ApiResponse(400, {"detail": f"Invalid JSON body: {error}"})
    return endpoint(decoded)


def _describe(body: bytes) -> str:
    """Name the project ids of a request body, for error logs."""
    try:
        decoded = json.loads(body)
    except ValueError:
        return "body is not JSON"
    if not isinstance(decoded, dict):
        return "body is not an object"
    if "project_id" in decoded:
        return f"project_id={decoded['project_id']!r}"
    data = decoded.get("data")
    if isinstance(data, list):
        projects = {item.get("project_id") for item in data if isinstance(item, dict)}
        return f"project_ids={sorted(map(str, projects))} records={len(data)}"
    return "no project id"


_ROUTES: dict[tuple[str, str], _Route] = {
    ("POST", types.GROUPING_RECORDS_PATH): _Route(
        "grouping_records", True, Handler._grouping_records
    ),
    ("POST", types.DELETE_BY_HASH_PATH): _Route(
        "delete_by_hash", True, Handler._delete_by_hash
    ),
    ("POST", types.SIMILAR_ISSUES_PATH): _Route(
        "similar_issues", True, Handler._similar_issues
    ),
    ("GET", "/health/live"): _Route("health", False, Handler._health),
    ("GET", "/_admin/stats"): _Route("admin", False, Handler._get_stats),
    ("POST", "/_admin/stats/reset"): _Route("admin", False, Handler._reset_stats),
    ("GET", "/_admin/faults"): _Route("admin", False, Handler._get_faults),
    ("POST", "/_admin/faults"): _Route("admin", False, Handler._set_faults),
}
_DELETE_PROJECT_ROUTE = _Route("delete_project", True, Handler._delete_project)


def _match(method: str, path: str) -> tuple[_Route | None, bool]:
    """Return the route for a request, and whether the path exists at all."""
    route = _ROUTES.get((method, path))
    if route is not None:
        return route, True
    match = _DELETE_PROJECT.fullmatch(path)
    if match is not None and 1 <= int(match.group(1)) <= MAX_ID:
        return (_DELETE_PROJECT_ROUTE, True) if method == "GET" else (None, True)
    known = any(known_path == path for _, known_path in _ROUTES)
    return None, known
