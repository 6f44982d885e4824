from django.core.management.base import BaseCommand, CommandError

from audit.recorder import verify_chain


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain and name the first broken link."

    def handle(self, *args, **options):
        checked, broken, why = verify_chain()
        if broken is not None:
            raise CommandError(
                f"Audit chain broken at event #{broken.pk} ({broken.action} "
                f"{broken.object_type} {broken.object_repr!r} "
                f"at {broken.created:%Y-%m-%d %H:%M:%S}): "
                f"{why}. {checked} events before it are intact."
            )
        if why:
            raise CommandError(f"Audit chain broken after event {checked}: {why}.")
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {checked} events."))
