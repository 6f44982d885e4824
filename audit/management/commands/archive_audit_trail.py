from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit import archive


class Command(BaseCommand):
    help = (
        "Archive audit events older than AUDIT_RETENTION_DAYS (or --days) to a JSON Lines file "
        "and remove them, leaving a signed checkpoint so that the rest of the chain verifies."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="archive events older than this many days")
        parser.add_argument("--dir", type=Path, help="where to write (AUDIT_ARCHIVE_DIR)")

    def handle(self, *args, days=None, dir=None, **options):
        days = days if days is not None else settings.AUDIT_RETENTION_DAYS
        if days is None:
            raise CommandError("AUDIT_RETENTION_DAYS is not set (keep forever): pass --days N.")
        if days < 0:
            raise CommandError("--days must be 0 or more.")
        try:
            checkpoint = archive.archive(archive.cutoff_for(days), dir)
        except archive.ArchiveError as e:
            raise CommandError(str(e)) from e
        if checkpoint is None:
            self.stdout.write(f"No audit events older than {days} days.")
            return
        where = Path(dir or settings.AUDIT_ARCHIVE_DIR) / checkpoint.archive_name
        self.stdout.write(
            self.style.SUCCESS(
                f"Archived {checkpoint.events} events (#{checkpoint.first_event_id} to "
                f"#{checkpoint.last_event_id}) to {where}; the chain continues from its checkpoint."
            )
        )
