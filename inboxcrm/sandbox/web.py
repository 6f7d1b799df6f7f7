"""Small response helpers shared by the OAuth, Gmail and control handlers."""

import json
from typing import Any

from werkzeug.wrappers import Response

from inboxcrm.sandbox.errors import ApiError

JSON = "application/json; charset=UTF-8"


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, indent=2, ensure_ascii=False)
    return Response(body, status=status, headers=headers, content_type=JSON)


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.code, error.headers)
