"""The sample fields that follow the template's variables as one types."""

import pytest

from tests.integrations.fixtures import make_integration
from tests.prompts.helpers import HTMX, form_data


@pytest.mark.django_db
class TestVariables:
    def test_sample_fields_follow_the_variables_and_keep_their_values(self, alice_client):
        data = form_data(make_integration(), request_template='{"a": "{{question}} {{tone}}"}')
        r = alice_client.post("/prompts/variables/", data, **HTMX)
        assert "Sample: question" in r.text and "Sample: tone" in r.text
        assert "Sample: max_tokens" not in r.text
        assert "Say &quot;hi&quot;" in r.text
        assert "<html" not in r.text
