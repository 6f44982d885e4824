"""The audit trail: one row per event, each hashed and chained to the one before it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q
from django.db.models.fields.json import KeyTransform

GENESIS = "0" * 64


# What a secret value is replaced with in the trail (and its exports).
MASK = "•••••• (secret)"


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        CREATE = "create", "Create"
        UPDATE = "update", "Update"
        DELETE = "delete", "Delete"
        ROLES = "roles", "Roles changed"
        PUBLISH = "publish", "Publish"
        ROLLBACK = "rollback", "Rollback"
        TEST_STARTED = "test_started", "Test started"
        TEST_FINISHED = "test_finished", "Test finished"
        LOGIN = "login", "Login"
        LOGOUT = "logout", "Logout"
        LOGIN_FAILED = "login_failed", "Failed login"
        TOKEN_USED = "token_used", "API token used"
        TOKEN_REVOKED = "token_revoked", "API token revoked"
        EXPORT = "export", "Audit export"

    created = models.DateTimeField("when", db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # see audit_actor_created
    )
    # Kept beside the key so that the record still names who it was after the user is deleted.
    actor_repr = models.CharField("actor", max_length=200, blank=True)
    ip = models.GenericIPAddressField("IP address", null=True, blank=True)
    user_agent = models.CharField("user agent", max_length=500, blank=True)
    action = models.CharField(max_length=20, choices=Action)
    object_type = models.CharField("kind of object", max_length=100, blank=True)
    object_id = models.CharField("object ID", max_length=64, blank=True)
    object_repr = models.CharField("object", max_length=300, blank=True)
    # {"field": [before, after]} with secret values masked; or metadata for non-change events.
    changes = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    prev_hash = models.CharField("previous event's hash", max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    # An event that came through the journal in Redis (audit.journal): its entry's id, so that
    # a drain repeated after its commit chains it only once. Bookkeeping, outside the hash.
    journal_id = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-id"]
        verbose_name = "audit event"
        # The review list is ordered by time: each filter a reviewer uses has an index that
        # yields its events in that order (a timeline, an action, a kind, an actor, dates).
        indexes = [
            models.Index(fields=["object_type", "object_id", "-created"], name="audit_timeline"),
            models.Index(fields=["action", "-created"], name="audit_action_created"),
            models.Index(fields=["object_type", "-created"], name="audit_kind_created"),
            models.Index(fields=["actor", "-created"], name="audit_actor_created"),
            models.Index(fields=["ip", "-created"], name="audit_ip_created"),
            # What one person did to one kind of object (and that with an action or dates):
            # without it the two indexes above are read whole and intersected.
            models.Index(
                fields=["actor", "object_type", "-created"], name="audit_actor_kind_created"
            ),
            # Finished tests by outcome (?outcome=): the filter's own expression, in order.
            models.Index(
                KeyTransform("status", "changes"),
                F("created").desc(),
                condition=Q(action="test_finished"),
                name="audit_outcome_created",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["journal_id"],
                condition=Q(journal_id__isnull=False),
                name="audit_journal_id_once",
            ),
        ]
        # The console's other permissions (run_tests, …) live in accounts.Console.
        permissions = [
            ("export_audit", "Can export the audit trail"),
            ("verify_audit", "Can re-check the audit trail's chain"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.object_type} {self.object_repr}".strip()

    def payload(self) -> dict[str, Any]:
        return {
            "created": self.created.isoformat(),
            "actor_id": self.actor_id,
            "actor_repr": self.actor_repr,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "object_repr": self.object_repr,
            "changes": self.changes,
            "prev_hash": self.prev_hash,
        }

    def compute_hash(self) -> str:
        canonical = json.dumps(
            self.payload(), sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


class ChainHead(models.Model):
    """One row, locked (SELECT ... FOR UPDATE) by every writer, so that the chain never forks."""

    last_hash = models.CharField(max_length=64, default=GENESIS)

    def __str__(self) -> str:
        return self.last_hash


class PendingEvent(models.Model):
    """An event written without taking the chain's lock, for hot paths (each API token use).

    It is on record (committed) when the request ends; recorder.chain_pending moves pending
    events into the chain in batches, in id order, under one lock, and every reader of the
    trail (the admin, the export, verify_audit_chain) chains them first.
    """

    created = models.DateTimeField()
    actor_repr = models.CharField(max_length=200, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    action = models.CharField(max_length=20, choices=AuditEvent.Action)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=300, blank=True)
    changes = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    def __str__(self) -> str:
        return f"pending #{self.pk} {self.action} {self.object_type} {self.object_repr}".strip()


class ChainState(models.Model):
    """One row: what the last verification of the chain found (audit.verify.check).

    Written by the periodic task and by an Administrator's re-check; read by the audit list and
    by the console's alert for Administrators, so that nobody needs a shell to know.
    """

    checked_at = models.DateTimeField(null=True, blank=True)
    events_checked = models.BigIntegerField(default=0)
    # The last event found intact (the chain verifies up to it).
    last_event_id = models.BigIntegerField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    # The first broken link, when there is one, and what is wrong with it.
    broken_event_id = models.BigIntegerField(null=True, blank=True)
    broken_event = models.CharField(max_length=500, blank=True)
    problem = models.CharField(max_length=500, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return "broken" if self.is_broken else "intact"

    @property
    def is_broken(self) -> bool:
        return bool(self.problem)


class Checkpoint(models.Model):
    """Where archived events left the chain: signed, so that the rest still verifies.

    Events up to last_event_id were written to an archive file (JSON Lines, audit.export's
    format) and removed; the chain now starts from last_hash. The signature (an HMAC with
    SECRET_KEY) lets nobody with only database access move the start of the chain.
    """

    created = models.DateTimeField()
    first_event_id = models.BigIntegerField()
    last_event_id = models.BigIntegerField(unique=True)
    last_event_at = models.DateTimeField()
    events = models.BigIntegerField()
    # The hash the first archived event was chained to (GENESIS or the previous checkpoint's).
    previous_hash = models.CharField(max_length=64)
    last_hash = models.CharField(max_length=64)
    archive_name = models.CharField(max_length=255)
    archive_sha256 = models.CharField(max_length=64)
    signature = models.CharField(max_length=64)

    class Meta:
        ordering = ["-last_event_id"]

    def __str__(self) -> str:
        return f"checkpoint after event #{self.last_event_id}"

    def signed_fields(self) -> str:
        return json.dumps(
            [
                self.first_event_id,
                self.last_event_id,
                self.last_event_at.isoformat(),
                self.events,
                self.previous_hash,
                self.last_hash,
                self.archive_sha256,
            ],
            separators=(",", ":"),
        )
