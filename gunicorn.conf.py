"""gunicorn reads this file from the working folder: hooks for every way the console is served."""

import os

# Web processes: WEB_CONCURRENCY, else one per core and one more. A process runs Python under
# one interpreter lock, so it uses at most one core; with only as many processes as cores, the
# time each loses handing the lock between its threads leaves cores idle (the Invoke API served
# 0.42 of plain boto3's rate with 2 processes on 2 cores, 0.55 with 3: docs/performance.md).
workers = int(os.environ.get("WEB_CONCURRENCY") or (os.cpu_count() or 1) + 1)


def child_exit(server, worker):
    # Prometheus multi-process mode: a web process that ended leaves its gauges behind.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
