"""Prices on the integration's form: prefilled from the dated list, saved with the integration
(audited), never part of what a Test proves."""

from decimal import Decimal

import pytest

from audit.models import AuditEvent
from integrations.models import BedrockModel, ConnectionTest
from tests.integrations.fixtures import make_integration
from tests.integrations.helpers import form_data
from tests.usage.helpers import report
from usage import prices
from usage.models import CallRecord

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
LABELS = ("Price per 1K input tokens (USD)", "Price per 1K output tokens (USD)")


def edit(client, integration, **prices):
    return client.post(f"/integrations/{integration.pk}/edit/", form_data(**prices))


def test_the_edit_form_is_prefilled_with_the_dated_list_price(alice_client):
    integration = make_integration()
    page = alice_client.get(f"/integrations/{integration.pk}/edit/").text
    for label in LABELS:
        assert f">{label}</label>" in page
    assert 'value="0.00025"' in page and 'value="0.00125"' in page  # Claude 3 Haiku's list price
    assert prices.LIST_PRICES_AS_OF in page


def test_prices_are_saved_with_the_integration_and_audited(alice_client):
    integration = make_integration()  # its values passed a Test: Save is allowed
    r = edit(alice_client, integration, price_input_per_1k="0.5", price_output_per_1k="1")
    assert r.status_code == 302, r.text
    integration.refresh_from_db()
    assert (integration.price_input_per_1k, integration.price_output_per_1k) == (
        Decimal("0.5"),
        Decimal("1"),
    )
    event = AuditEvent.objects.filter(object_type="integrations.bedrockmodel").order_by("pk").last()
    assert {"price_input_per_1k", "price_output_per_1k"} <= set(event.changes)
    report(integration_id=integration.pk, input_tokens=1000, output_tokens=1000)
    assert CallRecord.objects.get().cost_usd == Decimal("1.5")
    # The usage page shows them, and sends the admin to the form to change them.
    page = alice_client.get(f"/usage/integrations/{integration.pk}/").text
    assert "$0.500000 per 1K input tokens" in page
    assert f"/integrations/{integration.pk}/edit/#field-price_input_per_1k" in page
    assert 'name="price_input_per_1k"' not in page


def test_the_prefilled_list_price_keeps_the_integration_on_the_list(alice_client):
    integration = make_integration()
    edit(alice_client, integration, price_input_per_1k="0.00025", price_output_per_1k="0.00125")
    integration.refresh_from_db()
    assert (integration.price_input_per_1k, integration.price_output_per_1k) == (None, None)
    # Blank is the list price too.
    edit(alice_client, integration, price_input_per_1k="", price_output_per_1k="")
    integration.refresh_from_db()
    assert integration.price_input_per_1k is None


def test_prices_are_not_part_of_the_tested_fingerprint(alice_client):
    integration = make_integration()
    before = integration.fingerprint
    edit(alice_client, integration, price_input_per_1k="3", price_output_per_1k="4")
    integration.refresh_from_db()
    assert integration.fingerprint == before and integration.verified


@pytest.mark.parametrize("bad", ["-1", "abc", "1000.5", "0.0000001"])
def test_a_bad_price_is_refused_beside_its_field_and_nothing_saved(alice_client, bad):
    integration = make_integration()
    r = edit(alice_client, integration, price_input_per_1k=bad, price_output_per_1k="1")
    assert r.status_code == 400
    box = r.text.split('id="field-price_input_per_1k"')[1].split('<div class="field"')[0]
    assert 'class="error"' in box
    integration.refresh_from_db()
    assert integration.price_output_per_1k is None


def test_a_bad_price_does_not_stop_a_test(alice_client):
    r = alice_client.post("/integrations/test/", form_data(price_input_per_1k="-1"), **HTMX)
    assert ConnectionTest.objects.count() == 1
    assert "Ensure this value is greater than or equal to 0" in r.text
    assert BedrockModel.objects.count() == 0


def test_the_setup_form_suggests_the_models_list_prices_without_replacing_a_typed_one(
    alice_client,
):
    def suggested(**values):
        r = alice_client.post("/integrations/assist/", form_data(**values), **HTMX)
        import json

        return json.loads(r.headers["HX-Trigger"])["consoleSuggest"]["fields"]

    fields = suggested(model_id="amazon.nova-lite-v1:0")
    assert (fields["price_input_per_1k"], fields["price_output_per_1k"]) == ("0.00006", "0.00024")
    # An earlier suggestion (another model's list price) follows the model.
    fields = suggested(model_id="amazon.nova-lite-v1:0", price_input_per_1k="0.00025")
    assert fields["price_input_per_1k"] == "0.00006"
    # A price the admin set stays.
    fields = suggested(model_id="amazon.nova-lite-v1:0", price_input_per_1k="0.5")
    assert "price_input_per_1k" not in fields
    assert "price_input_per_1k" not in suggested(model_id="acme.unknown-model-v1")
