"""Re-testing the published version on the model chosen on the edit page."""

import pytest

from prompts_library.models import PromptTest
from tests.conftest import wait_for_test
from tests.integrations.fixtures import make_integration
from tests.prompts.helpers import HTMX


@pytest.mark.django_db(transaction=True)
class TestRetestOnModel:
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
