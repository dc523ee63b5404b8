# The outbox moves from campaigns to members, where every app may use it. This step only tells
# Django's model state that members owns the table campaigns created; no table changes here.

import django.db.models.deletion
import django.utils.timezone
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0007_invitation_requested_by"),
        ("campaigns", "0003_referral_refusal"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Message",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        ("campaign", models.CharField(max_length=60)),
                        ("occasion", models.CharField(max_length=60)),
                        ("kind", models.CharField(choices=[("transactional", "Service message"), ("marketing", "News and offers")], max_length=14)),
                        ("template", models.CharField(max_length=100)),
                        ("context", models.JSONField(blank=True, default=dict)),
                        ("to_email", models.EmailField(max_length=254)),
                        ("status", models.CharField(choices=[("pending", "Waiting"), ("sending", "Sending"), ("sent", "Sent"), ("failed", "Failed")], default="pending", max_length=8, verbose_name="status")),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("last_error", models.TextField(blank=True, verbose_name="error")),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("next_attempt_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        ("member", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="messages", to="members.member")),
                        ("shop", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="messages", to="members.shop")),
                    ],
                    options={
                        "db_table": "campaigns_message",
                        "ordering": ["-created_at"],
                        "indexes": [models.Index(fields=["status", "next_attempt_at"], name="message_due")],
                        "constraints": [models.UniqueConstraint(fields=("shop", "member", "campaign", "occasion"), name="one_message_per_campaign_member_occasion")],
                    },
                ),
            ],
        ),
    ]
