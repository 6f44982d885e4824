from bedrock import families
from prompts_library import services
from prompts_library.models import Feature
from tests.integrations.fixtures import make_integration

CLAUDE_TEMPLATE = """{
  "anthropic_version": "bedrock-2023-05-31",
  "max_tokens": {{max_tokens}},
  "messages": [{"role": "user", "content": "{{question}}"}]
}"""
CLAUDE_PATH = families.FAMILIES["anthropic"].text_path


def content(**overrides) -> services.VersionContent:
    values = {
        "request_template": CLAUDE_TEMPLATE,
        "response_path": CLAUDE_PATH,
        "input_tokens_path": "usage.input_tokens",
        "output_tokens_path": "usage.output_tokens",
        "samples": {"max_tokens": "64", "question": 'Say "hi"\nto me'},
    }
    values.update(overrides)
    return services.VersionContent(**values)


def make_prompt(
    author=None, name="Support answer", integration=None, feature="Co-pilot", published=True, **kw
):
    prompt = services.create_prompt(
        name=name,
        integration=integration or make_integration(),
        feature=Feature.objects.get_or_create(name=feature)[0],
        content=content(**kw),
        author=author,
    )
    if published:
        services.publish(prompt, prompt.versions.get())
        prompt.refresh_from_db()
    return prompt
