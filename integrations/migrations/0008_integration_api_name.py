"""Each integration gets an API model name (the OpenAI-compatible API's `model`): existing rows
one derived from their provider and model names, deduplicated."""

from django.db import migrations, models
from django.utils.text import slugify


def name_existing(apps, schema_editor):
    BedrockModel = apps.get_model("integrations", "BedrockModel")
    taken: set[str] = set()
    for row in BedrockModel.objects.select_related("provider").order_by("pk"):
        # The rule of integrations.models.api_name_base, as it stood when this was written.
        base = slugify(f"{row.provider.name} {row.name}").lower()[:96].strip("-_") or "model"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name)
        row.api_name = name
        row.save(update_fields=["api_name"])


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0007_fallback_chain"),
    ]

    operations = [
        migrations.AddField(
            model_name="bedrockmodel",
            name="api_name",
            field=models.SlugField(
                db_index=False, max_length=100, null=True, verbose_name="API model name"
            ),
        ),
        migrations.RunPython(name_existing, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="bedrockmodel",
            name="api_name",
            field=models.SlugField(max_length=100, unique=True, verbose_name="API model name"),
        ),
    ]
