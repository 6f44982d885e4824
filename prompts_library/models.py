from __future__ import annotations

import hashlib
import secrets
from collections.abc import Set as AbstractSet
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse

from integrations.models import TestRun


class Feature(models.Model):
    """A platform feature that sends prompts: "Co-pilot", "Dynamic Conversations", …"""

    name = models.CharField(max_length=100, unique=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Prompt(models.Model):
    name = models.CharField(max_length=200)
    # Stable for API callers: set once from the name, never changed by a rename.
    slug = models.SlugField(max_length=220, unique=True)
    integration = models.ForeignKey(
        "integrations.BedrockModel", models.PROTECT, related_name="prompts"
    )
    feature = models.ForeignKey(Feature, models.PROTECT, related_name="prompts")
    published_version = models.ForeignKey(
        "PromptVersion", models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("prompts_library:detail", args=[self.pk])


class PromptFallback(models.Model):
    """One step of a prompt's own fallback chain. A prompt with a chain of its own uses it in
    place of its integration's; a prompt without one uses its integration's."""

    prompt = models.ForeignKey(Prompt, models.CASCADE, related_name="fallback_links")
    fallback = models.ForeignKey("integrations.BedrockModel", models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["prompt", "position"]
        constraints = [
            models.UniqueConstraint("prompt", "position", name="prompt_fallback_position_unique"),
            models.UniqueConstraint("prompt", "fallback", name="prompt_fallback_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.prompt} → {self.fallback} (#{self.position})"


class VersionImmutable(Exception):
    pass


class PromptVersion(models.Model):
    prompt = models.ForeignKey(Prompt, models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    request_template = models.TextField()
    response_path = models.CharField(max_length=1000)
    input_tokens_path = models.CharField(max_length=1000, blank=True)
    output_tokens_path = models.CharField(max_length=1000, blank=True)
    samples = models.JSONField(default=dict, blank=True)
    change_note = models.CharField(max_length=500, blank=True)
    # Who saved it here, and when: for an imported version, the importer at import time.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    # What an import file said about the version: information only, never its history here.
    imported = models.BooleanField(default=False)
    original_author = models.CharField(max_length=150, blank=True)
    original_created = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["prompt", "-number"]
        constraints = [
            models.UniqueConstraint("prompt", "number", name="prompt_version_number_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.prompt} v{self.number}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise VersionImmutable("A prompt version cannot change: save a new version instead.")
        super().save(*args, **kwargs)


class PromptTest(TestRun):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Success"
        FAILED = "failed", "Failed"

    class Step(models.TextChoices):
        QUEUE = "queue", "Queue"
        STS = "sts", "STS AssumeRole"
        INVOKE = "invoke", "InvokeModel"
        EXTRACT = "extract", "Response path"
        WORKER = "worker", "Worker"

    RUNNING = (Status.RUNNING,)
    TERMINAL = (Status.SUCCEEDED, Status.FAILED)

    # Null for a test from the new prompt page, made before the prompt exists.
    prompt = models.ForeignKey(Prompt, models.CASCADE, null=True, blank=True, related_name="tests")
    # Null for a draft: the editing page's unsaved values, tested before they become a version.
    version = models.ForeignKey(
        PromptVersion, models.CASCADE, null=True, blank=True, related_name="tests"
    )
    # The model called when it is not the prompt's (a draft, or another model being tried).
    integration = models.ForeignKey(
        "integrations.BedrockModel", models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The paths the response is read with (the version's, or the draft's), kept with the test.
    response_path = models.CharField(max_length=1000, blank=True)
    input_tokens_path = models.CharField(max_length=1000, blank=True)
    output_tokens_path = models.CharField(max_length=1000, blank=True)
    status = models.CharField(max_length=20, choices=Status, default=Status.QUEUED)
    rendered_request = models.TextField()

    failed_step = models.CharField(max_length=10, choices=Step, blank=True)
    extracted_text = models.TextField(blank=True)
    extraction_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["prompt", "-created"]),
            models.Index(fields=["status", "heartbeat"]),
        ]

    def __str__(self) -> str:
        return f"Prompt test #{self.pk} ({self.get_status_display()})"

    @property
    def is_draft(self) -> bool:
        return self.version_id is None

    def model(self):
        if self.integration_id or self.prompt is None:
            return self.integration
        return self.prompt.integration

    def audit_subject(self) -> tuple[models.Model, dict[str, Any]]:
        # A draft test (the editing page's unsaved values) has no version; a test from the new
        # prompt page has no prompt yet either, and is recorded on the model it called.
        version = self.version.number if self.version is not None else "draft"
        subject = self.prompt if self.prompt is not None else (self.integration or self)
        return subject, {**self._audit_outcome(), "version": version}

    def response_tree(self) -> str:
        from prompts_library import jsontree

        return jsontree.render_raw(self.raw_response)


TOKEN_PREFIX = "bcp_"  # noqa: S105 - a public marker, not a secret


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the Invoke API. Only its SHA-256 is stored; it is shown once."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # Every prompt only when chosen so; otherwise the listed prompts and the prompts of the
    # features. A limited token whose prompts and features were all deleted allows nothing.
    all_prompts = models.BooleanField("All prompts", default=False)
    prompts = models.ManyToManyField(Prompt, blank=True, related_name="+")
    features = models.ManyToManyField(Feature, blank=True, related_name="+")
    # The OpenAI-compatible API (gateway/): every integration only when chosen so; otherwise
    # the listed ones. A token granted none may call no integration that way.
    all_integrations = models.BooleanField("All integrations", default=False)
    integrations = models.ManyToManyField("integrations.BedrockModel", blank=True, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(
        cls, name: str, created_by=None, *, all_prompts: bool, all_integrations: bool = False
    ) -> tuple[ApiToken, str]:
        """A new token row and the plaintext token, which is never stored.

        Without all_prompts the token allows no prompt until prompts or features are added;
        without all_integrations no integration until integrations are added.
        """
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = cls.objects.create(
            name=name,
            prefix=token[: len(TOKEN_PREFIX) + 8],
            token_hash=hash_token(token),
            created_by=created_by,
            all_prompts=all_prompts,
            all_integrations=all_integrations,
        )
        return row, token

    def allows(self, prompt: Prompt) -> bool:
        """Whether this token may invoke the prompt (revocation aside): the API's rule."""
        return scope_allows(
            self.all_prompts,
            {p.pk for p in self.prompts.all()},
            {f.pk for f in self.features.all()},
            prompt,
        )

    @property
    def allows_nothing(self) -> bool:
        """Limited, and everything it was limited to has been deleted."""
        return (
            not self.all_prompts
            and not self.all_integrations
            and not self.prompts.all()
            and not self.features.all()
            and not self.integrations.all()
        )


def scope_allows(
    all_prompts: bool, prompt_ids: AbstractSet[int], feature_ids: AbstractSet[int], prompt: Prompt
) -> bool:
    """A token's scope, one rule: every prompt only when chosen so, never by absence."""
    return all_prompts or prompt.pk in prompt_ids or prompt.feature_id in feature_ids


def integration_allowed(
    all_integrations: bool, integration_ids: AbstractSet[int], integration_id: int
) -> bool:
    """Whether a token may call an integration through the OpenAI-compatible API: every one
    only when chosen so, never by absence."""
    return all_integrations or integration_id in integration_ids
