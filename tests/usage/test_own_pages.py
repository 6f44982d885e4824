"""The own pages of an integration (prices), a prompt (bodies, versions compared) and a feature."""

import pytest

from audit.models import AuditEvent
from prompts_library import services
from tests.prompts.fixtures import content, make_prompt
from tests.usage.helpers import report
from usage import prices
from usage.models import BodyKeeping, CallRecord

pytestmark = pytest.mark.django_db


def test_an_integrations_page_shows_its_prices_and_where_to_set_them(alice_client):
    prompt = make_prompt()
    integration = prompt.integration
    html = alice_client.get(f"/usage/integrations/{integration.pk}/").content.decode()
    # Claude 3 Haiku's list price, dated; set on the integration's form (tests/integrations).
    assert "$0.00025 per 1K input tokens and $0.00125 per 1K output tokens" in html
    assert prices.LIST_PRICES_AS_OF in html
    assert f'href="/integrations/{integration.pk}/edit/#field-price_input_per_1k"' in html
    assert 'name="price_input_per_1k"' not in html
    assert alice_client.post(f"/usage/integrations/{integration.pk}/", {}).status_code == 405


def test_a_prompt_opts_in_to_keeping_bodies(alice_client):
    prompt = make_prompt()
    url = f"/usage/prompts/{prompt.pk}/"
    assert "Keep request and response bodies" in alice_client.get(url).content.decode()
    assert alice_client.post(url, {"keep": "on", "days": "3"}).status_code == 302
    assert BodyKeeping.objects.get(prompt=prompt).days == 3
    report(
        integration_id=prompt.integration_id,
        prompt_id=prompt.pk,
        request_body='{"q": "hi"}',
        response_body='{"a": "yo"}',
    )
    assert CallRecord.objects.get().request_body == '{"q": "hi"}'
    assert alice_client.post(url, {"days": "3"}).status_code == 302
    assert not BodyKeeping.objects.filter(prompt=prompt).exists()
    changes = [
        e.changes
        for e in AuditEvent.objects.filter(object_type="prompts_library.prompt").order_by("pk")
    ]
    assert {"keep_bodies_days": [None, 3]} in changes and {"keep_bodies_days": [3, None]} in changes


def test_versions_are_compared_by_latency_tokens_cost_and_errors(alice_client):
    prompt = make_prompt()
    v1 = prompt.published_version
    v2 = services.save_version(prompt, content(response_path="content[0].text"), None)
    for version, n, ms, failed in ((v1, 4, 100, 1), (v2, 6, 2500, 0)):
        for i in range(n):
            report(
                integration_id=prompt.integration_id,
                prompt_id=prompt.pk,
                version_id=version.pk,
                ok=i >= failed,
                error_code="" if i >= failed else "ValidationException",
                total_ms=ms,
                input_tokens=100 * version.number,
                output_tokens=10,
            )
    html = alice_client.get(f"/usage/prompts/{prompt.pk}/versions/").content.decode()
    table = html[html.index('id="versions"') :]
    assert table.index("v2") < table.index("v1")
    row_v1 = table[table.index("<td>v1</td>") :].split("</tr>")[0]
    row_v2 = table[table.index("<td>v2</td>") :].split("</tr>")[0]
    assert ">4<" in row_v1 and '1 <span class="muted">(25%)' in row_v1
    assert ">6<" in row_v2 and '0 <span class="muted">(0%)' in row_v2
    assert "100 / 10" in row_v1 and "200 / 10" in row_v2
    # Latency from the histogram: every v2 call took 2.5 s (the 2 to 3 s bucket).
    p50 = float(row_v2.split(" ms")[0].rsplit(">", 1)[1])
    assert 2000 <= p50 <= 3000


def test_a_feature_page_counts_its_calls(alice_client):
    prompt = make_prompt(feature="Dynamic Conversations")
    report(
        integration_id=prompt.integration_id, prompt_id=prompt.pk, feature="Dynamic Conversations"
    )
    report(integration_id=prompt.integration_id, feature="Other")
    html = alice_client.get("/usage/features/Dynamic Conversations/").content.decode()
    assert '<strong id="total-calls">1</strong>' in html


def test_cost_is_shown_beside_the_tokens_of_tests(alice_client):
    from integrations.models import ConnectionTest
    from prompts_library.models import PromptTest

    prompt = make_prompt()
    integration = prompt.integration
    test = ConnectionTest.objects.filter(integration=integration).get()
    ConnectionTest.objects.filter(pk=test.pk).update(input_tokens=1000, output_tokens=1000)
    PromptTest.objects.create(
        prompt=prompt,
        version=prompt.published_version,
        status="succeeded",
        rendered_request="{}",
        input_tokens=2000,
        output_tokens=0,
    )
    # Claude 3 Haiku: $0.00025 in, $0.00125 out per 1K.
    assert (
        "1000 / 1000 · $0.001500"
        in alice_client.get(f"/integrations/{integration.pk}/").content.decode()
    )
    assert "2000 / 0 · $0.000500" in alice_client.get(f"/prompts/{prompt.pk}/").content.decode()


def test_the_tokens_list_links_to_each_tokens_page(alice_client):
    from prompts_library.models import ApiToken

    row, _ = ApiToken.issue("backend", all_prompts=True)
    assert (
        f'href="/usage/tokens/{row.pk}/">backend</a>'
        in alice_client.get("/prompts/tokens/").content.decode()
    )
