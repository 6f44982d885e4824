"""The audit trail: what is recorded, masked, chained, and how it is reviewed."""

import json
import threading

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit import recorder, verify
from audit.models import GENESIS, AuditEvent, ChainHead
from integrations import services as integration_services
from integrations.models import BedrockModel, ConnectionTest, Provider
from prompts_library import services as prompt_services
from prompts_library.models import ApiToken
from tests.audit.helpers import post_admin_form
from tests.conftest import grant
from tests.integrations.fixtures import SECRET, SECRET_HEADERS, make_integration
from tests.prompts.fixtures import make_prompt

A = AuditEvent.Action


def save_with_secret(provider="Acme Bedrock") -> BedrockModel:
    """An integration saved as the console saves one (a new provider), with a secret header."""
    template = make_integration(name="Template", headers=SECRET_HEADERS, tested=False)
    config = template.configuration()
    return integration_services.save_integration(
        provider_name=provider, model_name="Haiku", config=config, require_test=False
    )


def events(**kw):
    return list(AuditEvent.objects.filter(**kw).order_by("id"))


def all_text() -> str:
    return json.dumps(list(AuditEvent.objects.values()), default=str, ensure_ascii=False)


@pytest.mark.django_db
class TestRecorded:
    def test_integration_create_update_delete_with_secret_masked(self, alice_client):
        integration = save_with_secret()
        created = events(object_type="integrations.bedrockmodel", action=A.CREATE)
        assert len(created) == 1
        headers = created[0].changes["headers"][1]
        assert headers[0] == {"name": "X-Api-Key", "secret": True, "value": recorder.MASK}
        assert headers[1]["value"] == "acme"
        assert events(object_type="integrations.provider", action=A.CREATE)

        config = integration.configuration()
        from dataclasses import replace

        from integrations.models import Header

        new = replace(config, headers=(Header("X-Api-Key", "another-secret-456", True),))
        integration_services.save_integration(
            provider_name="Acme Bedrock",
            model_name="Haiku",
            config=new,
            integration=integration,
            require_test=False,
        )
        update = events(object_type="integrations.bedrockmodel", action=A.UPDATE)[-1]
        assert "headers" in update.changes
        url = f"/admin/integrations/bedrockmodel/{integration.pk}/delete/"
        assert alice_client.post(url, {"post": "yes"}).status_code == 302
        assert not BedrockModel.objects.filter(pk=integration.pk).exists()
        deleted = events(object_type="integrations.bedrockmodel", action=A.DELETE)[0]
        assert deleted.changes["headers"][0][0]["value"] == recorder.MASK
        text = all_text()
        assert SECRET not in text and "another-secret-456" not in text
        assert "gAAAA" not in text  # no Fernet ciphertext either

    def test_prompts_versions_publish_and_rollback(self, alice, bob):
        prompt = make_prompt(author=alice)
        assert events(object_type="prompts_library.prompt", action=A.CREATE)
        assert events(object_type="prompts_library.promptversion", action=A.CREATE)
        published = events(action=A.PUBLISH, object_id=str(prompt.pk))[0]
        assert published.changes == {"version": 1, "previous_version": None}
        v1 = prompt.versions.get(number=1)
        prompt_services.rollback(prompt, v1, bob)
        rb = events(action=A.ROLLBACK)[0]
        assert rb.actor == bob and rb.changes == {"to_version": 1, "new_version": 2}
        republished = events(action=A.PUBLISH, object_id=str(prompt.pk))[-1]
        assert republished.changes == {"version": 2, "previous_version": 1}

    def test_tokens_never_show_hash_or_value(self, alice_client, alice):
        r = alice_client.post("/prompts/tokens/", {"name": "backend", "all_prompts": "on"})
        token = ApiToken.objects.get()
        plaintext = r.context["created"]
        created = events(object_type="prompts_library.apitoken", action=A.CREATE)[0]
        assert created.actor == alice and created.changes["token_hash"][1] == recorder.MASK
        alice_client.post(f"/prompts/tokens/{token.pk}/revoke/")
        assert events(action=A.TOKEN_REVOKED, object_id=str(token.pk))
        text = all_text()
        assert plaintext not in text and token.token_hash not in text

    def test_token_use_is_recorded_without_body(self, client, alice):
        token = ApiToken.issue("backend", alice, all_prompts=True)[1]
        client.post(
            "/api/v1/prompts/nope/invoke",
            data=json.dumps({"question": "private-body-text"}),
            content_type="application/json",
            headers={"authorization": f"Bearer {token}", "user-agent": "feature-x/1.0"},
        )
        recorder.chain_pending()  # as every reader of the trail does
        used = events(action=A.TOKEN_USED)[0]
        assert used.changes == {"method": "POST", "path": "/api/v1/prompts/nope/invoke"}
        assert used.user_agent == "feature-x/1.0" and used.ip == "127.0.0.1"
        assert "private-body-text" not in all_text() and token not in all_text()

    def test_users_passwords_and_roles(self, alice_client, alice, django_user_model):
        first, second = "dave-secret-password-1", "dave-new-password-2"
        post_admin_form(
            alice_client,
            "/admin/auth/user/add/",
            username="dave",
            usable_password="true",
            password1=first,
            password2=first,
        )
        dave = django_user_model.objects.get(username="dave")
        created = events(object_type="auth.user", action=A.CREATE, object_id=str(dave.pk))[0]
        assert created.actor == alice and created.changes["password"] == [None, recorder.MASK]
        url = f"/admin/auth/user/{dave.pk}/password/"
        post_admin_form(alice_client, url, password1=second, password2=second)
        update = events(object_type="auth.user", action=A.UPDATE, object_id=str(dave.pk))[-1]
        assert update.changes == {"password": [recorder.MASK, recorder.MASK]}
        editor = str(Group.objects.get(name="Editor").pk)
        post_admin_form(alice_client, f"/admin/auth/user/{dave.pk}/change/", groups=[editor])
        roles = events(action=A.ROLES, object_type="auth.user", object_id=str(dave.pk))
        assert roles[0].changes == {"groups": {"add": ["Editor"]}}
        dave.refresh_from_db()
        text = all_text()
        assert first not in text and second not in text
        assert dave.password not in text

    def test_login_logout_and_failed_login(self, client, alice):
        client.post(
            "/accounts/login/",
            {"username": "alice", "password": "wrong-password"},
            headers={"user-agent": "pytest-browser"},
        )
        failed = events(action=A.LOGIN_FAILED)[0]
        assert failed.object_repr == "alice" and failed.ip == "127.0.0.1"
        assert failed.user_agent == "pytest-browser"
        assert "wrong-password" not in all_text()
        client.post("/accounts/login/", {"username": "alice", "password": "alice-password-long"})
        assert events(action=A.LOGIN)[0].actor == alice
        client.post("/accounts/logout/")
        assert events(action=A.LOGOUT)[0].actor == alice

    def test_tests_started_and_finished(self, alice_client, alice):
        integration = make_integration()
        r = alice_client.post(f"/integrations/{integration.pk}/retest/")
        assert r.status_code == 302
        test = ConnectionTest.objects.order_by("-id").first()
        started = events(action=A.TEST_STARTED)[-1]
        assert (started.actor, started.object_id) == (alice, str(integration.pk))
        assert started.changes["test_id"] == test.pk
        integration_services._finish(
            test.pk, ConnectionTest.Status.FAILED, failed_step="sts", error_code="AccessDenied"
        )
        finished = events(action=A.TEST_FINISHED)[-1]
        assert finished.actor == alice
        assert finished.changes["status"] == "failed"
        assert finished.changes["error_code"] == "AccessDenied"

    def test_a_test_ends_with_its_event_and_its_integration_in_one_transaction(
        self, alice, monkeypatch
    ):
        from django.test.utils import CaptureQueriesContext

        integration = make_integration()
        test = integration_services.start_test(integration.configuration(), alice, integration)
        with CaptureQueriesContext(connection) as ran:
            integration_services._finish(test.pk, ConnectionTest.Status.SUCCEEDED)
        # One transaction (a savepoint here only because the test runs inside a transaction):
        # ending the row and recording its event take no savepoint of their own within it.
        opened = [q for q in ran.captured_queries if q["sql"].startswith("SAVEPOINT")]
        assert len(opened) == 1
        assert events(action=A.TEST_FINISHED)[-1].object_id == str(integration.pk)
        integration.refresh_from_db()
        assert integration.last_test_id == test.pk

        # A failure after the row was ended (here: noting it on the integration) ends nothing.
        second = integration_services.start_test(integration.configuration(), alice, integration)
        finished = len(events(action=A.TEST_FINISHED))

        def broken(*args, **kwargs):
            raise RuntimeError("database gone")

        monkeypatch.setattr(integration_services, "_note_on_integration", broken)
        with pytest.raises(RuntimeError):
            integration_services._finish(second.pk, ConnectionTest.Status.SUCCEEDED)
        second.refresh_from_db()
        assert second.status == ConnectionTest.Status.QUEUED
        assert len(events(action=A.TEST_FINISHED)) == finished

    def test_a_change_without_its_event_cannot_commit(self, monkeypatch):
        # Every tracked action is tried this way in test_tracked_actions.py.
        def broken(event):
            raise RuntimeError("audit store down")

        monkeypatch.setattr(recorder, "append", broken)
        with pytest.raises(RuntimeError):
            save_with_secret(provider="Half")
        assert not Provider.objects.filter(name="Half").exists()


@pytest.mark.django_db
class TestChain:
    def test_verify_passes_then_names_the_first_broken_link(self, alice, capsys):
        make_prompt(author=alice)
        call_command("verify_audit_chain")
        assert "intact" in capsys.readouterr().out
        victim = AuditEvent.objects.order_by("id")[2]
        AuditEvent.objects.filter(pk=victim.pk).update(object_repr="forged")
        with pytest.raises(CommandError, match=f"#{victim.pk} "):
            call_command("verify_audit_chain")

    def test_a_removed_event_breaks_the_chain(self, alice):
        make_prompt(author=alice)
        ids = list(AuditEvent.objects.order_by("id").values_list("id", flat=True))
        AuditEvent.objects.filter(pk=ids[1]).delete()
        with pytest.raises(CommandError, match=f"#{ids[2]} "):
            call_command("verify_audit_chain")
        AuditEvent.objects.filter(pk=ids[-1]).delete()

    def test_an_event_is_appended_in_two_statements(self, alice, django_assert_num_queries):
        if connection.vendor != "postgresql":
            pytest.skip("elsewhere: the ORM's three statements")
        before = ChainHead.objects.get(pk=1).last_hash
        # The head locked and read; the event inserted and the head moved to it.
        with django_assert_num_queries(2):
            event = recorder.record(
                A.EXPORT, object_type="test", object_id="one", changes={"n": [1, "é"]}, user=alice
            )
        assert event.prev_hash == before
        assert ChainHead.objects.get(pk=1).last_hash == event.hash
        stored = AuditEvent.objects.get(pk=event.pk)
        assert stored.hash == event.hash == stored.compute_hash()
        assert (stored.actor, stored.created, stored.changes) == (
            alice,
            event.created,
            {"n": [1, "é"]},
        )
        assert verify.verify_chain().broken is None

    def test_a_missing_head_is_made_again(self):
        ChainHead.objects.all().delete()
        event = recorder.record(A.EXPORT, object_type="test", object_id="after")
        assert event.prev_hash == GENESIS
        assert ChainHead.objects.get(pk=1).last_hash == event.hash


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_do_not_fork_the_chain():
    errors = []
    already = AuditEvent.objects.count()  # the roles made by migrate, recorded

    def write(n):
        try:
            for i in range(5):
                recorder.record(A.EXPORT, object_type="test", object_id=f"{n}-{i}")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    outcome = verify.verify_chain()
    assert (outcome.checked, outcome.broken, outcome.why) == (already + 20, None, "")


@pytest.mark.django_db
class TestAdmin:
    URL = "/admin/audit/auditevent/"

    def test_read_only_for_superusers_too(self, alice_client):
        make_integration()
        event = AuditEvent.objects.first()
        assert alice_client.get(self.URL + "add/").status_code == 403
        assert alice_client.get(f"{self.URL}{event.pk}/delete/").status_code == 403
        page = alice_client.get(f"{self.URL}{event.pk}/change/")
        assert page.status_code == 200 and 'name="_save"' not in page.text
        r = alice_client.post(f"{self.URL}{event.pk}/change/", {"object_repr": "x"})
        assert r.status_code == 403

    def test_filters_search_and_count(self, alice_client):
        make_integration()
        page = alice_client.get(self.URL, {"q": "Haiku"})
        assert page.status_code == 200
        for title in ("By action", "By kind of object", "By actor", "By date", "By test outcome"):
            assert title in page.text
        from audit.admin import AuditEventAdmin

        assert AuditEventAdmin.show_full_result_count is False

    def test_csv_export_of_the_filtered_set_for_administrators_only(
        self, alice_client, client, django_user_model
    ):
        save_with_secret()
        wanted = AuditEvent.objects.filter(object_type="integrations.bedrockmodel")
        ids = [str(pk) for pk in wanted.values_list("pk", flat=True)]
        r = alice_client.post(
            self.URL + "?object_type=integrations.bedrockmodel",
            {"action": "export_csv", "_selected_action": ids, "select_across": "1"},
        )
        assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
        body = b"".join(r.streaming_content).decode()
        lines = body.strip().splitlines()
        assert lines[0].startswith("id,created,actor_repr")
        assert len(lines) == 1 + len(ids)
        assert SECRET not in body
        assert events(action=A.EXPORT)

        publisher = grant(
            django_user_model.objects.create_user("pub", password="x", is_staff=True), "Publisher"
        )
        client.force_login(publisher)
        page = client.get(self.URL)
        assert page.status_code == 200 and "export_csv" not in page.text
        r = client.post(self.URL, {"action": "export_csv", "_selected_action": ids})
        assert r.status_code != 200 or not r.get("Content-Type", "").startswith("text/csv")

    def test_integration_and_prompt_pages_link_to_their_history(self, alice_client, sandbox):
        prompt = make_prompt()
        integration = prompt.integration
        text = alice_client.get(f"/integrations/{integration.pk}/").text
        link = f"/admin/audit/auditevent/?object_type=integrations.bedrockmodel&amp;object_id={integration.pk}"
        assert link in text
        text = alice_client.get(f"/prompts/{prompt.pk}/").text
        link = (
            f"/admin/audit/auditevent/?object_type=prompts_library.prompt&amp;object_id={prompt.pk}"
        )
        assert link in text
        page = alice_client.get(link.replace("&amp;", "&"))
        assert page.status_code == 200
        assert list(page.context["cl"].result_list)
        versions = {str(pk) for pk in prompt.versions.values_list("pk", flat=True)}
        for e in page.context["cl"].result_list:
            assert (e.object_type, e.object_id) == ("prompts_library.prompt", str(prompt.pk)) or (
                e.object_type == "prompts_library.promptversion" and e.object_id in versions
            )
