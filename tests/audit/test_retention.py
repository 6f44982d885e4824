"""Retention without breaking proof: archive old events to JSON Lines, leave a signed
checkpoint; the rest of the chain verifies, and so does the archive file against it."""

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from audit import recorder
from audit.models import GENESIS, AuditEvent, ChainHead, Checkpoint

A = AuditEvent.Action


@pytest.fixture
def trail(monkeypatch):
    """Five events from 40 days ago, then three from now, on a chain of their own."""
    AuditEvent.objects.all().delete()
    ChainHead.objects.update_or_create(pk=1, defaults={"last_hash": GENESIS})
    real_now = timezone.now
    then = real_now() - dt.timedelta(days=40)
    with monkeypatch.context() as m:
        m.setattr(timezone, "now", lambda: then)
        old = [
            recorder.record(
                A.UPDATE,
                object_type="integrations.provider",
                object_id=str(i),
                object_repr=f"old {i}",
            )
            for i in range(5)
        ]
    new = [
        recorder.record(
            A.UPDATE, object_type="integrations.provider", object_id=str(i), object_repr=f"new {i}"
        )
        for i in range(3)
    ]
    return old, new


def archive(tmp_path, capsys, days=30):
    call_command("archive_audit_trail", days=days, dir=tmp_path)
    return capsys.readouterr().out


@pytest.mark.django_db
def test_archive_then_verify(trail, tmp_path, capsys):
    old, new = trail
    out = archive(tmp_path, capsys)
    assert f"Archived 5 events (#{old[0].pk} to #{old[-1].pk})" in out
    files = list(tmp_path.glob("*.jsonl"))
    assert [f.name for f in files] == [f"audit-{old[0].pk}-{old[-1].pk}.jsonl"]
    lines = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert [line["id"] for line in lines] == [e.pk for e in old]
    assert list(AuditEvent.objects.order_by("id").values_list("id", flat=True)) == [
        e.pk for e in new
    ]
    checkpoint = Checkpoint.objects.get()
    assert checkpoint.last_hash == old[-1].hash and checkpoint.events == 5

    call_command("verify_audit_chain")  # the rest verifies from the checkpoint
    assert "Audit chain intact: 3 events." in capsys.readouterr().out
    call_command("verify_audit_chain", "--archive", str(files[0]))
    assert "Archive intact: 5 events" in capsys.readouterr().out
    # Nothing older is left to archive; newer events are kept.
    assert "No audit events older than 30 days." in archive(tmp_path, capsys)


@pytest.mark.django_db
def test_a_changed_archive_or_checkpoint_is_named(trail, tmp_path, capsys):
    old, _ = trail
    archive(tmp_path, capsys)
    path = next(tmp_path.glob("*.jsonl"))
    original = path.read_text()
    path.write_text(original.replace('"old 2"', '"forged"'))
    with pytest.raises(
        CommandError, match=f"line 3 \\(event #{old[2].pk}\\) does not match its hash"
    ):
        call_command("verify_audit_chain", "--archive", str(path))
    lines = original.splitlines(keepends=True)
    path.write_text("".join(lines[:2] + lines[3:]))  # one event removed
    with pytest.raises(CommandError, match="does not follow the line before it"):
        call_command("verify_audit_chain", "--archive", str(path))
    path.write_text("".join(lines[:-1]))  # cut short
    with pytest.raises(CommandError, match="no checkpoint ends with its last event"):
        call_command("verify_audit_chain", "--archive", str(path))

    path.write_text(original)
    # Someone with the database, but not SECRET_KEY, moves the chain's start.
    Checkpoint.objects.update(events=4)
    with pytest.raises(CommandError, match="not validly signed"):
        call_command("verify_audit_chain")
    with pytest.raises(CommandError, match="signature is not valid"):
        call_command("verify_audit_chain", "--archive", str(path))


@pytest.mark.django_db
def test_keep_forever_by_default(settings, trail, tmp_path):
    assert settings.AUDIT_RETENTION_DAYS is None
    with pytest.raises(CommandError, match="keep forever"):
        call_command("archive_audit_trail", dir=tmp_path)
    assert "archive-audit-trail" not in settings.CELERY_BEAT_SCHEDULE
    from audit.tasks import archive_audit_trail

    assert archive_audit_trail() == 0 and AuditEvent.objects.count() == 8


@pytest.mark.django_db
def test_the_task_archives_with_the_setting(settings, trail, tmp_path):
    settings.AUDIT_RETENTION_DAYS = 30
    settings.AUDIT_ARCHIVE_DIR = tmp_path
    from audit.tasks import archive_audit_trail

    assert archive_audit_trail() == 5
    assert AuditEvent.objects.count() == 3 and len(list(tmp_path.glob("*.jsonl"))) == 1
