"""What the sandbox's model says: a deterministic echo, cut by max tokens and stop sequences.

Every operation (InvokeModel, Converse and both streams) answers through ``generate``, so the
streamed words of a request always join into exactly the text its non-streamed call returns.
A token is a word here: the answer is split into words, each keeping the whitespace before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REPLY_PREFIX = "Hello from the Bedrock sandbox. You said: "
_WORD_RE = re.compile(r"\s*\S+")


@dataclass(frozen=True, slots=True)
class Prompt:
    text: str  # everything the model reads: its words are the input tokens
    user_text: str  # the last user turn, which the answer echoes
    max_tokens: int | None = None
    stop_sequences: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Generation:
    pieces: tuple[str, ...]  # the answer word by word; "".join(pieces) is the whole text
    input_tokens: int
    stop: str  # Converse's name: "end_turn", "max_tokens", "stop_sequence" (or "tool_use")
    stop_sequence: str | None = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def output_tokens(self) -> int:
        return len(self.pieces)


def generate(prompt: Prompt) -> Generation:
    reply = REPLY_PREFIX + prompt.user_text
    stop, matched = "end_turn", None
    found = _first_stop_sequence(reply, prompt.stop_sequences)
    if found is not None:
        index, matched = found
        reply, stop = reply[:index], "stop_sequence"
    pieces = split_words(reply)
    if prompt.max_tokens is not None and len(pieces) > prompt.max_tokens:
        pieces, stop, matched = pieces[: prompt.max_tokens], "max_tokens", None
    return Generation(tuple(pieces), count_tokens(prompt.text), stop, matched)


def split_words(text: str) -> list[str]:
    """``text`` as words with their leading whitespace; trailing whitespace joins the last."""
    pieces = _WORD_RE.findall(text)
    tail = text[sum(map(len, pieces)) :]
    if tail:
        if pieces:
            pieces[-1] += tail
        else:
            pieces.append(tail)
    return pieces


def count_tokens(text: str) -> int:
    return len(text.split())


def _first_stop_sequence(text: str, sequences: tuple[str, ...]) -> tuple[int, str] | None:
    hits = [(text.find(seq), seq) for seq in sequences if seq and seq in text]
    return min(hits) if hits else None
