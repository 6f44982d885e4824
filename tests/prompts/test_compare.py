"""Comparing two versions side by side."""

import pytest

from prompts_library import services
from tests.prompts.fixtures import content, make_prompt


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
