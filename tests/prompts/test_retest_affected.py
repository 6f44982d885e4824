"""Re-testing every published prompt of an integration in one click."""

import pytest

from prompts_library.models import PromptTest
from tests.conftest import wait_for_test
from tests.prompts.helpers import HTMX


@pytest.mark.django_db(transaction=True)
class TestRetestAffected:
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
