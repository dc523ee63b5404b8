from allauth.socialaccount.models import SocialApp, SocialToken
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from . import outbox
from .admin_base import RecordAdmin, StateAdmin
from .models import (
    AuditEntry,
    DataDownload,
    Invitation,
    LineChannel,
    LineFollower,
    LineLinkCode,
    Member,
    MemberImport,
    MemberMerge,
    Message,
    SetupStep,
    Shop,
    ShopExport,
    StaffMember,
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

# LINE Login's app comes from the settings (LINE_LOGIN_CHANNEL_ID/_SECRET): a second one added here
# would make the provider ambiguous and every LINE sign-in fail; its tokens are not kept. The
# customers' connected LINE accounts (SocialAccount) stay listed for support.
for _model in (SocialApp, SocialToken):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class StaffInline(admin.TabularInline):
    model = StaffMember
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "currency", "time_zone", "language", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [StaffInline]


@admin.register(StaffMember)
class StaffMemberAdmin(admin.ModelAdmin):
    list_display = ["user", "shop", "role"]
    list_select_related = ["user", "shop"]
    raw_id_fields = ["user", "shop"]


@admin.register(Invitation)
class InvitationAdmin(StateAdmin):
    list_display = ["email", "shop", "role", "expires_at"]
    list_select_related = ["shop"]
    raw_id_fields = ["shop", "invited_by"]
    # Only the owner's confirmation on the staff page lets another account accept.
    state_fields = ("requested_by", "requester_confirmed")


@admin.register(Member)
class MemberAdmin(StateAdmin):
    list_display = ["name", "shop", "code", "points", "tier", "joined_at", "last_visit_at"]
    list_select_related = ["shop", "tier"]
    search_fields = ["name", "email", "phone", "code"]
    raw_id_fields = ["shop", "user"]
    # Balances and standing move with ledger rows, through the services (a manager adjusts on the member page).
    state_fields = ("points", "tier", "tier_short_since", "last_visit_at", "joined_at", "referred_by")


# The outbox is a record: read-only, with "send again" for failed messages through its service.
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


# The first day's steps, kept as they were done (members.onboarding): a record.
@admin.register(SetupStep)
class SetupStepAdmin(RecordAdmin):
    list_display = ["shop", "step", "done_at"]
    list_select_related = ["shop"]


# The owners' audit trail: a record, as the portal shows it.
@admin.register(AuditEntry)
class AuditEntryAdmin(RecordAdmin):
    list_display = ["created_at", "shop", "actor", "action", "subject"]
    list_select_related = ["shop", "actor"]
    list_filter = ["action"]


# Customers' copies of their data: a record of who asked and when (the file is only for them).
@admin.register(DataDownload)
class DataDownloadAdmin(RecordAdmin):
    list_display = ["requested_at", "user", "ready_at"]
    list_select_related = ["user"]
    exclude = ["file"]


# Shops' exports of members and the ledger: a record of who asked for what and when (the file is
# only for the shop's owners).
@admin.register(ShopExport)
class ShopExportAdmin(RecordAdmin):
    list_display = ["requested_at", "shop", "kind", "format", "ready_at", "rows"]
    list_select_related = ["shop"]
    exclude = ["file"]


# Members files a shop imported: a record of who brought in what and how it went (the rows rejected are
# the shop's to download).
@admin.register(MemberImport)
class MemberImportAdmin(RecordAdmin):
    list_display = ["created_at", "shop", "filename", "status", "rows", "processed"]
    list_select_related = ["shop"]
    exclude = ["file", "rejected"]


# Two records of one member made one: what moved, for operators to read (undone from the shop's pages).
@admin.register(MemberMerge)
class MemberMergeAdmin(RecordAdmin):
    list_display = ["created_at", "shop", "kept", "merged", "by", "undone_at"]
    list_select_related = ["shop", "kept", "merged", "by"]


@admin.register(LineChannel)
class LineChannelAdmin(RecordAdmin):
    # The secret and the token are never shown, not even encrypted: only their last characters.
    fields = ["shop", "channel_id", "secret_tail", "token_tail", "connected_at", "connected_by"]
    readonly_fields = fields
    list_display = ["shop", "channel_id", "connected_at"]
    list_select_related = ["shop"]


@admin.register(LineFollower)
class LineFollowerAdmin(RecordAdmin):
    list_display = ["line_user_id", "shop", "member", "following", "followed_at", "unfollowed_at"]
    list_select_related = ["shop", "member"]
    raw_id_fields = ["shop", "member"]


@admin.register(LineLinkCode)
class LineLinkCodeAdmin(RecordAdmin):
    list_display = ["code", "shop", "member", "expires_at", "used_at"]
    list_select_related = ["shop", "member"]
    raw_id_fields = ["shop", "member"]


# Shops' webhooks: owners manage them on their pages; operators read them. The secret is never shown.
@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(RecordAdmin):
    fields = ["shop", "url", "events", "description", "active", "created_at", "created_by"]
    readonly_fields = fields
    list_display = ["url", "shop", "active", "created_at"]
    list_select_related = ["shop"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(RecordAdmin):
    list_display = ["event", "endpoint", "status", "attempts", "last_status_code", "created_at", "sent_at"]
    list_filter = ["status"]
    list_select_related = ["endpoint__shop"]
    raw_id_fields = ["endpoint"]


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(RecordAdmin):
    list_display = ["delivery", "at", "status_code", "duration_ms", "error"]
    raw_id_fields = ["delivery"]
