"""Benchmarks of the console side by side with plain boto3 on the same sandbox.

Run with `./console bench`; results go to docs/performance.md. Never part of the test suite.
"""
