"""Limits per API token: requests and tokens per minute, and a monthly budget.

Counted where every web process sees the same numbers: in Redis (one pipelined round trip per
call: INCR the minute's requests, read the minute's tokens and the month's spend), or, without
Redis (the embedded default, or while Redis is unreachable), in the database (one upsert of the
minute's row, and the month's spend summed from the hourly rollups). Windows are calendar
minutes (UTC) and calendar months (UTC).

The month's spend in Redis starts from the rollups (the first call of a month, or after Redis
lost the key) and grows with each call's cost as it is recorded (usage.recording). A call is
refused before it is made once the spend reached the budget: the call that crosses the budget
is still answered. Tokens per minute work the same way: a call is refused once the minute's
tokens reached the limit.

A token without limits costs nothing here: its limits are read once and kept per process
like the Invoke API's tokens (usage follows prompts_library.apicache's version).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.http import JsonResponse
from django.utils import timezone

from audit import recorder
from config.cache import UNREACHABLE, breaker, redis_client
from usage import journal
from usage.commit import unflushed
from usage.models import NANO, DailyRollup, MinuteCounter, TokenLimits

FIELDS = ("requests_per_minute", "tokens_per_minute", "monthly_budget_usd")
# The error codes of a refusal, answered with HTTP 429.
RATE_LIMITED = "rate_limited"
BUDGET_EXCEEDED = "budget_exceeded"
STATUS = 429


@dataclass(frozen=True)
class Limits:
    requests_per_minute: int | None
    tokens_per_minute: int | None
    budget_nano: int | None


@dataclass(frozen=True)
class Use:
    """One token's use in the current minute and month."""

    requests: int
    tokens: int
    spent_nano: int

    @property
    def spent_usd(self) -> Decimal:
        return Decimal(self.spent_nano) / NANO


# --- limits of a token, kept per process --------------------------------------------------

_lock = threading.Lock()
_limits: dict[int, tuple[Limits | None, str | None, float]] = {}


def clear() -> None:
    with _lock:
        _limits.clear()


def _read(token_id: int) -> Limits | None:
    row = TokenLimits.objects.filter(token_id=token_id).values_list(*FIELDS).first()
    if row is None or all(v is None for v in row):
        return None
    rpm, tpm, budget = row
    return Limits(rpm, tpm, None if budget is None else int(budget * NANO))


def of_token(token_id: int, read_under: str | None) -> Limits | None:
    """The token's limits (None: none), read again when the API's shared version changed."""
    hit = _limits.get(token_id)
    now = time.monotonic()
    if hit is not None and hit[1] == read_under and read_under is not None and hit[2] > now:
        return hit[0]
    limits = _read(token_id)
    with _lock:
        if len(_limits) > 10_000:
            _limits.clear()
        _limits[token_id] = (limits, read_under, now + settings.API_CACHE_SECONDS)
    return limits


def _known(token_id: int) -> Limits | None:
    """For recording: the limits this process last read, else from the database."""
    hit = _limits.get(token_id)
    return hit[0] if hit is not None else _read(token_id)


# --- counters -------------------------------------------------------------------------------


def _minute(now: datetime) -> int:
    return int(now.timestamp() // 60)


def _month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(now: datetime) -> datetime:
    start = _month_start(now)
    return (start + timedelta(days=32)).replace(day=1)


def _key(kind: str, token_id: int, window: int | str) -> str:
    from django.core.cache import cache

    # Token ids are the database's: two consoles sharing one Redis count apart.
    database = connection.settings_dict["NAME"]
    return cache.make_key(f"usage:{database}:{kind}:{token_id}:{window}")


def _spent_in_db(token_id: int, now: datetime) -> int:
    # The month starts at a UTC midnight: its days' rollups hold exactly its spend.
    total = DailyRollup.objects.filter(token_id=token_id, day__gte=_month_start(now)).aggregate(
        spent=Sum("cost_nano")
    )["spent"]
    return int(total or 0)


MONTH_KEY_SECONDS = 40 * 86400
# Increments the month's spend only when it was started from the rollups (else the next read
# starts it, with this call included).
_ADD_IF_STARTED = (
    "if redis.call('exists', KEYS[1]) == 1 then return redis.call('incrby', KEYS[1], ARGV[1]) end "
    "return false"
)


def _count_redis(client: Any, token_id: int, now: datetime, limits: Limits) -> Use:
    minute = _minute(now)
    pipe = client.pipeline(transaction=False)
    requests_key = _key("requests", token_id, minute)
    pipe.incr(requests_key)
    pipe.expire(requests_key, 120)
    pipe.get(_key("tokens", token_id, minute))
    spent_key = _key("spent", token_id, f"{now:%Y%m}")
    pipe.get(spent_key)
    requests, _, tokens, spent = pipe.execute()
    if spent is None and limits.budget_nano is not None:
        journal.settle()  # the month's spend so far, with the calls still in the journal
        client.set(spent_key, _spent_in_db(token_id, now), ex=MONTH_KEY_SECONDS, nx=True)
        spent = client.get(spent_key)
    return Use(int(requests), int(tokens or 0), int(spent or 0))


def _count_db(token_id: int, now: datetime, limits: Limits, requests: int = 1) -> Use:
    with unflushed(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO usage_minutecounter (token_id, minute, requests, tokens) "
            "VALUES (%s, %s, %s, 0) ON CONFLICT (token_id, minute) DO UPDATE SET "
            "requests = usage_minutecounter.requests + excluded.requests "
            "RETURNING requests, tokens",
            [token_id, _minute(now), requests],
        )
        counted, tokens = cursor.fetchone()
    spent = _spent_in_db(token_id, now) if limits.budget_nano is not None else 0
    return Use(int(counted), int(tokens), spent)


def _count(token_id: int, now: datetime, limits: Limits) -> Use:
    client = redis_client()
    if client is not None:
        try:
            use = _count_redis(client, token_id, now, limits)
        except UNREACHABLE as e:
            breaker.failed(e)
        else:
            breaker.succeeded()
            return use
    return _count_db(token_id, now, limits)


def used(token_id: int, tokens: int, cost_nano: int, now: datetime) -> None:
    """After a call of a limited token was recorded: its tokens and cost count."""
    limits = _known(token_id)
    if limits is None or (not tokens and not cost_nano):
        return
    client = redis_client()
    if client is not None:
        try:
            pipe = client.pipeline(transaction=False)
            tokens_key = _key("tokens", token_id, _minute(now))
            pipe.incrby(tokens_key, tokens)
            pipe.expire(tokens_key, 120)
            if cost_nano:
                pipe.eval(_ADD_IF_STARTED, 1, _key("spent", token_id, f"{now:%Y%m}"), cost_nano)
            pipe.execute()
        except UNREACHABLE as e:
            breaker.failed(e)
        else:
            breaker.succeeded()
            return
    if tokens:
        with unflushed(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO usage_minutecounter (token_id, minute, requests, tokens) "
                "VALUES (%s, %s, 0, %s) ON CONFLICT (token_id, minute) DO UPDATE SET "
                "tokens = usage_minutecounter.tokens + excluded.tokens",
                [token_id, _minute(now), tokens],
            )


def current_use(token_id: int, now: datetime | None = None) -> Use:
    """This minute's requests and tokens and this month's spend, without counting a request."""
    now = now or timezone.now()
    spent = _spent_in_db(token_id, now)
    client = redis_client()
    if client is not None:
        try:
            minute = _minute(now)
            requests, tokens = client.mget(
                [_key("requests", token_id, minute), _key("tokens", token_id, minute)]
            )
            return Use(int(requests or 0), int(tokens or 0), spent)
        except UNREACHABLE as e:
            breaker.failed(e)
    row = (
        MinuteCounter.objects.filter(token_id=token_id, minute=_minute(now))
        .values_list("requests", "tokens")
        .first()
    )
    return Use(*(row or (0, 0)), spent)


# --- the verdict on one call ------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    limit: int | None = None
    remaining: int | None = None
    code: str = ""
    message: str = ""
    retry_after: int | None = None

    @property
    def refused(self) -> bool:
        return bool(self.code)

    def headers(self, response: Any) -> Any:
        if self.limit is not None:
            response["X-RateLimit-Limit"] = str(self.limit)
            response["X-RateLimit-Remaining"] = str(max(0, self.remaining or 0))
        if self.retry_after is not None:
            response["Retry-After"] = str(self.retry_after)
        return response

    def response(self) -> JsonResponse:
        body = {"error": {"code": self.code, "message": self.message}}
        return self.headers(JsonResponse(body, status=STATUS))


OPEN = Verdict()


def admit(token_id: int, read_under: str | None, now: datetime | None = None) -> Verdict:
    """Count this request against the token's limits; a refusal says why and for how long."""
    limits = of_token(token_id, read_under)
    if limits is None:
        return OPEN
    now = now or timezone.now()
    use = _count(token_id, now, limits)
    to_next_minute = 60 - int(now.timestamp()) % 60
    limit: int | None
    remaining: int | None
    if limits.requests_per_minute is not None:
        limit, remaining = limits.requests_per_minute, limits.requests_per_minute - use.requests
    elif limits.tokens_per_minute is not None:
        limit, remaining = limits.tokens_per_minute, limits.tokens_per_minute - use.tokens
    else:
        limit = remaining = None
    if limits.budget_nano is not None and use.spent_nano >= limits.budget_nano:
        return Verdict(
            limit,
            remaining,
            BUDGET_EXCEEDED,
            "This API token spent its monthly budget; it may call again next month.",
            max(1, int((_next_month(now) - now).total_seconds())),
        )
    if limits.requests_per_minute is not None and use.requests > limits.requests_per_minute:
        return Verdict(
            limit,
            0,
            RATE_LIMITED,
            f"This API token may make {limits.requests_per_minute} requests per minute.",
            to_next_minute,
        )
    if limits.tokens_per_minute is not None and use.tokens >= limits.tokens_per_minute:
        return Verdict(
            limit,
            remaining,
            RATE_LIMITED,
            f"This API token may use {limits.tokens_per_minute} tokens per minute.",
            to_next_minute,
        )
    return Verdict(limit, remaining)


# --- changing limits -------------------------------------------------------------------------


def do_set_limits(
    token: Any,
    *,
    requests_per_minute: int | None,
    tokens_per_minute: int | None,
    monthly_budget_usd: Decimal | None,
    user: Any = None,
) -> bool:
    """Set the token's limits, audited on the token; False when nothing changed."""
    from prompts_library import apicache

    new = {
        "requests_per_minute": requests_per_minute,
        "tokens_per_minute": tokens_per_minute,
        "monthly_budget_usd": monthly_budget_usd,
    }
    with transaction.atomic():
        row, _ = TokenLimits.objects.select_for_update().get_or_create(token=token)
        old = {name: getattr(row, name) for name in FIELDS}
        changes = {
            name: [_shown(old[name]), _shown(new[name])]
            for name in FIELDS
            if _shown(old[name]) != _shown(new[name])
        }
        if not changes:
            return False
        for name, value in new.items():
            setattr(row, name, value)
        row.save(update_fields=list(FIELDS))
        recorder.record(recorder.Action.UPDATE, token, changes, user=user)
        apicache.changed()  # every process reads the token's limits again
        clear()
        transaction.on_commit(clear)
    return True


def _shown(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    return value
