from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from audit import recorder


class AuditContextMiddleware:
    """Who is acting, from where: read by every audit event written during the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = recorder.set_context(recorder.context_from_request(request))
        try:
            return self.get_response(request)
        finally:
            recorder.reset_context(token)
