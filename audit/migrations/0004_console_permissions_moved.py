# The console permissions other than export_audit moved to accounts.Console.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0003_pending_events'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='auditevent',
            options={'ordering': ['-id'], 'permissions': [('export_audit', 'Can export the audit trail')], 'verbose_name': 'audit event'},
        ),
    ]
