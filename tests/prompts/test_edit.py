"""The edit page: the latest version's values, saving a new version, samples' line breaks."""

import pytest

from prompts_library.forms import PromptForm
from tests.prompts.fixtures import make_prompt
from tests.prompts.helpers import form_data


@pytest.mark.django_db
class TestEdit:
    def test_edit_shows_the_latest_version_and_saves_a_new_one(self, alice_client, alice, bob):
        prompt = make_prompt(alice)
        r = alice_client.get(f"/prompts/{prompt.pk}/edit/")
        assert "Sample: question" in r.text and "Say &quot;hi&quot;" in r.text
        data = form_data(prompt.integration, name="Renamed", change_note="shorter")
        alice_client.force_login(bob)
        r = alice_client.post(f"/prompts/{prompt.pk}/edit/", data)
        assert r.status_code == 302
        v2 = prompt.versions.get(number=2)
        assert (v2.author, v2.change_note) == (bob, "shorter")
        prompt.refresh_from_db()
        assert prompt.name == "Renamed" and prompt.published_version.number == 1

    def test_browser_line_breaks_in_samples_become_newlines(self, alice):
        prompt = make_prompt(alice)
        data = form_data(prompt.integration, sample_question="one\r\ntwo\r\n\r\nthree")
        form = PromptForm(data)
        assert form.is_valid(), form.errors
        assert form.content().samples["question"] == "one\ntwo\n\nthree"

    def test_a_saved_version_keeps_newlines(self, alice_client, alice):
        prompt = make_prompt(alice)
        data = form_data(prompt.integration, sample_question='a "b"\r\nc')
        assert alice_client.post(f"/prompts/{prompt.pk}/edit/", data).status_code == 302
        assert prompt.versions.get(number=2).samples["question"] == 'a "b"\nc'

    def test_the_edit_page_has_a_test_button_for_its_values(self, alice_client, alice):
        prompt = make_prompt(alice)
        page = alice_client.get(f"/prompts/{prompt.pk}/edit/").text
        assert f'hx-post="/prompts/{prompt.pk}/test/"' in page
        assert 'id="test-result"' in page
        assert "/static/js/prompts.js" in page

    def test_a_picked_response_path_prefills_the_edit_page(self, alice_client, alice):
        prompt = make_prompt(alice)
        page = alice_client.get(f"/prompts/{prompt.pk}/edit/?response_path=content[1].text").text
        assert 'value="content[1].text"' in page
