"""What the console keeps about model calls: one row per call, and hourly sums for the charts.

Call records are deleted after USAGE_RETENTION_DAYS (usage.tasks); the hourly rollups the
charts read are kept for USAGE_ROLLUP_RETENTION_DAYS. Money is kept in nano-US-dollars
(1e-9 USD) as integers, so that sums are exact and a rollup is incremented in SQL.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.urls import reverse

NANO = Decimal(1_000_000_000)

# Upper bounds (ms) of the latency histogram kept in each rollup; the last bucket is open.
# Percentiles on the charts are read from these buckets (interpolated within one).
LATENCY_BOUNDS_MS = (
    25,
    50,
    100,
    200,
    300,
    500,
    750,
    1000,
    1500,
    2000,
    3000,
    5000,
    10000,
    20000,
    30000,
)
BUCKETS = len(LATENCY_BOUNDS_MS) + 1


# What a rollup row is per: its period (hour or day) and these; and what it sums.
ROLLUP_DIMENSIONS = ("kind", "integration_id", "prompt_id", "version_id", "feature", "token_id")
ROLLUP_SUMS = (
    "calls",
    "errors",
    "input_tokens",
    "output_tokens",
    "cost_nano",
    "latency_sum_ms",
    *(f"lat{i}" for i in range(BUCKETS)),
)


# A call record's columns as written (usage.recording, usage.journal), with their PostgreSQL
# types (usage_record()'s arguments, the journal's casts).
RECORD_FIELDS = (
    ("created", "timestamptz"),
    ("kind", "text"),
    ("user_id", "bigint"),
    ("token_id", "bigint"),
    ("integration_id", "bigint"),
    ("prompt_id", "bigint"),
    ("version_id", "bigint"),
    ("test_id", "bigint"),
    ("feature", "text"),
    ("ok", "boolean"),
    ("error_code", "text"),
    ("http_status", "integer"),
    ("total_ms", "integer"),
    ("sts_ms", "integer"),
    ("model_ms", "integer"),
    ("first_token_ms", "integer"),
    ("input_tokens", "integer"),
    ("output_tokens", "integer"),
    ("cost_nano", "bigint"),
    ("request_id", "text"),
    ("request_body", "text"),
    ("response_body", "text"),
    ("bodies_until", "timestamptz"),
)


def bucket_of(ms: float) -> int:
    for i, bound in enumerate(LATENCY_BOUNDS_MS):
        if ms <= bound:
            return i
    return len(LATENCY_BOUNDS_MS)


def usd(nano: int | None) -> Decimal | None:
    return None if nano is None else Decimal(nano) / NANO


def _loose_fk(to: str, related_name: str = "+") -> models.ForeignKey:
    # No database constraint and no cascade: a record outlives what it names (a deleted
    # integration or revoked token keeps its history), and inserting checks no other table.
    return models.ForeignKey(
        to,
        models.DO_NOTHING,
        null=True,
        blank=True,
        db_constraint=False,
        related_name=related_name,
    )


class CallRecord(models.Model):
    class Kind(models.TextChoices):
        CONNECTION_TEST = "connection_test", "Connection test"
        PROMPT_TEST = "prompt_test", "Prompt test"
        DRAFT_TEST = "draft_test", "Draft test"
        INVOKE_API = "invoke_api", "Invoke API"
        CHAT_COMPLETIONS = "chat_completions", "Chat completions"
        CANARY = "canary", "Health canary"

    created = models.DateTimeField()
    # Set when the record came through the journal in Redis (usage.journal): a drain repeated
    # after a failure finds its records already here and adds nothing twice.
    journal_id = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    kind = models.CharField(max_length=30)
    user = _loose_fk(settings.AUTH_USER_MODEL)
    token = _loose_fk("prompts_library.ApiToken")
    integration = _loose_fk("integrations.BedrockModel")
    prompt = _loose_fk("prompts_library.Prompt")
    version = _loose_fk("prompts_library.PromptVersion")
    test_id = models.BigIntegerField(null=True, blank=True)
    feature = models.CharField(max_length=100, blank=True)
    ok = models.BooleanField()
    error_code = models.CharField(max_length=100, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    total_ms = models.PositiveIntegerField(null=True, blank=True)
    sts_ms = models.PositiveIntegerField(null=True, blank=True)
    model_ms = models.PositiveIntegerField(null=True, blank=True)
    first_token_ms = models.PositiveIntegerField(null=True, blank=True)
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    cost_nano = models.BigIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=100, blank=True)
    # Only for prompts that opted in; secrets masked, capped, cleared after bodies_until.
    request_body = models.TextField(blank=True)
    response_body = models.TextField(blank=True)
    bodies_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["-created", "-id"], name="usage_call_newest"),
            models.Index(fields=["integration", "-created"], name="usage_call_integration"),
            models.Index(fields=["prompt", "-created"], name="usage_call_prompt"),
            models.Index(fields=["token", "-created"], name="usage_call_token"),
            models.Index(
                fields=["bodies_until"],
                condition=models.Q(bodies_until__isnull=False),
                name="usage_call_bodies_until",
            ),
        ]

    def __str__(self) -> str:
        return f"Call #{self.pk} ({self.kind})"

    def get_absolute_url(self) -> str:
        return reverse("usage:call", args=[self.pk])

    @property
    def cost_usd(self) -> Decimal | None:
        return usd(self.cost_nano)

    @property
    def kind_label(self) -> str:
        try:
            return self.Kind(self.kind).label
        except ValueError:
            return self.kind


class Rollup(models.Model):
    """Sums of calls for one combination of kind, integration, prompt, version, feature and
    token over one period. Dimensions are plain numbers (0: none) so that one unique index
    covers them all and a call adds to its row with a single upsert. Every column is a sum
    (the latency histogram too), so a longer period's row is the sum of its shorter ones."""

    kind = models.CharField(max_length=30)
    integration_id = models.BigIntegerField(default=0)
    prompt_id = models.BigIntegerField(default=0)
    version_id = models.BigIntegerField(default=0)
    feature = models.CharField(max_length=100, default="", blank=True)
    token_id = models.BigIntegerField(default=0)
    calls = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cost_nano = models.BigIntegerField(default=0)
    latency_sum_ms = models.BigIntegerField(default=0)
    # Calls per latency bucket (LATENCY_BOUNDS_MS): lat0 … lat15.
    for _i in range(BUCKETS):
        locals()[f"lat{_i}"] = models.BigIntegerField(default=0)
    del _i

    class Meta:
        abstract = True


def _rollup_key(period: str, name: str) -> models.UniqueConstraint:
    # One row per period and combination: what a call's upsert finds its row by.
    return models.UniqueConstraint(period, *ROLLUP_DIMENSIONS, name=name)


def _rollup_indexes(period: str, prefix: str) -> list[models.Index]:
    # The pages of one token, integration or prompt.
    return [
        models.Index(fields=[dimension, period], name=f"{prefix}_{name}")
        for dimension, name in (
            ("token_id", "token"),
            ("integration_id", "integration"),
            ("prompt_id", "prompt"),
        )
    ]


class HourlyRollup(Rollup):
    """One hour's sums: the charts of the last 24 hours and 7 days (by the hour)."""

    hour = models.DateTimeField()

    class Meta:
        constraints = [_rollup_key("hour", "usage_rollup_key")]
        indexes = _rollup_indexes("hour", "usage_rollup")

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}:00 {self.kind}"


class DailyRollup(Rollup):
    """One day's sums (UTC days), written by the same statement as the hourly row: the charts
    and tables of the last 30 days read 30 rows per combination instead of 720, and a
    token's spend this month is read from them."""

    day = models.DateTimeField()

    class Meta:
        constraints = [_rollup_key("day", "usage_daily_rollup_key")]
        indexes = _rollup_indexes("day", "usage_daily")

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.kind}"


class MinuteCounter(models.Model):
    """Requests and tokens of one API token in one minute, for limits without Redis."""

    token_id = models.BigIntegerField()
    minute = models.BigIntegerField()  # minutes since the epoch
    requests = models.BigIntegerField(default=0)
    tokens = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint("token_id", "minute", name="usage_minute_counter_key")
        ]

    def __str__(self) -> str:
        return f"Token #{self.token_id}, minute {self.minute}"


class TokenLimits(models.Model):
    """What one API token may use; empty: no limit."""

    token = models.OneToOneField("prompts_library.ApiToken", models.CASCADE, related_name="limits")
    requests_per_minute = models.PositiveIntegerField("Requests per minute", null=True, blank=True)
    tokens_per_minute = models.PositiveIntegerField("Tokens per minute", null=True, blank=True)
    monthly_budget_usd = models.DecimalField(
        "Monthly budget (USD)", max_digits=12, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = "token limits"
        verbose_name_plural = "token limits"

    def __str__(self) -> str:
        return f"Limits of token #{self.token_id}"

    @property
    def any(self) -> bool:
        return any(
            v is not None
            for v in (self.requests_per_minute, self.tokens_per_minute, self.monthly_budget_usd)
        )


class BodyKeeping(models.Model):
    """A prompt that keeps the request and response bodies of its calls, for so many days."""

    prompt = models.OneToOneField(
        "prompts_library.Prompt", models.CASCADE, related_name="body_keeping"
    )
    days = models.PositiveSmallIntegerField(default=7)

    def __str__(self) -> str:
        return f"Bodies of prompt #{self.prompt_id} kept {self.days} days"
