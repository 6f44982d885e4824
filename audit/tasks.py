from celery import shared_task

from audit import verify


@shared_task(ignore_result=True)
def verify_audit_chain() -> bool:
    """Verify the whole chain and store the result (periodic, and on an Administrator's request)."""
    return not verify.check().is_broken
