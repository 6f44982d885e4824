"""The console's own permissions: actions that are not a model's add, change, delete or view."""

from django.db import models


class Console(models.Model):
    """Holds the console's permissions (accounts.run_tests, …); it has no table and no rows.

    Roles (accounts.roles) grant these with the models' own permissions; views check them with
    accounts.roles.require and templates with perms.accounts.<codename>.
    """

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("run_tests", "Can run connection and prompt tests"),
            ("publish_prompts", "Can publish and roll back prompts"),
            ("manage_api_tokens", "Can create and revoke API tokens"),
            ("manage_users", "Can manage users and roles"),
        ]

    def __str__(self) -> str:
        return "console"
