"""Rendering: any value yields valid JSON with the value intact; bad templates are clear errors."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prompts_library.rendering import (
    RenderError,
    find_variables,
    parse,
    render,
    render_samples,
)

CLAUDE = """{
  "anthropic_version": "bedrock-2023-05-31",
  "max_tokens": {{max_tokens}},
  "system": "You help {{customer}}.",
  "messages": [{"role": "user", "content": "{{question}}"}]
}"""

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(st.text())
def test_any_string_value_round_trips_inside_a_string(value):
    body = json.loads(render('{"content": "{{q}}"}', {"q": value}))
    assert body == {"content": value}


@given(st.text(), st.text())
def test_values_round_trip_beside_template_text(a, b):
    body = json.loads(render('{"m": "<{{a}}|{{b}}>"}', {"a": a, "b": b}))
    assert body["m"] == f"<{a}|{b}>"


@given(json_values)
def test_any_json_value_round_trips_as_a_whole_value(value):
    body = json.loads(render('{"x": {{v}}, "y": [{{v}}]}', {"v": value}))
    assert body == {"x": value, "y": [value]}


@settings(max_examples=50)
@given(st.text(), st.integers(min_value=1, max_value=4096), st.text())
def test_a_realistic_template_renders_to_a_parseable_body(question, max_tokens, customer):
    body = json.loads(
        render(CLAUDE, {"question": question, "max_tokens": max_tokens, "customer": customer})
    )
    assert body["messages"][0]["content"] == question
    assert body["max_tokens"] == max_tokens
    assert body["system"] == f"You help {customer}."


@pytest.mark.parametrize(
    "value",
    [
        'He said "hi"',
        "back\\slash \\n not a newline",
        "line one\nline two\r\n\ttab",
        "{{not_a_variable}} and {{question}} stay as typed",
        "}} {{ { } ][",
        "emoji 🎉👩‍💻 and ünïcödé",
        "\u2028\u2029 separators",
        "a" * 100_000,
        "",
        "\\u0022 looks like an escape",
        "\ud800 lone surrogate",
    ],
)
def test_hard_values_stay_intact(value):
    rendered = render(CLAUDE, {"question": value, "max_tokens": 5, "customer": "acme"})
    rendered.encode("utf-8")
    assert json.loads(rendered)["messages"][0]["content"] == value


def test_a_value_is_never_substituted_again():
    body = json.loads(render('{"a": "{{x}} {{y}}"}', {"x": "{{y}}", "y": "Y"}))
    assert body["a"] == "{{y}} Y"


def test_a_typed_placeholder_takes_the_value_type():
    body = json.loads(render(CLAUDE, {"question": "q", "max_tokens": 256, "customer": "c"}))
    assert body["max_tokens"] == 256


def test_non_string_values_in_strings_are_written_as_json():
    body = json.loads(render('{"a": "n={{n}} ok={{ok}} l={{l}}"}', {"n": 3, "ok": True, "l": [1]}))
    assert body["a"] == "n=3 ok=true l=[1]"


def test_placeholders_in_keys_are_substituted():
    assert json.loads(render('{"{{k}}": 1}', {"k": 'we"ird'})) == {'we"ird': 1}


def test_spaces_inside_braces_are_allowed():
    assert json.loads(render('{"a": "{{ name }}", "b": {{ n }}}', {"name": "x", "n": 2})) == {
        "a": "x",
        "b": 2,
    }


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (CLAUDE, ["max_tokens", "customer", "question"]),
        ('{"a": "{{x}} {{y}} {{x}}"}', ["x", "y"]),
        ('{"a": "{{1x}} {{x-y}} {{ok_1}}"}', ["ok_1"]),
        ('{"a": "no variables"}', []),
        ('{"a": "{{x}}", "b": {{y}}', ["x", "y"]),  # not JSON yet: still found as the admin types
        ('{"a": "\\"{{q}}\\""}', ["q"]),
    ],
)
def test_find_variables(template, expected):
    assert find_variables(template) == expected


def test_typed_variables_are_known():
    assert parse(CLAUDE).typed == {"max_tokens"}


@pytest.mark.parametrize(
    ("template", "values", "code"),
    [
        ('{"a": "{{x}}"', {"x": "1"}, "invalid_template"),
        ("[1, 2]", {}, "invalid_template"),
        ('{"a": {{x}} }', {}, "missing_variable"),
        ('{"a": "{{x}}"}', {"x": "1", "y": "2"}, "unknown_variable"),
        ('{"a": {{x}} {{y}}}', {"x": 1, "y": 2}, "invalid_template"),
        ('{"a": NaN}', {}, "invalid_template"),
        ('{"a": {{x}}}', {"x": float("nan")}, "invalid_value"),
        ("{ {{k}}: 1 }", {"k": "a"}, "invalid_template"),
        ('{"a": ' + "[" * 100 + "]" * 100 + "}", {}, "invalid_template"),
    ],
)
def test_errors_are_clear(template, values, code):
    with pytest.raises(RenderError) as e:
        render(template, values)
    assert e.value.code == code
    assert e.value.message


def test_the_missing_message_names_the_variable():
    with pytest.raises(RenderError, match="question"):
        render(CLAUDE, {"max_tokens": 1, "customer": "c"})


def test_samples_are_typed_only_where_the_placeholder_is_a_whole_value():
    body = json.loads(
        render_samples(CLAUDE, {"max_tokens": "256", "question": "256", "customer": "x"})
    )
    assert body["max_tokens"] == 256
    assert body["messages"][0]["content"] == "256"
    body = json.loads(
        render_samples(CLAUDE, {"max_tokens": "lots", "question": "q", "customer": "x"})
    )
    assert body["max_tokens"] == "lots"


def test_one_template_rendered_again_and_again_keeps_no_earlier_value():
    # The parsed template serves every call of a published version: no call may see another's.
    first = json.loads(render(CLAUDE, {"max_tokens": 5, "customer": "Ann", "question": "a?"}))
    second = json.loads(
        render(CLAUDE, {"max_tokens": [1], "customer": "{{question}}", "question": "b"})
    )
    assert first["max_tokens"] == 5 and first["messages"][0]["content"] == "a?"
    assert second["max_tokens"] == [1] and second["system"] == "You help {{question}}."
    assert second["messages"][0]["content"] == "b"
    assert (
        json.loads(render(CLAUDE, {"max_tokens": 5, "customer": "Ann", "question": "a?"})) == first
    )
