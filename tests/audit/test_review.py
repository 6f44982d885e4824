"""Reviewing the trail in Django admin: readable events, the filters a reviewer uses, timelines."""

import datetime as dt
from dataclasses import replace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit import recorder
from audit.models import AuditEvent
from integrations import services as integration_services
from integrations.models import Header
from prompts_library import tokens
from tests.audit.test_audit import save_with_secret
from tests.integrations.fixtures import SECRET
from tests.prompts.fixtures import make_prompt

A = AuditEvent.Action
URL = "/admin/audit/auditevent/"


def rename(integration, name):
    config = integration.configuration()
    config = replace(config, headers=(Header("X-Api-Key", "another-secret-456", True),))
    return integration_services.save_integration(
        provider_name=integration.provider.name,
        model_name=name,
        config=config,
        integration=integration,
        require_test=False,
    )


def latest(**kw) -> AuditEvent:
    return AuditEvent.objects.filter(**kw).latest("id")


def shown(client, **params) -> list[AuditEvent]:
    page = client.get(URL, params)
    assert page.status_code == 200, page.status_code
    return list(page.context["cl"].result_list)


def at(event, when):
    """Move an event in time (test data only: the chain is not verified in these tests)."""
    AuditEvent.objects.filter(pk=event.pk).update(created=when)


@pytest.mark.django_db
class TestReadableEvent:
    def test_it_shows_a_change_as_field_before_after_with_links(self, alice_client):
        integration = rename(save_with_secret(), "Sonnet")
        event = latest(object_type="integrations.bedrockmodel", action=A.UPDATE)
        page = alice_client.get(f"{URL}{event.pk}/change/")
        assert page.status_code == 200
        text = page.text
        assert "Kind of object" in text and ">Integration<" in text
        assert '<th scope="row">Name</th><td>Haiku</td><td>Sonnet</td>' in text
        assert "X-Api-Key: (secret)" in text
        assert SECRET not in text and "another-secret-456" not in text
        assert f'href="/integrations/{integration.pk}/">Open in the console' in text
        assert (
            f'href="/admin/integrations/bedrockmodel/{integration.pk}/change/">Open in admin'
            in (text)
        )
        assert "Actor repr" not in text and "Prev hash" not in text

    def test_it_names_related_objects_and_says_none(self, alice_client, alice):
        prompt = make_prompt(author=alice)
        published = latest(action=A.PUBLISH, object_id=str(prompt.pk))
        text = alice_client.get(f"{URL}{published.pk}/change/").text
        assert '<th scope="row">Published version</th><td>none</td><td>v1</td>' in text
        created = latest(object_type="prompts_library.prompt", action=A.CREATE)
        text = alice_client.get(f"{URL}{created.pk}/change/").text
        # The integration and the feature by their names, not their ids.
        assert f"<td>none</td><td>{prompt.integration}</td>" in text
        assert "<td>none</td><td>Co-pilot</td>" in text
        version = latest(object_type="prompts_library.promptversion", action=A.CREATE)
        text = alice_client.get(f"{URL}{version.pk}/change/").text
        assert ">Prompt version<" in text
        assert f'href="/prompts/{prompt.pk}/">Open in the console' in text

    def test_a_secret_reads_changed_secret(self, alice_client, alice):
        token, plaintext = tokens.issue_token("backend", alice, all_prompts=True)
        created = latest(object_type="prompts_library.apitoken", action=A.CREATE)
        text = alice_client.get(f"{URL}{created.pk}/change/").text
        assert ">API token<" in text and "changed (secret)" in text
        assert plaintext not in text and token.token_hash not in text

    def test_the_list_has_readable_columns_and_kinds(self, alice_client, alice):
        make_prompt(author=alice)
        text = alice_client.get(URL).text
        for column in ("When", "Actor", "Kind of object", "IP address", "Change"):
            assert f">{column}<" in text or f">{column}</a>" in text, column
        assert "Prompt version" in text and "prompts_library.promptversion</td>" not in text


@pytest.mark.django_db
class TestFilters:
    def test_kinds_are_only_the_products_own(self, alice_client):
        page = alice_client.get(URL)
        kinds = [
            c["display"]
            for f in page.context["cl"].filter_specs
            if f.title == "kind of object"
            for c in f.choices(page.context["cl"])
        ]
        assert {"Integration", "Prompt version", "API token", "User"} <= set(kinds)
        assert not any("." in k for k in kinds)
        assert "sessions.session" not in page.text and "contenttypes" not in page.text

    def test_they_combine_in_the_url(self, alice_client, alice, bob):
        integration = save_with_secret()
        old = latest(object_type="integrations.bedrockmodel", action=A.CREATE)
        at(old, timezone.now() - dt.timedelta(days=40))
        rename(integration, "Sonnet")
        recorder.record(A.UPDATE, integration, {"name": ["Sonnet", "Opus"]}, user=bob)
        today = timezone.now().date().isoformat()
        week_ago = (timezone.now() - dt.timedelta(days=7)).date().isoformat()
        found = shown(alice_client, kind="integration", **{"from": week_ago, "to": today})
        assert {e.action for e in found} == {A.UPDATE} and len(found) == 2
        found = shown(alice_client, kind="integration", action="update", actor__id__exact=bob.pk)
        assert [e.changes for e in found] == [{"name": ["Sonnet", "Opus"]}]
        found = shown(
            alice_client,
            kind="integration",
            to=(timezone.now() - dt.timedelta(days=30)).date().isoformat(),
        )
        assert [e.pk for e in found] == [old.pk]
        # Links on the page keep the other filters.
        page = alice_client.get(URL, {"kind": "integration", "from": week_ago})
        assert "kind=integration" in page.text and f'value="{week_ago}"' in page.text

    def test_a_bad_date_is_said_beside_the_field(self, alice_client):
        save_with_secret()
        page = alice_client.get(URL, {"from": "30/11/2026"})
        assert page.status_code == 200
        assert "Enter a date as YYYY-MM-DD." in page.text
        assert list(page.context["cl"].result_list) == []
        page = alice_client.get(URL, {"from": "2026-11-30", "to": "2026-11-01"})
        assert "“To” is before “from”." in page.text

    def test_outcome_of_tests(self, alice_client, alice):
        integration = save_with_secret()
        recorder.record(A.TEST_FINISHED, integration, {"test_id": 1, "status": "succeeded"})
        recorder.record(
            A.TEST_FINISHED,
            integration,
            {"test_id": 2, "status": "failed", "error_code": "AccessDenied"},
        )
        found = shown(alice_client, outcome="failed")
        assert [e.changes["test_id"] for e in found] == [2]
        text = alice_client.get(URL, {"outcome": "failed"}).text
        assert "failed: AccessDenied" in text

    def test_search_by_object_name_actor_and_ip(self, alice_client, alice, bob):
        integration = save_with_secret()
        token = recorder.set_context(recorder.Context(user=bob, ip="203.0.113.9"))
        try:
            recorder.record(A.UPDATE, integration, {"name": ["Haiku", "Haiku 2"]})
        finally:
            recorder.reset_context(token)
        assert [e.ip for e in shown(alice_client, q="203.0.113.9")] == ["203.0.113.9"]
        assert {e.actor_repr for e in shown(alice_client, q="bob")} == {"bob"}
        by_name = shown(alice_client, q="acme bedrock / haiku")
        assert by_name and all(e.object_repr == "Acme Bedrock / Haiku" for e in by_name)
        assert shown(alice_client, q="203.0.113.") == []  # an address is matched whole


@pytest.mark.django_db
class TestTimelines:
    def test_a_prompt_timeline_holds_its_versions_in_order(self, alice_client, alice):
        prompt = make_prompt(author=alice)
        make_prompt(author=alice, name="Other prompt", integration=prompt.integration)
        found = shown(alice_client, object_type="prompts_library.prompt", object_id=prompt.pk)
        assert [e.pk for e in found] == sorted(e.pk for e in found)  # oldest first
        kinds = {(e.object_type, e.action) for e in found}
        assert ("prompts_library.promptversion", A.CREATE) in kinds
        assert ("prompts_library.prompt", A.PUBLISH) in kinds
        assert all(e.object_repr != "Other prompt" for e in found)
        assert (
            "Timeline"
            in alice_client.get(
                URL, {"object_type": "prompts_library.prompt", "object_id": prompt.pk}
            ).text
        )

    def test_what_a_person_did_from_the_user_page(self, alice_client, alice, bob):
        prompt = make_prompt(author=alice)
        recorder.record(A.UPDATE, prompt, {"name": ["Support answer", "Support"]}, user=bob)
        page = alice_client.get(f"/admin/auth/user/{bob.pk}/change/")
        link = f"{URL}?actor__id__exact={bob.pk}"
        assert link in page.text
        assert f"{URL}?object_type=auth.user&amp;object_id={bob.pk}" in page.text
        found = shown(alice_client, actor__id__exact=bob.pk)
        assert found and {e.actor_repr for e in found} == {"bob"}

    def test_console_pages_link_to_timelines(self, alice_client, alice):
        token, _ = tokens.issue_token("backend", alice, all_prompts=True)
        text = alice_client.get("/prompts/tokens/").text
        assert f"{URL}?object_type=prompts_library.apitoken&amp;object_id={token.pk}" in text


@pytest.mark.django_db
def test_queries_do_not_grow_with_the_trail(alice_client, alice, django_assert_num_queries):
    integration = save_with_secret()
    views = [
        {},
        {"kind": "integration", "action": "update", "from": "2020-01-01", "to": "2100-01-01"},
        {"object_type": "integrations.bedrockmodel", "object_id": integration.pk},
        {"actor__id__exact": alice.pk, "q": "Haiku", "outcome": "failed"},
    ]
    event = latest(object_type="integrations.bedrockmodel")
    alice_client.get(URL)  # warm: the session and content types

    pages = [(URL, params) for params in views] + [(f"{URL}{event.pk}/change/", {})]

    def measure() -> list[int]:
        found = []
        for url, params in pages:
            with CaptureQueriesContext(connection) as ctx:
                assert alice_client.get(url, params).status_code == 200
            found.append(len(ctx.captured_queries))
        return found

    before = measure()
    assert max(before) <= 12, before
    for i in range(60):
        recorder.record(A.UPDATE, integration, {"name": [f"n{i}", f"n{i + 1}"]}, user=alice)
        recorder.record(A.TEST_FINISHED, integration, {"test_id": i, "status": "failed"})
    for (url, params), expected in zip(pages, before, strict=True):
        with django_assert_num_queries(expected):
            assert alice_client.get(url, params).status_code == 200


@pytest.mark.django_db
def test_every_kind_of_event_page_reads_without_error(alice_client, alice):
    prompt = make_prompt(author=alice)
    shapes = [
        (
            A.ROLES,
            "auth.user",
            str(alice.pk),
            {"groups": {"add": ["Editor"], "remove": ["Viewer"]}},
        ),
        (A.LOGIN_FAILED, "auth.user", "", {"username": "mallory"}),
        (
            A.TOKEN_REVOKED,
            "prompts_library.apitoken",
            "999",
            {"revoked_at": [None, "2026-11-30T10:00:00Z"]},
        ),
        (
            A.TEST_FINISHED,
            "integrations.bedrockmodel",
            "12345",
            {"status": "failed", "error_code": "AccessDenied"},
        ),
        (A.ROLLBACK, "prompts_library.prompt", str(prompt.pk), {"to_version": 1, "new_version": 2}),
        (A.EXPORT, "audit.auditevent", "", {"format": "csv", "filters": "kind=integration"}),
        (A.UPDATE, "integrations.crypto", "", {"rotated": 3}),
        (A.UPDATE, "no_such.model", "x<y>", {"field": [{"a": 1}, [1, 2]]}),
        (A.UPDATE, "prompts_library.prompt", str(prompt.pk), {"published_version": [None, 999999]}),
    ]
    for action, object_type, object_id, changes in shapes:
        event = recorder.record(
            action,
            object_type=object_type,
            object_id=object_id,
            object_repr="<b>x</b>",
            changes=changes,
        )
        page = alice_client.get(f"{URL}{event.pk}/change/")
        assert page.status_code == 200, (action, object_type)
        assert "<b>x</b>" not in page.text  # escaped
    text = alice_client.get(URL).text
    assert "<b>x</b>" not in text
    rollback = latest(action=A.ROLLBACK)
    assert "<td>v1</td>" in alice_client.get(f"{URL}{rollback.pk}/change/").text
    dangling = latest(object_type="prompts_library.prompt", action=A.UPDATE)
    assert "#999999 (since deleted)" in alice_client.get(f"{URL}{dangling.pk}/change/").text


@pytest.mark.django_db
def test_each_row_links_to_its_event_with_the_list_filters(alice_client):
    integration = save_with_secret()
    recorder.record(A.UPDATE, integration, {"name": ["a", "b"]})
    page = alice_client.get(URL, {"action__exact": "update", "from": "2020-01-01"})
    event = latest(action=A.UPDATE)
    link = f"{URL}{event.pk}/change/?_changelist_filters=action__exact%3Dupdate%26from%3D2020-01-01"
    assert f'<th class="field-id"><a href="{link}">{event.pk}</a></th>' in page.text
    assert (
        f'<input type="checkbox" name="_selected_action" value="{event.pk}" class="action-select"'
        f' aria-label="Select this object for an action - {event}">' in page.text
    )
    assert alice_client.get(link).status_code == 200
    plain = alice_client.get(URL).text
    assert f'<th class="field-id"><a href="{URL}{event.pk}/change/">' in plain
