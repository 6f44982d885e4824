"""The console's permissions moved from the audit app to accounts.Console: on a fresh database
and on one made before the move, groups and users hold the same rights afterwards."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command

from accounts.roles import ROLES

MOVED = ("run_tests", "publish_prompts", "manage_api_tokens", "manage_users")


def _perms(holder) -> set[str]:
    rows = holder.permissions if isinstance(holder, Group) else holder.user_permissions
    return {f"{p.content_type.app_label}.{p.codename}" for p in rows.all()}


@pytest.mark.django_db
def test_a_fresh_database_has_only_the_new_permissions():
    stale = Permission.objects.filter(content_type__app_label="audit", codename__in=MOVED)
    assert not stale.exists()
    assert Permission.objects.filter(content_type__app_label="accounts").count() == len(MOVED)
    assert "audit.export_audit" in _perms(Group.objects.get(name="Administrator"))
    for name, perms in ROLES.items():
        assert _perms(Group.objects.get(name=name)) == set(perms)


@pytest.mark.django_db(transaction=True)
def test_an_existing_database_keeps_what_its_groups_and_users_held(django_user_model):
    # Back to the schema before the move, with the permissions as they were then.
    call_command("migrate", "accounts", "zero", verbosity=0)
    call_command("migrate", "audit", "0003", verbosity=0)
    Permission.objects.filter(content_type__app_label="accounts").delete()
    old_type, _ = ContentType.objects.get_or_create(app_label="audit", model="auditevent")
    old = {
        codename: Permission.objects.get_or_create(
            content_type=old_type, codename=codename, defaults={"name": codename}
        )[0]
        for codename in MOVED
    }
    testers = Group.objects.create(name="Testers")  # a group the roles do not manage
    testers.permissions.add(old["run_tests"])
    erin = django_user_model.objects.create_user("erin", password="erin-password-long")
    erin.user_permissions.add(old["publish_prompts"])

    call_command("migrate", verbosity=0)

    assert not Permission.objects.filter(content_type__app_label="audit", codename__in=MOVED)
    assert _perms(testers) == {"accounts.run_tests"}
    assert _perms(erin) == {"accounts.publish_prompts"}
    erin = django_user_model.objects.get(pk=erin.pk)  # a fresh permission cache
    assert erin.has_perm("accounts.publish_prompts")
    assert "accounts.run_tests" in _perms(Group.objects.get(name="Editor"))
