"""Campaigns save through their service; who was reached, refused referrals and the outbox are
records: read-only, with "send again" for failed messages through the outbox service."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from members.admin_base import RecordAdmin

from . import outbox, services
from .models import Campaign, Message, Reach, ReferralRefusal


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "shop", "kind", "is_active", "starts_at", "ends_at"]
    list_select_related = ["shop"]
    list_filter = ["kind", "is_active"]

    def save_model(self, request, obj, form, change):
        services.campaign_save(campaign=obj)


@admin.register(Reach)
class ReachAdmin(RecordAdmin):
    list_display = ["created_at", "campaign", "member", "occasion", "held_out"]
    list_select_related = ["campaign", "member"]


@admin.register(ReferralRefusal)
class ReferralRefusalAdmin(RecordAdmin):
    list_display = ["created_at", "campaign", "friend", "referrer", "reason"]
    list_select_related = ["campaign", "friend", "referrer"]


@admin.register(Message)
class MessageAdmin(RecordAdmin):
    list_display = ["created_at", "member", "campaign", "status", "attempts", "sent_at"]
    list_select_related = ["member"]
    list_filter = ["status"]
    actions = ["send_again"]

    @admin.action(description=_("Send the failed messages again"))
    def send_again(self, request, queryset):
        sent = sum(outbox.message_retry(message_id=pk) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, _("%(count)d message(s) queued again.") % {"count": sent})
