"""The unauthenticated JSON control API under /_sandbox/ used by tests and benchmarks."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .replies import Reply, SandboxRequest, json_reply
from .state import DEFAULT_ACTIONS, SandboxState

PREFIX = "/_sandbox/"
_FAULT_FIELDS: dict[str, tuple[type, ...]] = {
    "target": (str,),
    "mode": (str,),
    "match": (str,),
    "operation": (str,),
    "times": (int,),
    "ms": (int,),
    "code": (str,),
    "status": (int,),
    "message": (str,),
    "seconds": (int, float),
    "interval_ms": (int,),
    "mb": (int, float),
    "after": (int,),
}


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Route = Callable[[SandboxState, dict[str, Any]], Any]


def handle(request: SandboxRequest, state: SandboxState) -> Reply:
    route = _ROUTES.get((request.method, request.raw_path.rstrip("/")))
    try:
        if route is None:
            raise ControlError(404, f"no control endpoint {request.method} {request.raw_path}")
        return json_reply(200, route(state, _json_body(request.body)))
    except ControlError as error:
        return json_reply(error.status, {"error": error.message})
    except ValueError as error:
        return json_reply(400, {"error": str(error)})


def _json_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ControlError(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ControlError(400, "the body must be a JSON object")
    return data


def _put_role(state: SandboxState, data: dict[str, Any]) -> dict[str, Any]:
    role_arn = data.get("role_arn")
    external_id = data.get("external_id")
    models = data.get("models", ["*"])
    actions = data.get("actions", list(DEFAULT_ACTIONS))
    if not isinstance(role_arn, str):
        raise ControlError(400, "role_arn (string) is required")
    if external_id is not None and not isinstance(external_id, str):
        raise ControlError(400, "external_id must be a string or null")
    if not isinstance(models, list):
        raise ControlError(400, "models must be a list of fnmatch patterns")
    if not isinstance(actions, list):
        raise ControlError(400, "actions must be a list of fnmatch patterns of IAM actions")
    # A permission policy document (sandbox.iam) replaces the model and action patterns.
    role = state.add_role(role_arn, external_id, models, actions, data.get("policy"))
    return {"role": role.to_json()}


def _delete_role(state: SandboxState, data: dict[str, Any]) -> dict[str, Any]:
    role_arn = data.get("role_arn")
    if not isinstance(role_arn, str):
        raise ControlError(400, "role_arn (string) is required")
    return {"deleted": state.remove_role(role_arn)}


def _put_fault(state: SandboxState, data: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(data) - set(_FAULT_FIELDS))
    if unknown:
        raise ControlError(400, f"unknown fault fields: {', '.join(unknown)}")
    for name, value in data.items():
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, _FAULT_FIELDS[name])
        ):
            raise ControlError(400, f"{name} has the wrong type")
    if "target" not in data or "mode" not in data:
        raise ControlError(400, "target and mode are required")
    fields = dict(data)
    fault = state.add_fault(fields.pop("target"), fields.pop("mode"), **fields)
    return {"fault": fault.to_json()}


def _clear_faults(state: SandboxState, data: dict[str, Any]) -> dict[str, Any]:
    state.clear_faults()
    return {"faults": []}


def _put_config(state: SandboxState, data: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(data) - set(state.config()))
    if unknown:
        raise ControlError(400, f"unknown config fields: {', '.join(unknown)}")
    return state.set_config(**data)


def _reset(state: SandboxState, data: dict[str, Any]) -> dict[str, Any]:
    state.reset()
    return {"reset": True}


def _expire_credentials(state: SandboxState, data: dict[str, Any]) -> dict[str, Any]:
    access_key_id = data.get("access_key_id")
    if access_key_id is not None and not isinstance(access_key_id, str):
        raise ControlError(400, "access_key_id must be a string or null")
    return {"expired": state.expire_credentials(access_key_id)}


_ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/_sandbox/health"): lambda state, data: {"ok": True},
    ("GET", "/_sandbox/roles"): lambda state, data: {"roles": state.roles()},
    ("PUT", "/_sandbox/roles"): _put_role,
    ("DELETE", "/_sandbox/roles"): _delete_role,
    ("GET", "/_sandbox/faults"): lambda state, data: {"faults": state.faults()},
    ("PUT", "/_sandbox/faults"): _put_fault,
    ("DELETE", "/_sandbox/faults"): _clear_faults,
    ("GET", "/_sandbox/config"): lambda state, data: state.config(),
    ("PUT", "/_sandbox/config"): _put_config,
    ("GET", "/_sandbox/stats"): lambda state, data: state.stats(),
    ("GET", "/_sandbox/requests"): lambda state, data: state.requests(),
    ("POST", "/_sandbox/reset"): _reset,
    ("POST", "/_sandbox/credentials/expire"): _expire_credentials,
}
