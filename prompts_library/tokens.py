"""API tokens: issued, scoped and revoked, each in one transaction with its audit event."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit import recorder
from prompts_library import apicache
from prompts_library.models import ApiToken, Feature, Prompt
from usage import limits as token_limits

# The many-to-many fields that limit what a token may call.
SCOPE = ("prompts", "features")

BOTH = "Choose All prompts, or prompts and features to limit the token to: not both."
NEITHER = "Choose All prompts, or at least one prompt or feature to limit the token to."


class ScopeError(ValueError):
    pass


def issue_token(
    name: str,
    user: Any,
    prompts: Iterable[Prompt] = (),
    features: Iterable[Feature] = (),
    *,
    all_prompts: bool = False,
    limits: Mapping[str, Any] | None = None,
) -> tuple[ApiToken, str]:
    """A new token for every prompt, or limited to these prompts and features, and its
    plaintext, which is shown once and never stored. ``limits`` (usage.limits.FIELDS; None or
    empty values: no limit) are set in the same transaction, audited as any limit change."""
    prompts, features = list(prompts), list(features)
    if all_prompts and (prompts or features):
        raise ScopeError(BOTH)
    if not all_prompts and not prompts and not features:
        raise ScopeError(NEITHER)
    with transaction.atomic():
        token, plaintext = ApiToken.issue(name, user, all_prompts=all_prompts)
        token.prompts.set(prompts)
        token.features.set(features)
        recorder.record_create(token, links=SCOPE)
        if limits and any(value is not None for value in limits.values()):
            token_limits.do_set_limits(token, **limits, user=user)
    return token, plaintext


def revoke_token(pk: int) -> ApiToken | None:
    """Revoke the token; None when there is no such token or it was already revoked."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=pk, revoked_at__isnull=True).first()
        if token is None:
            return None
        before = recorder.snapshot(token)
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        changes = recorder.diff(before, recorder.snapshot(token))
        recorder.record(recorder.Action.TOKEN_REVOKED, token, changes)
        apicache.changed()
    return token
