"""Integrations with fallback chains, and the sandbox failing one model on demand."""

from integrations import cooldown, fallbacks
from tests.integrations import fixtures

PRIMARY_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
FALLBACK_MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
LLAMA_MODEL = "meta.llama3-8b-instruct-v1:0"


def make_integration(**kw):
    """An integration with no cooldown state (ids restart with each test database, the shared
    cache's keys outlive it)."""
    integration = fixtures.make_integration(**kw)
    cooldown.reset(integration.pk)
    return integration


def chained(name="Haiku primary", fallback_name="Haiku fallback"):
    """A primary with one fallback, of another model of the same family."""
    primary = make_integration(name=name, model_id=PRIMARY_MODEL)
    fallback = make_integration(name=fallback_name, model_id=FALLBACK_MODEL)
    fallbacks.set_chain(primary, [fallback])
    return primary, fallback


def fail(sandbox, model_id, mode="throttle", times=1000, **fields):
    """Every call of this model (up to `times`) fails as `mode` says."""
    return sandbox.state.add_fault("invoke", mode, match=model_id, times=times, **fields)


def calls_of(sandbox, model_id) -> int:
    return sum(1 for r in sandbox.state.requests() if r.get("model_id") == model_id)
