"""The Invoke API's per-process cache of tokens and published prompts, true in every process.

Looking both up costs several queries per call; they change rarely. Each web process keeps
what it served, under a version kept in the shared cache (config.cache.SharedVersion: Redis, or
the file cache of the embedded default). Every API call reads that version first and drops
the process's entries when it changed, so a change made anywhere applies everywhere at the
next call. The actions that change what the API serves call `changed()`: revoking a token or
changing its scope, editing, publishing or rolling back a prompt, editing or deleting an
integration, importing, and the admin's edits of these. The version changes when their
transaction commits.

While the shared cache cannot be reached nothing is kept: every call reads the database.
Entries also expire after settings.API_CACHE_SECONDS, a bound for a process that could reach
the database but not Redis when a change was made. Only hits are cached: an unknown token or
prompt is looked up every time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from config.cache import SharedVersion
from integrations.models import BedrockModel
from prompts_library.models import ApiToken, Prompt, integration_allowed, scope_allows

MAX_ENTRIES = 10_000

version = SharedVersion("apicache:version")


@dataclass
class CachedToken:
    pk: int
    all_prompts: bool
    prompt_ids: frozenset[int]
    feature_ids: frozenset[int]
    last_used_at: datetime | None
    expires: float = field(default=0.0)
    all_integrations: bool = False
    integration_ids: frozenset[int] = frozenset()

    def allows(self, prompt: Prompt) -> bool:
        return scope_allows(self.all_prompts, self.prompt_ids, self.feature_ids, prompt)

    def allows_integration(self, integration_id: int) -> bool:
        return integration_allowed(self.all_integrations, self.integration_ids, integration_id)


_lock = threading.Lock()
# Reading an entry again is done by one thread at a time per entry: when an entry expires under
# steady calls, every request thread of the process would otherwise miss it at the same moment
# and run the same queries (a burst every API_CACHE_SECONDS). Striped: a lock per hash bucket.
_refresh_locks = tuple(threading.Lock() for _ in range(64))


def _refreshing(kind: str, key: str) -> threading.Lock:
    return _refresh_locks[hash((kind, key)) % len(_refresh_locks)]


_tokens: dict[str, CachedToken] = {}
_prompts: dict[str, tuple[Prompt, float]] = {}
_integrations: dict[str, tuple[BedrockModel, float]] = {}
# The shared version the entries were read under (None: keep nothing).
_seen: str | None = None


def clear() -> None:
    """Drop this process's entries (the next call reads the shared version again)."""
    global _seen
    with _lock:
        _seen = None
        _tokens.clear()
        _prompts.clear()
        _integrations.clear()


def changed() -> None:
    """What the API serves changed: every process drops its entries once this commits.

    This process drops them at once too, so that its own next call reads the change even
    inside the transaction that makes it.
    """
    clear()
    version.bump()
    transaction.on_commit(clear)


def sync() -> str | None:
    """Drop the entries if anything changed anywhere; the version to store new entries under.

    Called once per API request, before anything is read.
    """
    global _seen
    current = version.current() if settings.API_CACHE_SECONDS > 0 else None
    if current != _seen:
        with _lock:
            _tokens.clear()
            _prompts.clear()
            _integrations.clear()
            _seen = current
    return current


def _store(cache: dict[str, Any], key: str, value: Any, read_under: str | None) -> None:
    with _lock:
        # A change seen by another thread while this was being read must not be hidden by it.
        if read_under is None or read_under != _seen:
            return
        if len(cache) >= MAX_ENTRIES:
            cache.clear()
        cache[key] = value


MAX_PK = 2**63 - 1
SLUG_MAX_LENGTH = Prompt._meta.get_field("slug").max_length or 0


def _lookup(ref: str) -> Prompt | None:
    qs = Prompt.objects.select_related(
        "integration", "published_version", "feature"
    ).prefetch_related(  # the fallback chains (prompts_library.fallbacks.chain_for)
        "fallback_links__fallback__provider", "integration__fallback_links__fallback__provider"
    )
    if ref.isascii() and ref.isdigit():
        pk = int(ref)
        return qs.filter(pk=pk).first() if 0 < pk <= MAX_PK else None
    if "\x00" in ref or len(ref) > SLUG_MAX_LENGTH:
        return None  # no slug holds these; PostgreSQL refuses NUL in text
    return qs.filter(slug=ref).first()


def _fresh_token(token_hash: str) -> CachedToken | None:
    entry = _tokens.get(token_hash)
    return entry if entry is not None and entry.expires > time.monotonic() else None


def token(token_hash: str, read_under: str | None) -> CachedToken | None:
    entry = _fresh_token(token_hash)
    if entry is not None:
        return entry
    with _refreshing("token", token_hash):
        # Another thread may have read it while this one waited.
        return _fresh_token(token_hash) or _read_token(token_hash, read_under)


def _read_token(token_hash: str, read_under: str | None) -> CachedToken | None:
    now = time.monotonic()
    row = (
        ApiToken.objects.filter(token_hash=token_hash, revoked_at__isnull=True)
        .only("pk", "all_prompts", "all_integrations", "last_used_at")
        .first()
    )
    if row is None:
        return None
    entry = CachedToken(
        pk=row.pk,
        all_prompts=row.all_prompts,
        prompt_ids=frozenset(row.prompts.values_list("pk", flat=True)),
        feature_ids=frozenset(row.features.values_list("pk", flat=True)),
        last_used_at=row.last_used_at,
        expires=now + settings.API_CACHE_SECONDS,
        all_integrations=row.all_integrations,
        integration_ids=frozenset(row.integrations.values_list("pk", flat=True)),
    )
    _store(_tokens, token_hash, entry, read_under)
    return entry


def prompt(ref: str, read_under: str | None) -> Prompt | None:
    """The prompt by id or slug, with its integration and published version."""
    hit = _fresh(_prompts, ref)
    if hit is not None:
        return hit
    with _refreshing("prompt", ref):
        hit = _fresh(_prompts, ref)  # another thread may have read it while this one waited
        if hit is not None:
            return hit
        found = _lookup(ref)
        if found is not None:
            expires = time.monotonic() + settings.API_CACHE_SECONDS
            _store(_prompts, ref, (found, expires), read_under)
        return found


def _fresh(cache: dict[str, tuple[Any, float]], key: str) -> Any:
    hit = cache.get(key)
    return hit[0] if hit is not None and hit[1] > time.monotonic() else None


API_NAME_MAX_LENGTH = BedrockModel._meta.get_field("api_name").max_length or 0


def integration(api_name: str, read_under: str | None) -> BedrockModel | None:
    """The integration by its API model name (the OpenAI-compatible API's `model`)."""
    hit = _fresh(_integrations, api_name)
    if hit is not None:
        return hit
    if "\x00" in api_name or len(api_name) > API_NAME_MAX_LENGTH:
        return None  # no name holds these; PostgreSQL refuses NUL in text
    with _refreshing("integration", api_name):
        hit = _fresh(_integrations, api_name)  # read by another thread while this one waited
        if hit is not None:
            return hit
        # With its fallback chain: a change of the chain or of a member clears the cache too.
        found = (
            BedrockModel.objects.select_related("provider")
            .prefetch_related("fallback_links__fallback__provider")
            .filter(api_name=api_name)
            .first()
        )
        if found is not None:
            expires = time.monotonic() + settings.API_CACHE_SECONDS
            _store(_integrations, api_name, (found, expires), read_under)
        return found


class ChangesApiServing:
    """For the ModelAdmins of what the API serves: their saves and deletes call changed()."""

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        changed()

    def save_related(self, request: Any, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        changed()  # a token's prompts and features are saved here

    def delete_model(self, request: Any, obj: Any) -> None:
        super().delete_model(request, obj)  # type: ignore[misc]
        changed()

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        super().delete_queryset(request, queryset)  # type: ignore[misc]
        changed()
