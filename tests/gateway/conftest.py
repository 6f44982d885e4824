"""The gateway's fixtures: integrations with API model names, tokens, and the official client."""

import openai
import pytest

from prompts_library import tokens
from tests.integrations.fixtures import make_integration


@pytest.fixture
def haiku(db):
    return make_integration()  # API model name: bedrock-anthropic-haiku


@pytest.fixture
def other(db):
    return make_integration(provider="Other Corp", name="Sonnet")


@pytest.fixture
def token(bob, haiku):
    """A token for the haiku integration only."""
    return tokens.issue_token("Gateway", bob, integrations=[haiku])[1]


def client_for(live_server, token: str) -> openai.OpenAI:
    # No retries: a test sees the first answer, as the status it came with.
    return openai.OpenAI(base_url=f"{live_server.url}/api/v1", api_key=token, max_retries=0)


@pytest.fixture
def gpt(live_server, token):
    return client_for(live_server, token)
