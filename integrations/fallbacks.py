"""Fallback chains: which integrations step in for another, their rules, and serving a call.

An integration's chain is an ordered list of other integrations (IntegrationFallback). A prompt
may have its own (prompts_library.models.PromptFallback): when it has one, it is used in place
of its integration's; when it has none, the integration's applies. Chains are flat: a call tries
the primary, then each member of the primary's (or the prompt's) chain in order, each at most
once; a member's own chain is not followed. So chains may name each other (two regions backing
each other up) without ever making a loop.

`serve` is the one function every caller that may fall back uses (the Invoke API, the chat
completions gateway): it builds the candidates and hands them to bedrock.fallbacks.call_chain,
with the shared cooldown store (integrations.cooldown).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from audit import recorder
from bedrock import fallbacks, invoke, observe
from integrations import cooldown
from integrations.models import BedrockModel, IntegrationFallback

log = logging.getLogger(__name__)

# The most fallbacks a chain holds: each one may cost a failed attempt's time.
MAX_FALLBACKS = 5


class ChainError(ValueError):
    """A chain that cannot be saved: `position` is the 0-based member the message is about."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


def served_name(integration: BedrockModel) -> str:
    """What the answer calls the integration that served it (X-Served-By, served_by)."""
    return getattr(integration, "api_name", "") or str(integration.pk)


def chain_of(integration: BedrockModel) -> list[BedrockModel]:
    """The integration's fallbacks, in order (prefetched ones are used as they are)."""
    links = integration.fallback_links.all()
    if "fallback_links" not in getattr(integration, "_prefetched_objects_cache", {}):
        links = links.select_related("fallback__provider")
    return [link.fallback for link in sorted(links, key=lambda link: link.position)]


def check_chain(
    request_format: str, primary: BedrockModel | None, primary_model_id: str, chain: Sequence[Any]
) -> None:
    """Raise ChainError for a chain that names the primary, a member twice, too many members,
    or a member that cannot run the primary's requests (bedrock.fallbacks.incompatibility)."""
    if len(chain) > MAX_FALLBACKS:
        raise ChainError(f"A chain holds at most {MAX_FALLBACKS} fallbacks.", MAX_FALLBACKS)
    seen: set[int] = set()
    for position, member in enumerate(chain):
        if primary is not None and member.pk == primary.pk:
            raise ChainError(f"{member} cannot be its own fallback.", position)
        if member.pk in seen:
            raise ChainError(f"{member} is already in the chain.", position)
        seen.add(member.pk)
        why = fallbacks.incompatibility(request_format, primary_model_id, member.model_id)
        if why:
            raise ChainError(f"{member}: {why}", position)


def describe(chain: Sequence[BedrockModel]) -> list[str]:
    """A chain as the audit trail keeps it: each member's id and name, in order."""
    return [f"#{m.pk} {m}" for m in chain]


def set_chain(integration: BedrockModel, chain: Sequence[BedrockModel], user: Any = None) -> None:
    """Replace the integration's chain (checked), with its audit event, in one transaction."""
    check_chain(integration.request_format, integration, integration.model_id, chain)
    with transaction.atomic():
        BedrockModel.objects.select_for_update().filter(pk=integration.pk).first()
        before = chain_of(integration)
        IntegrationFallback.objects.filter(integration=integration).delete()
        IntegrationFallback.objects.bulk_create(
            IntegrationFallback(integration=integration, fallback=m, position=i)
            for i, m in enumerate(chain)
        )
        if describe(before) != describe(chain):
            recorder.record(
                recorder.Action.UPDATE,
                integration,
                {"fallbacks": [describe(before), describe(chain)]},
                user=user,
            )
        _api_serving_changed()


def do_remove_deleted(deleted: Sequence[BedrockModel], user: Any = None) -> int:
    """Before integrations are deleted, in the delete's transaction: take them out of every
    other integration's and prompt's chain, with one audit event per chain that changed (the
    chain before and after, and which deletion changed it). Returns how many chains changed.

    The links would go with the delete anyway (cascade); removing them here keeps the change
    and its events in one visible place. The chains of the deleted integrations themselves go
    with them (their own delete events)."""
    from prompts_library.models import Prompt, PromptFallback  # (prompts depend on integrations)

    gone = {m.pk for m in deleted}
    if not gone:
        return 0
    with transaction.atomic():
        linked = IntegrationFallback.objects.filter(fallback__in=gone).values("integration")
        holders: list[Any] = list(
            BedrockModel.objects.select_for_update(of=("self",))
            .select_related("provider")
            .filter(pk__in=linked)
            .exclude(pk__in=gone)
            .order_by("pk")
        )
        named = PromptFallback.objects.filter(fallback__in=gone).values("prompt")
        holders += Prompt.objects.select_for_update().filter(pk__in=named).order_by("pk")
        for holder in holders:
            links = holder.fallback_links.select_related("fallback__provider").order_by("position")
            before = [link.fallback for link in links]
            links.filter(fallback__in=gone).delete()
            after = [m for m in before if m.pk not in gone]
            recorder.record(
                recorder.Action.UPDATE,
                holder,
                {
                    "fallbacks": [describe(before), describe(after)],
                    "reason": _deleted(before, gone),
                },
                user=user,
            )
        if holders:
            _api_serving_changed()
    return len(holders)


def _deleted(chain: Sequence[BedrockModel], gone: set[int]) -> str:
    """Why a chain lost members: "Integration #3 Acme / Haiku was deleted"."""
    names = describe([m for m in chain if m.pk in gone])
    if len(names) == 1:
        return f"Integration {names[0]} was deleted"
    return f"Integrations {', '.join(names)} were deleted"


def _api_serving_changed() -> None:
    from prompts_library import apicache

    apicache.changed()


# --- serving a call ----------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """A chain member as the pages show it: its cooldown state, and why it is left out of
    calls when it can no longer run the primary's requests (changed since it was chosen)."""

    integration: BedrockModel
    state: cooldown.State
    left_out: str = ""

    @property
    def cooling_until(self) -> datetime | None:
        until = self.state.cooling_until
        return datetime.fromtimestamp(until, tz=UTC) if until is not None else None


def states(primary: BedrockModel, chain: Sequence[BedrockModel]) -> list[Member]:
    """The primary, then each member of its chain, with their states."""
    fmt, model_id = primary.request_format, primary.model_id
    return [Member(primary, cooldown.state_of(primary.pk))] + [
        Member(m, cooldown.state_of(m.pk), fallbacks.incompatibility(fmt, model_id, m.model_id))
        for m in chain
    ]


def page_context(
    primary: BedrockModel, chain: list[BedrockModel], edit_url: str, inherited: bool = False
) -> dict[str, Any]:
    """What integrations/_chain.html shows: the chain, each member's state, the settings."""
    return {
        "chain": states(primary, chain),
        "edit_url": edit_url,
        "inherited": inherited,
        "failures_before_cooldown": settings.FALLBACK_FAILURES_BEFORE_COOLDOWN,
        "cooldown_seconds": f"{settings.FALLBACK_COOLDOWN_SECONDS:g}",
    }


@dataclass(frozen=True)
class Served:
    result: invoke.Result  # the answer, or the last failure
    served_by: BedrockModel | None  # None when no integration answered
    attempts: tuple[fallbacks.Attempt, ...]

    @property
    def served_name(self) -> str:
        return served_name(self.served_by) if self.served_by is not None else ""


def serve(
    integration: BedrockModel,
    request: invoke.Request,
    options: invoke.Options,
    context: observe.CallContext,
    chain: Sequence[BedrockModel] | None = None,
) -> Served:
    """Call the integration, stepping to its fallbacks (or `chain`, a prompt's) when it is
    throttled, times out or fails with a server error; each attempt is recorded on its own
    integration. A member that cannot run this request (changed since the chain was saved) is
    left out."""
    members = chain_of(integration) if chain is None else list(chain)
    candidates = [_candidate(integration, request, context)]
    seen = {integration.pk}
    for member in members:
        if member.pk in seen:
            continue
        seen.add(member.pk)
        why = fallbacks.incompatibility(request.format, integration.model_id, member.model_id)
        if why:
            log.warning("fallback %s left out for %s: %s", member.pk, integration.pk, why)
            continue
        candidates.append(_candidate(member, request, context))
    by_key = {str(m.pk): m for m in (integration, *members)}
    chained = fallbacks.call_chain(candidates, options, cooldown.store)
    served = by_key[chained.served_by.key] if chained.served_by is not None else None
    return Served(chained.result, served, chained.attempts)


def _candidate(
    integration: BedrockModel, request: invoke.Request, context: observe.CallContext
) -> fallbacks.Candidate:
    return fallbacks.Candidate(
        key=str(integration.pk),
        name=served_name(integration),
        config=integration.configuration(),
        request=request,
        context=dataclasses.replace(context, integration_id=integration.pk),
    )
