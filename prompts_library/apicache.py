"""The Invoke API's per-process cache of tokens and published prompts.

Looking both up costs several queries per call; they change rarely. Entries live
settings.API_CACHE_SECONDS. Any save or delete of a token, a prompt or an integration (and any
change of a token's scope) clears the cache of the process that made it at once, and again
when its transaction commits; other processes see the change within API_CACHE_SECONDS.
Only hits are cached: an unknown token or prompt is looked up every time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from prompts_library.models import ApiToken, Prompt

MAX_ENTRIES = 10_000


@dataclass
class CachedToken:
    pk: int
    prompt_ids: frozenset[int]
    feature_ids: frozenset[int]
    last_used_at: datetime | None
    expires: float = field(default=0.0)

    def allows(self, prompt: Prompt) -> bool:
        if not self.prompt_ids and not self.feature_ids:
            return True
        return prompt.pk in self.prompt_ids or prompt.feature_id in self.feature_ids


_lock = threading.Lock()
_tokens: dict[str, CachedToken] = {}
_prompts: dict[str, tuple[Prompt, float]] = {}
_generation = 0


def clear() -> None:
    global _generation
    with _lock:
        _generation += 1
        _tokens.clear()
        _prompts.clear()


def _store(cache: dict[str, Any], key: str, value: Any, generation: int) -> None:
    with _lock:
        # A change made while this was being read must not be hidden by it.
        if generation != _generation:
            return
        if len(cache) >= MAX_ENTRIES:
            cache.clear()
        cache[key] = value


def token(token_hash: str) -> CachedToken | None:
    ttl = settings.API_CACHE_SECONDS
    entry = _tokens.get(token_hash)
    now = time.monotonic()
    if entry is not None and entry.expires > now:
        return entry
    generation = _generation
    row = (
        ApiToken.objects.filter(token_hash=token_hash, revoked_at__isnull=True)
        .only("pk", "last_used_at")
        .first()
    )
    if row is None:
        return None
    entry = CachedToken(
        pk=row.pk,
        prompt_ids=frozenset(row.prompts.values_list("pk", flat=True)),
        feature_ids=frozenset(row.features.values_list("pk", flat=True)),
        last_used_at=row.last_used_at,
        expires=now + ttl,
    )
    if ttl > 0:
        _store(_tokens, token_hash, entry, generation)
    return entry


def prompt(ref: str) -> Prompt | None:
    """The prompt by id or slug, with its integration and published version."""
    ttl = settings.API_CACHE_SECONDS
    hit = _prompts.get(ref)
    now = time.monotonic()
    if hit is not None and hit[1] > now:
        return hit[0]
    generation = _generation
    qs = Prompt.objects.select_related("integration", "published_version")
    found = qs.filter(pk=int(ref)).first() if ref.isdigit() else qs.filter(slug=ref).first()
    if found is not None and ttl > 0:
        _store(_prompts, ref, (found, now + ttl), generation)
    return found


def _changed(**_: Any) -> None:
    clear()
    transaction.on_commit(clear)


def connect() -> None:
    from integrations.models import BedrockModel
    from prompts_library.models import PromptVersion

    for model in (ApiToken, Prompt, PromptVersion, BedrockModel):
        post_save.connect(_changed, sender=model, dispatch_uid=f"apicache-save-{model.__name__}")
        post_delete.connect(
            _changed, sender=model, dispatch_uid=f"apicache-delete-{model.__name__}"
        )
    for through in (ApiToken.prompts.through, ApiToken.features.through):
        m2m_changed.connect(_changed, sender=through, dispatch_uid=f"apicache-m2m-{through}")
