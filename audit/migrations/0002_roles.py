from django.db import migrations


def create_roles(apps, schema_editor):
    from audit.roles import ensure_roles

    ensure_roles(apps)
    apps.get_model("audit", "ChainHead").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("integrations", "0001_initial"),
        ("prompts_library", "0002_default_features"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
