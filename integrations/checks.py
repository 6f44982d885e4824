"""Start-up checks of the settings that decide where the console may send requests."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from bedrock import endpoints
from bedrock.values import InvalidValue


def extra_aws_endpoints(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Refuse an EXTRA_AWS_ENDPOINTS entry that is not an origin: it would match no request."""
    errors: list[checks.CheckMessage] = []
    for n, entry in enumerate(settings.EXTRA_AWS_ENDPOINTS, start=1):
        if isinstance(entry, str) and not entry.strip():
            continue  # a trailing comma: an empty entry is ignored, as at run time
        try:
            endpoints.check_extra_origin(entry)
        except InvalidValue as e:
            errors.append(
                checks.Error(
                    f"EXTRA_AWS_ENDPOINTS entry {n} ({entry!r}) is not an origin: {e}",
                    hint="Write each entry as scheme://host[:port], such as "
                    "http://127.0.0.1:4599, and separate entries with commas.",
                    id="integrations.E001",
                )
            )
    return errors
