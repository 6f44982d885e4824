"""Write prompts, their versions and integrations to a JSON file (secret values left out)."""

from pathlib import Path

from django.core.management.base import BaseCommand

from prompts_library import export_file


class Command(BaseCommand):
    help = "Export prompts (with versions) and integrations as JSON; secret values are left out."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--output", "-o", help="Write to this file instead of stdout.")

    def handle(self, *args, **options) -> None:
        text = export_file.dumps(export_file.export_data())
        if options.get("output"):
            Path(options["output"]).write_text(text, encoding="utf-8")
            self.stderr.write(f"Exported to {options['output']}.")
        else:
            self.stdout.write(text, ending="")
