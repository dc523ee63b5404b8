"""What operators may do in the Django admin: see everything, change configuration, never loyalty state.

Balances, ledger rows, vouchers' states and campaign reach are written by the
services alone (with a ledger row and the member's lock); the admin shows them
read-only. A ``RecordAdmin`` is a model the services append to: view only.
"""

from django.contrib import admin


class StateAdmin(admin.ModelAdmin):
    """A model whose ``state_fields`` only services change: shown, never edited here."""

    state_fields: tuple[str, ...] = ()

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), *self.state_fields)


class RecordAdmin(admin.ModelAdmin):
    """Rows the services append (the ledger and what goes with it): read-only in every way."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
