from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("prompts_library", "0006_merge_0005_test_credentials_0005_token_all_prompts")]

    operations = [
        migrations.AddField(
            model_name="promptversion",
            name="imported",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="promptversion",
            name="original_author",
            field=models.CharField(blank=True, max_length=150),
        ),
        migrations.AddField(
            model_name="promptversion",
            name="original_created",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
