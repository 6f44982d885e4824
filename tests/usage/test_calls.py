"""The Calls page: newest first, filters, keyset paging, and each call's detail."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from prompts_library.models import ApiToken
from tests.integrations.fixtures import make_integration
from tests.prompts.fixtures import make_prompt
from tests.usage.helpers import report
from usage.models import CallRecord

pytestmark = pytest.mark.django_db


def _ids(html):
    return [int(pk) for pk in re.findall(r'href="/usage/calls/(\d+)/"', html)]


def test_it_lists_the_newest_first_and_pages_by_keyset(alice_client):
    integration = make_integration()
    for i in range(120):
        report(integration_id=integration.pk, total_ms=i, input_tokens=1, output_tokens=1)
    seen, url = [], "/usage/calls/"
    while url:
        r = alice_client.get(url)
        assert r.status_code == 200
        html = r.content.decode()
        seen += _ids(html)
        found = re.search(
            r'href="(\?[^"]*after=[^"]+)" rel="next"|rel="next" href="(\?[^"]+)"', html
        )
        url = (
            ("/usage/calls/" + (found.group(1) or found.group(2)).replace("&amp;", "&"))
            if found
            else None
        )
    expected = list(CallRecord.objects.order_by("-created", "-id").values_list("pk", flat=True))
    assert seen == expected and len(seen) == 120


def test_it_filters_by_outcome_integration_prompt_token_and_time(alice_client):
    prompt = make_prompt()
    other = make_integration(name="Sonnet")
    token, _ = ApiToken.issue("backend", all_prompts=True)
    report(integration_id=prompt.integration_id, prompt_id=prompt.pk, token_id=token.pk)
    report(integration_id=other.pk, ok=False, error_code="AccessDeniedException")
    report(integration_id=other.pk)
    old = CallRecord.objects.create(
        created=timezone.now() - timedelta(days=2), kind="canary", ok=True
    )

    def listed(query):
        return set(_ids(alice_client.get("/usage/calls/?" + query).content.decode()))

    by_pk = {r.pk: r for r in CallRecord.objects.all()}
    assert listed("outcome=error") == {pk for pk, r in by_pk.items() if not r.ok}
    assert listed(f"integration={other.pk}") == {
        pk for pk, r in by_pk.items() if r.integration_id == other.pk
    }
    assert (
        listed(f"prompt={prompt.pk}")
        == listed(f"token={token.pk}")
        == {pk for pk, r in by_pk.items() if r.prompt_id == prompt.pk}
    )
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert old.pk not in listed(f"since={since}") and len(listed(f"since={since}")) == 3
    assert listed(f"until={since}") == {old.pk}
    assert listed("kind=canary") == {old.pk}


def test_bad_filters_are_ignored_not_an_error(alice_client):
    for query in (
        "integration=abc",
        "since=yesterday",
        "after=x_y",
        "outcome=maybe",
        "token=99999999999999999999999",
    ):
        assert alice_client.get("/usage/calls/?" + query).status_code == 200


def test_a_call_shows_every_figure_and_links_to_its_pages(alice_client):
    prompt = make_prompt()
    token, _ = ApiToken.issue("backend", all_prompts=True)
    report(
        integration_id=prompt.integration_id,
        prompt_id=prompt.pk,
        version_id=prompt.published_version_id,
        feature="Co-pilot",
        token_id=token.pk,
        ok=False,
        error_code="ThrottlingException",
        http_status=429,
        total_ms=321,
        sts_ms=12,
        model_ms=300,
        input_tokens=5,
        output_tokens=7,
        request_id="aws-req-42",
    )
    record = CallRecord.objects.get()
    html = alice_client.get(f"/usage/calls/{record.pk}/").content.decode()
    for text in (
        "ThrottlingException",
        "429",
        "321 ms",
        "12 ms",
        "300 ms",
        "5 / 7",
        "aws-req-42",
        "v1",
        "backend",
    ):
        assert text in html
    for url in (
        f"/usage/integrations/{prompt.integration_id}/",
        f"/usage/prompts/{prompt.pk}/",
        f"/usage/tokens/{token.pk}/",
    ):
        assert f'href="{url}"' in html
    assert alice_client.get("/usage/calls/999999/").status_code == 404
