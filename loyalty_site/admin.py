from django.contrib import admin

from members.admin_base import RecordAdmin

from .models import Heartbeat


@admin.register(Heartbeat)
class HeartbeatAdmin(RecordAdmin):
    """Written by the worker's tasks for the status page."""

    list_display = ["name", "at"]
