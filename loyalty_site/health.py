"""Health for machines and operators.

``/healthz`` is for load balancers and uptime checks: 200 only when the database answers and every
migration this code knows is applied (two queries; the migrations on disk are read once per process).
``/status/`` is for operators: the broker, how long ago beat and a worker last ran the outbox's
flush, the outbox's backlog and its oldest unsent message. It answers 503 when one of them is wrong,
so an uptime check can watch it too; only a signed-in superuser or a request bearing ``STATUS_TOKEN``
reads it.
"""

import hmac
from datetime import timedelta
from functools import cache

from celery import current_app
from celery.signals import task_postrun
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Count, Min
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from members.models import Message

from .models import Heartbeat

BEAT = "beat"
# The flush runs every minute: beat is late after five.
BEAT_LATE = timedelta(minutes=5)
# A message waiting longer than this means sending is stuck (retries back off to 16 minutes).
OUTBOX_LATE = timedelta(minutes=30)
UNSENT = [Message.Status.PENDING, Message.Status.SENDING, Message.Status.FAILED]
FLUSH_TASK = "members.tasks.flush_outbox"


@cache
def latest_migrations() -> frozenset[tuple[str, str]]:
    """The last migration of every app, as this code has them on disk (read once per process)."""
    return frozenset(MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes())


def migrations_applied() -> bool:
    wanted = latest_migrations()
    applied = MigrationRecorder.Migration.objects.filter(name__in={name for _app, name in wanted})
    return wanted <= set(applied.values_list("app", "name"))


@never_cache
@require_GET
def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        ready = migrations_applied()
    except DatabaseError:
        return JsonResponse({"ok": False, "database": False}, status=503)
    return JsonResponse({"ok": ready, "database": True, "migrations": ready}, status=200 if ready else 503)


def _authorised(request) -> bool:
    if request.user.is_authenticated and request.user.is_superuser:
        return True
    token = getattr(settings, "STATUS_TOKEN", "")
    sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(sent.encode(), token.encode())


def broker_answers() -> bool:
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    except Exception:
        return False
    return True


def status_figures(now=None) -> dict:
    now = now or timezone.now()
    beat = Heartbeat.objects.filter(name=BEAT).values_list("at", flat=True).first()
    outbox = Message.objects.filter(status__in=UNSENT).aggregate(backlog=Count("id"), oldest=Min("created_at"))
    figures = {
        "broker": broker_answers(),
        "beat_last_run": beat,
        "beat_age_seconds": int((now - beat).total_seconds()) if beat else None,
        "outbox_backlog": outbox["backlog"],
        "outbox_oldest": outbox["oldest"],
        "outbox_oldest_age_seconds": int((now - outbox["oldest"]).total_seconds()) if outbox["oldest"] else None,
    }
    figures["beat_ok"] = beat is not None and now - beat <= BEAT_LATE
    figures["outbox_ok"] = outbox["oldest"] is None or now - outbox["oldest"] <= OUTBOX_LATE
    figures["ok"] = figures["broker"] and figures["beat_ok"] and figures["outbox_ok"]
    return figures


@never_cache
@require_GET
def status(request):
    if not _authorised(request):
        raise Http404  # the page does not say it exists to anyone else
    figures = status_figures()
    code = 200 if figures["ok"] else 503
    if "text/html" in request.headers.get("Accept", ""):
        return render(request, "status.html", {"figures": figures}, status=code)
    return JsonResponse(figures, status=code)


@task_postrun.connect
def beat_heartbeat(sender=None, task=None, state=None, **kwargs):
    """The outbox's flush ran (beat sends it every minute): beat and a worker are alive."""
    if task is not None and task.name == FLUSH_TASK and state == "SUCCESS":
        Heartbeat.objects.update_or_create(name=BEAT, defaults={"at": timezone.now()})
