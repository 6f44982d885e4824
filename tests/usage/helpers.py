"""Calls as the invocation core reports them, for tests that need records without the sandbox."""

from __future__ import annotations

from bedrock import observe


def report(kind=observe.INVOKE_API, ok=True, **fields):
    """Tell the observers about one call, as bedrock.invoke does."""
    context_fields = {
        k: fields.pop(k) for k in list(fields) if k in observe.CallContext.__dataclass_fields__
    }
    context = observe.CallContext(
        kind=kind, integration_id=context_fields.pop("integration_id", None), **context_fields
    )
    outcome = observe.CallOutcome(ok=ok, **fields)
    observe.notify(context, outcome)
    return context, outcome
