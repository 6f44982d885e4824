"""The gateway's one call to a model: `serve`. Fallbacks between integrations go here, once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bedrock import invoke, observe, policies
from integrations.models import BedrockModel


@dataclass(frozen=True)
class Served:
    """The answer, and the integration that gave it (the X-Served-By header names it)."""

    result: invoke.Result
    integration: BedrockModel


def session_name(integration: BedrockModel) -> str:
    return policies.make_session_name("console", "gateway", "api", f"i{integration.pk}")


def serve(
    integration: BedrockModel,
    converse: dict[str, Any],
    options: invoke.Options,
    context: observe.CallContext,
) -> Served:
    """Call the integration's model with a Converse request (streamed when options.on_text).

    Whatever the integration's own request format, the gateway speaks Converse: the same
    messages reach every model family. The call is recorded by bedrock.invoke's observers.
    """
    request = invoke.Request(json.dumps(converse).encode(), format=invoke.CONVERSE)
    result = invoke.call(integration.configuration(), request, options, context)
    return Served(result, integration)
