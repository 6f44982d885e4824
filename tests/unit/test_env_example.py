""".env.example copied to .env, unchanged, gives a working console on the embedded default.

Each check runs `manage.py` in a temporary copy of the checkout, in a clean environment (no
DATABASE_URL, no REDIS_URL, nothing from the test run), as someone would after cloning.
"""

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

SKIP = shutil.ignore_patterns(
    ".git", ".venv", "var", "node_modules", "__pycache__", ".env", "*.pyc", ".mypy_cache"
)
# README, "Hardening": check --deploy is clean with these.
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "SECURE_COOKIES": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
}
DUMP = """
import django
django.setup()
from django.conf import settings
for name in sorted(n for n in dir(settings) if n.isupper()):
    print(name, repr(getattr(settings, name)))
"""


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("checkout") / "console"
    shutil.copytree(ROOT, copy, ignore=SKIP)
    return copy


def run(checkout: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(checkout),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        **extra,
    }
    return subprocess.run(
        [sys.executable, *args], cwd=checkout, env=env, capture_output=True, text=True, timeout=120
    )


def with_env_file(checkout: Path, present: bool) -> None:
    env_file = checkout / ".env"
    if present:
        shutil.copy(checkout / ".env.example", env_file)
    else:
        env_file.unlink(missing_ok=True)


def test_check_passes_with_the_example_copied(checkout):
    with_env_file(checkout, True)
    result = run(checkout, "manage.py", "check")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
    assert (checkout / "var" / "db.sqlite3").parent.is_dir()  # the default place, not cwd-relative


def test_check_deploy_is_clean_with_the_readmes_production_values(checkout):
    with_env_file(checkout, True)
    result = run(
        checkout, "manage.py", "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_every_empty_value_in_the_example_means_the_default(checkout):
    with_env_file(checkout, False)
    without = run(checkout, "-c", DUMP)
    with_env_file(checkout, True)
    copied = run(checkout, "-c", DUMP)
    assert without.returncode == 0, without.stderr
    assert copied.returncode == 0, copied.stderr
    differences = set(copied.stdout.splitlines()) ^ set(without.stdout.splitlines())
    assert differences == set()
    assert f"'NAME': {str(checkout / 'var' / 'db.sqlite3')!r}" in copied.stdout
