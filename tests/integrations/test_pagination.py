"""The integrations and prompts lists: 50 a page, plain page links, a search box, no COUNT."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations import paging
from integrations.models import BedrockModel, Provider
from prompts_library.models import Feature, Prompt
from tests.integrations.fixtures import make_integration
from tests.prompts.fixtures import make_prompt


def _clone_integrations(
    template: BedrockModel, provider: Provider, n: int, prefix: str, start: int = 0
):
    fields = {
        f.name: getattr(template, f.name)
        for f in BedrockModel._meta.concrete_fields
        if f.name not in ("id", "provider", "name", "api_name", "created", "updated")
    }
    BedrockModel.objects.bulk_create(
        [
            BedrockModel(
                **fields,
                provider=provider,
                name=f"{prefix} {i:03d}",
                api_name=f"{provider.pk}-{prefix}-{i:03d}".lower().replace(" ", "-"),
            )
            for i in range(start, start + n)
        ]
    )


def _names(text: str) -> list[str]:
    return re.findall(r'<a href="/integrations/\d+/">([^<]+)</a>', text)


@pytest.mark.django_db
class TestIntegrationsPages:
    @pytest.fixture
    def sixty(self):
        first = make_integration("Bedrock Amazon", "Nova 000")
        _clone_integrations(first, first.provider, 29, "Nova", start=1)
        other = Provider.objects.create(name="Bedrock Anthropic", external_id="x")
        _clone_integrations(first, other, 30, "Claude")
        return first

    def test_fifty_a_page_by_provider_then_name_grouped(self, alice_client, sixty):
        page1 = alice_client.get("/").text
        names = _names(page1)
        assert len(names) == paging.PAGE_SIZE
        assert page1.count("Verified</span>") + page1.count("Unverified</span>") == 50
        assert page1.index("Bedrock Amazon") < page1.index("Bedrock Anthropic")
        assert names[:2] == ["Nova 000", "Nova 001"] and names[-1] == "Claude 019"
        assert 'href="?page=2"' in page1 and 'rel="prev"' not in page1
        page2 = alice_client.get("/?page=2").text
        assert _names(page2) == [f"Claude {i:03d}" for i in range(20, 30)]
        # The provider heading is repeated on the page where its models continue.
        assert "Bedrock Anthropic" in page2 and "Bedrock Amazon</h2>" not in page2
        assert 'href="?"' in page2 and 'rel="next"' not in page2
        assert "Last success" in page2 and "Last failure" in page2

    def test_search_by_name_provider_or_arn(self, alice_client, sixty):
        r = alice_client.get("/?q=claude+02")
        assert _names(r.text) == [f"Claude {i:03d}" for i in range(20, 30)]
        assert 'value="claude 02"' in r.text
        assert len(_names(alice_client.get("/?q=bedrock+anthropic").text)) == 30
        assert "No integration matches" in alice_client.get("/?q=nothing-like-this").text

    def test_search_keeps_its_query_in_the_page_links(self, alice_client, sixty):
        r = alice_client.get("/?q=bedrock")
        assert 'href="?q=bedrock&amp;page=2"' in r.text

    def test_bad_page_numbers_are_a_400_and_far_pages_empty(self, alice_client, sixty):
        for bad in ("abc", "\u00b2", "0", "-1", "100001", "9" * 30):
            assert alice_client.get("/", {"page": bad}).status_code == 400, bad
        assert _names(alice_client.get("/?page=").text) == _names(alice_client.get("/").text)
        assert _names(alice_client.get("/?page=999").text) == []

    def test_no_page_counts_the_table(self, alice_client, sixty):
        for path in ("/", "/?page=2", "/?q=nova", "/prompts/", "/prompts/?page=2"):
            with CaptureQueriesContext(connection) as q:
                assert alice_client.get(path).status_code == 200
            assert not [x for x in q.captured_queries if "COUNT(*)" in x["sql"]], path

    def test_a_provider_without_models_keeps_its_add_link(self, alice_client):
        empty = Provider.objects.create(name="Bedrock Meta", external_id="y")
        text = alice_client.get("/").text
        assert "Bedrock Meta" in text and f"?provider={empty.pk}" in text


@pytest.mark.django_db
class TestPromptsPages:
    @pytest.fixture
    def many(self, alice):
        first = make_prompt(alice, name="Answer 000")
        feature = Feature.objects.get(name="Dynamic Conversations")
        Prompt.objects.bulk_create(
            [
                Prompt(
                    name=f"Answer {i:03d}",
                    slug=f"answer-{i:03d}",
                    integration=first.integration,
                    feature=feature if i % 2 else first.feature,
                )
                for i in range(1, 60)
            ]
        )
        return first

    def test_fifty_a_page_with_version_counts(self, alice_client, many):
        page1 = alice_client.get("/prompts/").text
        assert page1.count('<div class="muted mono">') == 50
        assert "<td>1</td>" in page1  # the first prompt's one version, counted for the page
        assert 'href="?page=2"' in page1
        page2 = alice_client.get("/prompts/?page=2").text
        assert page2.count('<div class="muted mono">') == 10 and "Answer 059" in page2

    def test_search_by_name_slug_or_feature(self, alice_client, many):
        r = alice_client.get("/prompts/?q=answer-05")
        assert r.text.count('<div class="muted mono">') == 10
        r = alice_client.get("/prompts/?q=dynamic")
        assert r.text.count('<div class="muted mono">') == 30
        assert "No prompt matches" in alice_client.get("/prompts/?q=zzz").text
