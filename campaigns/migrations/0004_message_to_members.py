# The outbox's Message now belongs to members (see members 0008): state only, the table stays.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0003_referral_refusal"),
        ("members", "0008_message_from_campaigns"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="reach",
                    name="message",
                    field=models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="reach",
                        to="members.message",
                    ),
                ),
                migrations.DeleteModel(name="Message"),
            ],
        ),
    ]
