"""The audit review benchmark's trail is a valid chain, and every view it times answers with the
same number of queries however many events there are."""

import pytest

from audit import verify
from audit.models import GENESIS, AuditEvent, ChainHead
from bench import audit_review


@pytest.mark.django_db
def test_the_seeded_trail_verifies_and_views_keep_their_query_counts(
    alice_client, django_user_model, django_assert_num_queries
):
    AuditEvent.objects.all().delete()
    ChainHead.objects.update_or_create(pk=1, defaults={"last_hash": GENESIS})
    actors = [
        (u.pk, u.username)
        for u in [django_user_model.objects.create_user(f"actor{i}") for i in range(3)]
    ]
    assert audit_review.seed(200, actors) == 200
    state = verify.check()
    assert not state.is_broken and state.events_checked == 200

    event = AuditEvent.objects.filter(action="update").last()
    pages = [v for v in audit_review.views(actors[1][0], actors[1][1], event.pk) if "p" not in v[2]]
    counts = {
        name: audit_review.measure(alice_client, path, params, 1)["queries"]
        for name, path, params in pages
    }
    assert 0 < max(counts.values()) <= 12, counts
    audit_review.seed(600, actors)
    for name, path, params in pages:
        with django_assert_num_queries(counts[name]):
            assert alice_client.get(path, params).status_code == 200, name
