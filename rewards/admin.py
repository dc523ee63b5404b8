"""Operators see every model; configuration saves through the same services as the shop's pages,
and loyalty state (balances, the ledger, vouchers, purchases, memberships, tier history) is
read-only."""

from django.contrib import admin

from members.admin_base import RecordAdmin, StateAdmin

from . import services
from .models import (
    ApiKey,
    ApiRequest,
    CatalogueReward,
    Cause,
    Challenge,
    ChallengeCompletion,
    Contribution,
    ItemSold,
    LeaderboardSeat,
    LedgerEntry,
    MemberCard,
    Membership,
    MembershipPlan,
    MenuItem,
    PartnerOffer,
    PartnerRedemption,
    PlanPriceChange,
    PointsExpiryTerms,
    PointsRule,
    Purchase,
    StampProgram,
    Tier,
    TierChange,
    TierPolicy,
    TierTrial,
    Voucher,
    WalletDevice,
    WalletPass,
    WalletPush,
)


@admin.register(StampProgram)
class StampProgramAdmin(admin.ModelAdmin):
    list_display = ["name", "shop", "stamps_needed", "reward", "is_active"]
    list_select_related = ["shop"]

    def save_model(self, request, obj, form, change):
        services.program_save(program=obj, staff=request.user)


@admin.register(PointsRule)
class PointsRuleAdmin(admin.ModelAdmin):
    list_display = ["shop", "is_active", "points_per_step", "step_amount", "expiry", "expiry_months"]
    list_select_related = ["shop"]

    def save_model(self, request, obj, form, change):
        services.points_rule_save(rule=obj)


@admin.register(TierPolicy)
class TierPolicyAdmin(admin.ModelAdmin):
    list_display = ["shop", "basis", "window_months", "grace_days"]

    def save_model(self, request, obj, form, change):
        services.tier_settings_save(policy=obj)


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ["name", "shop", "threshold", "multiplier"]
    list_select_related = ["shop"]

    def save_model(self, request, obj, form, change):
        services.tier_settings_save(tier=obj)


@admin.register(CatalogueReward)
class CatalogueRewardAdmin(StateAdmin):
    list_display = ["name", "shop", "kind", "cost_points", "cost_stamps", "stock", "is_active"]
    list_select_related = ["shop"]
    # Stock goes down with each redemption and back up with its undo.
    state_fields = ("stock",)

    def save_model(self, request, obj, form, change):
        services.reward_save(reward=obj)


@admin.register(MemberCard)
class MemberCardAdmin(RecordAdmin):
    list_display = ["member", "program", "stamps"]
    list_select_related = ["member", "program"]


@admin.register(Voucher)
class VoucherAdmin(RecordAdmin):
    list_display = ["code", "title", "member", "status", "issued_at", "expires_at"]
    list_select_related = ["member"]
    search_fields = ["code"]
    list_filter = ["status"]


@admin.register(Purchase)
class PurchaseAdmin(RecordAdmin):
    list_display = ["created_at", "member", "amount", "points_earned", "points_spent", "refunded_amount"]
    list_select_related = ["member"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(RecordAdmin):
    list_display = ["created_at", "member", "reason", "stamps", "points", "staff"]
    list_select_related = ["member", "staff"]
    list_filter = ["reason"]


@admin.register(TierChange)
class TierChangeAdmin(RecordAdmin):
    list_display = ["created_at", "member", "from_tier", "to_tier", "reason"]
    list_select_related = ["member", "from_tier", "to_tier"]


@admin.register(TierTrial)
class TierTrialAdmin(RecordAdmin):
    list_display = ["member", "tier", "starts_at", "ends_at", "ended_at"]
    list_select_related = ["member", "tier"]


@admin.register(PointsExpiryTerms)
class PointsExpiryTermsAdmin(RecordAdmin):
    """History of the expiry rule: points keep the terms they were earned under."""

    list_display = ["shop", "expiry", "months", "valid_from"]
    list_select_related = ["shop"]


@admin.register(MembershipPlan)
class MembershipPlanAdmin(RecordAdmin):
    """Read-only until the shop's plan pages and their service exist: a plan's kind and items are
    what memberships were sold on."""

    list_display = ["name", "shop", "kind", "price", "period_months", "items", "status"]
    list_select_related = ["shop"]
    list_filter = ["kind", "status"]


@admin.register(PlanPriceChange)
class PlanPriceChangeAdmin(RecordAdmin):
    """A plan's scheduled new price and its invitations: scheduled and cancelled on the owner's plan
    pages, through their service."""

    list_display = ["plan", "shop", "old_price", "new_price", "starts_at", "invited", "applied_at", "cancelled_at"]
    list_select_related = ["plan", "shop"]


@admin.register(Membership)
class MembershipAdmin(RecordAdmin):
    list_display = ["member", "plan", "status", "items_left", "items_total", "starts_at", "ends_at", "price_paid"]
    list_select_related = ["member", "plan"]
    list_filter = ["status", "kind"]


@admin.register(Cause)
class CauseAdmin(RecordAdmin):
    """Set up on the shop's causes page, through its service; ``matched`` moves with gifts only."""

    list_display = ["name", "shop", "partner", "basis", "amount_per", "point_value", "match_limit", "status"]
    list_select_related = ["shop"]
    list_filter = ["status", "basis"]


@admin.register(Contribution)
class ContributionAdmin(RecordAdmin):
    list_display = ["created_at", "cause", "member", "kind", "amount", "points"]
    list_select_related = ["cause", "member"]
    list_filter = ["kind"]


@admin.register(Challenge)
class ChallengeAdmin(RecordAdmin):
    """Set up on the shop's challenges page, through its service."""

    list_display = ["name", "shop", "kind", "window", "target", "amount", "tag", "gift", "leaderboard", "status"]
    list_select_related = ["shop"]
    list_filter = ["status", "kind", "window"]


@admin.register(ChallengeCompletion)
class ChallengeCompletionAdmin(RecordAdmin):
    list_display = ["completed_at", "challenge", "member", "window_start", "revoked_at", "revoke_note"]
    list_select_related = ["challenge", "member"]
    list_filter = ["revoke_note"]


@admin.register(LeaderboardSeat)
class LeaderboardSeatAdmin(RecordAdmin):
    list_display = ["joined_at", "challenge", "nickname"]
    list_select_related = ["challenge"]


@admin.register(MenuItem)
class MenuItemAdmin(RecordAdmin):
    """Set up on the shop's menu page, through its service; items once sold stay."""

    list_display = ["name", "shop", "tag", "price", "is_active"]
    list_select_related = ["shop"]


@admin.register(ItemSold)
class ItemSoldAdmin(RecordAdmin):
    list_display = ["created_at", "member", "item"]
    list_select_related = ["member", "item"]


@admin.register(PartnerOffer)
class PartnerOfferAdmin(RecordAdmin):
    """Proposed, answered and ended by the two shops' owners on their partners page, through its service."""

    list_display = ["title", "members_shop", "partner_shop", "period", "status", "proposed_at", "ended_at"]
    list_select_related = ["members_shop", "partner_shop"]
    list_filter = ["status", "period"]


@admin.register(PartnerRedemption)
class PartnerRedemptionAdmin(RecordAdmin):
    list_display = ["redeemed_at", "offer", "member", "window_start", "undone_at"]
    list_select_related = ["offer", "member"]


@admin.register(WalletPass)
class WalletPassAdmin(RecordAdmin):
    list_display = ["created_at", "shop", "member", "kind", "updated_at", "revoked_at"]
    list_select_related = ["shop", "member"]
    list_filter = ["kind"]
    # What a wallet proves itself with stays out of sight.
    exclude = ["auth_token"]


@admin.register(WalletDevice)
class WalletDeviceAdmin(RecordAdmin):
    list_display = ["created_at", "wallet_pass"]
    list_select_related = ["wallet_pass"]
    exclude = ["push_token"]


@admin.register(WalletPush)
class WalletPushAdmin(RecordAdmin):
    list_display = ["created_at", "wallet_pass", "status", "attempts", "next_attempt_at", "sent_at", "last_error"]
    list_select_related = ["wallet_pass"]
    list_filter = ["status"]


@admin.register(ApiKey)
class ApiKeyAdmin(RecordAdmin):
    """Made and revoked by the shop's owner on its API keys page; the hash stays out of sight."""

    list_display = ["created_at", "shop", "name", "prefix", "scope", "last_used_at", "revoked_at"]
    list_select_related = ["shop"]
    list_filter = ["scope"]
    exclude = ["hash"]


@admin.register(ApiRequest)
class ApiRequestAdmin(RecordAdmin):
    list_display = ["created_at", "api_key", "idempotency_key", "status_code"]
    list_select_related = ["api_key"]
