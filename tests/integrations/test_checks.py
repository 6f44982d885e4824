"""The start-up check of EXTRA_AWS_ENDPOINTS: a malformed entry stops the console from starting."""

import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from tests.conftest import ROOT, SANDBOX_URL

# Every check runs, the database ones too (on SQLite they open the test database)
pytestmark = pytest.mark.django_db


def test_it_accepts_origins(settings):
    settings.EXTRA_AWS_ENDPOINTS = [
        SANDBOX_URL,
        "https://bedrock.mock.internal",
        "http://[::1]:8080/",
    ]
    call_command("check")


def test_it_ignores_an_empty_entry(settings):
    settings.EXTRA_AWS_ENDPOINTS = [SANDBOX_URL, ""]
    call_command("check")


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("http://127.0.0.1:4599/sandbox", "Enter the extra origin without a path"),
        ("127.0.0.1:4599", "Start the extra origin with http:// or https://, e.g. http://127"),
        ("ftp://mirror.internal", "Start the extra origin with http:// or https://"),
        ("http://127.0.0.1:99999", "The port must be a number from 1 to 65535."),
        ("http://user:pw@proxy.internal", "Remove the user name/password part"),
    ],
)
def test_it_refuses_an_entry_that_is_not_an_origin(settings, entry, reason):
    settings.EXTRA_AWS_ENDPOINTS = [SANDBOX_URL, entry]
    with pytest.raises(SystemCheckError) as excinfo:
        call_command("check")
    text = str(excinfo.value)
    assert "integrations.E001" in text
    assert f"EXTRA_AWS_ENDPOINTS entry 2 ({entry!r}) is not an origin: {reason}" in text
    assert "scheme://host[:port]" in text


def test_it_runs_when_the_console_starts():
    env = dict(os.environ, EXTRA_AWS_ENDPOINTS=f"{SANDBOX_URL},http://127.0.0.1:4599/path")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "EXTRA_AWS_ENDPOINTS entry 2 ('http://127.0.0.1:4599/path') is not an origin" in (
        result.stderr
    )
