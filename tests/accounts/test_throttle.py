"""Login throttling that nobody elsewhere can turn against a user: direct and behind proxies."""

import secrets

import pytest
from django.test import Client

from audit.models import AuditEvent

RIGHT = "alice-password-long"


def address() -> str:
    # Documentation prefix with 48 random bits: no other test or run has failed from it.
    return "2001:db8::" + ":".join(secrets.token_hex(2) for _ in range(3))


@pytest.fixture
def alice_name(alice):
    alice.username = f"alice-{secrets.token_hex(4)}"
    alice.save()
    return alice.username


@pytest.fixture
def limits(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 6
    settings.TRUSTED_PROXY_COUNT = 0
    return settings


def login(client, name, password, url="/accounts/login/", **extra):
    r = client.post(url, {"username": name, "password": password}, **extra)
    return r.status_code == 302, r


@pytest.mark.django_db
def test_failures_elsewhere_do_not_lock_the_user_out(alice_name, limits):
    attacker = Client(REMOTE_ADDR=address())
    for _ in range(5):
        assert not login(attacker, alice_name, "guess")[0]
    ok, r = login(attacker, alice_name, RIGHT)
    assert not ok and "Too many failed logins" in r.text
    # alice, from her own address, is not locked out.
    assert login(Client(REMOTE_ADDR=address()), alice_name, RIGHT)[0]
    refused = AuditEvent.objects.filter(
        action=AuditEvent.Action.LOGIN_FAILED, object_repr=alice_name, changes__reason="throttled"
    )
    assert refused.exists()


@pytest.mark.django_db
def test_one_address_trying_many_names_is_locked(alice_name, limits):
    source = address()
    spray = Client(REMOTE_ADDR=source)
    for i in range(6):
        assert not login(spray, f"someone-{i}", "guess")[0]
    ok, r = login(spray, alice_name, RIGHT)
    assert not ok and "Too many failed logins" in r.text
    assert login(Client(REMOTE_ADDR=address()), alice_name, RIGHT)[0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("guessed_at", "then_at"),
    [("/admin/login/", "/accounts/login/"), ("/accounts/login/", "/admin/login/")],
)
def test_a_lock_on_one_door_is_a_lock_on_both(alice_name, limits, guessed_at, then_at):
    attacker = Client(REMOTE_ADDR=address())
    for _ in range(3):
        login(attacker, alice_name, "guess", url=guessed_at)
    ok, r = login(attacker, alice_name, RIGHT, url=then_at)
    assert not ok and "Too many failed logins" in r.text
    assert "_auth_user_id" not in attacker.session


@pytest.mark.django_db
def test_behind_a_proxy_the_forwarded_client_address_counts(alice_name, limits):
    limits.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.5"  # every request reaches the console from the proxy
    attacker, alice_home = address(), address()

    def through_proxy(client_ip, sent=""):
        # The proxy appends the address it saw to whatever the client sent.
        forwarded = f"{sent}, {client_ip}" if sent else client_ip
        return Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=forwarded)

    bad = through_proxy(attacker, sent=alice_home)  # a forged entry is not believed
    for _ in range(5):
        assert not login(bad, alice_name, "guess")[0]
    assert not login(bad, alice_name, RIGHT)[0]
    assert login(through_proxy(alice_home), alice_name, RIGHT)[0]
    # Without the proxy setting, everyone behind it would share the proxy's address.
    limits.TRUSTED_PROXY_COUNT = 0
    shared = through_proxy(address())
    for i in range(6):
        login(shared, f"x-{i}", "guess")
    assert not login(through_proxy(alice_home), alice_name, RIGHT)[0]


@pytest.mark.django_db
def test_thirty_guesses_at_the_admin_then_the_right_password_is_refused(alice_name, settings):
    # The shipped limits (tests otherwise raise them out of the way).
    settings.LOGIN_FAILURE_LIMIT, settings.LOGIN_ADDRESS_FAILURE_LIMIT = 5, 20
    settings.TRUSTED_PROXY_COUNT = 0
    attacker = Client(REMOTE_ADDR=address())
    for _ in range(30):
        assert not login(attacker, alice_name, "guess", url="/admin/login/")[0]
    ok, r = login(attacker, alice_name, RIGHT, url="/admin/login/")
    assert not ok and "Too many failed logins" in r.text
    assert not login(attacker, alice_name, RIGHT, url="/accounts/login/")[0]
