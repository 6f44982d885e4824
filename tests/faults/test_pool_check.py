"""A pooled connection that PostgreSQL closed is replaced before a request gets it; a healthy
one is handed out without a round trip (config.dbpool)."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection
from psycopg_pool import ConnectionPool

from config import dbpool


@pytest.fixture
def url():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's pool")
    settings = connection.settings_dict
    return (
        f"host={settings['HOST'] or '127.0.0.1'} port={settings['PORT'] or 5432} "
        f"dbname={settings['NAME']} user={settings['USER']}"
    )


@pytest.mark.django_db
def test_a_connection_the_server_ended_is_replaced(url):
    with ConnectionPool(url, min_size=1, max_size=1, check=dbpool.check, open=True) as pool:
        with pool.connection() as conn:
            first = conn.info.backend_pid
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        time.sleep(0.2)  # the server's goodbye reaches the idle connection's socket
        with pool.connection() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
            assert conn.info.backend_pid != first


@pytest.mark.django_db
def test_a_healthy_connection_is_handed_out_without_asking_the_server(url, monkeypatch):
    with psycopg.connect(url, autocommit=True) as conn:

        def round_trip(conn):
            raise AssertionError("asked the server")

        monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(round_trip))
        dbpool.check(conn)  # nothing on its socket: no query


@pytest.mark.django_db
def test_a_connection_past_select_s_limit_is_checked_too(url):
    import os
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        pytest.skip("this process may not open 1,100 files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1100), hard))
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1030)]
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.fileno() >= 1024
            dbpool.check(conn)  # healthy: no error
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
            time.sleep(0.2)
            with pytest.raises(psycopg.OperationalError):
                dbpool.check(conn)
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
