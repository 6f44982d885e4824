"""Prepare the embedded demo: a staff login and one integration that points at the sandbox."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from audit import recorder
from bedrock import families
from integrations import services
from integrations.models import BedrockModel, Configuration
from sandbox import DEMO_EXTERNAL_ID, DEMO_MODEL_ID, DEMO_ROLE_ARN


class Command(BaseCommand):
    help = "Create the demo admin login and the sandbox integration (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--sandbox-url", default="http://127.0.0.1:4599")
        parser.add_argument("--username", default="admin")

    def handle(self, *args, sandbox_url: str, username: str, **options):
        User = get_user_model()
        password = secrets.token_urlsafe(12)
        with transaction.atomic():
            user = User.objects.filter(username=username).first()
            before = recorder.snapshot(user) if user is not None else None
            user = user or User(username=username)
            user.set_password(password)
            user.is_staff = user.is_superuser = True
            user.save()
            recorder.record_saved(user, before)
        if not BedrockModel.objects.filter(name="Claude 3 Haiku (sandbox)").exists():
            services.save_integration(
                provider_name="Bedrock Sandbox",
                model_name="Claude 3 Haiku (sandbox)",
                config=Configuration(
                    role_arn=DEMO_ROLE_ARN,
                    sts_endpoint=sandbox_url,
                    external_id=DEMO_EXTERNAL_ID,
                    model_id=DEMO_MODEL_ID,
                    endpoint=sandbox_url,
                    headers=(),
                    request_json=families.default_request_json(families.FAMILIES["anthropic"]),
                ),
                require_test=False,
            )
        self.stdout.write(f"Demo login: {username} / {password}")
