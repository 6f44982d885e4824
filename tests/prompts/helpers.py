"""What the prompts library's tests share: the prompt form's values and a populated console."""

import json

from integrations.models import BedrockModel, ConnectionTest, Provider, load_headers
from prompts_library import services
from prompts_library.models import ApiToken, Feature, Prompt, PromptTest, PromptVersion
from tests.integrations.fixtures import SECRET_HEADERS, make_integration
from tests.prompts.fixtures import CLAUDE_PATH, CLAUDE_TEMPLATE, content, make_prompt

HTMX = {"HTTP_HX_REQUEST": "true"}


def form_data(integration, **overrides):
    data = {
        "name": "Support answer",
        "integration": integration.pk,
        "feature": Feature.objects.get(name="Co-pilot").pk,
        "request_template": CLAUDE_TEMPLATE,
        "response_path": CLAUDE_PATH,
        "input_tokens_path": "usage.input_tokens",
        "output_tokens_path": "usage.output_tokens",
        "sample_question": 'Say "hi"',
        "sample_max_tokens": "64",
        "change_note": "",
    }
    data.update(overrides)
    return data


def populate(author):
    haiku = make_integration(headers=SECRET_HEADERS)
    titan = make_integration(provider="Titan Corp", name="Express", tested=False)
    first = make_prompt(author, name="Support answer", integration=haiku)
    services.save_version(
        first,
        content(request_template='{"prompt": "{{q}}"}', samples={"q": 'a "quote"\nand more'}),
        author,
        "Second take",
    )
    make_prompt(
        None, name="Summary", integration=titan, feature="Dynamic Conversations", published=False
    )
    Feature.objects.create(name="Unused feature")
    ApiToken.issue("ci", created_by=author, all_prompts=True)
    return haiku


def snapshot() -> dict:
    """Everything the export should reproduce, without ids and without secret values."""
    return {
        "providers": sorted((p.name, p.external_id) for p in Provider.objects.all()),
        "integrations": sorted(
            (
                str(i),
                i.role_arn,
                i.sts_endpoint,
                i.external_id,
                i.model_id,
                i.endpoint,
                i.request_json,
                tuple((h.name, h.value) for h in load_headers(i.headers) if not h.secret),
            )
            for i in BedrockModel.objects.select_related("provider")
        ),
        "features": sorted(Feature.objects.values_list("name", flat=True)),
        "prompts": sorted(
            (
                p.name,
                p.slug,
                str(p.integration),
                p.feature.name,
                p.published_version.number if p.published_version else None,
                tuple(
                    (
                        v.number,
                        v.request_template,
                        v.response_path,
                        v.input_tokens_path,
                        v.output_tokens_path,
                        json.dumps(v.samples, sort_keys=True),
                        v.change_note,
                        # The history a version shows: an imported one's is what its file said.
                        (v.original_author or None)
                        if v.imported
                        else (v.author and v.author.username),
                        (v.original_created or v.created).isoformat(),
                    )
                    for v in p.versions.order_by("number")
                ),
            )
            for p in Prompt.objects.select_related("integration__provider", "feature")
        ),
    }


def wipe() -> None:
    Prompt.objects.update(published_version=None)
    PromptTest.objects.all().delete()
    ApiToken.objects.all().delete()
    Prompt.objects.all().delete()
    BedrockModel.objects.update(last_test=None)
    ConnectionTest.objects.all().delete()
    BedrockModel.objects.all().delete()
    Provider.objects.all().delete()
    Feature.objects.all().delete()


def counts() -> tuple[int, ...]:
    return (
        Provider.objects.count(),
        BedrockModel.objects.count(),
        Feature.objects.count(),
        Prompt.objects.count(),
        PromptVersion.objects.count(),
    )


def assert_refused_without_a_role(client, charlie, url):
    """Strangers are sent to log in; charlie, signed in without a role, is refused."""
    assert client.get(url).status_code == 302
    client.force_login(charlie)
    r = client.get(url)
    assert r.status_code == 403
    r = client.post(url)
    assert r.status_code in (403, 405)
