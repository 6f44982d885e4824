from django.db import migrations


def create_chain_head(apps, schema_editor):
    # This migration used to make the roles too; they are now kept in step with the code by a
    # post_migrate handler (accounts.roles.sync_roles) after every migrate.
    apps.get_model("audit", "ChainHead").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("integrations", "0001_initial"),
        ("prompts_library", "0002_default_features"),
    ]

    operations = [migrations.RunPython(create_chain_head, migrations.RunPython.noop)]
