"""The data migration that gives existing integrations an API model name."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("integrations", "0007_fallback_chain")]
AFTER = [("integrations", "0008_integration_api_name")]


def test_existing_integrations_get_derived_unique_names():
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(BEFORE)
        old = executor.loader.project_state(BEFORE).apps
        Provider = old.get_model("integrations", "Provider")
        BedrockModel = old.get_model("integrations", "BedrockModel")
        anthropic = Provider.objects.create(name="Bedrock Anthropic", external_id="x")
        dashed = Provider.objects.create(name="Bedrock-Anthropic", external_id="y")
        symbols = Provider.objects.create(name="!!!", external_id="z")
        for provider, name in ((anthropic, "Haiku"), (dashed, "Haiku"), (symbols, "???")):
            BedrockModel.objects.create(
                provider=provider, name=name, request_json="{}", fingerprint="f"
            )

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        new = executor.loader.project_state(AFTER).apps
        rows = new.get_model("integrations", "BedrockModel").objects.order_by("pk")
        assert list(rows.values_list("api_name", flat=True)) == [
            "bedrock-anthropic-haiku",
            "bedrock-anthropic-haiku-2",
            "model",
        ]
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(leaves)
