"""Changes made from the usage pages, each audited in its own transaction (limits: usage.limits,
set on the token's form; prices: on the integration's form, integrations.services)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from audit import recorder
from prompts_library.models import Prompt
from usage import recording
from usage.models import BodyKeeping


def do_keep_bodies(prompt: Prompt, days: int | None, user: Any = None) -> None:
    """Keep the bodies of the prompt's calls for `days` days; None: keep none."""
    with transaction.atomic():
        current = BodyKeeping.objects.select_for_update().filter(prompt=prompt).first()
        old = current.days if current else None
        if old == days:
            return
        if days is None:
            BodyKeeping.objects.filter(prompt=prompt).delete()
        else:
            BodyKeeping.objects.update_or_create(prompt=prompt, defaults={"days": days})
        recorder.record(
            recorder.Action.UPDATE, prompt, {"keep_bodies_days": [old, days]}, user=user
        )
        transaction.on_commit(recording.forget_keeping)
    recording.forget_keeping()
