"""Campaigns save through their service; who was reached, refused referrals and the figures the
worker keeps are records: read-only."""

from django.contrib import admin

from members.admin_base import RecordAdmin

from . import services
from .models import (
    Campaign,
    CampaignFigures,
    CohortMonth,
    Event,
    EventSeries,
    Feedback,
    FeedbackSetup,
    MemberActivity,
    Reach,
    ReferralRefusal,
    RewardDay,
    Rsvp,
    ShopDay,
    StaffDay,
)


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


# The insights' roll-ups: counted by the nightly task, read-only here (insights_backfill counts
# them again).
@admin.register(ShopDay)
class ShopDayAdmin(RecordAdmin):
    list_display = ["day", "shop", "visits", "new_members", "computed_at"]
    list_select_related = ["shop"]


@admin.register(StaffDay)
class StaffDayAdmin(RecordAdmin):
    list_display = ["day", "shop", "staff", "visits", "stamps", "overrides", "undos"]
    list_select_related = ["shop", "staff"]


@admin.register(RewardDay)
class RewardDayAdmin(RecordAdmin):
    list_display = ["day", "shop", "reward", "redeemed"]
    list_select_related = ["shop", "reward"]


@admin.register(CohortMonth)
class CohortMonthAdmin(RecordAdmin):
    list_display = ["cohort", "month", "shop", "active"]
    list_select_related = ["shop"]


@admin.register(MemberActivity)
class MemberActivityAdmin(RecordAdmin):
    list_display = ["member", "shop", "segment", "last_visit", "visits_90", "visits_365"]
    list_select_related = ["member", "shop"]


@admin.register(FeedbackSetup)
class FeedbackSetupAdmin(admin.ModelAdmin):
    list_display = ["shop", "is_active", "flag_at"]
    list_select_related = ["shop"]


# A customer's own words and the shop's reply: nobody edits them here (an erasure empties them).
@admin.register(Feedback)
class FeedbackAdmin(RecordAdmin):
    list_display = ["created_at", "shop", "member", "rating", "flagged", "replied_at"]
    list_select_related = ["shop", "member"]
    list_filter = ["flagged"]


# Events change through their owner's pages (answers are counted against seats, members are told, the
# card holds them): read-only here, as members' answers and check-ins are.
@admin.register(Event)
class EventAdmin(RecordAdmin):
    list_display = ["starts_at", "title", "shop", "status", "capacity", "audience", "invited_at"]
    list_select_related = ["shop"]
    list_filter = ["status", "audience"]


@admin.register(EventSeries)
class EventSeriesAdmin(RecordAdmin):
    list_display = ["first_day", "shop", "rule"]
    list_select_related = ["shop"]


@admin.register(Rsvp)
class RsvpAdmin(RecordAdmin):
    list_display = ["responded_at", "event", "member", "status", "position", "walk_in", "checked_in_at"]
    list_select_related = ["event", "member"]
    list_filter = ["status", "walk_in"]
