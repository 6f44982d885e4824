"""The prompts library's shared fixtures."""

import pytest

from tests.integrations.fixtures import make_integration
from tests.prompts.fixtures import make_prompt


@pytest.fixture
def prompts(alice):
    integration = make_integration()
    published = make_prompt(alice, name="Support answer", integration=integration)
    second = make_prompt(alice, name="Summary", integration=integration)
    draft = make_prompt(alice, name="Unpublished", integration=integration, published=False)
    elsewhere = make_prompt(alice, name="Elsewhere", integration=make_integration(name="Other"))
    return integration, published, second, draft, elsewhere
