"""Google's JSON error bodies, so client code sees exactly what Gmail sends."""

from typing import Any

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_REASON = {
    400: "invalidArgument",
    401: "authError",
    403: "forbidden",
    404: "notFound",
    409: "aborted",
    429: "rateLimitExceeded",
    500: "backendError",
    503: "backendError",
}


class ApiError(Exception):
    """An error answer of the Gmail API; raised anywhere below a handler."""

    def __init__(
        self,
        code: int,
        message: str,
        reason: str | None = None,
        domain: str = "global",
        status: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: str,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or _REASON.get(code, "unknown")
        self.domain = domain
        self.status = status or _STATUS.get(code, "UNKNOWN")
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "message": self.message,
            "domain": self.domain,
            "reason": self.reason,
            **self.extra,
        }
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [detail],
                "status": self.status,
            }
        }


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, reason="invalidArgument")


def not_found() -> ApiError:
    return ApiError(404, "Requested entity was not found.", reason="notFound")


def unauthenticated() -> ApiError:
    return ApiError(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token,"
        " login cookie or other valid authentication credential. See"
        " https://developers.google.com/identity/sign-in/web/devconsole-project.",
        reason="authError",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
        location="Authorization",
        locationType="header",
    )


def insufficient_scope() -> ApiError:
    return ApiError(
        403,
        "Request had insufficient authentication scopes.",
        reason="insufficientPermissions",
        headers={
            "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/",'
            ' error="insufficient_scope"'
        },
    )
