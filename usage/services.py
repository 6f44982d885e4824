"""Changes made from the usage pages, each audited in its own transaction (limits: usage.limits)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from audit import recorder
from integrations.models import BedrockModel
from prompts_library.models import Prompt
from usage import prices, recording
from usage.models import BodyKeeping


def do_set_prices(
    integration: BedrockModel,
    *,
    price_input_per_1k: Decimal | None,
    price_output_per_1k: Decimal | None,
) -> None:
    with transaction.atomic():
        obj = BedrockModel.objects.select_for_update().get(pk=integration.pk)
        before = recorder.snapshot(obj)
        obj.price_input_per_1k = price_input_per_1k
        obj.price_output_per_1k = price_output_per_1k
        obj.save(update_fields=["price_input_per_1k", "price_output_per_1k", "updated"])
        recorder.record_update(obj, before)
        transaction.on_commit(prices.forget)
    prices.forget()


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
