"""What a request gets when something underneath fails: never Django's bare server error.

With the database unreachable (PostgreSQL restarting, the pool out of connections) a page gets
a 503 "try again in a moment" and the API its JSON error, each with Retry-After. The API's
answers are JSON whatever went wrong.
"""

from __future__ import annotations

import sys

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults

API_PREFIX = "/api/"
RETRY_AFTER_SECONDS = 5


def _database_unavailable() -> bool:
    error = sys.exc_info()[1]
    return isinstance(error, OperationalError | InterfaceError)


# The OpenAI-compatible endpoints (gateway/) answer errors in OpenAI's shape.
OPENAI_PREFIXES = ("/api/v1/chat/", "/api/v1/models")


def _api_error(request: HttpRequest, code: str, message: str, status: int) -> JsonResponse:
    if request.path.startswith(OPENAI_PREFIXES):
        kind = "api_error" if status >= 500 else "invalid_request_error"
        body = {"message": message, "type": kind, "param": None, "code": code}
        return JsonResponse({"error": body}, status=status)
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: under /api/ a JSON error; a body over the upload limit is 413 there."""
    if not _is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return _api_error(request, "payload_too_large", "The request body is too large.", 413)
    return _api_error(request, "bad_request", "The request could not be read.", 400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not _is_api(request):
        return defaults.permission_denied(request, exception)
    return _api_error(request, "forbidden", "Not allowed.", 403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not _is_api(request):
        return defaults.page_not_found(request, exception)
    return _api_error(request, "not_found", "No such API endpoint. See /api/v1/openapi.json.", 404)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: an unexpected error, or the database being unreachable (503)."""
    unavailable = _database_unavailable()
    if _is_api(request):
        if unavailable:
            response: HttpResponse = _api_error(
                request,
                "unavailable",
                "The console's database is unavailable. Try again shortly.",
                503,
            )
        else:
            response = _api_error(
                request, "internal_error", "Something went wrong on our side.", 500
            )
    else:
        # A template of its own, without the base layout: that reads the session and user.
        html = loader.get_template("unavailable.html").render({"database": unavailable})
        response = HttpResponse(html, status=503 if unavailable else 500)
    if unavailable:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
