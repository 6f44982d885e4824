"""Hardening and the bad-input corpus: none gets through, none is a 500, nothing half-saved."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client

from integrations.models import BedrockModel, ConnectionTest, Provider
from prompts_library.models import ApiToken, Feature, Prompt, PromptVersion
from tests.conftest import grant
from tests.integrations.fixtures import make_integration
from tests.integrations.helpers import form_data
from tests.prompts.fixtures import make_prompt

ROOT = Path(__file__).resolve().parents[2]
HTMX = {"HTTP_HX_REQUEST": "true"}
SCRIPT = '<script>alert("x")</script>'


def counts():
    return [
        m.objects.count()
        for m in (Provider, BedrockModel, ConnectionTest, Prompt, PromptVersion, ApiToken, Feature)
    ]


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "CONSOLE_VAR_DIR": str(tmp_path / "var"),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "console.example.com",
        "SECURE_COOKIES": "true",
        "SECURE_SSL_REDIRECT": "true",
        "SECURE_HSTS_SECONDS": "31536000",
    }
    r = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no issues" in r.stdout


def test_strong_passwords_are_required():
    for weak in ("short", "password1234", "123456789012"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("correct horse battery staple")


def test_sessions_expire(settings):
    assert 0 < settings.SESSION_COOKIE_AGE <= 24 * 3600
    assert settings.SESSION_COOKIE_HTTPONLY


@pytest.mark.django_db
class TestCsrf:
    def _client(self, user):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        return client

    @pytest.mark.parametrize(
        "url",
        [
            "/integrations/test/",
            "/integrations/new/",
            "/integrations/{i}/retest/",
            "/prompts/{p}/versions/1/publish/",
            "/prompts/tokens/",
            "/accounts/logout/",
        ],
    )
    def test_htmx_posts_without_a_valid_token_are_refused(self, alice, url):
        prompt = make_prompt()
        client = self._client(alice)
        client.get("/")  # sets the CSRF cookie
        before = counts()
        url = url.format(i=prompt.integration_id, p=prompt.pk)
        for headers in ({}, {"HTTP_X_CSRFTOKEN": "forged" * 6}):
            r = client.post(url, form_data(name="t"), **HTMX, **headers)
            assert r.status_code == 403
        assert counts() == before

    def test_htmx_posts_with_the_page_token_pass(self, alice, sandbox):
        client = self._client(alice)
        page = client.get("/integrations/new/")
        token = page.text.split('"X-CSRFToken": "')[1].split('"')[0]
        r = client.post("/integrations/assist/", {}, **HTMX, HTTP_X_CSRFTOKEN=token)
        assert r.status_code == 200


@pytest.mark.django_db
class TestBadInput:
    def test_role_escalation_attempts(self, client, django_user_model):
        editor = grant(
            django_user_model.objects.create_user("ed", password="x", is_staff=True), "Editor"
        )
        client.force_login(editor)
        prompt = make_prompt(published=False)
        before = counts()
        assert client.post(f"/prompts/{prompt.pk}/versions/1/publish/").status_code == 403
        assert client.post("/prompts/tokens/", {"name": "mine"}).status_code == 403
        r = client.post(f"/admin/auth/user/{editor.pk}/change/", {"is_superuser": "on"})
        assert r.status_code == 403
        r = client.post("/admin/auth/group/add/", {"name": "Mine"})
        assert r.status_code == 403
        editor.refresh_from_db()
        assert not editor.is_superuser and counts() == before
        prompt.refresh_from_db()
        assert prompt.published_version is None

    def test_missing_and_foreign_objects_are_404_not_500(self, alice_client, bob):
        token, _ = ApiToken.issue("bob's", bob, all_prompts=True)
        for url in (
            "/integrations/999999/",
            "/integrations/999999/edit/",
            "/integrations/tests/999999/",
            "/prompts/999999/",
            "/prompts/999999/compare/",
        ):
            assert alice_client.get(url).status_code == 404
        assert alice_client.post("/integrations/999999/retest/").status_code == 404
        assert alice_client.post("/prompts/999999/versions/1/publish/").status_code == 404
        r = alice_client.post("/integrations/test/", form_data(integration="999999"), **HTMX)
        assert r.status_code == 404
        r = alice_client.post("/prompts/tokens/999999/revoke/")
        assert r.status_code == 302
        token.refresh_from_db()
        assert token.revoked_at is None

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("X-Evil\r\nHost", "x"),
            ("X-Ok", "a\r\nX-Injected: 1"),
            ("X-Ok", "a\nb"),
            ("Host", "evil.example"),
            ("Authorization", "Bearer x"),
            ("X Space", "x"),
            ("X-Ok", "\x00"),
        ],
    )
    def test_header_injection_is_refused(self, alice_client, sandbox, name, value):
        before = counts()
        data = form_data(header_name=[name], header_value=[value], header_keep=[""])
        r = alice_client.post("/integrations/test/", data, **HTMX)
        assert r.status_code in (200, 400)
        r = alice_client.post("/integrations/new/", data)
        assert r.status_code == 400
        assert counts() == before

    def test_oversized_bodies(self, alice_client, bob):
        before = counts()
        big = "x" * (3 * 1024 * 1024)
        r = alice_client.post("/integrations/test/", form_data(request_json=big), **HTMX)
        assert r.status_code == 400
        token = ApiToken.issue("t", bob, all_prompts=True)[1]
        prompt = make_prompt()
        before = counts()
        # Over the API's limit, and over Django's upload limit: the same JSON 413 either way.
        for size in (1024 * 1024 + 10, 3 * 1024 * 1024):
            r = alice_client.post(
                f"/api/v1/prompts/{prompt.pk}/invoke",
                data=b'{"a": "' + b"x" * size + b'"}',
                content_type="application/json",
                headers={"authorization": f"Bearer {token}"},
            )
            assert r.status_code == 413
            assert r.json()["error"]["code"] == "payload_too_large"
        assert counts() == before

    @pytest.mark.parametrize(
        "body", [b"{", b"[1,2]", b'{"a": NaN}', b"\xff\xfe", b"null", b'"text"', b"[" * 100000]
    )
    def test_malformed_json_to_the_api(self, client, bob, body):
        token = ApiToken.issue("t", bob, all_prompts=True)[1]
        prompt = make_prompt()
        r = client.post(
            f"/api/v1/prompts/{prompt.pk}/invoke",
            data=body,
            content_type="application/json",
            headers={"authorization": f"Bearer {token}"},
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "validation_error"

    @pytest.mark.parametrize("request_json", ["{", "[]", '{"a": NaN}', "", "null", "{" * 5000])
    def test_malformed_request_json_in_the_form(self, alice_client, sandbox, request_json):
        before = counts()
        r = alice_client.post("/integrations/test/", form_data(request_json=request_json), **HTMX)
        assert r.status_code in (200, 400)
        r = alice_client.post("/integrations/new/", form_data(request_json=request_json))
        assert r.status_code == 400
        assert counts() == before

    def test_script_in_every_text_field_is_rendered_escaped(self, alice_client, alice, sandbox):
        integration = make_integration(provider=f"P {SCRIPT}", name=f"M {SCRIPT}")
        prompt = make_prompt(
            author=alice,
            name=f"Prompt {SCRIPT}",
            integration=integration,
            feature=f"F {SCRIPT}",
            published=False,
            samples={"max_tokens": "64", "question": SCRIPT},
        )
        r = alice_client.post(
            f"/prompts/{prompt.pk}/edit/",
            {
                "name": f"Prompt {SCRIPT}",
                "integration": integration.pk,
                "feature": prompt.feature_id,
                "request_template": prompt.versions.get().request_template,
                "response_path": prompt.versions.get().response_path,
                "change_note": f"note {SCRIPT}",
                "sample_question": SCRIPT,
                "sample_max_tokens": "64",
            },
        )
        assert r.status_code in (200, 302, 400)
        ApiToken.issue(f"token {SCRIPT}", alice, all_prompts=True)
        pages = [
            "/",
            f"/integrations/{integration.pk}/",
            f"/integrations/{integration.pk}/edit/",
            "/prompts/",
            f"/prompts/{prompt.pk}/",
            f"/prompts/{prompt.pk}/edit/",
            f"/prompts/{prompt.pk}/compare/",
            "/prompts/tokens/",
            "/admin/audit/auditevent/",
            "/admin/integrations/bedrockmodel/",
            "/admin/prompts_library/prompt/",
        ]
        for url in pages:
            r = alice_client.get(url)
            assert r.status_code == 200, url
            assert SCRIPT not in r.text, url
        assert "&lt;script&gt;" in alice_client.get(f"/prompts/{prompt.pk}/").text

    def test_login_form_with_script_and_huge_username(self, client):
        r = client.post("/accounts/login/", {"username": SCRIPT + "x" * 5000, "password": "x"})
        assert r.status_code == 200 and SCRIPT not in r.text

    def test_api_token_forms(self, client, alice):
        prompt = make_prompt()
        for auth in ("Bearer", "Bearer ", "Basic abc", "Bearer bcp_forged", "Bearer\r\nX: y"):
            r = client.post(
                f"/api/v1/prompts/{prompt.pk}/invoke",
                data=json.dumps({}),
                content_type="application/json",
                headers={"authorization": auth},
            )
            assert r.status_code == 401
