from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member, Shop, ShopScopedQuerySet


class Message(models.Model):
    """One e-mail to one member, written in the same transaction as the event that causes it.

    The unique constraint makes it at most one per (campaign, member, occasion):
    a retried job or a double event finds the row already there."""

    class Kind(models.TextChoices):
        TRANSACTIONAL = "transactional", _("Service message")
        MARKETING = "marketing", _("News and offers")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="messages")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="messages")
    campaign = models.CharField(max_length=60)
    occasion = models.CharField(max_length=60)
    kind = models.CharField(max_length=14, choices=Kind.choices)
    template = models.CharField(max_length=100)
    context = models.JSONField(default=dict, blank=True)
    to_email = models.EmailField()
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "member", "campaign", "occasion"], name="one_message_per_campaign_member_occasion"
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="message_due")]

    def __str__(self):
        return f"{self.campaign}/{self.occasion} to {self.to_email}: {self.status}"
