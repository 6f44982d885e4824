"""The network boundary: the endpoint policy, and the resolved-address guard on every connection.

Every URL is checked against the endpoint policy (AWS host patterns plus EXTRA_AWS_ENDPOINTS)
before a call, and again at the socket: a host name that passed the policy could still resolve
to an internal address (a hostile DNS record, or a record that changes between our check and
the connect: DNS rebinding). So the connection resolves the host once, refuses loopback,
link-local (169.254.0.0/16, fe80::/10), private, unique-local, unspecified, multicast and
reserved addresses, and connects to exactly the address it checked. The request keeps the host
name for the Host header, SigV4, TLS SNI and certificate verification. There is no second
lookup, hence no window for rebinding. botocore's `before-send` event would check one lookup
and connect after another, so it was not chosen. Origins listed in EXTRA_AWS_ENDPOINTS (the
sandbox on 127.0.0.1, a VPC endpoint with private addresses) are allowed as they are.

botocore offers no public hook for its connection classes, so `pin(client)` is the one small
adapter over private attributes (botocore's `URLLib3Session._pool_classes_by_scheme`,
urllib3's `HTTPConnection._dns_host` and `_new_conn`). `adapter_problem()` says what broke
after an upgrade; tests/security/test_network_adapter.py fails loudly on it.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from botocore.awsrequest import (
    AWSHTTPConnection,
    AWSHTTPConnectionPool,
    AWSHTTPSConnection,
    AWSHTTPSConnectionPool,
)
from django.conf import settings
from urllib3.connection import HTTPConnection

from bedrock import endpoints
from bedrock.values import InvalidValue


class BlockedAddress(OSError):
    """The host resolves to an address the console must not call."""


def check_url(url: str, service: str) -> endpoints.Endpoint:
    """The endpoint policy on the URL, then on the addresses its host resolves to now.

    The second check gives a clear error early; the guarantee is the pinned connection below,
    which checks the address it actually connects to.
    """
    endpoint = endpoints.check_endpoint(url, service, settings.EXTRA_AWS_ENDPOINTS)
    if not endpoint.extra:
        try:
            allowed_addresses(endpoint.host, 443)
        except BlockedAddress as e:
            raise InvalidValue(str(e)) from None
        except OSError:
            pass  # unresolvable now: the call reports it as a connection error
    return endpoint


def address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def allowed_addresses(host: str, port: int) -> list[tuple[Any, ...]]:
    """getaddrinfo for host:port, refused (BlockedAddress) if any address is internal."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    blocked = sorted({str(info[4][0]) for info in infos if not address_allowed(str(info[4][0]))})
    if blocked or not infos:
        raise BlockedAddress(
            f"The host {host} resolves to an internal address ({', '.join(blocked)}), which the "
            "console does not call. If it is intended (a private endpoint), ask the console's "
            "operator to allow its origin."
        )
    return infos


def _is_extra_origin(scheme: str, host: str, port: int) -> bool:
    return endpoints.is_extra_origin(scheme, host, port, settings.EXTRA_AWS_ENDPOINTS)


# --- the adapter over botocore and urllib3 ---------------------------------------------------


class _PinnedConnectionMixin:
    scheme = "http"
    host: str
    port: int
    _dns_host: str  # urllib3: the name the socket resolves; `host` stays for SNI and Host

    def _new_conn(self) -> socket.socket:
        if _is_extra_origin(self.scheme, self.host, self.port):
            return super()._new_conn()  # type: ignore[misc]
        infos = allowed_addresses(self._dns_host, self.port)
        checked = str(infos[0][4][0])
        name = self._dns_host
        self._dns_host = checked  # connect to the checked address, no second lookup
        try:
            return super()._new_conn()  # type: ignore[misc]
        finally:
            self._dns_host = name


class PinnedHTTPConnection(_PinnedConnectionMixin, AWSHTTPConnection):  # type: ignore[misc]
    scheme = "http"


class PinnedHTTPSConnection(_PinnedConnectionMixin, AWSHTTPSConnection):  # type: ignore[misc]
    scheme = "https"


class _PinnedHTTPPool(AWSHTTPConnectionPool):
    ConnectionCls = PinnedHTTPConnection


class _PinnedHTTPSPool(AWSHTTPSConnectionPool):
    ConnectionCls = PinnedHTTPSConnection


def _pool_classes(client: Any) -> dict[str, Any]:
    # botocore's URLLib3Session keeps its pool classes in _pool_classes_by_scheme, the same dict
    # its pool managers read when they open a pool.
    return client._endpoint.http_session._pool_classes_by_scheme  # type: ignore[no-any-return]


def pin(client: Any) -> None:
    """Make every connection the new client opens check and pin its resolved address."""
    _pool_classes(client).update({"http": _PinnedHTTPPool, "https": _PinnedHTTPSPool})


def adapter_problem(client: Any) -> str | None:
    """None when `pin` holds on this client; else what an upgrade of botocore/urllib3 broke.

    Opens (without connecting) the pool botocore would use for an https URL and checks that
    its connections are the pinned ones, and that urllib3 still resolves `_dns_host`.
    """
    try:
        manager = client._endpoint.http_session._manager
        pool = manager.connection_from_url("https://bedrock-runtime.us-east-1.amazonaws.com")
    except AttributeError as e:
        return f"botocore no longer exposes its connection pools as before ({e})"
    if pool.ConnectionCls is not PinnedHTTPSConnection:
        return (
            f"botocore opened {type(pool).__name__} with {pool.ConnectionCls.__name__}: "
            "its pool classes are no longer read from _pool_classes_by_scheme"
        )
    connection = pool.ConnectionCls(pool.host, pool.port)
    if getattr(connection, "_dns_host", None) != pool.host:
        return "urllib3's connection no longer resolves the host it keeps in _dns_host"
    if "_new_conn" not in vars(HTTPConnection):
        return "urllib3's HTTPConnection no longer opens its socket in _new_conn"
    return None
