from django.core.management.base import BaseCommand, CommandError

from audit import verify


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain and name the first broken link."

    def handle(self, *args, **options):
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
