"""What a request gets when something underneath fails: never Django's bare server error.

With the database unreachable (PostgreSQL restarting, the pool out of connections) a page gets
a 503 "try again in a moment" and the API its JSON error, each with Retry-After. The API's
answers are JSON whatever went wrong.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

API_PREFIX = "/api/"
RETRY_AFTER_SECONDS = 5


def _database_unavailable() -> bool:
    error = sys.exc_info()[1]
    return isinstance(error, OperationalError | InterfaceError)


def _api_error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: an unexpected error, or the database being unreachable (503)."""
    unavailable = _database_unavailable()
    if request.path.startswith(API_PREFIX):
        if unavailable:
            response: HttpResponse = _api_error(
                "unavailable", "The console's database is unavailable. Try again shortly.", 503
            )
        else:
            response = _api_error("internal_error", "Something went wrong on our side.", 500)
    else:
        # A template of its own, without the base layout: that reads the session and user.
        html = loader.get_template("unavailable.html").render({"database": unavailable})
        response = HttpResponse(html, status=503 if unavailable else 500)
    if unavailable:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
