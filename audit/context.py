from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from audit import verify

VERIFY_AUDIT = "audit.verify_audit"


def chain_alert(request: HttpRequest) -> dict[str, Any]:
    """audit_chain_broken for Administrators when the last verification found a broken link.

    The state comes from the cache (no query on a console page; one, once, if the cache lost
    it), and only when a template asks for it: a part rendered for htmx or a live update that
    never shows the alert costs no round trip to the cache."""
    user = getattr(request, "user", None)
    if user is None:
        return {}

    def alert() -> dict | None:
        if not user.is_authenticated:
            return None
        found = verify.broken_alert()
        if found is None or not user.has_perm(VERIFY_AUDIT):
            return None
        return found

    return {"audit_chain_broken": SimpleLazyObject(alert)}
