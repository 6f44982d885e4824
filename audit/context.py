from typing import Any

from django.http import HttpRequest

from audit import verify

VERIFY_AUDIT = "audit.verify_audit"


def chain_alert(request: HttpRequest) -> dict[str, Any]:
    """audit_chain_broken for Administrators when the last verification found a broken link.

    The state comes from the cache: no query on a console page (one, once, if the cache lost it).
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    alert = verify.broken_alert()
    if alert is None or not user.has_perm(VERIFY_AUDIT):
        return {}
    return {"audit_chain_broken": alert}
