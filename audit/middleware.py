from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from audit import recorder


class AuditContextMiddleware:
    """Who is acting, from where: read by every audit event written during the request.

    Pending events (API token use) taken down during the request are written before the answer
    leaves, if the view has not written them earlier (audit.recorder.record_pending).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = recorder.set_context(recorder.context_from_request(request))
        deferring = recorder.defer_pending()
        try:
            response = self.get_response(request)
            recorder.write_deferred()
            return response
        finally:
            recorder.stop_deferring(deferring)
            recorder.reset_context(token)
