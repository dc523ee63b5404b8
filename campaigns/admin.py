"""Campaigns save through their service; who was reached, refused referrals and the figures the
worker keeps are records: read-only."""

from django.contrib import admin

from members.admin_base import RecordAdmin

from . import services
from .models import Campaign, CampaignFigures, Reach, ReferralRefusal


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


@admin.register(CampaignFigures)
class CampaignFiguresAdmin(RecordAdmin):
    list_display = ["campaign", "computed_at"]
    list_select_related = ["campaign"]
