"""What is recorded without the code that makes a change having to remember it.

Saves and deletes of the tracked models are recorded from Django's model signals. So that a
change cannot be committed without its event, `connect()` wraps the tracked models' save()
and delete() in transaction.atomic(): post_save and post_delete then run inside the same
transaction as the write, and an audit write that fails rolls the change back.
Changes made with QuerySet.update() send no signal: the code that makes them records them
(revoking a token, ending a test).
"""

from __future__ import annotations

import functools
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models, router, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from audit import recorder
from audit.models import AuditEvent

Action = AuditEvent.Action

TRACKED = (
    "integrations.Provider",
    "integrations.BedrockModel",
    "prompts_library.Prompt",
    "prompts_library.PromptVersion",
    "prompts_library.Feature",
    "prompts_library.ApiToken",
    "auth.Group",
)
TESTS = ("integrations.ConnectionTest", "prompts_library.PromptTest")


def _atomic(method: Any) -> Any:
    if getattr(method, "_audit_atomic", False):
        return method

    @functools.wraps(method)
    def wrapper(self: models.Model, *args: Any, **kwargs: Any) -> Any:
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using):
            return method(self, *args, **kwargs)

    wrapper._audit_atomic = True  # type: ignore[attr-defined]
    return wrapper


def _before(sender: type[models.Model], instance: models.Model, raw: bool = False, **_: Any):
    if raw:
        return
    old = None
    if instance.pk is not None and not instance._state.adding:
        old = sender._base_manager.filter(pk=instance.pk).first()
    instance._audit_before = recorder.snapshot(old) if old is not None else None  # type: ignore[attr-defined]


def _after(
    sender: type[models.Model], instance: models.Model, created: bool, raw: bool = False, **_: Any
):
    if raw:
        return
    before = None if created else getattr(instance, "_audit_before", None)
    changes = recorder.diff(before, recorder.snapshot(instance))
    if not created and not changes:
        return  # bookkeeping only (last_login, last_used_at, …)
    recorder.record(Action.CREATE if created else Action.UPDATE, instance, changes)


def _deleted(sender: type[models.Model], instance: models.Model, **_: Any):
    recorder.record(Action.DELETE, instance, recorder.diff(recorder.snapshot(instance), None))


def _roles_changed(
    sender: Any, instance: Any, action: str, reverse: bool, model: Any, pk_set: Any, **_: Any
):
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    verb = action.removeprefix("post_")
    names = sorted(str(o) for o in model._base_manager.filter(pk__in=pk_set or ()))
    field = "groups" if sender is get_user_model().groups.through else "user_permissions"
    if not reverse:
        recorder.record(Action.ROLES, instance, {field: {verb: names}})
        return
    # group.user_set.add(user): one event per user whose roles changed.
    for user in model._base_manager.filter(pk__in=pk_set or ()):
        recorder.record(Action.ROLES, user, {"groups": {verb: [str(instance)]}})


def _test_created(sender: type[models.Model], instance: Any, created: bool, **_: Any):
    if created:
        recorder.record(Action.TEST_STARTED, *_test_subject(instance), user=instance.created_by)


def _test_subject(test: Any) -> tuple[models.Model, dict[str, Any]]:
    meta: dict[str, Any] = {"test_id": test.pk, "status": test.status}
    if hasattr(test, "prompt_id"):
        # A draft test (the editing page's unsaved values) has no version.
        meta["version"] = test.version.number if test.version_id else "draft"
        return test.prompt, meta
    meta["kind"] = test.kind
    meta["model_id"] = test.model_id
    return (test.integration or test), meta


def test_finished(model: type[models.Model], test_id: int) -> None:
    """Called by integrations.runs.finish, in its transaction, once a test has ended."""
    test: Any = model._base_manager.select_related("created_by").get(pk=test_id)
    obj, meta = _test_subject(test)
    if test.failed_step:
        meta.update(failed_step=test.failed_step, error_code=test.error_code)
    recorder.record(Action.TEST_FINISHED, obj, meta, user=test.created_by)


def connect() -> None:
    user_model = get_user_model()
    for model in [apps.get_model(name) for name in TRACKED] + [user_model]:
        model.save = _atomic(model.save)  # type: ignore[method-assign]
        model.delete = _atomic(model.delete)  # type: ignore[method-assign]
        pre_save.connect(_before, sender=model, dispatch_uid=f"audit-before-{model}")
        post_save.connect(_after, sender=model, dispatch_uid=f"audit-after-{model}")
        post_delete.connect(_deleted, sender=model, dispatch_uid=f"audit-delete-{model}")
    for through in (user_model.groups.through, user_model.user_permissions.through):
        m2m_changed.connect(_roles_changed, sender=through, dispatch_uid=f"audit-m2m-{through}")
    for name in TESTS:
        model = apps.get_model(name)
        post_save.connect(_test_created, sender=model, dispatch_uid=f"audit-test-{name}")
