"""gunicorn reads this file from the working folder: hooks for every way the console is served."""

import os


def child_exit(server, worker):
    # Prometheus multi-process mode: a web process that ended leaves its gauges behind.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
