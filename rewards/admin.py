from django.contrib import admin

from .models import LedgerEntry, MemberCard, StampProgram, Voucher


@admin.register(StampProgram)
class StampProgramAdmin(admin.ModelAdmin):
    list_display = ["name", "shop", "stamps_needed", "reward", "is_active"]
    list_select_related = ["shop"]


@admin.register(MemberCard)
class MemberCardAdmin(admin.ModelAdmin):
    list_display = ["member", "program", "stamps"]
    list_select_related = ["member", "program"]
    readonly_fields = ["stamps"]


@admin.register(Voucher)
class VoucherAdmin(admin.ModelAdmin):
    list_display = ["code", "title", "member", "status", "issued_at", "expires_at"]
    list_select_related = ["member"]
    search_fields = ["code"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "member", "reason", "stamps", "points", "staff"]
    list_select_related = ["member", "staff"]

    # The ledger is append-only, here too.
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
