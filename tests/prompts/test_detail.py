"""The prompt's page: versions, publish, roll back, compare, and Test through the real worker."""

import pytest

from prompts_library import services
from prompts_library.models import PromptTest
from tests.prompts.fixtures import content, make_prompt
from tests.prompts.test_prompt_test import wait_for_prompt_test

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.mark.django_db
class TestVersionsOnThePage:
    def test_the_page_shows_versions_feature_and_the_published_one(self, alice_client, alice):
        prompt = make_prompt(alice)
        services.save_version(prompt, content(response_path="x"), alice, "try x")
        r = alice_client.get(f"/prompts/{prompt.pk}/")
        assert "Co-pilot" in r.text and "Published: v1" in r.text
        assert "try x" in r.text and "v2" in r.text
        assert f"/api/v1/prompts/{prompt.slug}/invoke" in r.text
        assert "Not tested yet." in r.text

    def test_publish(self, alice_client, alice):
        prompt = make_prompt(alice)
        services.save_version(prompt, content(response_path="x"), alice)
        r = alice_client.post(f"/prompts/{prompt.pk}/versions/2/publish/")
        assert r.status_code == 302
        prompt.refresh_from_db()
        assert prompt.published_version.number == 2

    def test_rollback_adds_a_version_and_publishes_it(self, alice_client, alice, bob):
        prompt = make_prompt(alice)
        services.publish(prompt, services.save_version(prompt, content(response_path="x"), alice))
        alice_client.force_login(bob)
        alice_client.post(f"/prompts/{prompt.pk}/versions/1/rollback/")
        prompt.refresh_from_db()
        v3 = prompt.published_version
        assert (v3.number, v3.author, v3.response_path) == (
            3,
            bob,
            prompt.versions.get(number=1).response_path,
        )

    def test_an_unknown_version_is_404(self, alice_client, alice):
        prompt = make_prompt(alice)
        assert alice_client.post(f"/prompts/{prompt.pk}/versions/9/publish/").status_code == 404

    def test_get_is_not_allowed_for_publish(self, alice_client, alice):
        prompt = make_prompt(alice)
        assert alice_client.get(f"/prompts/{prompt.pk}/versions/1/publish/").status_code == 405


@pytest.mark.django_db
class TestCompare:
    def test_a_side_by_side_diff_of_template_paths_and_samples(self, alice_client, alice):
        prompt = make_prompt(alice)
        services.save_version(
            prompt,
            content(
                request_template='{"prompt": "<b>{{question}}</b>", "max_tokens": {{max_tokens}}}',
                response_path="generation",
                samples={"question": "new sample", "max_tokens": "10"},
            ),
            alice,
        )
        r = alice_client.get(f"/prompts/{prompt.pk}/compare/?a=1&b=2")
        assert r.status_code == 200
        assert r.text.count('class="diff"') == 3
        assert "generation" in r.text and "new&nbsp;sample" in r.text
        assert "&lt;b&gt;" in r.text and "<b>{{" not in r.text
        assert "diff_add" in r.text or "diff_chg" in r.text

    def test_it_defaults_to_the_two_latest_versions(self, alice_client, alice):
        prompt = make_prompt(alice)
        services.save_version(prompt, content(response_path="x"), alice)
        r = alice_client.get(f"/prompts/{prompt.pk}/compare/")
        assert "v1" in r.text and "v2" in r.text

    def test_an_unknown_version_is_404(self, alice_client, alice):
        prompt = make_prompt(alice)
        assert alice_client.get(f"/prompts/{prompt.pk}/compare/?a=1&b=7").status_code == 404
        assert alice_client.get(f"/prompts/{prompt.pk}/compare/?a=x").status_code == 404


@pytest.mark.django_db(transaction=True)
class TestTestButton:
    def test_it_runs_on_the_worker_and_shows_the_extracted_text(
        self, alice_client, alice, sandbox, celery_worker
    ):
        prompt = make_prompt(alice)
        r = alice_client.post(f"/prompts/{prompt.pk}/versions/1/test/", **HTMX)
        test = PromptTest.objects.get()
        assert f'sse-connect="/prompts/tests/{test.pk}/events/?seen=' in r.text
        assert "Say \\&quot;hi\\&quot;\\nto me" in r.text  # the rendered request, JSON-escaped
        wait_for_prompt_test(test.pk)
        r = alice_client.get(f"/prompts/tests/{test.pk}/", **HTMX)
        assert "Success" in r.text and "You said: Say &quot;hi&quot;" in r.text
        assert "sse-connect" not in r.text
        page = alice_client.get(f"/prompts/{prompt.pk}/")
        assert "Test history" in page.text and "Success" in page.text

    def test_samples_that_do_not_render_are_explained(self, alice_client, alice):
        prompt = make_prompt(alice, samples={"question": "q"})
        r = alice_client.post(f"/prompts/{prompt.pk}/versions/1/test/", **HTMX)
        assert "Not started" in r.text and "max_tokens" in r.text
        assert not PromptTest.objects.exists()
