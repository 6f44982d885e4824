"""Every action that changes something writes its audit event, through every door.

TRACKED lists the actions: the console's pages and services, the worker's end of a test, logins,
the management commands, the import, and Django admin's forms and delete actions. Each row runs
its action for real and must leave an event with the action and object type it names, in an
intact chain. The same actions with a broken audit store must change nothing.
"""

import json
from collections.abc import Callable
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.test import Client

from accounts.management.commands import changepassword
from accounts.roles import ensure_roles
from audit import recorder, verify
from audit.admin import AuditedModelAdmin
from audit.models import AuditEvent
from integrations import runs
from integrations import services as integration_services
from integrations.models import BedrockModel, ConnectionTest, Header, Provider
from prompts_library import export_file, transfer
from prompts_library import services as prompt_services
from prompts_library.models import ApiToken, Feature, Prompt, PromptTest, PromptVersion
from tests.conftest import SANDBOX_URL, grant
from tests.integrations.fixtures import SECRET, SECRET_HEADERS, make_integration
from tests.prompts.fixtures import content, make_prompt

from .helpers import post_admin_form

A = AuditEvent.Action
NEW_PASSWORD = "a-new-long-password-42"


@pytest.fixture
def w(db, client, alice, monkeypatch):
    """A small console: alice (superuser) signed in, an integration with a secret header, a
    prompt with v1 published and v2 not, a token, dave (staff, Editor), a test of each kind
    still running, and spare rows to change or delete. A role lacks one of its permissions."""
    client.force_login(alice)
    integration = make_integration(headers=SECRET_HEADERS)
    prompt = make_prompt(alice, integration=integration)
    version = prompt.versions.get()
    prompt_services.save_version(prompt, content(), alice, "v2")
    token, plaintext = ApiToken.issue("backend", alice, all_prompts=True)
    dave = get_user_model().objects.create_user(
        "dave", password="dave-password-long", is_staff=True
    )
    grant(dave, "Editor")
    Group.objects.get(name="Viewer").permissions.remove(
        Permission.objects.get(codename="view_prompt")
    )
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", NEW_PASSWORD)
    monkeypatch.setattr(changepassword.Command, "_get_pass", lambda self, p="": NEW_PASSWORD)
    return SimpleNamespace(
        client=client,
        alice=alice,
        integration=integration,
        prompt=prompt,
        version=version,
        token=token,
        plaintext=plaintext,
        dave=dave,
        connection_test=integration_services.start_test(
            integration.configuration(), alice, integration
        ),
        prompt_test=prompt_services.start_test(prompt, version, alice),
        spare_provider=Provider.objects.create(name="Spare", external_id="spare-external-id"),
        spare_feature=Feature.objects.create(name="Spare feature"),
        spare_integration=make_integration(name="Lonely", tested=False),
        spare_group=Group.objects.create(name="Auditors"),
    )


# --- the console, its services and the worker ---------------------------------------------


def save_new_integration(w):
    return integration_services.save_integration(
        provider_name="Brand new provider",
        model_name="Fresh",
        config=w.integration.configuration(),
        require_test=False,
    )


def save_new_integration_provider(w):
    return save_new_integration(w).provider


def edit_integration(w):
    config = replace(w.integration.configuration(), headers=(Header("X-Api-Key", "new-1", True),))
    return integration_services.save_integration(
        provider_name=w.integration.provider.name,
        model_name="Renamed",
        config=config,
        integration=w.integration,
        require_test=False,
    )


def create_prompt(w):
    return prompt_services.create_prompt(
        name="Another",
        integration=w.integration,
        feature=w.spare_feature,
        content=content(),
        author=w.alice,
    )


def create_prompt_version(w):
    return create_prompt(w).versions.get()


def edit_prompt(w):
    prompt_services.update_prompt(
        w.prompt,
        name="Renamed prompt",
        integration=w.integration,
        feature=w.spare_feature,
        content=content(),
        author=w.alice,
    )
    return w.prompt


def save_version(w):
    return prompt_services.save_version(w.prompt, content(response_path="x"), w.alice, "v2")


def publish(w):
    assert w.client.post(f"/prompts/{w.prompt.pk}/versions/2/publish/").status_code == 302
    return w.prompt


def rollback(w):
    assert w.client.post(f"/prompts/{w.prompt.pk}/versions/1/rollback/").status_code == 302
    return w.prompt


def issue_token(w):
    r = w.client.post("/prompts/tokens/", {"name": "ci", "prompts": [w.prompt.pk]})
    assert r.status_code == 200
    return ApiToken.objects.get(name="ci")


def revoke_token(w):
    assert w.client.post(f"/prompts/tokens/{w.token.pk}/revoke/").status_code == 302
    return w.token


def use_token(w):
    Client(raise_request_exception=False).post(
        f"/api/v1/prompts/{w.prompt.slug}/invoke",
        data="{}",
        content_type="application/json",
        headers={"authorization": f"Bearer {w.plaintext}"},
    )
    return w.token


def start_connection_test(w):
    assert w.client.post(f"/integrations/{w.integration.pk}/retest/").status_code == 302
    return w.integration


def finish_connection_test(w):
    pk = w.connection_test.pk
    assert runs.finish(ConnectionTest, pk, "failed", failed_step="sts", error_code="X")
    return w.integration


def start_prompt_test(w):
    r = w.client.post(f"/prompts/{w.prompt.pk}/versions/1/test/")
    assert r.status_code == 200 and r.context["test"] is not None
    return w.prompt


def finish_prompt_test(w):
    assert runs.finish(PromptTest, w.prompt_test.pk, "succeeded")
    return w.prompt


def log_in(w):
    Client().post("/accounts/login/", {"username": "dave", "password": "dave-password-long"})
    return w.dave


def log_out(w):
    client = Client()
    client.force_login(w.dave)
    client.post("/accounts/logout/")
    return w.dave


def fail_login(w):
    Client().post("/accounts/login/", {"username": "dave", "password": "wrong"})


def fail_admin_login(w):
    Client().post("/admin/login/", {"username": "dave", "password": "wrong"})


def rotate_keys(w):
    call_command("rotate_encryption_keys")


def sync_roles(w):
    ensure_roles()
    return Group.objects.get(name="Viewer")


# --- the import ------------------------------------------------------------------------


def _import(w, change: Callable[[dict], Any]):
    data = export_file.export_data()
    change(data)
    transfer.import_data(data, user=w.alice)


def _as_new(data):
    data["providers"] = [{"name": "Imported", "external_id": "imported-external-id"}]
    data["integrations"][0].update(provider="Imported", name="Imported model")
    data["features"] = [{"name": "Imported feature"}]
    prompt = data["prompts"][0]
    prompt.update(slug="imported", feature="Imported feature")
    prompt["integration"] = {"provider": "Imported", "name": "Imported model"}
    data["prompts"] = [prompt]


def _as_changed(data):
    data["providers"][0]["external_id"] = "changed-external-id"
    data["integrations"][0]["request_json"] = '{"changed": true}'
    data["prompts"][0]["name"] = "Renamed by import"


def import_new(w):
    _import(w, _as_new)


def import_changes(w):
    _import(w, _as_changed)


# --- commands ------------------------------------------------------------------------------


def demo_setup_creates(w):
    call_command("demo_setup", sandbox_url=SANDBOX_URL, username="demo")
    return get_user_model().objects.get(username="demo")


def demo_setup_integration(w):
    demo_setup_creates(w)
    return BedrockModel.objects.get(name="Claude 3 Haiku (sandbox)")


def demo_setup_resets(w):
    call_command("demo_setup", sandbox_url=SANDBOX_URL, username="dave")
    return w.dave


def create_superuser(w):
    call_command("createsuperuser", interactive=False, username="root2", email="r@example.org")
    return get_user_model().objects.get(username="root2")


def change_password_command(w):
    call_command("changepassword", "dave")
    return w.dave


# --- Django admin --------------------------------------------------------------------------


def _url(obj_or_model, view="change", pk=None):
    meta = obj_or_model._meta
    base = f"/admin/{meta.app_label}/{meta.model_name}/"
    if view == "add":
        return base + "add/"
    if view == "changelist":
        return base
    return f"{base}{pk or obj_or_model.pk}/{view}/"


def _values(w, values):
    return {k: v(w) if callable(v) else v for k, v in values.items()}


def admin_add(model, **values):
    def do(w):
        post_admin_form(w.client, _url(model, "add"), **_values(w, values))
        return model._default_manager.order_by("-pk").first()

    return do


def admin_change(pick, **values):
    def do(w):
        obj = pick(w)
        post_admin_form(w.client, _url(obj), **_values(w, values))
        return obj

    return do


def admin_delete(pick):
    def do(w):
        obj = pick(w)
        pk = obj.pk
        assert w.client.post(_url(obj, "delete"), {"post": "yes"}).status_code == 302
        return SimpleNamespace(pk=pk)

    return do


def admin_action(pick, action):
    def do(w):
        obj = pick(w)
        r = w.client.post(_url(obj, "changelist"), {"action": action, "_selected_action": [obj.pk]})
        assert r.status_code == 302
        return obj

    return do


def admin_delete_action(pick):
    def do(w):
        obj = pick(w)
        pk = obj.pk
        r = w.client.post(
            _url(obj, "changelist"),
            {"action": "delete_selected", "_selected_action": [pk], "post": "yes"},
        )
        assert r.status_code == 302
        assert not type(obj)._default_manager.filter(pk=pk).exists()
        return SimpleNamespace(pk=pk)

    return do


def user_password_by_admin(w):
    url = f"/admin/auth/user/{w.dave.pk}/password/"
    post_admin_form(w.client, url, password1=NEW_PASSWORD, password2=NEW_PASSWORD)
    return w.dave


def own_password_in_admin(w):
    post_admin_form(
        w.client,
        "/admin/password_change/",
        old_password="alice-password-long",
        new_password1=NEW_PASSWORD,
        new_password2=NEW_PASSWORD,
    )
    return w.alice


def _group_pk(name):
    return str(Group.objects.get(name=name).pk)


def _perm(codename):
    return str(Permission.objects.get(codename=codename).pk)


def deletions(object_type: str, pick: Callable[[Any], Any]) -> list[tuple]:
    """Deleting through the admin's delete page, and with its "Delete selected" action."""
    return [
        (f"admin: delete {object_type}", A.DELETE, object_type, admin_delete(pick)),
        (f"admin: delete action, {object_type}", A.DELETE, object_type, admin_delete_action(pick)),
    ]


# (what, action, object type, how)
TRACKED: list[tuple[str, str, str, Callable[[Any], Any]]] = [
    # the console and its services
    ("integration saved (new)", A.CREATE, "integrations.bedrockmodel", save_new_integration),
    (
        "provider made by a save",
        A.CREATE,
        "integrations.provider",
        save_new_integration_provider,
    ),
    ("integration saved (edit)", A.UPDATE, "integrations.bedrockmodel", edit_integration),
    ("prompt created", A.CREATE, "prompts_library.prompt", create_prompt),
    ("its first version", A.CREATE, "prompts_library.promptversion", create_prompt_version),
    ("prompt edited", A.UPDATE, "prompts_library.prompt", edit_prompt),
    ("version saved", A.CREATE, "prompts_library.promptversion", save_version),
    ("publish", A.PUBLISH, "prompts_library.prompt", publish),
    ("rollback", A.ROLLBACK, "prompts_library.prompt", rollback),
    ("token issued", A.CREATE, "prompts_library.apitoken", issue_token),
    ("token revoked", A.TOKEN_REVOKED, "prompts_library.apitoken", revoke_token),
    ("token used", A.TOKEN_USED, "prompts_library.apitoken", use_token),
    ("connection test started", A.TEST_STARTED, "integrations.bedrockmodel", start_connection_test),
    ("connection test ended", A.TEST_FINISHED, "integrations.bedrockmodel", finish_connection_test),
    ("prompt test started", A.TEST_STARTED, "prompts_library.prompt", start_prompt_test),
    ("prompt test ended", A.TEST_FINISHED, "prompts_library.prompt", finish_prompt_test),
    ("login", A.LOGIN, "auth.user", log_in),
    ("logout", A.LOGOUT, "auth.user", log_out),
    ("failed login", A.LOGIN_FAILED, "auth.user", fail_login),
    ("failed admin login", A.LOGIN_FAILED, "auth.user", fail_admin_login),
    ("key rotation", A.UPDATE, "integrations.crypto", rotate_keys),
    ("roles kept in step by migrate", A.ROLES, "auth.group", sync_roles),
    # the import
    ("import: new provider", A.CREATE, "integrations.provider", import_new),
    ("import: new integration", A.CREATE, "integrations.bedrockmodel", import_new),
    ("import: new feature", A.CREATE, "prompts_library.feature", import_new),
    ("import: new prompt", A.CREATE, "prompts_library.prompt", import_new),
    ("import: its versions", A.CREATE, "prompts_library.promptversion", import_new),
    ("import: its published version", A.PUBLISH, "prompts_library.prompt", import_new),
    ("import: provider changed", A.UPDATE, "integrations.provider", import_changes),
    ("import: integration changed", A.UPDATE, "integrations.bedrockmodel", import_changes),
    ("import: prompt changed", A.UPDATE, "prompts_library.prompt", import_changes),
    # commands
    ("demo_setup: admin created", A.CREATE, "auth.user", demo_setup_creates),
    ("demo_setup: integration", A.CREATE, "integrations.bedrockmodel", demo_setup_integration),
    ("demo_setup: password reset", A.UPDATE, "auth.user", demo_setup_resets),
    ("createsuperuser", A.CREATE, "auth.user", create_superuser),
    ("changepassword", A.UPDATE, "auth.user", change_password_command),
    # Django admin's forms (the delete page and the delete action are listed below)
    (
        "admin: change provider",
        A.UPDATE,
        "integrations.provider",
        admin_change(lambda w: w.spare_provider, name="Renamed provider"),
    ),
    (
        "admin: change integration",
        A.UPDATE,
        "integrations.bedrockmodel",
        admin_change(lambda w: w.integration, name="Renamed in admin"),
    ),
    ("admin: add feature", A.CREATE, "prompts_library.feature", admin_add(Feature, name="New")),
    (
        "admin: change feature",
        A.UPDATE,
        "prompts_library.feature",
        admin_change(lambda w: w.spare_feature, name="Renamed feature"),
    ),
    (
        "admin: token revoked",
        A.TOKEN_REVOKED,
        "prompts_library.apitoken",
        admin_action(lambda w: w.token, "revoke"),
    ),
    (
        "admin: add user",
        A.CREATE,
        "auth.user",
        admin_add(
            get_user_model(),
            username="erin",
            usable_password="true",
            password1=NEW_PASSWORD,
            password2=NEW_PASSWORD,
        ),
    ),
    ("admin: change user", A.UPDATE, "auth.user", admin_change(lambda w: w.dave, first_name="D")),
    (
        "admin: user's roles",
        A.ROLES,
        "auth.user",
        admin_change(lambda w: w.dave, groups=lambda w: [_group_pk("Publisher")]),
    ),
    ("admin: user's password", A.UPDATE, "auth.user", user_password_by_admin),
    ("admin: own password", A.UPDATE, "auth.user", own_password_in_admin),
    (
        "admin: add group",
        A.CREATE,
        "auth.group",
        admin_add(Group, name="Reviewers", permissions=lambda w: [_perm("view_auditevent")]),
    ),
    (
        "admin: group's permissions",
        A.ROLES,
        "auth.group",
        admin_change(lambda w: w.spare_group, permissions=lambda w: [_perm("view_auditevent")]),
    ),
]
for _type, _pick in [
    ("integrations.provider", lambda w: w.spare_provider),
    ("integrations.bedrockmodel", lambda w: w.spare_integration),
    ("prompts_library.feature", lambda w: w.spare_feature),
    ("prompts_library.apitoken", lambda w: w.token),
    ("auth.user", lambda w: w.dave),
    ("auth.group", lambda w: w.spare_group),
]:
    TRACKED += deletions(_type, _pick)


def _new_events(after_id: int) -> list[AuditEvent]:
    recorder.chain_pending()  # token uses join the chain in batches, as every reader does
    return list(AuditEvent.objects.filter(id__gt=after_id).order_by("id"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("what", "action", "object_type", "how"), TRACKED, ids=[t[0] for t in TRACKED]
)
def test_the_action_writes_its_event(w, what, action, object_type, how):
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    touched = how(w)
    events = _new_events(last)
    matching = [e for e in events if (e.action, e.object_type) == (action, object_type)]
    assert matching, (what, [(e.action, e.object_type) for e in events])
    if touched is not None:
        assert str(touched.pk) in {e.object_id for e in matching}, what
    outcome = verify.verify_chain()
    assert (outcome.broken, outcome.why) == (None, "")
    # No secret, hash or password reaches the trail, whatever the action.
    text = json.dumps([e.changes for e in events], default=str)
    for secret in (SECRET, "new-1", NEW_PASSWORD, w.plaintext, w.token.token_hash, "gAAAA"):
        assert secret not in text, (what, secret)


class AuditStoreDown(Exception):
    pass


# Events that record no change of the console's data (a login changes nothing an
# administrator made; a token use is written beside the chain, on purpose).
NO_CHANGE = (A.LOGIN, A.LOGOUT, A.LOGIN_FAILED, A.TOKEN_USED)
CHANGES = [t for t in TRACKED if t[1] not in NO_CHANGE]


def _state() -> dict[str, list[dict[str, Any]]]:
    """Every row of every model that the tracked actions change, m2m links included."""
    user = get_user_model()
    tables: list[type[models.Model]] = [
        Provider,
        BedrockModel,
        ConnectionTest,
        Feature,
        Prompt,
        PromptVersion,
        PromptTest,
        ApiToken,
        ApiToken.prompts.through,
        ApiToken.features.through,
        user,
        user.groups.through,
        user.user_permissions.through,
        Group,
        Group.permissions.through,
    ]
    return {t._meta.label: list(t._base_manager.order_by("pk").values()) for t in tables}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("what", "action", "object_type", "how"), CHANGES, ids=[t[0] for t in CHANGES]
)
def test_without_its_event_the_change_does_not_commit(
    w, monkeypatch, what, action, object_type, how
):
    before = _state()

    def broken(event):
        raise AuditStoreDown

    monkeypatch.setattr(recorder, "append", broken)
    with pytest.raises(AuditStoreDown):
        how(w)
    assert _state() == before, what


# --- no door without its record ------------------------------------------------------------


def test_every_admin_that_changes_rows_records_them():
    for model, model_admin in admin.site._registry.items():
        if isinstance(model_admin, AuditedModelAdmin):
            continue
        request = SimpleNamespace(user=SimpleNamespace(has_perm=lambda perm: True))
        may = [
            model_admin.has_add_permission(request),
            model_admin.has_change_permission(request),
            model_admin.has_delete_permission(request),
        ]
        assert not any(may), f"{model._meta.label}: changes through its admin are not recorded"


def test_no_model_method_is_replaced_at_start_up():
    """save() and delete() of every model are the ones written in the class, not wrappers."""
    for model in apps.get_models(include_auto_created=True):
        for name in ("save", "delete"):
            owner = next(c for c in model.__mro__ if name in c.__dict__)
            method = owner.__dict__[name]
            module = __import__(owner.__module__, fromlist=["_"])
            assert not hasattr(method, "__wrapped__"), (model, name)
            assert method.__code__.co_filename == module.__file__, (model, name, owner)
            assert method.__code__.co_name == name, (model, name)


def test_no_model_signal_writes_audit_events():
    for signal in (pre_save, post_save, pre_delete, post_delete, m2m_changed):
        for model in apps.get_models(include_auto_created=True):
            for receiver in signal._live_receivers(model)[0]:
                assert not receiver.__module__.startswith(("audit", "accounts")), (model, receiver)
