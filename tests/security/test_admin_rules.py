"""Django admin is no second door: as every role, with and without staff, each admin model's
change and add forms and each admin action, posted directly with a valid CSRF token, cannot
publish, roll back, un-revoke, re-scope a token, or change a verified configuration."""

import json
import re
from datetime import datetime

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import ActionLocation
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from integrations.models import BedrockModel, ConnectionTest, Provider
from prompts_library import services, tokens
from prompts_library.models import ApiToken, Feature, Prompt, PromptTest, PromptVersion
from tests.conftest import grant
from tests.prompts.fixtures import content, make_prompt

ROLES = ["Viewer", "Editor", "Publisher", "Administrator"]
PEOPLE = [(role, staff) for role in ROLES for staff in (False, True)] + [("superuser", True)]


@pytest.fixture
def world(alice):
    """Two prompts (the first with v1 published and a newer v2), a revoked token and a limited
    one, a second provider, and a test of each kind: something of every admin model."""
    support = make_prompt(alice)
    services.save_version(support, content(response_path="content[1].text"), alice, "v2")
    other = make_prompt(alice, name="Other", integration=support.integration, feature="Co-pilot")
    PromptTest.objects.create(prompt=support, version=support.published_version)
    revoked, _ = tokens.issue_token("old", alice, [support])
    tokens.revoke_token(revoked.pk)
    limited, _ = tokens.issue_token("limited", alice, [support])
    elsewhere = Provider.objects.create(name="Elsewhere", external_id="elsewhere-external-id")
    get_user_model().objects.create_user("dave", password="dave-password-long")
    return {
        "support": support,
        "other": other,
        "revoked": revoked,
        "limited": limited,
        "elsewhere": elsewhere,
        "integration": support.integration,
    }


def ruled_state() -> dict:
    """Everything that changes only through the console's rules."""
    integrations = [
        (
            m.pk,
            m.provider_id,
            m.role_arn,
            m.sts_endpoint,
            m.external_id,
            m.model_id,
            m.endpoint,
            m.headers,
            m.request_json,
            m.fingerprint,
            m.last_test_id,
            m.verified,
        )
        for m in BedrockModel.objects.order_by("pk")
    ]
    return {
        "prompts": list(
            Prompt.objects.order_by("pk").values_list(
                "pk", "slug", "published_version", "integration", "feature"
            )
        ),
        "versions": list(
            PromptVersion.objects.order_by("pk").values_list(
                "pk", "prompt", "number", "request_template", "response_path", "author", "created"
            )
        ),
        "tokens": [
            (
                t.pk,
                t.all_prompts,
                sorted(t.prompts.values_list("pk", flat=True)),
                sorted(t.features.values_list("pk", flat=True)),
                t.revoked_at is not None,
            )
            for t in ApiToken.objects.order_by("pk")
        ],
        "providers": list(Provider.objects.order_by("pk").values_list("pk", "external_id")),
        "integrations": integrations,
        "tests": list(ConnectionTest.objects.order_by("pk").values_list("pk", "status")),
        "prompt_tests": list(PromptTest.objects.order_by("pk").values_list("pk", "status")),
        "audit": AuditEvent.objects.filter(action=AuditEvent.Action.PUBLISH).count(),
    }


def person(role: str, staff: bool):
    User = get_user_model()
    name = f"{role.lower()}-{'staff' if staff else 'plain'}"
    if role == "superuser":
        return User.objects.create_superuser(name, password=f"{name}-password-long")
    return grant(User.objects.create_user(name, password=f"{name}-password", is_staff=staff), role)


def csrf_client(user) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token is not None
    return client, token.group(1)


def form_value(value):
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def tampered(world) -> list[tuple[object, dict]]:
    """What each admin change form is posted with: the row's values and a forbidden change."""
    support, other, integration = world["support"], world["other"], world["integration"]
    other_version = other.versions.get()
    newer = support.versions.get(number=2)
    return [
        (support, {"published_version": other_version.pk, "name": "Hijacked"}),
        (support, {"published_version": newer.pk}),
        (support, {"integration": integration.pk, "feature": Feature.objects.last().pk}),
        (newer, {"request_template": '{"x": 1}', "number": 9}),
        (world["revoked"], {"revoked_at": "", "revoked_at_0": "", "revoked_at_1": ""}),
        (world["limited"], {"all_prompts": "on", "prompts": [], "features": []}),
        (world["limited"], {"prompts": [other.pk]}),
        (integration.provider, {"external_id": "forged-external-id"}),
        (
            integration,
            {
                "provider": world["elsewhere"].pk,
                "role_arn": "arn:aws:iam::999999999999:role/Forged",
                "external_id": "forged-external-id",
                "endpoint": "https://bedrock-runtime.eu-west-1.amazonaws.com",
                "request_json": '{"forged": true}',
                "fingerprint": "0" * 64,
            },
        ),
        (ConnectionTest.objects.first(), {"status": "failed"}),
        (PromptTest.objects.first(), {"status": "failed"}),
        (AuditEvent.objects.first(), {"action": "delete"}),
    ]


def admin_url(obj, view: str, *args) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)


def model_values(obj) -> dict:
    values = {f.name: form_value(getattr(obj, f.attname)) for f in obj._meta.concrete_fields}
    for field in obj._meta.many_to_many:
        values[field.name] = [r.pk for r in getattr(obj, field.name).all()]
    return values


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "staff"), PEOPLE)
def test_no_role_bypasses_the_rules_through_admin(world, role, staff):
    user = person(role, staff)
    client, csrf = csrf_client(user)
    before = ruled_state()

    for obj, change in tampered(world):
        data = {**model_values(obj), **change, "csrfmiddlewaretoken": csrf, "_save": "Save"}
        r = client.get(admin_url(obj, "change", obj.pk))
        assert r.status_code in (200, 302, 403), (obj, r.status_code)
        r = client.post(admin_url(obj, "change", obj.pk), data)
        assert r.status_code in (200, 302, 403), (obj, r.status_code)
        r = client.post(admin_url(obj, "add"), data)
        assert r.status_code in (200, 302, 403), (obj, r.status_code)
    assert ruled_state() == before

    limited = world["limited"]
    for model, model_admin in admin.site._registry.items():
        rows = list(model._default_manager.order_by("pk").values_list("pk", flat=True)[:50])
        if model is get_user_model():
            rows = list(model.objects.filter(username="dave").values_list("pk", flat=True))
        for name in (action.name for action in model_admin._get_base_actions()):
            if name == "delete_selected" and user.is_superuser:
                continue  # a superuser may delete; what deleting leaves is tested elsewhere
            meta = model._meta
            r = client.post(
                reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"),
                {
                    "action": name,
                    ACTION_CHECKBOX_NAME: rows,
                    "index": "0",
                    "post": "yes",
                    "csrfmiddlewaretoken": csrf,
                },
            )
            assert r.status_code in (200, 302, 403), (model, name, r.status_code)
        for name in (a.name for a in model_admin._get_base_actions(ActionLocation.CHANGE_FORM)):
            for pk in rows:
                meta = model._meta
                r = client.post(
                    reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[pk]),
                    {
                        "CHANGE_FORM-action": name,
                        ACTION_CHECKBOX_NAME: [pk],
                        "csrfmiddlewaretoken": csrf,
                    },
                )
                assert r.status_code in (200, 302, 403), (model, name, r.status_code)

    after = ruled_state()
    limited.refresh_from_db()
    may_revoke = staff and user.has_perm("accounts.manage_api_tokens")
    assert (limited.revoked_at is not None) == may_revoke
    if may_revoke:
        # Through the console's own action: one "token revoked" event, by this user.
        revoked = AuditEvent.objects.filter(
            action=AuditEvent.Action.TOKEN_REVOKED, object_id=str(limited.pk)
        )
        assert [e.actor_id for e in revoked] == [user.pk]
        before["tokens"] = [(*t[:4], True) if t[0] == limited.pk else t for t in before["tokens"]]
    assert after == before
    assert get_user_model().objects.filter(username="dave").exists() or user.has_perm(
        "auth.delete_user"
    )


@pytest.mark.django_db
def test_an_editor_who_is_staff_cannot_publish_another_prompts_version(world):
    editor = person("Editor", True)
    client, csrf = csrf_client(editor)
    support, other = world["support"], world["other"]
    url = admin_url(support, "change", support.pk)
    data = {
        **model_values(support),
        "published_version": other.versions.get().pk,
        "csrfmiddlewaretoken": csrf,
    }
    assert client.post(url, data).status_code == 403
    support.refresh_from_db()
    assert support.published_version.prompt_id == support.pk
    assert support.published_version.number == 1
    # The change form shows the prompt, read-only, and where its changes are made.
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.text
    assert "Edit, publish or roll back in the console" in page.text


@pytest.mark.django_db
def test_a_revoked_token_stays_revoked_and_its_page_has_no_form(world, alice_client):
    revoked = world["revoked"]
    page = alice_client.get(admin_url(revoked, "change", revoked.pk))
    assert page.status_code == 200 and 'name="_save"' not in page.text
    assert 'name="revoked_at' not in page.text
    r = alice_client.post(admin_url(revoked, "change", revoked.pk), {"revoked_at": ""})
    assert r.status_code == 403
    revoked.refresh_from_db()
    assert revoked.revoked_at is not None and revoked.revoked_at <= timezone.now()


@pytest.mark.django_db
def test_the_admin_revokes_through_the_consoles_action(world, bob, client):
    limited = world["limited"]
    client.force_login(bob)
    changelist = reverse("admin:prompts_library_apitoken_changelist")
    assert "Revoke the selected tokens" in client.get(changelist).text
    r = client.post(changelist, {"action": "revoke", ACTION_CHECKBOX_NAME: [limited.pk]})
    assert r.status_code == 302
    limited.refresh_from_db()
    assert limited.revoked_at is not None
    event = AuditEvent.objects.get(
        action=AuditEvent.Action.TOKEN_REVOKED, object_id=str(limited.pk)
    )
    assert event.actor == bob


@pytest.mark.django_db
def test_a_token_is_revoked_from_its_own_admin_page(world, bob, client):
    limited = world["limited"]
    client.force_login(bob)
    url = admin_url(limited, "change", limited.pk)
    assert "Revoke the selected tokens" in client.get(url).text
    r = client.post(url, {"CHANGE_FORM-action": "revoke", ACTION_CHECKBOX_NAME: [limited.pk]})
    assert r.status_code == 302
    limited.refresh_from_db()
    assert limited.revoked_at is not None


@pytest.mark.django_db
def test_an_editor_sees_no_revoke_action(world, client):
    client.force_login(person("Editor", True))
    changelist = reverse("admin:prompts_library_apitoken_changelist")
    page = client.get(changelist)
    assert page.status_code == 200 and "Revoke the selected tokens" not in page.text
    limited = world["limited"]
    client.post(changelist, {"action": "revoke", ACTION_CHECKBOX_NAME: [limited.pk]})
    limited.refresh_from_db()
    assert limited.revoked_at is None


@pytest.mark.django_db
def test_configuration_is_shown_not_editable(world, alice_client):
    integration = world["integration"]
    page = alice_client.get(admin_url(integration.provider, "change", integration.provider.pk))
    assert page.status_code == 200
    assert 'name="external_id"' not in page.text and 'name="name"' in page.text
    assert alice_client.get(reverse("admin:integrations_provider_add")).status_code == 403
    page = alice_client.get(admin_url(integration, "change", integration.pk))
    fields = ("provider", "role_arn", "external_id", "model_id", "endpoint", "request_json")
    for field in (*fields, "request_format"):
        assert f'name="{field}"' not in page.text
    assert "Edit and test in the console" in page.text


@pytest.mark.django_db
def test_admin_add_forms_refuse_or_validate(world, alice_client):
    # Prompts are made in the console (slug and first version); twice is still no server error.
    for _ in range(2):
        r = alice_client.post(reverse("admin:prompts_library_prompt_add"), {"name": "Twice"})
        assert r.status_code == 403
    assert not Prompt.objects.filter(name="Twice").exists()
    url = reverse("admin:prompts_library_feature_add")
    assert alice_client.post(url, {"name": "Twice"}).status_code == 302
    r = alice_client.post(url, {"name": "Twice"})
    assert r.status_code == 200 and "already exists" in r.text
    assert Feature.objects.filter(name="Twice").count() == 1
