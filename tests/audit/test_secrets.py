"""Secrets at rest: key rotation, and a known secret never shows anywhere after Test + Save."""

import json
import logging
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from integrations import tasks
from integrations.models import BedrockModel, ConnectionTest
from tests.conftest import wait_for_test
from tests.integrations.fixtures import SECRET, SECRET_HEADERS, make_integration
from tests.integrations.helpers import form_data

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.mark.django_db
class TestRotation:
    def test_it_re_encrypts_every_secret_with_the_first_key(self, settings):
        old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
        settings.CONSOLE_ENCRYPTION_KEYS = [old]
        integration = make_integration(headers=SECRET_HEADERS)
        before = integration.headers[0]["ciphertext"]

        settings.CONSOLE_ENCRYPTION_KEYS = [new, old]
        # Old keys still decrypt before the rotation.
        assert integration.configuration().headers[0].value == SECRET
        call_command("rotate_encryption_keys")

        settings.CONSOLE_ENCRYPTION_KEYS = [new]  # the old key is gone
        for model in (BedrockModel, ConnectionTest):
            for row in model.objects.all():
                assert row.configuration().headers[0].value == SECRET
                assert row.headers[0]["ciphertext"] != before
        assert AuditEvent.objects.filter(object_repr="rotate_encryption_keys").exists()

    def test_an_unreadable_secret_stops_it_and_nothing_changes(self, settings):
        settings.CONSOLE_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
        integration = make_integration(headers=SECRET_HEADERS)
        settings.CONSOLE_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
        with pytest.raises(CommandError, match="Nothing was changed"):
            call_command("rotate_encryption_keys")
        integration.refresh_from_db()
        assert BedrockModel.objects.get().headers == integration.headers


@pytest.mark.django_db(transaction=True)
def test_a_secret_never_leaves_the_database(
    alice_client, sandbox, celery_worker, caplog, monkeypatch
):
    caplog.set_level(logging.DEBUG)
    sent = []
    original = tasks.run_connection_test.delay_on_commit

    def spy(*args, **kwargs):
        sent.append(json.dumps([args, kwargs], default=str))
        return original(*args, **kwargs)

    monkeypatch.setattr(tasks.run_connection_test, "delay_on_commit", spy)
    secret = dict(
        header_name=["X-Api-Key"],
        header_value=[SECRET],
        header_secret=["0"],
        header_keep=[""],
    )
    pages = [alice_client.post("/integrations/test/", form_data(**secret), **HTMX).text]
    test = wait_for_test(ConnectionTest.objects.get().pk)
    assert test.succeeded, test.error_message
    r = alice_client.post("/integrations/new/", form_data(**secret))
    assert r.status_code == 302
    integration = BedrockModel.objects.get()
    assert integration.configuration().headers[0].value == SECRET  # stored, encrypted

    urls = [
        "/",
        f"/integrations/{integration.pk}/",
        f"/integrations/{integration.pk}/edit/",
        f"/integrations/tests/{test.pk}/",
        "/prompts/export/",
        "/admin/integrations/bedrockmodel/",
        f"/admin/integrations/bedrockmodel/{integration.pk}/change/",
        f"/admin/integrations/connectiontest/{test.pk}/change/",
        "/admin/audit/auditevent/",
    ]
    for url in urls:
        response = alice_client.get(url)
        assert response.status_code == 200, url
        pages.append(response.content.decode())
    ids = [str(pk) for pk in AuditEvent.objects.values_list("pk", flat=True)]
    export = alice_client.post(
        "/admin/audit/auditevent/", {"action": "export_csv", "_selected_action": ids}
    )
    pages.append(b"".join(export.streaming_content).decode())

    for n, text in enumerate(pages):
        assert SECRET not in text, f"page {n}"
    assert sent and all(SECRET not in m for m in sent)
    assert SECRET not in caplog.text
    assert SECRET not in celery_worker.log_path.read_text(errors="replace")
    if not django_settings.REDIS_URL:
        broker = Path(django_settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]).parent
        for path in broker.rglob("*"):
            if path.is_file():
                assert SECRET.encode() not in path.read_bytes(), path
    audit_rows = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert SECRET not in audit_rows
