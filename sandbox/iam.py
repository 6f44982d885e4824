"""A role's permission policy, judged the way IAM judges it for a Bedrock runtime call.

Enough of IAM for the policies the console asks customers to attach: Allow and Deny statements,
``Action`` and ``Resource`` with ``*`` and ``?`` wildcards (a resource is matched field by field
of its ARN, so ``arn:aws:bedrock:*::foundation-model/X`` also matches the region-less ARN a
global profile is authorized against), and the conditions ``StringEquals``, ``StringLike``,
``ArnEquals`` and ``ArnLike`` (a key the request does not carry fails the condition, as in IAM).
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

OPERATORS = ("StringEquals", "StringLike", "ArnEquals", "ArnLike")


class PolicyError(ValueError):
    """The document is not a policy the sandbox can judge."""


def check_policy(policy: Any) -> dict[str, Any]:
    """The policy as given, once its shape has been checked (PolicyError otherwise)."""
    if not isinstance(policy, dict) or "Statement" not in policy:
        raise PolicyError("policy must be a JSON object with a Statement")
    for statement in _statements(policy):
        if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
            raise PolicyError("each statement needs an Effect of Allow or Deny")
        for key in ("Action", "Resource"):
            if not all(isinstance(v, str) for v in _list(statement.get(key))):
                raise PolicyError(f"{key} must be a string or a list of strings")
        condition = statement.get("Condition", {})
        if not isinstance(condition, dict) or not set(condition) <= set(OPERATORS):
            raise PolicyError(f"the sandbox knows the condition operators {', '.join(OPERATORS)}")
    return policy


def allows(
    policy: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]
) -> bool:
    """True when a statement allows ``action`` on ``resource`` and none denies it."""
    allowed = False
    for statement in _statements(policy):
        if not _applies(statement, action, resource, context):
            continue
        if statement["Effect"] == "Deny":
            return False
        allowed = True
    return allowed


def _statements(policy: Mapping[str, Any]) -> list[Any]:
    statements = policy.get("Statement")
    return statements if isinstance(statements, list) else [statements]


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _applies(
    statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]
) -> bool:
    if not any(fnmatchcase(action.lower(), a.lower()) for a in _list(statement.get("Action"))):
        return False
    if not any(arn_like(resource, pattern) for pattern in _list(statement.get("Resource"))):
        return False
    for operator, tests in statement.get("Condition", {}).items():
        for key, expected in tests.items():
            value = context.get(key)
            if value is None:
                return False
            wanted = _list(expected)
            if operator == "StringEquals" and value not in wanted:
                return False
            if operator == "StringLike" and not any(fnmatchcase(value, w) for w in wanted):
                return False
            if operator in ("ArnEquals", "ArnLike") and not any(arn_like(value, w) for w in wanted):
                return False
    return True


def arn_like(arn: str, pattern: str) -> bool:
    """IAM's ARN match: ``*`` alone matches everything; otherwise the six fields of the ARN are
    matched one by one (the last, the resource, may hold ``:`` and ``/``)."""
    if pattern == "*":
        return True
    fields, wanted = arn.split(":", 5), pattern.split(":", 5)
    if len(fields) != 6 or len(wanted) != 6:
        return False
    return all(fnmatchcase(f, w) for f, w in zip(fields, wanted, strict=True))
