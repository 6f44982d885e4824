from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from accounts import login_events, roles

        # After every migrate (and every flush), the roles hold exactly the permissions that
        # accounts.roles.ROLES names, whichever app defines them.
        post_migrate.connect(roles.sync_roles, sender=self, dispatch_uid="accounts-sync-roles")
        login_events.connect()
