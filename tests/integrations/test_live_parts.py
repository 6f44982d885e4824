"""What a status answer updates besides the test itself, on the page that asked for it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.templatetags.console import ago
from tests.integrations.fixtures import make_integration
from tests.integrations.test_test_status import queued_test

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.mark.django_db
class TestLiveParts:
    def test_from_the_integration_page_it_carries_badge_history_and_warning(self, alice_client):
        integration = make_integration()
        test = integration.last_test
        r = alice_client.get(f"/integrations/tests/{test.pk}/?on=detail", **HTMX)
        text = r.text
        assert f'id="badge-{integration.pk}" class="badge ok" hx-swap-oob="true"' in text
        assert 'id="test-history" hx-swap-oob="true"' in text
        assert f'id="history-{test.pk}"' in text
        assert 'id="verify-warning" hx-swap-oob="true"' in text

    def test_from_the_setup_form_it_carries_save_and_the_badge_only(self, alice_client):
        integration = make_integration()
        test = integration.last_test
        text = alice_client.get(f"/integrations/tests/{test.pk}/?for_form=1", **HTMX).text
        assert 'id="save-button" hx-swap-oob="true"' in text
        assert f'data-test="{test.pk}"' in text
        assert f'id="badge-{integration.pk}"' in text
        assert "test-history" not in text

    def test_from_the_home_page_it_is_the_integrations_row(self, alice_client):
        integration = make_integration(tested=False)
        running = queued_test(integration)
        home = alice_client.get("/").text
        assert f"/integrations/tests/{running.pk}/events/?seen=queued&amp;on=home" in home
        row = alice_client.get(f"/integrations/tests/{running.pk}/?on=home", **HTMX).text
        assert row.lstrip().startswith(f'<tr id="integration-{integration.pk}">')
        assert "Queued…" in row

    def test_the_full_page_carries_nothing_out_of_band(self, alice_client):
        test = make_integration().last_test
        text = alice_client.get(f"/integrations/tests/{test.pk}/?on=detail").text
        assert "hx-swap-oob" not in text

    def test_the_result_names_the_values_tested(self, alice_client):
        test = make_integration().last_test
        text = alice_client.get(f"/integrations/tests/{test.pk}/").text
        assert test.fingerprint[:12] in text and test.fingerprint not in text
        assert "&quot;anthropic_version&quot;: &quot;bedrock-2023-05-31&quot;," in text


def test_ago_says_just_now_under_a_minute():
    now = timezone.now()
    assert ago(now - timedelta(seconds=5)) == "just now"
    assert ago(now - timedelta(minutes=3, seconds=5)) == "3\xa0minutes ago"
    assert ago(None) == ""


@pytest.mark.django_db
def test_favicon_is_served(client):
    r = client.get("/favicon.ico")
    assert r.status_code == 301 and r["Location"].endswith("favicon.svg")
