"""A small typed hierarchy for API failures, each with a one-line message."""

from __future__ import annotations

import json
from typing import Any

from kubectl_fed.errors import FedError
from kubectl_fed.kube.transport import Response

BODY_LIMIT = 300  # server messages are cut short before they reach output or logs


class ApiError(FedError):
    status = 0
    retryable = False

    def __init__(self, message: str, *, reason: str = "", retry_after: float | None = None):
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class MethodNotAllowed(ApiError):
    status = 405


class Conflict(ApiError):
    status = 409


class AlreadyExists(Conflict):
    pass


class Gone(ApiError):
    status = 410


class Invalid(ApiError):
    status = 422


class TooManyRequests(ApiError):
    status = 429
    retryable = True


class ServerError(ApiError):
    status = 500
    retryable = True


class Unreachable(ApiError):
    """No HTTP answer at all: refused, timed out, TLS failure."""

    def __init__(self, cluster: str, server: str, cause: BaseException) -> None:
        super().__init__(f"cluster {cluster} ({server}) is unreachable: {_cause(cause)}")
        self.cluster = cluster


def _cause(err: BaseException) -> str:
    text = str(err)
    for marker in (
        "timed out",
        "Connection refused",
        "certificate verify failed",
        "Name or service not known",
        "No route to host",
    ):
        if marker.lower() in text.lower():
            return marker.lower()
    return text.split(":")[-1].strip()[:BODY_LIMIT] or type(err).__name__


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
}


def from_response(response: Response, method: str, path: str, cluster: str) -> ApiError:
    """The typed error of a non-2xx answer, its message taken from the Status body."""
    status = response.status
    body = _status_body(response.data)
    reason = str(body.get("reason") or "")
    message = str(body.get("message") or response.reason or "")[:BODY_LIMIT]
    retry_after = _retry_after(response.headers)
    if status == 403:
        details = body.get("details") or {}
        resource = details.get("kind") or _resource_of(path)
        verb = _verb(method, path)
        return Forbidden(
            f"forbidden in {cluster}: cannot {verb} {resource}{_group_suffix(details)} ({message})",
            reason=reason,
        )
    if status == 401:
        return Unauthorized(f"unauthorized in {cluster}: the credentials were refused")
    if status == 409 and reason == "AlreadyExists":
        return AlreadyExists(message, reason=reason)
    kind = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    text = message or f"HTTP {status} for {method} {path}"
    return kind(f"{cluster}: {text}", reason=reason, retry_after=retry_after)


def _status_body(body: Any) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    try:
        value = json.loads(body) if body else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _retry_after(headers: Any) -> float | None:
    try:
        return float(headers.get("Retry-After")) if headers else None
    except (TypeError, ValueError):
        return None


def _verb(method: str, path: str) -> str:
    if method == "GET":
        return "list" if _is_collection(path) else "get"
    return {
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete",
        "WATCH": "watch",
    }.get(method, method.lower())


def _is_collection(path: str) -> bool:
    parts = [p for p in path.split("?")[0].split("/") if p]
    # /api/v1/<plural>, /apis/g/v/<plural>, .../namespaces/ns/<plural>
    core = parts[:1] == ["api"]
    offset = 2 if core else 3
    rest = parts[offset:]
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        rest = rest[2:]
    return len(rest) == 1


def _resource_of(path: str) -> str:
    parts = [p for p in path.split("?")[0].split("/") if p]
    core = parts[:1] == ["api"]
    rest = parts[2 if core else 3 :]
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        rest = rest[2:]
    plural = rest[0] if rest else path
    group = "" if core else (parts[1] if len(parts) > 1 else "")
    return f"{plural}.{group}" if group else plural


def _group_suffix(details: dict[str, Any]) -> str:
    group = details.get("group")
    return f".{group}" if group and details.get("kind") else ""
