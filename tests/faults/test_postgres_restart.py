"""PostgreSQL restarted while the console and the worker run: both recover without a restart."""

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from django.db import connection

from integrations.models import ConnectionTest
from tests.conftest import wait_for_test
from tests.integrations.helpers import form_data

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

HTMX = {"HTTP_HX_REQUEST": "true"}


def restart_postgresql() -> None:
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir())
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"],
        check=True,
        timeout=120,
        capture_output=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready = subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"], check=False)
        if ready.returncode == 0:
            return
        time.sleep(0.2)
    raise AssertionError("PostgreSQL did not come back within 60 s")


def test_web_and_worker_recover_from_a_postgresql_restart(alice_client, sandbox, start_worker):
    if connection.vendor != "postgresql":
        pytest.skip("runs on PostgreSQL only")
    if not shutil.which("pg_ctlcluster") or not Path("/etc/postgresql").is_dir():
        pytest.skip("needs the local PostgreSQL cluster (pg_ctlcluster)")
    start_worker()
    alice_client.post("/integrations/test/", form_data(), **HTMX)
    assert wait_for_test(ConnectionTest.objects.latest("created").pk).succeeded

    connection.close()
    restart_postgresql()

    # The same web client and the same worker process, neither restarted.
    r = alice_client.post("/integrations/test/", form_data(), **HTMX)
    assert r.status_code == 200
    latest = ConnectionTest.objects.latest("created")
    assert wait_for_test(latest.pk).succeeded
    assert ConnectionTest.objects.count() == 2
