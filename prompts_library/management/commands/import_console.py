"""Import an export file in one transaction and print what was created, updated or skipped."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from prompts_library import import_check, transfer


class Command(BaseCommand):
    help = "Import prompts and integrations from an export file (all or nothing)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="The JSON file written by export_console.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would change; write nothing."
        )

    def handle(self, *args, **options) -> None:
        try:
            text = Path(options["file"]).read_bytes()
        except OSError as e:
            raise CommandError(f"Cannot read {options['file']}: {e.strerror}.") from None
        try:
            report = transfer.import_data(import_check.load(text), dry_run=options["dry_run"])
        except import_check.TransferError as e:
            raise CommandError(f"Nothing was imported. {e}") from None
        for line in report.lines():
            self.stdout.write(line)
