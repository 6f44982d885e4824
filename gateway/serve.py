"""The gateway's one call to a model: `serve`, through the integration's fallback chain."""

from __future__ import annotations

import json
from typing import Any

from bedrock import invoke, observe, policies
from integrations import fallbacks
from integrations.models import BedrockModel

Served = fallbacks.Served


def session_name(integration: BedrockModel) -> str:
    return policies.make_session_name("console", "gateway", "api", f"i{integration.pk}")


def serve(
    integration: BedrockModel,
    converse: dict[str, Any],
    options: invoke.Options,
    context: observe.CallContext,
) -> Served:
    """Call the integration's model with a Converse request (streamed when options.on_text),
    stepping to its fallbacks when it is throttled, times out or fails with a server error
    (integrations.fallbacks.serve); `served_by` says which integration answered.

    Whatever the integration's own request format, the gateway speaks Converse: the same
    messages reach every model family. Each attempt is recorded by bedrock.invoke's observers.
    """
    request = invoke.Request(json.dumps(converse).encode(), format=invoke.CONVERSE)
    return fallbacks.serve(integration, request, options, context)
