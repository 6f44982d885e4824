""""All prompts" becomes an explicit choice on a token, not the absence of a limit.

Tokens that had no prompts and no features allowed every prompt: they become explicit
all-prompts tokens, so that nothing a caller relies on changes. From here on a token whose
prompts and features are all deleted allows nothing.
"""

from django.db import migrations, models


def explicit_all_prompts(apps, schema_editor):
    ApiToken = apps.get_model("prompts_library", "ApiToken")
    ApiToken.objects.filter(prompts__isnull=True, features__isnull=True).update(all_prompts=True)


class Migration(migrations.Migration):
    dependencies = [("prompts_library", "0004_test_heartbeats")]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="all_prompts",
            field=models.BooleanField(default=False, verbose_name="All prompts"),
        ),
        migrations.RunPython(explicit_all_prompts, migrations.RunPython.noop),
    ]
