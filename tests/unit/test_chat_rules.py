"""gateway.chat: OpenAI chat completions requests checked and translated to Converse."""

import pytest

from gateway import chat

HI = [{"role": "user", "content": "Hi"}]


def parse(**body):
    return chat.parse({"model": "m", "messages": HI, **body})


def test_a_minimal_request_becomes_a_converse_request():
    checked = parse()
    assert checked.model == "m" and not checked.stream
    assert checked.converse == {"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}


def test_system_and_developer_messages_become_system_blocks_and_neighbours_join():
    checked = parse(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Be kind."}]},
            {"role": "user", "content": "One"},
            {"role": "user", "content": "Two"},
            {"role": "assistant", "content": "Three"},
            {"role": "user", "content": "Four"},
        ]
    )
    assert checked.converse["system"] == [{"text": "Be brief."}, {"text": "Be kind."}]
    assert [(m["role"], len(m["content"])) for m in checked.converse["messages"]] == [
        ("user", 2),
        ("assistant", 1),
        ("user", 1),
    ]


def test_inference_settings_and_user_are_translated():
    checked = parse(
        max_tokens=10, temperature=0, top_p=1, stop="END", user="u1", n=1, logprobs=False
    )
    assert checked.converse["inferenceConfig"] == {
        "maxTokens": 10,
        "temperature": 0,
        "topP": 1,
        "stopSequences": ["END"],
    }
    assert checked.converse["requestMetadata"] == {"user": "u1"}


def test_null_means_not_given():
    assert parse(max_tokens=None, temperature=None, tools=None, stop=None).converse == {
        "messages": [{"role": "user", "content": [{"text": "Hi"}]}]
    }


def test_stream_options_go_with_stream():
    checked = parse(stream=True, stream_options={"include_usage": True})
    assert checked.stream and checked.include_usage


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": ""}, "model"),
        ({"model": 3}, "model"),
        ({"messages": "Hi"}, "messages"),
        ({"messages": [{"role": "assistant", "content": "Hi"}]}, "messages"),
        ({"messages": [{"role": "system", "content": "Only this"}]}, "messages"),
        ({"messages": [{"role": "user", "content": ""}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": None}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": "x", "name": "bob"}]}, "messages[0].name"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "assistant", "tool_calls": [{}]}]}, "messages[0].tool_calls"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"max_tokens": 2**31}, "max_tokens"),
        ({"max_completion_tokens": 10**30}, "max_completion_tokens"),
        ({"max_tokens": 5, "max_completion_tokens": 6}, "max_tokens"),
        ({"temperature": "hot"}, "temperature"),
        ({"top_p": 2}, "top_p"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"stop": [""]}, "stop"),
        ({"stream": "yes"}, "stream"),
        ({"stream": True, "stream_options": {"other": 1}}, "stream_options"),
        ({"user": "x" * 257}, "user"),
        ({"seed": 1}, "seed"),
        ({"tool_choice": "auto"}, "tool_choice"),
        ({"frequency_penalty": 0.5}, "frequency_penalty"),
        ({"n": 3}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"response_format": {"type": "json_schema"}}, "response_format"),
        ({"unknown_thing": 1}, "unknown_thing"),
    ],
)
def test_what_it_cannot_serve_is_refused_with_its_parameter(body, param):
    with pytest.raises(chat.ChatError) as raised:
        chat.parse({"model": "m", "messages": HI, **body})
    assert raised.value.param == param and raised.value.message


def test_a_body_that_is_not_an_object_is_refused():
    with pytest.raises(chat.ChatError):
        chat.parse([])


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("content_filtered", "content_filter"),
        ("guardrail_intervened", "content_filter"),
        ("tool_use", "tool_calls"),
        (None, "stop"),
    ],
)
def test_stop_reasons_map_to_finish_reasons(stop, finish):
    assert chat.finish_reason(stop) == finish


def test_chunks_carry_usage_only_when_asked():
    answer = chat.Answer("m")
    assert "usage" not in answer.chunk(delta={"content": "x"})
    assert answer.chunk(delta={"content": "x"}, include_usage=True)["usage"] is None
    last = answer.chunk(tokens=chat.usage(3, 4), include_usage=True)
    assert last["choices"] == [] and last["usage"]["total_tokens"] == 7
