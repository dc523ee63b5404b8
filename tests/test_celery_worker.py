"""A real worker process picks a task up from the broker (Redis in CI) and runs it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from members.models import Invitation
from members.tasks import purge_expired_invitations

from .factories import InvitationFactory, ShopFactory
from .worker import celery_worker, wait_for


@pytest.mark.django_db(transaction=True)
def test_worker_process_runs_the_daily_purge():
    shop = ShopFactory()
    now = timezone.now()
    InvitationFactory(shop=shop, email="late@example.com", expires_at=now - timedelta(minutes=1))
    InvitationFactory(shop=shop, email="fresh@example.com", expires_at=now + timedelta(days=1))

    with celery_worker() as queue:
        purge_expired_invitations.apply_async(queue=queue)
        done = wait_for(lambda: not Invitation.objects.filter(email="late@example.com").exists())

    assert done, "the worker did not run the task within a minute"
    assert list(Invitation.objects.values_list("email", flat=True)) == ["fresh@example.com"]


def test_the_purge_is_in_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["purge-expired-invitations"]
    assert entry["task"] == purge_expired_invitations.name
    assert purge_expired_invitations.acks_late


@pytest.mark.django_db
def test_running_the_purge_twice_is_harmless():
    shop = ShopFactory()
    InvitationFactory(shop=shop, email="late@example.com", expires_at=timezone.now() - timedelta(days=1))
    assert purge_expired_invitations.delay().get() == 1
    assert purge_expired_invitations.delay().get() == 0


def test_every_beat_entry_names_a_registered_idempotent_task(settings):
    from loyalty_site.celery import app

    app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        task = app.tasks.get(entry["task"])
        assert task is not None, name
        assert task.acks_late, name
