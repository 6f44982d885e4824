from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit import archive, verify


class Command(BaseCommand):
    help = (
        "Verify the audit trail's hash chain and name the first broken link; with --archive, "
        "verify an archive file against its signed checkpoint instead."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--archive", type=Path, help="a JSON Lines file archive_audit_trail wrote"
        )

    def handle(self, *args, archive=None, **options):
        if archive is not None:
            return self.verify_archive(archive)
        state = verify.check()  # also what the audit list shows
        if state.broken_event_id is not None:
            raise CommandError(
                f"Audit chain broken at {state.broken_event}: {state.problem}. "
                f"{state.events_checked} events before it are intact."
            )
        if state.problem:
            raise CommandError(
                f"Audit chain broken after event {state.events_checked}: {state.problem}."
            )
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {state.events_checked} events."))

    def verify_archive(self, path: Path) -> None:
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        found = archive.verify_file(path)
        if found.problem:
            raise CommandError(f"Archive {path} does not verify: {found.problem}.")
        cp = found.checkpoint
        if cp is None:
            raise CommandError(f"Archive {path} has no checkpoint.")
        self.stdout.write(
            self.style.SUCCESS(
                f"Archive intact: {found.events} events (#{cp.first_event_id} to "
                f"#{cp.last_event_id}), matching the signed checkpoint of "
                f"{cp.created:%Y-%m-%d %H:%M:%S} UTC."
            )
        )
