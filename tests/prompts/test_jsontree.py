"""The raw response as a tree: every leaf carries a JMESPath that finds exactly that leaf."""

import json
from html.parser import HTMLParser

import jmespath
import pytest
from hypothesis import given
from hypothesis import strategies as st

from prompts_library import jsontree
from tests.unit.test_families import RESPONSES

AWKWARD = {
    "a b": {"x-y": [1, {"": "empty key", "null": None, "true": True, 'q"\\\n\té😀': "v"}]},
    "1st": "starts with a digit",
    "_ok": [["nested"], []],
    "or": 3.5,
    "\u0001": "control",
    "empty": {},
}


def assert_round_trip(data):
    found = list(jsontree.leaves(data))
    for path, value in found:
        got = jmespath.search(path, data)
        assert got == value and type(got) is type(value), (path, value, got)
    return found


@pytest.mark.parametrize("family", sorted(RESPONSES))
def test_every_leaf_of_each_familys_response_round_trips(family):
    found = assert_round_trip(RESPONSES[family])
    assert any(value == "Hello!" for _, value in found)


def test_keys_that_are_not_identifiers_are_quoted():
    paths = dict((v, p) for p, v in assert_round_trip(AWKWARD) if isinstance(v, str))
    assert paths["empty key"] == '"a b"."x-y"[1].""'
    assert paths["starts with a digit"] == '"1st"'
    assert paths["nested"] == "_ok[0][0]"
    assert paths["control"] == '"\\u0001"'


def test_the_text_a_family_extracts_is_found_by_the_clicked_path():
    paths = {p for p, v in jsontree.leaves(RESPONSES["anthropic"]) if v == "Hello!"}
    assert paths == {"content[1].text"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_any_document_round_trips(data):
    assert_round_trip({"root": data})


class Leaves(HTMLParser):
    def __init__(self):
        super().__init__()
        self.buttons: list[tuple[str, str]] = []
        self._path = None

    def handle_starttag(self, tag, attrs):
        if tag == "button":
            self._path = dict(attrs)["data-path"]
            self.buttons.append((self._path, ""))

    def handle_data(self, data):
        if self._path is not None:
            path, text = self.buttons[-1]
            self.buttons[-1] = (path, text + data)

    def handle_endtag(self, tag):
        if tag == "button":
            self._path = None


@pytest.mark.parametrize("data", [AWKWARD, *RESPONSES.values()])
def test_the_html_tree_has_a_button_per_leaf_with_its_path(data):
    parser = Leaves()
    parser.feed(str(jsontree.render(data)))
    assert len(parser.buttons) == len(list(jsontree.leaves(data)))
    for path, text in parser.buttons:
        assert jmespath.search(path, data) == json.loads(text)


def test_html_in_a_value_is_escaped():
    html = str(jsontree.render({"<b>": "<script>alert(1)</script>"}))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'data-path="&quot;&lt;b&gt;&quot;"' in html


def test_a_response_that_is_not_json_stays_raw_text():
    html = str(jsontree.render_raw("<html>oops</html>"))
    assert html.startswith('<pre class="code">') and "&lt;html&gt;" in html
    assert 'class="json-tree"' in str(jsontree.render_raw('{"a": 1}'))
    assert 'class="json-tree"' not in str(jsontree.render_raw('"just a string"'))
