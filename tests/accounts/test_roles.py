"""Each role against each view and action: allowed (anything but 403) or 403."""

import pytest
from django.contrib.auth.models import Group

from accounts.roles import ROLES, ensure_roles
from prompts_library.models import ApiToken
from tests.conftest import grant
from tests.integrations.fixtures import make_integration
from tests.prompts.fixtures import make_prompt

ORDER = ["Viewer", "Editor", "Publisher", "Administrator"]
PEOPLE = ["nobody", *ORDER]

# (method, url template, data, the least role allowed)
TABLE = [
    ("get", "/", {}, "Viewer"),
    ("get", "/integrations/new/", {}, "Editor"),
    ("post", "/integrations/new/", {}, "Editor"),
    ("get", "/integrations/{i}/", {}, "Viewer"),
    ("get", "/integrations/{i}/edit/", {}, "Editor"),
    ("post", "/integrations/{i}/edit/", {}, "Editor"),
    ("post", "/integrations/test/", {}, "Editor"),
    ("post", "/integrations/{i}/retest/", {}, "Editor"),
    ("post", "/integrations/assist/", {}, "Editor"),
    ("get", "/integrations/tests/{t}/", {}, "Viewer"),
    ("get", "/prompts/", {}, "Viewer"),
    ("get", "/prompts/new/", {}, "Editor"),
    ("post", "/prompts/new/", {}, "Editor"),
    ("get", "/prompts/{p}/", {}, "Viewer"),
    ("get", "/prompts/{p}/edit/", {}, "Editor"),
    ("post", "/prompts/{p}/edit/", {}, "Editor"),
    ("get", "/prompts/{p}/compare/", {}, "Viewer"),
    ("post", "/prompts/variables/", {}, "Editor"),
    ("post", "/prompts/{p}/versions/1/test/", {}, "Editor"),
    ("post", "/prompts/{p}/versions/1/publish/", {}, "Publisher"),
    ("post", "/prompts/{p}/versions/1/rollback/", {}, "Publisher"),
    ("get", "/prompts/tokens/", {}, "Viewer"),
    ("post", "/prompts/tokens/", {"name": "backend", "all_prompts": "on"}, "Publisher"),
    ("post", "/prompts/tokens/{k}/revoke/", {}, "Publisher"),
    ("get", "/prompts/export/", {}, "Viewer"),
    ("get", "/prompts/import/", {}, "Editor"),
    ("post", "/prompts/import/", {}, "Publisher"),
    ("get", "/admin/audit/auditevent/", {}, "Viewer"),
    ("get", "/admin/auth/user/", {}, "Administrator"),
    ("get", "/admin/auth/user/add/", {}, "Administrator"),
]


def _allowed(person: str, least: str) -> bool:
    return person != "nobody" and ORDER.index(person) >= ORDER.index(least)


@pytest.fixture
def world(db, sandbox):
    ensure_roles()
    integration = make_integration()
    prompt = make_prompt(integration=integration)
    token, _ = ApiToken.issue("t", all_prompts=True)
    return {"i": integration.pk, "t": integration.last_test_id, "p": prompt.pk, "k": token.pk}


@pytest.mark.django_db
@pytest.mark.parametrize("person", PEOPLE)
@pytest.mark.parametrize(("method", "url", "data", "least"), TABLE, ids=lambda v: str(v))
def test_role_table(client, django_user_model, world, person, method, url, data, least):
    # Staff, so that the admin rows test the role and not is_staff; nobody is staff too.
    user = django_user_model.objects.create_user(person, password="x", is_staff=True)
    if person != "nobody":
        grant(user, person)
    client.force_login(user)
    r = getattr(client, method)(url.format(**world), data)
    if _allowed(person, least):
        assert r.status_code != 403, (person, method, url)
        assert r.status_code < 500
    else:
        assert r.status_code == 403, (person, method, url, r.status_code)


def test_roles_are_nested_and_made_by_the_migration(db):
    # The data migration made the groups (unless a flush took them; ensure_roles is idempotent).
    ensure_roles()
    groups = {g.name: g for g in Group.objects.all()}
    assert set(ROLES) <= set(groups)
    perms = {
        name: {f"{p.content_type.app_label}.{p.codename}" for p in groups[name].permissions.all()}
        for name in ROLES
    }
    assert perms["Viewer"] < perms["Editor"] < perms["Publisher"] < perms["Administrator"]
    assert "audit.export_audit" in perms["Administrator"] - perms["Publisher"]
    assert "accounts.publish_prompts" in perms["Publisher"] - perms["Editor"]
    assert "accounts.run_tests" in perms["Editor"] - perms["Viewer"]


@pytest.mark.django_db
def test_roles_do_not_need_is_staff(client, django_user_model, sandbox):
    editor = grant(django_user_model.objects.create_user("ed", password="x"), "Editor")
    client.force_login(editor)
    assert client.get("/prompts/").status_code == 200
    assert client.get("/integrations/new/").status_code == 200
    # Django admin stays for staff.
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_signed_out_users_are_sent_to_login(client):
    r = client.get("/prompts/tokens/")
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]


@pytest.mark.django_db
def test_viewer_sees_no_secret(client, django_user_model, sandbox):
    from tests.integrations.fixtures import SECRET, SECRET_HEADERS

    integration = make_integration(headers=SECRET_HEADERS)
    viewer = grant(django_user_model.objects.create_user("v", password="x"), "Viewer")
    client.force_login(viewer)
    text = client.get(f"/integrations/{integration.pk}/").text
    assert "X-Api-Key" in text and SECRET not in text


@pytest.mark.django_db
def test_an_administrator_cannot_make_a_superuser(client, django_user_model, alice):
    admin_user = grant(
        django_user_model.objects.create_user("adm", password="x", is_staff=True), "Administrator"
    )
    client.force_login(admin_user)
    page = client.get(f"/admin/auth/user/{admin_user.pk}/change/")
    assert page.status_code == 200
    assert 'name="is_superuser"' not in page.text
    # alice is a superuser: an Administrator may not change or delete her.
    assert client.get(f"/admin/auth/user/{alice.pk}/delete/").status_code == 403
    r = client.post(
        f"/admin/auth/user/{admin_user.pk}/change/",
        {
            "username": "adm",
            "is_superuser": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    admin_user.refresh_from_db()
    assert not admin_user.is_superuser
    assert r.status_code in (200, 302)


@pytest.mark.django_db
def test_a_viewer_sees_no_buttons_for_actions_it_may_not_take(client, django_user_model, sandbox):
    integration = make_integration()
    viewer = grant(django_user_model.objects.create_user("v", password="x"), "Viewer")
    client.force_login(viewer)
    text = client.get(f"/integrations/{integration.pk}/").text
    assert "Test again" not in text and f"/integrations/{integration.pk}/edit/" not in text
    assert 'href="/integrations/new/"' not in client.get("/").text
    editor = grant(django_user_model.objects.create_user("e", password="x"), "Editor")
    client.force_login(editor)
    text = client.get(f"/integrations/{integration.pk}/").text
    assert "Test again" in text and f"/integrations/{integration.pk}/edit/" in text


@pytest.mark.django_db
def test_prompt_pages_show_each_role_only_its_actions(client, django_user_model, alice, sandbox):
    from prompts_library import services

    prompt = make_prompt(alice)  # v1, published
    v1 = prompt.versions.get()
    content = services.VersionContent(v1.request_template, v1.response_path, samples=v1.samples)
    services.save_version(prompt, content, alice, "v2")  # not published: Publish shows
    page = f"/prompts/{prompt.pk}/"
    expectations = {
        # role: (Test, Edit, Publish/Roll back, New prompt, Create token, Re-test affected)
        "Viewer": (False, False, False, False, False, False),
        "Editor": (True, True, False, True, False, True),
        "Publisher": (True, True, True, True, True, True),
    }
    for role, (test, edit, publish, new, token, retest) in expectations.items():
        user = grant(django_user_model.objects.create_user(role.lower(), password="x"), role)
        client.force_login(user)
        text = client.get(page).text
        assert ("Test v2</button>" in text) is test, role
        assert (f'href="/prompts/{prompt.pk}/edit/"' in text) is edit, role
        assert (">Publish</button>" in text) is publish, role
        assert ('href="/prompts/new/"' in client.get("/prompts/").text) is new, role
        assert ("Create token</button>" in client.get("/prompts/tokens/").text) is token, role
        detail = client.get(f"/integrations/{prompt.integration_id}/").text
        assert ("Re-test affected prompts</button>" in detail) is retest, role
