"""Re-encrypt every stored secret with the first key of CONSOLE_ENCRYPTION_KEYS.

Rotation: put the new key first in CONSOLE_ENCRYPTION_KEYS and keep the old ones after it (they
still decrypt), run this command, then drop the old keys. All or nothing: a secret that no
configured key opens stops the command and nothing is changed.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from audit import recorder
from integrations import crypto
from integrations.models import BedrockModel, ConnectionTest

MODELS: tuple[Any, ...] = (BedrockModel, ConnectionTest)


def _rotate_rows(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    out, n = [], 0
    for row in rows or []:
        if row.get("secret") and row.get("ciphertext"):
            row = {**row, "ciphertext": crypto.rotate(row["ciphertext"])}
            n += 1
        out.append(row)
    return out, n


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first key of CONSOLE_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        counts: dict[str, int] = {}
        try:
            with transaction.atomic():
                for model in MODELS:
                    secrets = 0
                    rows = model.objects.select_for_update().exclude(headers=[])
                    for pk, headers in rows.values_list("pk", "headers"):
                        try:
                            rotated, n = _rotate_rows(headers)
                        except Exception:
                            raise CommandError(
                                f"{model._meta.label} #{pk}: a secret that no key in "
                                "CONSOLE_ENCRYPTION_KEYS opens. Nothing was changed."
                            ) from None
                        if n:
                            # update(): the values are the same, only their encryption changes.
                            model.objects.filter(pk=pk).update(headers=rotated)
                            secrets += n
                    counts[model._meta.label] = secrets
                recorder.record(
                    recorder.Action.UPDATE,
                    object_type="integrations.crypto",
                    object_repr="rotate_encryption_keys",
                    changes={"re_encrypted": counts},
                )
        except crypto.SecretUnreadable as e:  # pragma: no cover - caught above
            raise CommandError(str(e)) from None
        total = sum(counts.values())
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {total} secrets ({counts})."))
