"""The console's permissions were the audit app's (on AuditEvent); they are accounts.Console's.

On a database made before the move, each group and user that held audit.run_tests (and the
others) gets accounts.run_tests instead, and the stale audit permissions are deleted. On a
fresh database there is nothing to move: post_migrate makes the permissions and the roles.
"""

from django.db import migrations

MOVED = {
    "run_tests": "Can run connection and prompt tests",
    "publish_prompts": "Can publish and roll back prompts",
    "manage_api_tokens": "Can create and revoke API tokens",
    "manage_users": "Can manage users and roles",
}


def _move(apps, schema_editor, source, target):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    db = schema_editor.connection.alias
    old_type = ContentType.objects.using(db).filter(app_label=source[0], model=source[1]).first()
    if old_type is None:
        return
    olds = Permission.objects.using(db).filter(content_type=old_type, codename__in=MOVED)
    if not olds.exists():
        return
    new_type, _ = ContentType.objects.using(db).get_or_create(
        app_label=target[0], model=target[1]
    )
    for old in olds:
        new, _ = Permission.objects.using(db).get_or_create(
            content_type=new_type, codename=old.codename, defaults={"name": MOVED[old.codename]}
        )
        for group in old.group_set.all():
            group.permissions.add(new)
        for user in old.user_set.all():
            user.user_permissions.add(new)
        old.delete()


def forwards(apps, schema_editor):
    _move(apps, schema_editor, ("audit", "auditevent"), ("accounts", "console"))


def backwards(apps, schema_editor):
    _move(apps, schema_editor, ("accounts", "console"), ("audit", "auditevent"))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("audit", "0004_console_permissions_moved"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
