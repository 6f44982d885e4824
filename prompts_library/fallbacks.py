"""A prompt's fallback chain: its own, in place of its integration's, or its integration's.

The rules and the serving are integrations.fallbacks'; this module reads and saves the prompt's
own chain. A prompt's requests are in its integration's request format, so the members must be
able to run that format (a Converse request runs on every family, a family's own JSON only on
that family).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction

from audit import recorder
from integrations import fallbacks
from integrations.models import BedrockModel
from prompts_library import apicache
from prompts_library.models import Prompt, PromptFallback


def own_chain(prompt: Prompt) -> list[BedrockModel]:
    """The prompt's own fallbacks, in order (empty: it uses its integration's)."""
    links = prompt.fallback_links.all()
    if "fallback_links" not in getattr(prompt, "_prefetched_objects_cache", {}):
        links = links.select_related("fallback__provider")
    return [link.fallback for link in sorted(links, key=lambda link: link.position)]


def chain_for(prompt: Prompt) -> list[BedrockModel]:
    """The chain a call of the prompt uses: its own when it has one, else its integration's."""
    return own_chain(prompt) or fallbacks.chain_of(prompt.integration)


def check(prompt_integration: BedrockModel, chain: Sequence[Any]) -> None:
    """Raise integrations.fallbacks.ChainError for a chain this prompt cannot use."""
    fallbacks.check_chain(
        prompt_integration.request_format,
        prompt_integration,
        prompt_integration.model_id,
        chain,
    )


def set_chain(prompt: Prompt, chain: Sequence[BedrockModel], user: Any = None) -> None:
    """Replace the prompt's own chain (checked), with its audit event, in one transaction."""
    check(prompt.integration, chain)
    with transaction.atomic():
        Prompt.objects.select_for_update().filter(pk=prompt.pk).first()
        before = own_chain(prompt)
        PromptFallback.objects.filter(prompt=prompt).delete()
        PromptFallback.objects.bulk_create(
            PromptFallback(prompt=prompt, fallback=m, position=i) for i, m in enumerate(chain)
        )
        if fallbacks.describe(before) != fallbacks.describe(chain):
            recorder.record(
                recorder.Action.UPDATE,
                prompt,
                {"fallbacks": [fallbacks.describe(before), fallbacks.describe(chain)]},
                user=user,
            )
        apicache.changed()
