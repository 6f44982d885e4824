"""The network boundary: nothing but AWS and the allowed origins, whatever the DNS says.

DNS cannot be had in the tests, so socket.getaddrinfo is replaced; the socket layer is
replaced too, so that no test reaches the network.
"""

import socket
from datetime import UTC, datetime, timedelta

import pytest
import urllib3.util.connection

from bedrock import client, network
from bedrock.values import InvalidValue
from integrations.models import ConnectionTest
from tests.conftest import SANDBOX_URL
from tests.integrations.helpers import form_data

HOST = "bedrock-runtime.us-east-1.amazonaws.com"
URL = f"https://{HOST}"
PUBLIC = "52.94.0.10"
INTERNAL = [
    "127.0.0.1",
    "127.1.2.3",
    "169.254.169.254",
    "10.0.0.5",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",
    "0.0.0.0",  # noqa: S104 - an address to refuse, not to bind
    "224.0.0.1",
    "::1",
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",
    "fd12:3456::1",
    "::",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "ff02::1",
]
CREDS = client.AssumedCredentials(
    "AKIAX", "secret", "token", datetime.now(UTC) + timedelta(hours=1), ""
)


def _infos(address):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sockaddr = (address, 443, 0, 0) if family == socket.AF_INET6 else (address, 443)
    return [(family, socket.SOCK_STREAM, 6, "", sockaddr)]


@pytest.fixture
def connects(monkeypatch):
    """Every socket connection attempt, refused."""
    seen = []

    def create_connection(address, *args, **kwargs):
        seen.append(address)
        raise ConnectionRefusedError("no network in tests")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    client.reset_caches(clients=True)
    return seen


def _resolve_to(monkeypatch, *answers):
    calls = []

    def getaddrinfo(host, port, *args, **kwargs):
        calls.append(host)
        address = answers[min(len(calls), len(answers)) - 1]
        return _infos(address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls


def _invoke(url=URL):
    return client.invoke_model(
        url, "anthropic.claude-3-haiku-20240307-v1:0", b"{}", [], CREDS, keep_bytes=100
    )


@pytest.mark.parametrize("address", INTERNAL)
def test_hosts_resolving_to_internal_addresses_are_refused(monkeypatch, connects, address):
    _resolve_to(monkeypatch, address)
    with pytest.raises(InvalidValue, match="internal address"):
        network.check_url(URL, "bedrock-runtime")
    with pytest.raises(InvalidValue):
        _invoke()
    with pytest.raises(InvalidValue):
        client.assume_role(
            "arn:aws:iam::111122223333:role/R", "x", "https://sts.us-east-1.amazonaws.com", "s"
        )
    assert connects == []


@pytest.mark.parametrize("address", ["127.0.0.1", "169.254.169.254", "::ffff:10.0.0.1"])
def test_dns_rebinding_between_check_and_connect_is_refused(monkeypatch, connects, address):
    calls = _resolve_to(monkeypatch, PUBLIC, address)
    with pytest.raises(client.AwsCallFailed):
        _invoke()
    assert len(calls) == 2  # the check, then the connection's own lookup
    assert connects == []  # the internal address was never connected to


def test_the_connection_goes_to_the_checked_address(monkeypatch, connects):
    _resolve_to(monkeypatch, PUBLIC)
    with pytest.raises(client.AwsCallFailed):
        _invoke()
    assert connects and all(address == (PUBLIC, 443) for address in connects)


def test_allowed_origins_still_connect(connects):
    # The sandbox is on 127.0.0.1 and listed in EXTRA_AWS_ENDPOINTS.
    with pytest.raises(client.AwsCallFailed):
        _invoke(SANDBOX_URL)
    host, port = SANDBOX_URL.removeprefix("http://").split(":")
    assert connects[0] == (host, int(port))


BAD_URLS = [
    "http://bedrock-runtime.us-east-1.amazonaws.com",
    "https://127.0.0.1",
    "https://2130706433",
    "https://0x7f000001",
    "https://0177.0.0.1",
    "https://127.1",
    "https://169.254.169.254",
    "https://2852039166",
    "https://0xa9fea9fe",
    "https://[::1]",
    "https://[::ffff:127.0.0.1]",
    "https://[::ffff:a9fe:a9fe]",
    "https://[fe80::1]",
    "https://bedrock-runtime.us-east-1.amazonaws.com@evil.example",
    "https://evil.example#@bedrock-runtime.us-east-1.amazonaws.com",
    "https://user:pw@bedrock-runtime.us-east-1.amazonaws.com",
    "https://bedrock-runtime.us-east-1.amazonaws.com.evil.example",
    "https://bedrock-runtime.us-east-1.amazonaws.com:8080",
    "https://bedrock-runtime.us-east-1.amazonaws.com/?x=1",
    "https://bedrock-runtime.us-east-1.amazonaws.com\\@evil.example",
    "https://bedrock-runtime.us-east-1.amazonaws.com\r\nHost: evil",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "https://localhost",
    "https://metadata.google.internal",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_ip_literals_and_user_info_tricks_are_refused(connects, url):
    with pytest.raises(InvalidValue):
        network.check_url(url, "bedrock-runtime")
    with pytest.raises(InvalidValue):
        _invoke(url)
    assert connects == []


@pytest.mark.django_db
@pytest.mark.parametrize("url", BAD_URLS)
def test_the_form_refuses_them_without_a_500(alice_client, connects, url):
    for field in ("endpoint", "sts_endpoint"):
        r = alice_client.post("/integrations/test/", form_data(**{field: url}))
        assert r.status_code in (200, 400)
        assert ConnectionTest.objects.count() == 0
        r = alice_client.post("/integrations/new/", form_data(**{field: url}))
        assert r.status_code == 400
    # Only the console's own identity lookup, at the sandbox (an allowed origin), is made.
    host, port = SANDBOX_URL.removeprefix("http://").split(":")
    assert all(address == (host, int(port)) for address in connects)
