"""Every numeric parameter a page or the admin reads, written every wrong way: a 400 or 404
page (or the parameter ignored), never a server error. The test client raises what a view
raises, so a 500 fails here with its traceback."""

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from config.params import parse_id, parse_int
from prompts_library.models import PromptTest
from tests.prompts.fixtures import make_prompt

CORPUS = [
    "²",  # superscript two: str.isdigit() says yes, int() says no
    "\u0661",  # Arabic-Indic one: int() reads it as 1
    "\uff11",  # fullwidth one
    "1²",
    "-1",
    "0",
    "",
    " 7",
    "1.5",
    "1e3",
    "0x10",
    "9223372036854775807",  # the largest bigint
    "9223372036854775808",
    "9" * 40,
    "1\x00",
]
ANSWERED = {200, 302, 400, 403, 404}


@pytest.fixture
def world(alice):
    prompt = make_prompt(alice)
    PromptTest.objects.create(prompt=prompt, version=prompt.published_version)
    return prompt


def test_the_helper_reads_ascii_digits_within_bounds():
    assert parse_int("42") == 42 and parse_id("9223372036854775807") == 2**63 - 1
    for raw in CORPUS[:11] + CORPUS[12:]:
        assert parse_id(raw) is None, raw
    assert parse_int("0") == 0 and parse_int("5", maximum=4) is None and parse_int(None) is None


@pytest.mark.django_db
@pytest.mark.parametrize("raw", CORPUS)
def test_console_pages(alice_client, world, raw):
    prompt, integration = world, world.integration
    gets = [
        ("/", {"page": raw}),
        ("/prompts/", {"page": raw}),
        ("/integrations/new/", {"provider": raw}),
        ("/prompts/new/", {"model": raw}),
        (f"/prompts/{prompt.pk}/compare/", {"a": raw}),
        (f"/prompts/{prompt.pk}/compare/", {"a": "1", "b": raw}),
        ("/usage/calls/", {"integration": raw, "prompt": raw, "token": raw}),
        ("/usage/calls/", {"after": f"2026-01-01T00:00:00+00:00_{raw}"}),
    ]
    for url, params in gets:
        r = alice_client.get(url, params)
        assert r.status_code in ANSWERED, (url, params, r.status_code)
    posts = [
        ("/integrations/test/", {"integration": raw}),
        ("/integrations/test/", {"header_name": "X-A", "header_keep": raw}),
        ("/prompts/assist/", {"integration": raw, "prompt": raw}),
        ("/prompts/assist/", {"integration": str(integration.pk), "prompt": raw}),
        (f"/prompts/{prompt.pk}/retest-on-model/", {"integration": raw}),
    ]
    for url, data in posts:
        r = alice_client.post(url, data)
        assert r.status_code in ANSWERED, (url, data, r.status_code)


@pytest.mark.django_db
@pytest.mark.parametrize("raw", CORPUS)
def test_the_api_content_length(client, world, raw):
    r = client.post(
        f"/api/v1/prompts/{world.slug}/invoke",
        "{}",
        content_type="application/json",
        CONTENT_LENGTH=raw,
        HTTP_AUTHORIZATION="Bearer bcp_nothing",
    )
    assert r.status_code in {400, 401, 413}, r.status_code


@pytest.mark.django_db
@pytest.mark.parametrize("raw", CORPUS)
def test_every_admin_page(alice_client, world, raw):
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        params = [{"p": raw}, {"o": raw}, {"q": raw}]
        for spec in model_admin.list_filter:
            name = spec if isinstance(spec, str) else getattr(spec, "parameter_name", None)
            if name is None:
                continue
            field = meta.get_field(name) if name in {f.name for f in meta.get_fields()} else None
            if field is not None and field.is_relation:
                params.append({f"{name}__id__exact": raw})
            else:
                params.append({name: raw})
        if meta.model_name == "auditevent":
            params += [{"object_id": raw}, {"object_id": raw, "object_type": "auth.user"}]
        for query in params:
            r = alice_client.get(changelist, query)
            assert r.status_code in ANSWERED, (changelist, query, r.status_code)
        for view in ("change", "delete", "history"):
            url = changelist + f"{raw}/{view}/" if raw else changelist + f"/{view}/"
            r = alice_client.get(url)
            assert r.status_code in ANSWERED, (url, r.status_code)
        for action in model_admin._get_base_actions():
            r = alice_client.post(
                changelist, {"action": action.name, ACTION_CHECKBOX_NAME: [raw], "index": raw}
            )
            assert r.status_code in ANSWERED, (changelist, action.name, r.status_code)
