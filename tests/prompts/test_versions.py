"""Versions: every save is a new immutable version; publish and rollback only add history."""

import pytest

from prompts_library import services
from prompts_library.models import Feature, PromptVersion, VersionImmutable
from tests.prompts.fixtures import content, make_prompt


@pytest.mark.django_db
class TestVersions:
    def test_the_default_features_exist(self):
        assert set(Feature.objects.values_list("name", flat=True)) >= {
            "Co-pilot",
            "Dynamic Conversations",
        }

    def test_creating_a_prompt_creates_version_one_with_a_slug(self, alice):
        prompt = make_prompt(alice, published=False)
        v = prompt.versions.get()
        assert (v.number, v.author, prompt.slug) == (1, alice, "support-answer")
        assert prompt.published_version is None

    def test_slugs_are_unique_and_never_just_digits(self, alice):
        a = make_prompt(alice)
        b = make_prompt(alice, integration=a.integration)
        c = make_prompt(alice, name="2024", integration=a.integration)
        assert (a.slug, b.slug, c.slug) == ("support-answer", "support-answer-2", "prompt-2024")

    def test_every_save_makes_a_new_version(self, alice, bob):
        prompt = make_prompt(alice)
        v2 = services.update_prompt(
            prompt,
            name="Renamed",
            integration=prompt.integration,
            feature=prompt.feature,
            content=content(response_path="content[0].text"),
            author=bob,
            change_note="simpler path",
        )
        assert (v2.number, v2.author, v2.change_note) == (2, bob, "simpler path")
        prompt.refresh_from_db()
        assert prompt.name == "Renamed"
        assert prompt.published_version.number == 1

    def test_samples_of_variables_no_longer_in_the_template_are_dropped(self, alice):
        prompt = make_prompt(alice)
        v = services.save_version(
            prompt,
            content(request_template='{"a": "{{question}}"}', samples={"question": "q", "x": "1"}),
            alice,
        )
        assert v.samples == {"question": "q"}

    def test_a_version_cannot_be_changed(self, alice):
        v = make_prompt(alice).versions.get()
        v.response_path = "other"
        with pytest.raises(VersionImmutable):
            v.save()
        assert PromptVersion.objects.get(pk=v.pk).response_path != "other"

    def test_rollback_publishes_the_old_content_as_a_new_version(self, alice, bob):
        prompt = make_prompt(alice)
        v1 = prompt.versions.get()
        v2 = services.save_version(prompt, content(response_path="x"), alice)
        services.publish(prompt, v2)
        v3 = services.rollback(prompt, v1, bob)
        prompt.refresh_from_db()
        assert prompt.published_version == v3
        assert (v3.number, v3.response_path, v3.author) == (3, v1.response_path, bob)
        assert v3.change_note == "Rollback to version 1"
        assert prompt.versions.count() == 3

    def test_publishing_another_prompts_version_is_refused(self, alice):
        a = make_prompt(alice)
        b = make_prompt(alice, integration=a.integration)
        with pytest.raises(ValueError):
            services.publish(a, b.versions.get())
