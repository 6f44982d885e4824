"""One set of rules for what users send to a model: the extra HTTP headers of a request.

Pure Python: no Django, no boto3. Errors are :class:`bedrock.values.InvalidValue` sentences.
"""

from __future__ import annotations

import re
from typing import Final

from bedrock.values import InvalidValue, echo, first_bad_char

__all__ = ["BEDROCK_REQUEST_HEADERS", "validate_header_name", "validate_header_value"]

_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Bedrock InvokeModel request headers a user may set (canonical spelling).
BEDROCK_REQUEST_HEADERS: Final = (
    "X-Amzn-Bedrock-Trace",
    "X-Amzn-Bedrock-GuardrailIdentifier",
    "X-Amzn-Bedrock-GuardrailVersion",
    "X-Amzn-Bedrock-PerformanceConfig-Latency",
    "X-Amzn-Bedrock-Service-Tier",
)
_BEDROCK_HEADERS_BY_LOWER = {name.lower(): name for name in BEDROCK_REQUEST_HEADERS}
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "upgrade", "te", "trailer", "transfer-encoding"}
)
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie"})
_CLIENT_HEADERS = frozenset(
    {"host", "content-length", "content-type", "content-encoding", "expect", "accept-encoding"}
)


def validate_header_name(name: str) -> str:
    """An extra request header name: an RFC 9110 token of 1-100 characters that the HTTP
    client, the proxy layer and SigV4 signing do not own."""
    if not isinstance(name, str):
        raise InvalidValue("The header name must be text.")
    name = name.strip()
    if not name:
        raise InvalidValue("Enter a header name, for example X-Amzn-Bedrock-Trace.")
    if len(name) > 100:
        raise InvalidValue(f"The header name must be at most 100 characters (got {len(name)}).")
    if not _TOKEN_RE.fullmatch(name):
        raise InvalidValue(
            "A header name may only contain letters, digits and ! # $ % & ' * + - . ^ _ ` | ~ "
            f"(found {first_bad_char(name, _TOKEN_RE)})."
        )
    lower = name.lower()
    header = f"The header {echo(name, 40)}"
    if lower in _CREDENTIAL_HEADERS:
        raise InvalidValue(
            f"{header} can't be set: the console signs each request with the assumed "
            "role's credentials."
        )
    if lower in _HOP_BY_HOP or lower.startswith("proxy-"):
        raise InvalidValue(
            f"{header} is a hop-by-hop or proxy header and can't be set on a Bedrock request."
        )
    if lower in _CLIENT_HEADERS:
        raise InvalidValue(
            f"{header} is set by the HTTP client from the request itself and can't be overridden."
        )
    if lower in _BEDROCK_HEADERS_BY_LOWER:
        return _BEDROCK_HEADERS_BY_LOWER[lower]
    if lower.startswith("x-amz-"):
        raise InvalidValue(f"{header} can't be set: X-Amz-* headers belong to AWS request signing.")
    if lower.startswith("x-amzn-"):
        raise InvalidValue(
            f"{header} can't be set: the only X-Amzn-* headers allowed are the Bedrock ones "
            f"({', '.join(BEDROCK_REQUEST_HEADERS)})."
        )
    return name


def validate_header_value(value: str) -> str:
    """A header value: printable ASCII and tabs, at most 4096 characters. The value is never
    included in the message (it may be a secret). Surrounding spaces and tabs are removed."""
    if not isinstance(value, str):
        raise InvalidValue("The header value must be text.")
    if len(value) > 4096:
        raise InvalidValue(f"The header value must be at most 4096 characters (got {len(value)}).")
    if "\r" in value or "\n" in value:
        raise InvalidValue("The header value must be a single line (no line breaks).")
    if "\x00" in value:
        raise InvalidValue("The header value contains a NUL character.")
    for char in value:
        if char != "\t" and (ord(char) < 0x20 or ord(char) == 0x7F):
            raise InvalidValue(
                f"The header value contains a control character (U+{ord(char):04X})."
            )
        if not char.isascii():
            raise InvalidValue(
                "The header value must be plain ASCII (found a non-ASCII character)."
            )
    return value.strip(" \t")
