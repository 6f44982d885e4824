"""Django's changepassword, with the change recorded in the audit trail (password masked)."""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.management.commands import changepassword
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import transaction

from audit import recorder

MAX_TRIES = 3


class Command(changepassword.Command):
    help = changepassword.Command.help + " The change is recorded in the audit trail."

    def handle(self, *args: Any, **options: Any) -> str:
        users = get_user_model()._default_manager.db_manager(options["database"])
        username = options["username"] or getpass.getuser()
        user = users.filter(**{users.model.USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"user '{username}' does not exist")
        self.stdout.write(f"Changing password for user '{user}'")
        password = self._ask(user)
        with transaction.atomic(using=options["database"]):
            before = recorder.snapshot(user)
            user.set_password(password)
            user.save()
            recorder.record_update(user, before)
        return f"Password changed successfully for user '{user}'"

    def _get_pass(self, prompt: str = "Password: ") -> str:
        password = getpass.getpass(prompt=prompt)
        if not password:
            raise CommandError("aborted")
        return password

    def _ask(self, user: Any) -> str:
        for _ in range(MAX_TRIES):
            first = self._get_pass()
            if first != self._get_pass("Password (again): "):
                self.stdout.write("Passwords do not match. Please try again.")
                continue
            try:
                validate_password(first, user)
            except ValidationError as err:
                self.stderr.write("\n".join(err.messages))
                continue
            return first
        raise CommandError(f"Aborting password change for user '{user}' after {MAX_TRIES} attempts")
