"""The health check for load balancers and the operators' status page: what each answers when all
is well and when a part is down, who may read the status, and what they cost."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone

from loyalty_site import health
from loyalty_site.models import Heartbeat
from members import tasks as member_tasks

from .factories import MemberFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_healthz_answers_200_with_the_database_up_and_every_migration_applied(client, django_assert_num_queries):
    health.latest_migrations()  # read from disk once per process, before the first poll
    with django_assert_num_queries(2):
        answer = client.get(reverse("healthz"))
    assert answer.status_code == 200
    assert answer.json() == {"ok": True, "database": True, "migrations": True}
    assert "no-cache" in answer["Cache-Control"]


def test_healthz_answers_503_when_a_migration_of_this_code_is_not_applied(client):
    newer = health.latest_migrations() | {("members", "9999_not_applied_yet")}
    with mock.patch.object(health, "latest_migrations", return_value=newer):
        answer = client.get(reverse("healthz"))
    assert answer.status_code == 503
    assert answer.json()["migrations"] is False


def test_healthz_answers_503_when_the_database_does_not_answer(client):
    with mock.patch.object(health.connection, "cursor", side_effect=OperationalError("connection refused")):
        answer = client.get(reverse("healthz"))
    assert answer.status_code == 503
    assert answer.json() == {"ok": False, "database": False}


def test_the_status_page_is_for_superusers_and_the_token_only(client, settings):
    settings.STATUS_TOKEN = "s3cr3t-status-token-for-monitoring"
    url = reverse("status")
    assert client.get(url).status_code == 404
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    assert client.get(url, HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {settings.STATUS_TOKEN}").status_code in (200, 503)
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    assert client.get(url).status_code in (200, 503)


def test_without_a_token_set_no_bearer_reads_the_status(client, settings):
    settings.STATUS_TOKEN = ""
    assert client.get(reverse("status"), HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.fixture
def operator(client):
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    return client


def test_all_well_after_beat_had_the_outbox_flushed(operator, django_assert_max_num_queries):
    member_tasks.flush_outbox.apply()  # as beat asks a worker every minute
    beat = Heartbeat.objects.get(name=health.BEAT)
    assert timezone.now() - beat.at < timedelta(seconds=5)
    with django_assert_max_num_queries(5):
        answer = operator.get(reverse("status"))
    assert answer.status_code == 200
    figures = answer.json()
    assert figures["ok"] and figures["broker"] and figures["beat_ok"] and figures["outbox_ok"]
    assert figures["outbox_backlog"] == 0 and figures["outbox_oldest"] is None


def test_beat_that_never_ran_or_stopped_is_a_503(operator):
    answer = operator.get(reverse("status"))
    assert answer.status_code == 503 and answer.json()["beat_ok"] is False and answer.json()["beat_last_run"] is None
    Heartbeat.objects.create(name=health.BEAT, at=timezone.now() - timedelta(minutes=6))
    answer = operator.get(reverse("status"))
    assert answer.status_code == 503
    assert answer.json()["beat_age_seconds"] >= 360


def test_the_outbox_backlog_and_its_oldest_message_show_and_a_stuck_one_is_a_503(operator):
    Heartbeat.objects.create(name=health.BEAT)
    member = MemberFactory(email="a@example.com")
    MessageFactory(member=member, shop=member.shop, created_at=timezone.now() - timedelta(minutes=5))
    figures = operator.get(reverse("status")).json()
    assert figures["ok"] and figures["outbox_backlog"] == 1 and 290 <= figures["outbox_oldest_age_seconds"] <= 310
    MessageFactory(member=member, shop=member.shop, created_at=timezone.now() - timedelta(hours=1))
    answer = operator.get(reverse("status"))
    assert answer.status_code == 503
    assert answer.json()["outbox_backlog"] == 2 and answer.json()["outbox_ok"] is False


def test_a_broker_that_does_not_answer_is_a_503(operator):
    Heartbeat.objects.create(name=health.BEAT)
    with mock.patch.object(health, "broker_answers", return_value=False):
        answer = operator.get(reverse("status"))
    assert answer.status_code == 503 and answer.json()["broker"] is False


def test_a_browser_reads_the_status_as_a_page(operator):
    Heartbeat.objects.create(name=health.BEAT)
    answer = operator.get(reverse("status"), HTTP_ACCEPT="text/html")
    page = answer.content.decode()
    assert answer.status_code == 200
    assert "Broker" in page and "answers" in page and "Messages waiting" in page
