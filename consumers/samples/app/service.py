"""A minimal request pipeline: middlewares wrap a view, like a web framework.

Every scenario runs its view through `handle`, so captured stacks start with
the same framework frames that a real web service shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    path: str
    user_id: str
    headers: dict[str, str] = field(default_factory=dict)
    context: dict[str, object] = field(default_factory=dict)


View = Callable[[Request], object]
Middleware = Callable[[Request, View], object]


class PermissionDeniedError(Exception):
    pass


def authenticate(request: Request, call_next: View) -> object:
    if not request.user_id:
        raise PermissionDeniedError(f"anonymous {request.method} {request.path}")
    request.context["user"] = request.user_id
    return call_next(request)


def attach_request_id(request: Request, call_next: View) -> object:
    request.context["request_id"] = request.headers.get("x-request-id", "unset")
    return call_next(request)


def atomic(request: Request, call_next: View) -> object:
    request.context["transaction"] = f"{request.method} {request.path}"
    try:
        return call_next(request)
    finally:
        request.context.pop("transaction", None)


MIDDLEWARES: tuple[Middleware, ...] = (attach_request_id, authenticate, atomic)


def handle(request: Request, view: View) -> object:
    """Run `view` inside every middleware, outermost first."""
    return _dispatch(request, view, 0)


def _dispatch(request: Request, view: View, index: int) -> object:
    if index == len(MIDDLEWARES):
        return view(request)
    middleware = MIDDLEWARES[index]
    return middleware(request, lambda inner: _dispatch(inner, view, index + 1))
