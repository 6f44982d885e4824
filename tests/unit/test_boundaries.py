"""Only the invocation core talks to AWS: no other module of the console imports boto3/botocore."""

from __future__ import annotations

import ast

from tests.unit.test_import_cycles import PACKAGES, _modules

AWS_LIBRARIES = ("boto3", "botocore")
# The benchmarks compare the console with a plain boto3 caller; the sandbox is its own program.
OUTSIDE = ("bench", "sandbox")
ALLOWED = {"bedrock.client", "bedrock.network"}


def _aws_imports(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        found.update(n for n in names if n.split(".")[0] in AWS_LIBRARIES)
    return found


def test_it_sees_a_lazy_boto3_import():
    assert _aws_imports("def f():\n    from botocore.config import Config\n") == {"botocore.config"}


def test_only_the_invocation_core_imports_boto3():
    assert "bedrock" in PACKAGES
    offenders = {
        name: sorted(found)
        for name, path in _modules().items()
        if name.split(".")[0] not in OUTSIDE
        and name not in ALLOWED
        and (found := _aws_imports(path.read_text()))
    }
    assert offenders == {}, "Call models through bedrock.invoke.call instead"
