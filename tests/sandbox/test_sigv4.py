"""The verifier against botocore's own signer, without HTTP."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sandbox.sigv4 import (
    SigV4Error,
    canonical_query,
    canonical_uri,
    check_clock_skew,
    parse_authorization,
    timestamp_to_epoch,
    verify,
)

PROFILE_ARN = (
    "arn:aws:bedrock:us-east-1:111122223333:inference-profile/"
    "us.anthropic.claude-3-haiku-20240307-v1:0"
)


def _signed(url: str, body: bytes = b"{}", service: str = "bedrock") -> AWSRequest:
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "a/b"})
    SigV4Auth(Credentials("AKIDEXAMPLE", "secret", "tok"), service, "eu-west-1").add_auth(request)
    return request


def _verify(request: AWSRequest, body: bytes, secret: str) -> None:
    parts = urlsplit(request.url)
    headers = {name.lower(): [value] for name, value in request.headers.items()}
    headers["host"] = [parts.netloc]
    verify(
        method=request.method,
        raw_path=parts.path,
        raw_query=parts.query,
        headers=headers,
        body=body,
        auth=parse_authorization(request.headers["Authorization"]),
        secret=secret,
        service="bedrock",
        now=time.time(),
    )


def test_canonical_uri_encodes_the_raw_path_once_more() -> None:
    assert canonical_uri("/model/a%3Ab%2Fc/invoke") == "/model/a%253Ab%252Fc/invoke"
    assert canonical_uri("/a//b/./c/../d") == "/a/b/d"
    assert canonical_uri("") == "/"


def test_canonical_query_sorts_and_normalises_encoding() -> None:
    assert canonical_query("b=2&a=x y&a=1") == "a=1&a=x%20y&b=2"
    assert canonical_query("k=%7e") == "k=~"


def test_parse_authorization_reads_every_part() -> None:
    auth = parse_authorization(
        "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-west-2/sts/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc"
    )
    assert (auth.access_key_id, auth.region, auth.service) == ("AKID", "us-west-2", "sts")
    assert auth.signed_headers == ("host", "x-amz-date")
    assert auth.credential_scope == "20240101/us-west-2/sts/aws4_request"


@pytest.mark.parametrize(
    "header",
    [
        "AWS4-HMAC-SHA1 Credential=a/b/c/d/e, SignedHeaders=host, Signature=x",
        "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-west-2/sts/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKID/us-west-2, SignedHeaders=host, Signature=x",
    ],
)
def test_malformed_authorization_is_incomplete(header: str) -> None:
    with pytest.raises(SigV4Error) as caught:
        parse_authorization(header)
    assert caught.value.kind == "incomplete"


def test_botocore_signature_verifies_for_an_inference_profile_arn() -> None:
    path = "/model/" + PROFILE_ARN.replace(":", "%3A").replace("/", "%2F") + "/invoke"
    request = _signed("http://127.0.0.1:4599" + path)
    _verify(request, b"{}", "secret")


def test_wrong_secret_and_changed_body_do_not_verify() -> None:
    request = _signed("http://127.0.0.1:4599/model/x.y/invoke")
    with pytest.raises(SigV4Error, match="signature we calculated") as caught:
        _verify(request, b"{}", secret="other")
    assert caught.value.kind == "mismatch"
    with pytest.raises(SigV4Error, match="signature we calculated"):
        _verify(request, b"{ }", "secret")


def test_scope_must_name_the_service() -> None:
    request = _signed("http://127.0.0.1:4599/", service="sts")
    with pytest.raises(SigV4Error, match="correct service: 'bedrock'"):
        _verify(request, b"{}", "secret")


def test_clock_skew_over_fifteen_minutes_is_refused() -> None:
    signed_at = timestamp_to_epoch("20240101T120000Z")
    check_clock_skew("20240101T120000Z", signed_at + 14 * 60)
    with pytest.raises(SigV4Error, match="Signature expired") as caught:
        check_clock_skew("20240101T120000Z", signed_at + 16 * 60)
    assert caught.value.kind == "skew"
    with pytest.raises(SigV4Error, match="not yet current"):
        check_clock_skew("20240101T120000Z", signed_at - 16 * 60)
