"""Retention: a shop may remove members who stopped coming. Off by default; when on, a member is
told once, a month before, and erased (as if they had asked) only after the notice and only if they
did not come back. Months are the shop's calendar months (Asia/Taipei here)."""

import random
import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.db.models import F
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from members import retention
from members.forms import ShopCreateForm
from members.models import AuditEntry, Member, Message
from members.retention import CAMPAIGN, months_after, retention_run
from members.tasks import run_retention
from rewards import ledger
from rewards import services as rewards
from rewards.models import LedgerEntry, MemberCard

from ..conftest import key
from ..factories import MemberFactory, PointsRuleFactory

pytestmark = pytest.mark.usefixtures("ledger_reconciles")

TAIPEI = ZoneInfo("Asia/Taipei")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=TAIPEI)


def reminders(member=None):
    messages = Message.objects.filter(campaign=CAMPAIGN)
    return messages.filter(member=member) if member is not None else messages


def erased(member) -> bool:
    return Member.all_objects.get(pk=member.pk).erased_at is not None


def run(at: datetime) -> dict[str, int]:
    """The nightly task at ``at``: the clock moved, so erasures and messages carry that time too."""
    with time_machine.travel(at, tick=False):
        return retention_run()


def visit(member, program, staff, at: datetime) -> None:
    """A stamp at the counter, through the real service, at ``at``."""
    with time_machine.travel(at, tick=False):
        rewards.stamp_add(member=member, program=program, count=1, staff=staff, idempotency_key=key())


@pytest.fixture
def retaining(world):
    """Alice's café removes members after 12 months without a visit."""
    world.shop.retention_months = 12
    world.shop.save(update_fields=["retention_months"])
    return world.shop


def test_off_by_default_nothing_happens(world):
    assert world.shop.retention_months is None
    old = MemberFactory(shop=world.shop, joined_at=local(2015, 1, 1), last_visit_at=local(2016, 1, 1))
    assert retention_run(now=local(2026, 6, 1, 3)) == {"warned": 0, "erased": 0}
    old.refresh_from_db()
    assert old.retention_warned_at is None and not erased(old)
    assert not reminders().exists()


def test_a_lapsed_member_is_told_once_even_when_the_task_runs_twice(
    world, retaining, django_capture_on_commit_callbacks
):
    mia = MemberFactory(shop=retaining, name="Mia", email="mia@example.com", joined_at=local(2024, 1, 5),
                        last_visit_at=local(2025, 3, 14, 18))  # fmt: skip
    recent = MemberFactory(shop=retaining, joined_at=local(2024, 1, 5), last_visit_at=local(2025, 4, 20))
    # Eleven months after 14 March is 14 February, local midnight: not the evening before.
    assert retention_run(now=local(2026, 2, 13, 23)) == {"warned": 0, "erased": 0}

    with django_capture_on_commit_callbacks(execute=True):
        assert retention_run(now=local(2026, 2, 14, 3)) == {"warned": 1, "erased": 0}
        assert retention_run(now=local(2026, 2, 14, 3)) == {"warned": 0, "erased": 0}
        with time_machine.travel(local(2026, 2, 14, 4), tick=False):
            assert run_retention.delay().get() == {"warned": 0, "erased": 0}
        assert retention_run(now=local(2026, 3, 1, 3)) == {"warned": 0, "erased": 0}

    mia.refresh_from_db()
    assert mia.retention_warned_at == local(2026, 2, 14, 3)
    message = reminders(mia).get()
    assert (message.kind, message.status) == (Message.Kind.TRANSACTIONAL, Message.Status.SENT)
    assert message.context["removal_on"] == "2026-03-16"  # a month from the warning and 12 since the visit
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["mia@example.com"]
    assert "Hello Mia" in sent.body and "2026-03-16" in sent.body and "12 months" in sent.body
    assert message.context["url"] in sent.body and "/c/" in message.context["url"]
    assert message.context["url"] in sent.alternatives[0][0]
    recent.refresh_from_db()
    assert recent.retention_warned_at is None


def test_a_second_run_that_read_the_list_before_the_first_wrote_sends_nothing(world, retaining, monkeypatch):
    """The candidates were read before a twin run told the member: the lock and the re-check under it
    (and the message's occasion) keep it at one reminder."""
    mia = MemberFactory(shop=retaining, joined_at=local(2024, 1, 1), last_visit_at=local(2025, 1, 10))
    now = local(2026, 1, 1, 3)
    real_warn = retention._warn

    def twin_first(shop, rule, pk, now):
        real_warn(shop, rule, pk, now)  # the twin run wins the member first
        return real_warn(shop, rule, pk, now)

    monkeypatch.setattr(retention, "_warn", twin_first)
    assert retention_run(now=now) == {"warned": 0, "erased": 0}
    assert reminders(mia).count() == 1


def test_a_member_without_an_address_is_told_nothing_on_the_same_clock(world, retaining):
    phone_only = MemberFactory(shop=retaining, email="", phone="0912345678", joined_at=local(2024, 6, 1))
    assert retention_run(now=local(2025, 5, 1, 3)) == {"warned": 1, "erased": 0}
    phone_only.refresh_from_db()
    assert phone_only.retention_warned_at == local(2025, 5, 1, 3)
    assert not reminders().exists()
    assert retention_run(now=local(2025, 6, 1, 3)) == {"warned": 0, "erased": 1}
    assert erased(phone_only)


def test_erasure_comes_only_after_the_period_and_the_notice(world, retaining, program):
    PointsRuleFactory(shop=retaining, is_active=True, step_amount=10)
    mia = MemberFactory(shop=retaining, email="mia@example.com", joined_at=local(2024, 1, 1))
    visit(mia, program, world.carol, local(2025, 1, 31, 12))
    with time_machine.travel(local(2025, 1, 31, 12, 5), tick=False):
        rewards.purchase_record(member=mia, amount=250, staff=world.carol, idempotency_key=key())
    mia.refresh_from_db()
    code, rows = mia.code, LedgerEntry.objects.filter(member=mia).count()
    assert mia.points > 0

    # 31 January + 11 months = 31 December; + 12 months = 31 January.
    assert retention_run(now=local(2025, 12, 30, 3))["warned"] == 0
    assert retention_run(now=local(2025, 12, 31, 3))["warned"] == 1
    # Thirty days have passed since the reminder, but not twelve months since the visit.
    assert run(local(2026, 1, 30, 23))["erased"] == 0
    assert not erased(mia)
    assert reminders(mia).get().context["removal_on"] == "2026-01-31"
    assert run(local(2026, 1, 31, 3)) == {"warned": 0, "erased": 1}

    row = Member.all_objects.get(pk=mia.pk)
    assert row.erased_at == local(2026, 1, 31, 3)
    assert (row.name, row.email, row.code) == ("", "", code)
    # The history stays, naming nobody; the balances are closed by rows of their own.
    assert LedgerEntry.objects.filter(member=row).count() > rows
    assert row.points == 0 and set(MemberCard.objects.filter(member=row).values_list("stamps", flat=True)) == {0}
    assert ledger.drift() == []
    # The closing rows say why: the shop's rule, not the member's request.
    closing = LedgerEntry.objects.filter(member=row, reason=LedgerEntry.Reason.CLOSED)
    assert {entry.note for entry in closing} == {
        "Removed after a long time without a visit (the shop's retention rule)"
    }
    entry = AuditEntry.objects.get(shop=retaining, action=AuditEntry.Action.MEMBER_RETIRED)
    assert (entry.actor, entry.subject) == (None, code)
    assert "2025-01-31" in entry.note and "2025-12-31" in entry.note
    # Erasing twice is erasing once: the next run finds nobody.
    assert retention_run(now=local(2026, 2, 1, 3)) == {"warned": 0, "erased": 0}


def test_turned_on_for_long_lapsed_members_they_still_get_a_month(world, retaining):
    gone = MemberFactory(shop=retaining, joined_at=local(2019, 1, 1), last_visit_at=local(2020, 5, 5))
    now = local(2026, 4, 10, 3)
    assert retention_run(now=now) == {"warned": 1, "erased": 0}
    assert reminders(gone).get().context["removal_on"] == "2026-05-10"
    assert retention_run(now=now + timedelta(days=29, hours=23))["erased"] == 0
    assert retention_run(now=now + timedelta(days=30))["erased"] == 1


def test_a_visit_after_the_reminder_keeps_the_member(world, retaining, program):
    mia = MemberFactory(shop=retaining, email="mia@example.com", joined_at=local(2024, 1, 1),
                        last_visit_at=local(2025, 1, 10, 12))  # fmt: skip
    assert retention_run(now=local(2025, 12, 10, 3))["warned"] == 1
    visit(mia, program, world.carol, local(2026, 1, 2, 15))
    for day in (local(2026, 1, 10, 3), local(2026, 2, 10, 3), local(2026, 11, 1, 3)):
        assert retention_run(now=day) == {"warned": 0, "erased": 0}
    assert not erased(mia)

    # A new lapse is a new occasion: told again, a month before the new date.
    assert retention_run(now=local(2026, 12, 2, 3))["warned"] == 1
    assert reminders(mia).count() == 2
    assert reminders(mia).order_by("created_at").last().context["removal_on"] == "2027-01-02"


def test_switched_off_and_on_again_the_member_is_told_again(world, retaining, alice_client):
    mia = MemberFactory(shop=retaining, email="mia@example.com", joined_at=local(2020, 1, 1))
    assert run(local(2026, 1, 1, 3))["warned"] == 1
    alice_client.post(settings_url(retaining), settings_data(retaining, retention_months=""))
    mia.refresh_from_db()
    assert mia.retention_warned_at is None
    assert run(local(2026, 3, 1, 3)) == {"warned": 0, "erased": 0}

    alice_client.post(settings_url(retaining), settings_data(retaining, retention_months="12"))
    assert run(local(2026, 6, 1, 3)) == {"warned": 1, "erased": 0}
    assert reminders(mia).count() == 2
    assert reminders(mia).order_by("created_at").last().context["removal_on"] == "2026-07-01"
    assert run(local(2026, 6, 30, 3))["erased"] == 0
    assert run(local(2026, 7, 1, 3))["erased"] == 1


def test_other_shops_are_untouched(world, retaining):
    theirs = MemberFactory(shop=world.other_shop, joined_at=local(2015, 1, 1))
    ours = MemberFactory(shop=retaining, joined_at=local(2015, 1, 1))
    now = local(2026, 1, 1, 3)
    retention_run(now=now)
    retention_run(now=now + timedelta(days=40))
    theirs.refresh_from_db()
    assert theirs.retention_warned_at is None and not erased(theirs)
    assert erased(ours)
    assert not Message.objects.filter(member=theirs).exists()
    assert not AuditEntry.objects.filter(shop=world.other_shop).exists()


def test_the_audit_trail_lists_the_retired_member(world, retaining, alice_client):
    gone = MemberFactory(shop=retaining, name="Mia Chen", joined_at=local(2019, 1, 1))
    retention_run(now=local(2026, 1, 1, 3))
    retention_run(now=local(2026, 2, 1, 3))
    trail = alice_client.get(reverse("members:audit_list", args=[retaining.slug])).content.decode()
    assert "Removed an inactive member (retention)" in trail and "The shop's retention rule" in trail
    assert gone.code in trail and "Mia" not in trail
    assert "No visit since 2019-01-01; told on 2026-01-01 that their data would be removed." in trail


# The owner's settings.


def settings_url(shop):
    return reverse("members:shop_settings", args=[shop.slug])


def settings_data(shop, **changes):
    return {
        "name": shop.name, "slug": shop.slug, "brand_colour": shop.brand_colour, "currency": shop.currency,
        "time_zone": shop.time_zone, "language": shop.language, "join_asks_first": shop.join_asks_first,
        "retention_months": "", **changes,
    }  # fmt: skip


@pytest.mark.parametrize("months", ["3", "5", "121", "500"])
def test_the_settings_refuse_a_period_out_of_range(world, alice_client, months):
    response = alice_client.post(settings_url(world.shop), settings_data(world.shop, retention_months=months))
    assert response.status_code == 200
    assert "Enter a number of months from 6 to 120" in response.content.decode()
    world.shop.refresh_from_db()
    assert world.shop.retention_months is None
    assert not AuditEntry.objects.exists()


def test_changing_the_period_is_recorded_with_the_old_and_new_value(world, alice_client):
    page = alice_client.get(settings_url(world.shop)).content.decode()
    assert "Privacy" in page and "members are kept until they leave" in page

    response = alice_client.post(settings_url(world.shop), settings_data(world.shop, retention_months="24"))
    assert response.status_code == 302
    world.shop.refresh_from_db()
    assert world.shop.retention_months == 24
    entry = AuditEntry.objects.get(shop=world.shop)
    assert (entry.actor, entry.action) == (world.alice, AuditEntry.Action.RETENTION_SET)
    assert entry.note_text == "From keeping members until they leave to removing members inactive for 24 months."
    # Kept as values, so the trail reads in whichever language its reader uses.
    trail = alice_client.get(reverse("members:audit_list", args=[world.shop.slug]), HTTP_ACCEPT_LANGUAGE="zh-hant")
    assert "移除 24 個月未到店的會員" in trail.content.decode()

    # Saving the other settings leaves the period, and the trail, alone.
    alice_client.post(settings_url(world.shop), settings_data(world.shop, name="Alice's", retention_months="24"))
    assert AuditEntry.objects.count() == 1

    alice_client.post(settings_url(world.shop), settings_data(world.shop, retention_months=""))
    world.shop.refresh_from_db()
    assert world.shop.retention_months is None
    assert AuditEntry.objects.order_by("-id").first().note_text == (
        "From removing members inactive for 24 months to keeping members until they leave."
    )


def test_the_settings_page_states_the_rule_and_who_is_next(world, retaining, alice_client):
    with time_machine.travel(local(2026, 3, 1, 10), tick=False):
        MemberFactory(shop=retaining, joined_at=local(2024, 1, 1), last_visit_at=local(2025, 4, 3))  # told in days
        MemberFactory(shop=retaining, joined_at=local(2024, 1, 1), last_visit_at=local(2025, 6, 1))  # not yet
        MemberFactory(shop=retaining, joined_at=local(2024, 1, 1), last_visit_at=local(2025, 1, 1),
                      retention_warned_at=local(2026, 2, 1))  # fmt: skip
        page = alice_client.get(settings_url(retaining)).content.decode()
    assert "members inactive for 12 months are removed" in page
    assert "1 member will be told this week." in page
    assert "1 member was told and has not visited since." in page


def test_a_new_shop_keeps_its_members(world):
    assert "retention_months" not in ShopCreateForm().fields


def test_staff_cannot_change_the_period(world):
    response = world.client(world.carol).post(settings_url(world.shop), settings_data(world.shop, retention_months="6"))
    assert response.status_code == 403
    world.shop.refresh_from_db()
    assert world.shop.retention_months is None


# Months.


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(day=st.dates(date(2000, 1, 1), date(2100, 12, 31)), months=st.integers(-130, 130))
def test_months_after_keeps_the_day_within_the_month(day, months):
    moved = months_after(day, months)
    assert (moved.year * 12 + moved.month) - (day.year * 12 + day.month) == months
    assert moved.day == day.day or (moved.day < day.day and (moved + timedelta(days=1)).day == 1)


# Over time: the daily task, day after day, with members who come and go.


def test_fourteen_months_of_daily_runs(world, program):
    """Six months' retention, a crowd with habits (regulars, some who stop, some who never come,
    some who come back late), the task every night: nobody seen within the period is erased, and
    everyone erased was told at least 30 days before, by one reminder for the lapse."""
    shop = world.shop
    shop.retention_months = 6
    shop.save(update_fields=["retention_months"])
    start = local(2025, 1, 1, 10)
    rng = random.Random(16)  # noqa: S311 (a repeatable crowd, not a secret)
    plans = {}
    with time_machine.travel(start - timedelta(days=120), tick=False):
        for n in range(24):
            member = MemberFactory(shop=shop, email="" if n % 5 == 0 else f"m{n}@example.com",
                                   joined_at=start - timedelta(days=rng.randint(0, 300)))  # fmt: skip
            kind = n % 4
            if kind == 0:  # a regular, every week or two
                days = set(range(rng.randint(0, 10), 430, rng.randint(7, 14)))
            elif kind == 1:  # comes for a while, then stops
                stop = rng.randint(0, 200)
                days = set(range(0, stop, 10))
            elif kind == 2:  # never comes
                days = set()
            else:  # long gaps: back after five to eight months
                days, day = set(), rng.randint(0, 60)
                while day < 430:
                    days.add(day)
                    day += rng.randint(150, 240)
            plans[member.pk] = (member, days)

    seen = {pk: m.joined_at for pk, (m, _days) in plans.items()}
    for offset in range(0, 430):
        day = start + timedelta(days=offset)
        for pk, (member, days) in plans.items():
            if offset in days and not erased(member):
                visit(member, program, world.carol, day + timedelta(hours=rng.randint(0, 8)))
                seen[pk] = Member.objects.get(pk=pk).last_visit_at
        run((day + timedelta(days=1)).replace(hour=2))
        for pk in plans:
            row = Member.all_objects.get(pk=pk)
            if row.erased_at is None:
                continue
            last = timezone_date(seen[pk])
            assert timezone_date(row.erased_at) >= months_after(last, 6), (pk, last, row.erased_at)
            assert row.retention_warned_at is not None
            assert row.erased_at - row.retention_warned_at >= timedelta(days=30)
            assert row.retention_warned_at > seen[pk]

    gone = Member.all_objects.filter(shop=shop, erased_at__isnull=False)
    assert gone.exists() and Member.objects.filter(shop=shop).exists()
    # Some were told, came back in time and are still members.
    assert Member.objects.filter(shop=shop, last_visit_at__gt=F("retention_warned_at")).exists()
    for row in gone:
        # Warned once for the lapse that ended them (addresses only: the others were told nothing).
        lapse = Message.objects.filter(
            member=row, campaign=CAMPAIGN, occasion__startswith=f"lapse:{int(seen[row.pk].timestamp())}:"
        )
        assert lapse.count() == (0 if plans[row.pk][0].email == "" else 1)
    assert AuditEntry.objects.filter(action=AuditEntry.Action.MEMBER_RETIRED).count() == gone.count()
    assert ledger.drift() == []


def timezone_date(moment: datetime) -> date:
    return moment.astimezone(TAIPEI).date()


# PostgreSQL: two runs at once.


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite cannot run two writers at once")
def test_two_runs_at_once_tell_each_member_once(world, retaining):
    lapsed = [MemberFactory(shop=retaining, joined_at=local(2020, 1, 1)) for _ in range(20)]
    now = local(2026, 1, 1, 3)
    barrier = threading.Barrier(2)
    results = []

    def run():
        try:
            barrier.wait()
            results.append(retention_run(now=now))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(result["warned"] for result in results) == len(lapsed)
    assert reminders().count() == len(lapsed)
    assert all(reminders(member).count() == 1 for member in lapsed)
