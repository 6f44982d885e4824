"""Changing the model under published prompts shows them, and re-tests them in one click."""

import pytest

from prompts_library import services
from prompts_library.models import PromptTest
from tests.conftest import wait_for_test
from tests.integrations.fixtures import make_integration
from tests.prompts.fixtures import make_prompt
from tests.prompts.test_pages import form_data

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def prompts(alice):
    integration = make_integration()
    published = make_prompt(alice, name="Support answer", integration=integration)
    second = make_prompt(alice, name="Summary", integration=integration)
    draft = make_prompt(alice, name="Unpublished", integration=integration, published=False)
    elsewhere = make_prompt(alice, name="Elsewhere", integration=make_integration(name="Other"))
    return integration, published, second, draft, elsewhere


@pytest.mark.django_db
class TestTheList:
    def test_only_published_prompts_of_the_integration_are_affected(self, prompts):
        integration, published, second, _, _ = prompts
        assert services.affected_prompts(integration) == [second, published]  # by name

    @pytest.mark.parametrize("page", ["/integrations/{}/", "/integrations/{}/edit/"])
    def test_the_integrations_pages_list_them(self, alice_client, prompts, page):
        integration = prompts[0]
        text = alice_client.get(page.format(integration.pk)).text
        assert 'id="affected-prompts"' in text
        assert "Support answer" in text and "Summary" in text
        assert "Unpublished" not in text and "Elsewhere" not in text
        assert "Never tested" in text
        assert f'hx-post="/prompts/affected/{integration.pk}/retest/"' in text

    def test_the_last_test_of_the_published_version_is_shown(self, alice_client, alice, prompts):
        integration, published = prompts[0], prompts[1]
        PromptTest.objects.create(
            prompt=published,
            version=published.published_version,
            status="failed",
            error_code="AccessDeniedException",
        )
        text = alice_client.get(f"/prompts/affected/{integration.pk}/").text
        assert "AccessDeniedException" in text

    def test_an_integration_without_prompts_says_so(self, alice_client):
        integration = make_integration()
        assert "No published prompt" in alice_client.get(f"/integrations/{integration.pk}/").text

    def test_choosing_another_model_on_the_edit_page_shows_what_it_affects(
        self, alice_client, prompts
    ):
        published = prompts[1]
        other = make_integration(name="Sonnet")
        data = {**form_data(other), "prompt": published.pk}
        r = alice_client.post("/prompts/assist/", data, **HTMX)
        assert 'id="model-change" hx-swap-oob="true"' in r.text
        assert "Saving moves the published version v1" in r.text
        assert f'hx-post="/prompts/{published.pk}/retest-on-model/"' in r.text
        # back to its own model: the notice goes away
        same = {**form_data(published.integration), "prompt": published.pk}
        r = alice_client.post("/prompts/assist/", same, **HTMX)
        assert 'id="model-change" hx-swap-oob="true"></div>' in r.text


@pytest.mark.django_db(transaction=True)
class TestRetesting:
    def test_one_click_tests_every_published_version_live(
        self, alice_client, alice, prompts, sandbox, celery_worker
    ):
        integration, published, second, draft, elsewhere = prompts
        r = alice_client.post(f"/prompts/affected/{integration.pk}/retest/", **HTMX)
        assert r.status_code == 200 and 'id="affected-prompts"' in r.text
        tests = list(PromptTest.objects.order_by("pk"))
        assert [(t.prompt, t.version) for t in tests] == [  # in the list's order, by name
            (second, second.published_version),
            (published, published.published_version),
        ]
        for t in tests:
            assert f'id="prompt-test-badge-{t.pk}"' in r.text
            assert wait_for_test(t.pk, model=PromptTest).status == "succeeded"
        badge = alice_client.get(f"/prompts/tests/{tests[0].pk}/?compact=1", **HTMX).text
        assert "Success" in badge and "sse-connect" not in badge
        assert not draft.tests.exists() and not elsewhere.tests.exists()

    def test_the_edit_page_retests_the_published_version_on_the_new_model(
        self, alice_client, alice, prompts, sandbox, celery_worker
    ):
        published = prompts[1]
        other = make_integration(name="Sonnet")
        r = alice_client.post(
            f"/prompts/{published.pk}/retest-on-model/", {"integration": other.pk}, **HTMX
        )
        assert r.status_code == 200
        test = PromptTest.objects.get()
        assert (test.version, test.integration) == (published.published_version, other)
        assert wait_for_test(test.pk, model=PromptTest).status == "succeeded"
        published.refresh_from_db()
        assert published.integration == prompts[0]  # nothing saved
