from celery import shared_task
from django.conf import settings

from audit import archive, journal, verify


@shared_task(ignore_result=True)
def verify_audit_chain() -> bool:
    """Verify the whole chain and store the result (periodic, and on an Administrator's request)."""
    return not verify.check().is_broken


@shared_task(ignore_result=True)
def archive_audit_trail() -> int:
    """Archive the events older than AUDIT_RETENTION_DAYS (periodic, when it is set)."""
    if not settings.AUDIT_RETENTION_DAYS:
        return 0
    checkpoint = archive.archive(archive.cutoff_for(settings.AUDIT_RETENTION_DAYS))
    return checkpoint.events if checkpoint else 0


@shared_task(ignore_result=True)
def drain_journal() -> int | None:
    """Chain what a process that stopped left in the audit journal (periodic)."""
    return journal.journal.drain(seconds=30.0)
