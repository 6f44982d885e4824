"""API tokens: issued, scoped and revoked, each in one transaction with its audit event."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit import recorder
from integrations.models import BedrockModel
from prompts_library import apicache
from prompts_library.models import ApiToken, Feature, Prompt
from usage import limits as token_limits

# The many-to-many fields that limit what a token may call.
SCOPE = ("prompts", "features", "integrations")

BOTH = "Choose All prompts, or prompts and features to limit the token to: not both."
BOTH_INTEGRATIONS = "Choose All integrations, or integrations to limit the token to: not both."
NEITHER = (
    "Choose All prompts or All integrations, or at least one prompt, feature or integration "
    "to limit the token to."
)


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
    integrations: Iterable[BedrockModel] = (),
    all_integrations: bool = False,
) -> tuple[ApiToken, str]:
    """A new token for every prompt, or limited to these prompts and features, and for every
    integration or these (the OpenAI-compatible API), and its plaintext, which is shown once
    and never stored. ``limits`` (usage.limits.FIELDS; None or empty values: no limit) are set
    in the same transaction, audited as any limit change."""
    prompts, features, integrations = list(prompts), list(features), list(integrations)
    check_scope(all_prompts, bool(prompts or features), all_integrations, bool(integrations))
    with transaction.atomic():
        token, plaintext = ApiToken.issue(
            name, user, all_prompts=all_prompts, all_integrations=all_integrations
        )
        token.prompts.set(prompts)
        token.features.set(features)
        token.integrations.set(integrations)
        recorder.record_create(token, links=SCOPE)
        if limits and any(value is not None for value in limits.values()):
            token_limits.do_set_limits(token, **limits, user=user)
    return token, plaintext


def check_scope(
    all_prompts: bool, some_prompts: bool, all_integrations: bool, some_integrations: bool
) -> None:
    """A token is for all of a kind or some of it, not both, and for something. Raises
    ScopeError."""
    if all_prompts and some_prompts:
        raise ScopeError(BOTH)
    if all_integrations and some_integrations:
        raise ScopeError(BOTH_INTEGRATIONS)
    if not (all_prompts or some_prompts or all_integrations or some_integrations):
        raise ScopeError(NEITHER)


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
