"""config.journal.dumps: an entry's text holds no NUL character, and nothing else is lost."""

import json

from config.journal import dumps


def test_it_drops_nul_characters():
    assert json.loads(dumps(["a\x00b", {"k": "\x00"}])) == ["ab", {"k": ""}]


def test_text_that_reads_like_the_escape_stays():
    values = ["a\\u0000b", "\\\\u0000", "\\\x00", "x\\\\\x00y"]
    assert json.loads(dumps(values)) == ["a\\u0000b", "\\\\u0000", "\\", "x\\\\y"]
