"""{% affected_prompts integration %}: the published prompts that an integration's change reaches.

Lets the integrations' pages show them without their views knowing about prompts.
"""

from typing import Any

from django import template
from django.urls import reverse

from integrations.models import BedrockModel
from prompts_library import services

register = template.Library()


@register.inclusion_tag("prompts_library/_affected.html", takes_context=True)
def affected_prompts(context: template.Context, integration: BedrockModel) -> dict[str, Any]:
    return {
        "perms": context.get("perms"),
        "integration": integration,
        "affected": services.affected_prompts(integration),
        "retest_url": reverse("prompts_library:retest_affected", args=[integration.pk]),
    }
