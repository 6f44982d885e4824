from django.db import migrations

DEFAULT_FEATURES = ["Co-pilot", "Dynamic Conversations"]


def create_features(apps, schema_editor):
    Feature = apps.get_model("prompts_library", "Feature")
    for name in DEFAULT_FEATURES:
        Feature.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("prompts_library", "0001_initial")]

    operations = [migrations.RunPython(create_features, migrations.RunPython.noop)]
