"""Django's createsuperuser, with the new superuser recorded in the audit trail.

The user is created and recorded in one transaction, opened only around the write (never
while the command waits for input at its prompts).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.management.commands import createsuperuser
from django.db import transaction

from audit import recorder


class _RecordingManager:
    """The user manager, except that create_superuser also records the new user."""

    def __init__(self, manager: Any) -> None:
        self._manager = manager

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manager, name)

    def db_manager(self, using: str | None = None, hints: Any = None) -> _RecordingManager:
        return _RecordingManager(self._manager.db_manager(using, hints))

    def create_superuser(self, *args: Any, **fields: Any) -> Any:
        with transaction.atomic(using=self._manager.db):
            user = self._manager.create_superuser(*args, **fields)
            recorder.record_create(user)
        return user


class _Users:
    """The user model as Django's command uses it, with the recording manager."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._model(*args, **kwargs)

    @property
    def _default_manager(self) -> _RecordingManager:
        return _RecordingManager(self._model._default_manager)


class Command(createsuperuser.Command):
    help = createsuperuser.Command.help + " The new user is recorded in the audit trail."

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Django's command reaches the user model only through this attribute.
        self.UserModel = _Users(self.UserModel)  # type: ignore[assignment]
