"""Server-side verification of AWS Signature Version 4 (header-based, AWS4-HMAC-SHA256).

Everything works on the request exactly as received: the raw path and query are never unquoted
before canonicalisation, because clients sign the already percent-encoded path and SigV4 (outside
S3) encodes each segment once more.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CLOCK_SKEW_SECONDS = 15 * 60
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

_AMZ_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$")

Headers = Mapping[str, Sequence[str]]


class SigV4Error(Exception):
    """A request that fails SigV4 verification; ``kind`` lets each service pick its error code.

    Kinds: ``missing`` (no credentials at all), ``incomplete`` (malformed Authorization header),
    ``mismatch`` (signature, scope or payload hash wrong), ``skew`` (timestamp too far from now).
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True, slots=True)
class AuthorizationHeader:
    access_key_id: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def credential_scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminator}"


def parse_authorization(value: str) -> AuthorizationHeader:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SigV4Error("incomplete", f"Unsupported AWS 'algorithm': '{algorithm}'.")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, val = part.strip().partition("=")
        if sep:
            fields[key] = val
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if name not in fields]
    if missing:
        needed = " ".join(f"Authorization header requires '{name}' parameter." for name in missing)
        raise SigV4Error("incomplete", f"{needed} Authorization={value}")
    credential = fields["Credential"].split("/")
    if len(credential) != 5 or not all(credential):
        raise SigV4Error(
            "incomplete",
            "Credential should be scoped to a valid region, service and date: "
            f"'{fields['Credential']}'.",
        )
    access_key_id, date, region, service, terminator = credential
    return AuthorizationHeader(
        access_key_id=access_key_id,
        date=date,
        region=region,
        service=service,
        terminator=terminator,
        signed_headers=tuple(fields["SignedHeaders"].split(";")),
        signature=fields["Signature"],
    )


def request_timestamp(headers: Headers) -> str:
    """The signing time as ``YYYYMMDDTHHMMSSZ``, from X-Amz-Date or else Date."""
    amz_date = _first(headers, "x-amz-date")
    if amz_date is not None:
        if not _AMZ_DATE_RE.match(amz_date.strip()):
            raise SigV4Error("incomplete", f"Invalid X-Amz-Date: {amz_date}")
        return amz_date.strip()
    date = _first(headers, "date")
    if date is None:
        raise SigV4Error(
            "incomplete",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    try:
        return parsedate_to_datetime(date).strftime("%Y%m%dT%H%M%SZ")
    except (TypeError, ValueError) as exc:
        raise SigV4Error("incomplete", f"Invalid Date header: {date}") from exc


def timestamp_to_epoch(amz_date: str) -> int:
    match = _AMZ_DATE_RE.match(amz_date)
    if match is None:
        raise SigV4Error("incomplete", f"Invalid X-Amz-Date: {amz_date}")
    parts = tuple(int(group) for group in match.groups())
    return calendar.timegm((*parts, 0, 0, 0))


def epoch_to_timestamp(epoch: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


def check_clock_skew(amz_date: str, now: float) -> None:
    signed_at = timestamp_to_epoch(amz_date)
    if signed_at < now - MAX_CLOCK_SKEW_SECONDS:
        raise SigV4Error(
            "skew",
            f"Signature expired: {amz_date} is now earlier than "
            f"{epoch_to_timestamp(now - MAX_CLOCK_SKEW_SECONDS)} "
            f"({epoch_to_timestamp(now)} - 15 min.)",
        )
    if signed_at > now + MAX_CLOCK_SKEW_SECONDS:
        raise SigV4Error(
            "skew",
            f"Signature not yet current: {amz_date} is still later than "
            f"{epoch_to_timestamp(now + MAX_CLOCK_SKEW_SECONDS)} "
            f"({epoch_to_timestamp(now)} + 15 min.)",
        )


def remove_dot_segments(path: str) -> str:
    """RFC 3986 dot-segment removal plus collapsing of empty segments, as AWS (non-S3) does."""
    if not path:
        return "/"
    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
        else:
            segments.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and segments else ""
    return first + "/".join(segments) + last


def canonical_uri(raw_path: str) -> str:
    """Encode the raw (already percent-encoded) path once more: ``%3A`` becomes ``%253A``."""
    return quote(remove_dot_segments(raw_path), safe="/~")


def canonical_query(raw_query: str) -> str:
    if not raw_query:
        return ""
    pairs = []
    for pair in raw_query.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))


def canonical_headers(headers: Headers, signed_headers: Sequence[str]) -> str:
    lines = []
    for name in signed_headers:
        values = headers.get(name)
        if not values:
            raise SigV4Error("mismatch", f"Signed header '{name}' is missing from the request.")
        joined = ",".join(" ".join(value.split()) for value in values)
        lines.append(f"{name}:{joined}\n")
    return "".join(lines)


def canonical_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Headers,
    signed_headers: Sequence[str],
    payload_hash: str,
) -> str:
    return "\n".join(
        (
            method.upper(),
            canonical_uri(raw_path),
            canonical_query(raw_query),
            canonical_headers(headers, signed_headers),
            ";".join(signed_headers),
            payload_hash,
        )
    )


def string_to_sign(amz_date: str, credential_scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{credential_scope}\n{digest}"


@lru_cache(maxsize=4096)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret}".encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def compute_signature(secret: str, auth: AuthorizationHeader, amz_date: str, canonical: str) -> str:
    key = signing_key(secret, auth.date, auth.region, auth.service)
    to_sign = string_to_sign(amz_date, auth.credential_scope, canonical)
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Headers,
    body: bytes,
    auth: AuthorizationHeader,
    secret: str,
    service: str,
    now: float,
) -> None:
    """Raise SigV4Error unless ``auth`` is a valid signature of this request by ``secret``."""
    _check_scope(auth, service)
    amz_date = request_timestamp(headers)
    if amz_date[:8] != auth.date:
        raise SigV4Error(
            "mismatch",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{auth.date}' != '{amz_date[:8]}', from '{amz_date}'.",
        )
    check_clock_skew(amz_date, now)
    payload_hash = _payload_hash(headers, body)
    canonical = canonical_request(
        method, raw_path, raw_query, headers, auth.signed_headers, payload_hash
    )
    expected = compute_signature(secret, auth, amz_date, canonical)
    if not hmac.compare_digest(expected.encode(), auth.signature.encode()):
        raise SigV4Error(
            "mismatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. "
            "Consult the service documentation for details.",
        )


def _check_scope(auth: AuthorizationHeader, service: str) -> None:
    if auth.service != service:
        raise SigV4Error(
            "mismatch", f"Credential should be scoped to correct service: '{service}'."
        )
    if auth.terminator != "aws4_request":
        raise SigV4Error(
            "mismatch",
            f"Credential should be scoped with a valid terminator: 'aws4_request', "
            f"not '{auth.terminator}'.",
        )
    if "host" not in auth.signed_headers:
        raise SigV4Error(
            "mismatch", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )
    if list(auth.signed_headers) != sorted(set(auth.signed_headers)):
        raise SigV4Error("mismatch", "SignedHeaders must be lowercase, sorted and unique.")


def _payload_hash(headers: Headers, body: bytes) -> str:
    actual = hashlib.sha256(body).hexdigest()
    declared = _first(headers, "x-amz-content-sha256")
    if declared is not None and declared.strip() != actual:
        raise SigV4Error(
            "mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    return actual


def _first(headers: Headers, name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()
