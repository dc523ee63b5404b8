"""Members-only events: seats and the waiting list (moving up on a no, told once), answers closing at
the start and refused for a cancelled event or outside the audience (everyone, a tier and above, a
plan, a group of customers), invitations once each in the member's language, the day-before reminder
at the shop's day boundary, check-in with the reward once and walk-ins, recurring dates in the shop's
time zone (month ends), and on PostgreSQL the last seat taken twice at once."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.events import dates, services
from campaigns.events.audience import audience, in_audience
from campaigns.events.services import event_check_in, rsvp_set
from campaigns.models import Event, EventSeries, MemberActivity, Rsvp
from members.errors import Code, LoyaltyError
from members.models import Message
from members.outbox import message_send
from rewards import services as rewards_services
from rewards.models import LedgerEntry, Membership, MembershipPlan, Voucher

from ..conftest import key
from ..factories import MemberFactory, ShopFactory, StaffFactory, TierFactory, TierPolicyFactory
from ..rewards.test_concurrency import race
from .conftest import at

YES, NO, WAITING = Rsvp.Status.YES, Rsvp.Status.NO, Rsvp.Status.WAITING
# The owner sets events up on a Monday morning in Taipei; the cupping is on the Friday after next.
NOW = at("2027-03-01 10:00")
STARTS = at("2027-03-12 19:00")


def make_event(world, *, now=NOW, starts=STARTS, hours=2, invite=True, **fields) -> Event:
    values = {"title": "Cupping", "capacity": 2, "audience": Event.Audience.ALL, "place": "The roastery", **fields}
    event = Event(shop=world.shop, starts_at=starts, ends_at=starts + timedelta(hours=hours), **values)
    event = services.event_save(event=event, by=world.bob, now=now)
    if invite:
        event = services.event_invite_request(event=event, by=world.bob, now=now)
    return event


def member(world, **fields):
    return MemberFactory(shop=world.shop, marketing_consent=True, **fields)


def answer(person, event, reply, now=NOW) -> Rsvp:
    return rsvp_set(member=person, event=event, answer=reply, now=now)


def refused(code, call, **kwargs) -> LoyaltyError:
    with pytest.raises(LoyaltyError) as caught:
        call(**kwargs)
    assert caught.value.code == code, caught.value.message
    return caught.value


def statuses(event) -> dict:
    return {rsvp.member.name: (rsvp.status, rsvp.position) for rsvp in event.rsvps.select_related("member")}


# Seats and the waiting list.


def test_the_last_seat_goes_to_one_yes_and_the_next_ones_wait_in_order(world):
    event = make_event(world, capacity=2)
    ann, bo, cy, di = (member(world, name=name) for name in ("Ann", "Bo", "Cy", "Di"))
    assert answer(ann, event, "yes").status == YES
    assert answer(bo, event, "yes").status == YES  # the last seat
    assert (answer(cy, event, "yes").status, answer(di, event, "yes").status) == (WAITING, WAITING)
    assert statuses(event) == {"Ann": (YES, None), "Bo": (YES, None), "Cy": (WAITING, 1), "Di": (WAITING, 2)}
    assert services.taken(event) == 2


def test_a_no_gives_the_seat_to_the_first_waiting_who_is_told_once(world, django_capture_on_commit_callbacks):
    event = make_event(world, capacity=1)
    ann, bo, cy = (member(world, name=name) for name in ("Ann", "Bo", "Cy"))
    for person in (ann, bo, cy):
        answer(person, event, "yes")
    # A no from the waiting list moves nobody: no seat came free.
    with django_capture_on_commit_callbacks(execute=True):
        answer(cy, event, "no")
    assert statuses(event) == {"Ann": (YES, None), "Bo": (WAITING, 1), "Cy": (NO, None)}
    assert not Message.objects.filter(campaign=services.MOVED_UP).exists()

    later = NOW + timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        answer(ann, event, "no", now=later)
    assert statuses(event) == {"Ann": (NO, None), "Bo": (YES, None), "Cy": (NO, None)}
    bo_rsvp = Rsvp.objects.get(member=bo)
    assert bo_rsvp.moved_up_at == later
    told = Message.objects.get(campaign=services.MOVED_UP)
    assert (told.member, told.occasion, told.kind) == (bo, str(event.public_id), Message.Kind.TRANSACTIONAL)
    assert told.context["kind"] == "moved_up" and told.context["day"] == "2027-03-12"
    # The hourly round finds them told already.
    assert services.event_tell(event_id=event.pk, now=later) == 0
    services.events_run(now=later + timedelta(minutes=5))
    assert Message.objects.filter(campaign=services.MOVED_UP).count() == 1


def test_the_same_answer_again_changes_nothing(world):
    event = make_event(world, capacity=1)
    ann, bo = member(world, name="Ann"), member(world, name="Bo")
    first = answer(ann, event, "yes")
    again = answer(ann, event, "yes", now=NOW + timedelta(minutes=1))
    assert (again.pk, again.status, again.responded_at) == (first.pk, YES, NOW)
    waiting = answer(bo, event, "yes")
    assert answer(bo, event, "yes").position == waiting.position == 1  # keeps their place
    refused(Code.BAD_ANSWER, answer, person=bo, event=event, reply="maybe")
    assert Rsvp.objects.count() == 2


def test_more_seats_move_the_waiting_list_up_and_fewer_keep_everyone(world, django_capture_on_commit_callbacks):
    event = make_event(world, capacity=1)
    people = [member(world, name=name) for name in ("Ann", "Bo", "Cy", "Di")]
    for person in people:
        answer(person, event, "yes")
    event.capacity = 3
    with django_capture_on_commit_callbacks(execute=True):
        services.event_save(event=event, by=world.bob, now=NOW)
    assert statuses(event) == {"Ann": (YES, None), "Bo": (YES, None), "Cy": (YES, None), "Di": (WAITING, 3)}
    assert set(Message.objects.filter(campaign=services.MOVED_UP).values_list("member__name", flat=True)) == {
        "Bo", "Cy",
    }  # fmt: skip
    event.capacity = 1
    services.event_save(event=event, by=world.bob, now=NOW)
    assert statuses(event)["Cy"] == (YES, None)  # a yes given stays given
    late = member(world, name="Ed")
    assert answer(late, event, "yes").status == WAITING


def test_answers_close_at_the_start_and_a_cancelled_event_refuses_them(world, django_capture_on_commit_callbacks):
    event = make_event(world, capacity=1)
    ann, bo, cy = (member(world, name=name) for name in ("Ann", "Bo", "Cy"))
    answer(ann, event, "yes", now=STARTS - timedelta(seconds=1))
    refused(Code.EVENT_CLOSED, answer, person=bo, event=event, reply="yes", now=STARTS)
    answer(bo, event, "yes")
    answer(cy, event, "no")
    with django_capture_on_commit_callbacks(execute=True):
        services.event_cancel(event=event, by=world.bob, now=NOW)
    refused(Code.EVENT_CANCELLED, answer, person=cy, event=event, reply="yes")
    refused(Code.EVENT_CANCELLED, services.event_cancel, event=event, by=world.bob, now=NOW)
    refused(Code.EVENT_CANCELLED, event_check_in, event=event, member=ann, staff=world.carol, now=STARTS)
    # Those who said yes and those waiting are told, once; not those who said no.
    told = Message.objects.filter(campaign=services.CANCELLED)
    assert sorted(told.values_list("member__name", flat=True)) == ["Ann", "Bo"]
    assert services.events_run(now=NOW + timedelta(hours=1)) == 0 and told.count() == 2


def test_an_event_that_has_started_cannot_be_changed_or_cancelled(world):
    event = make_event(world)
    refused(Code.EVENT_CLOSED, services.event_cancel, event=event, by=world.bob, now=STARTS)
    event.title = "Late change"
    refused(Code.EVENT_CLOSED, services.event_save, event=event, by=world.bob, now=STARTS + timedelta(minutes=1))


def test_a_time_in_the_past_or_too_far_ahead_is_refused_and_staff_cannot_set_events_up(world):
    refused(Code.BAD_DATE, make_event, world=world, starts=NOW - timedelta(minutes=1))
    refused(Code.BAD_DATE, make_event, world=world, starts=NOW)
    refused(Code.BAD_DATE, make_event, world=world, starts=NOW + timedelta(days=800))
    event = Event(shop=world.shop, title="Mine", capacity=5, starts_at=STARTS, ends_at=STARTS + timedelta(hours=1))
    refused(Code.NOT_ALLOWED, services.event_save, event=event, by=world.carol, now=NOW)
    refused(Code.NOT_ALLOWED, services.event_save, event=event, by=world.dave, now=NOW)
    assert not Event.objects.exists()


def test_an_event_not_invited_yet_or_for_others_refuses_answers(world):
    event = make_event(world, invite=False)
    ann = member(world)
    refused(Code.NOT_INVITED, answer, person=ann, event=event, reply="yes")
    other = MemberFactory(shop=world.other_shop)
    services.event_invite_request(event=event, by=world.bob, now=NOW)
    refused(Code.WRONG_SHOP, answer, person=other, event=event, reply="yes")
    assert answer(ann, event, "yes").status == YES


# Who an event is for.


@pytest.fixture
def tiers(world):
    TierPolicyFactory(shop=world.shop)
    return {
        "silver": TierFactory(shop=world.shop, name="Silver", threshold=5),
        "gold": TierFactory(shop=world.shop, name="Gold", threshold=20),
        "black": TierFactory(shop=world.shop, name="Black", threshold=50),
    }


def invited_names(event) -> list[str]:
    return sorted(audience(event, NOW).values_list("name", flat=True))


def test_a_tiers_event_is_for_it_and_the_tiers_above(world, tiers):
    people = {
        "none": member(world, name="none"),
        "silver": member(world, name="silver", tier=tiers["silver"]),
        "gold": member(world, name="gold", tier=tiers["gold"]),
        "black": member(world, name="black", tier=tiers["black"]),
    }
    event = make_event(world, audience=Event.Audience.TIER, audience_tier=tiers["gold"], capacity=10)
    assert invited_names(event) == ["black", "gold"]
    assert {name: in_audience(event, person, NOW) for name, person in people.items()} == {
        "none": False, "silver": False, "gold": True, "black": True,
    }  # fmt: skip
    refused(Code.NOT_INVITED, answer, person=people["silver"], event=event, reply="yes")
    assert answer(people["black"], event, "yes").status == YES


def test_a_plans_event_is_for_members_who_hold_it_now(world):
    club = MembershipPlan.objects.create(
        shop=world.shop, name="Coffee club", kind=MembershipPlan.Kind.PERIOD, price=Decimal(300), period_months=1
    )
    holder, lapsed, stranger = member(world, name="holder"), member(world, name="lapsed"), member(world, name="x")
    for person in (holder, lapsed):
        rewards_services.plan_sell(
            member=person, plan=club, staff=world.carol, payment_method="card", idempotency_key=key()
        )
    lapsed.memberships.update(status=Membership.Status.ENDED)
    event = make_event(world, audience=Event.Audience.PLAN, audience_plan=club, capacity=10, now=NOW)
    now = holder.memberships.get().starts_at + timedelta(minutes=1)
    assert sorted(audience(event, now).values_list("name", flat=True)) == ["holder"]
    assert [in_audience(event, person, now) for person in (holder, lapsed, stranger)] == [True, False, False]


def test_a_groups_event_is_for_the_members_the_nightly_run_put_in_it(world):
    regular, lapsed, unsorted = member(world, name="regular"), member(world, name="lapsed"), member(world, name="new")
    MemberActivity.objects.create(member=regular, shop=world.shop, segment="regular")
    MemberActivity.objects.create(member=lapsed, shop=world.shop, segment="lapsed")
    event = make_event(world, audience=Event.Audience.SEGMENT, audience_segment="regular", capacity=10)
    assert invited_names(event) == ["regular"]
    assert [in_audience(event, person, NOW) for person in (regular, lapsed, unsorted)] == [True, False, False]
    refused(Code.NOT_INVITED, answer, person=lapsed, event=event, reply="yes")


def test_everyones_event_is_for_every_member_of_the_shop_only(world):
    mine = [member(world, name=name) for name in ("a", "b")]
    MemberFactory(shop=world.other_shop, name="other")
    event = make_event(world)
    assert invited_names(event) == ["a", "b"]
    assert all(in_audience(event, person, NOW) for person in mine)


# Invitations and reminders through the outbox.


def test_invitations_go_once_to_those_who_agreed_in_their_language(world, tiers, django_capture_on_commit_callbacks):
    member(world, name="Mei", language="zh-hant", tier=tiers["gold"], email="mei@example.com")
    member(world, name="Tom", language="en", tier=tiers["black"], email="tom@example.com")
    MemberFactory(shop=world.shop, name="No news", tier=tiers["gold"], marketing_consent=False)
    member(world, name="No e-mail", tier=tiers["gold"], email="")
    member(world, name="Silver", tier=tiers["silver"])
    event = make_event(world, audience=Event.Audience.TIER, audience_tier=tiers["gold"], invite=False, gift="points",
                       gift_points=50)  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        services.event_invite_request(event=event, by=world.bob, now=NOW)
    invitations = Message.objects.filter(campaign=services.INVITATION, occasion=str(event.public_id))
    assert sorted(invitations.values_list("member__name", flat=True)) == ["Mei", "Tom"]
    assert set(invitations.values_list("kind", flat=True)) == {Message.Kind.MARKETING}
    by_address = {message.to[0]: message for message in mail.outbox}
    assert set(by_address) == {"mei@example.com", "tom@example.com"}
    mei, tom = by_address["mei@example.com"], by_address["tom@example.com"]
    assert "開啟我的會員卡" in mei.body and "Open my card" not in mei.body
    assert "Open my card" in tom.body and "Cupping" in tom.subject
    assert "2027-03-12" in tom.body and "19:00" in tom.body and "The roastery" in tom.body and "50 points" in tom.body
    # Asked again (the worker's task twice, or the owner's button): nobody is written to twice.
    event.refresh_from_db()
    assert event.invitations_done_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        services.event_invite_request(event=event, by=world.bob, now=NOW + timedelta(hours=1))
    assert services.event_invite(event_id=event.pk, now=NOW + timedelta(hours=2)) == 0
    assert invitations.count() == 2 and len(mail.outbox) == 2
    # A member who reaches the tier since is invited by the next request, alone.
    member(world, name="Newly gold", tier=tiers["gold"])
    assert services.event_invite(event_id=event.pk, now=NOW + timedelta(hours=3)) == 1


def test_a_lost_invitation_task_is_caught_up_by_the_hourly_round(world):
    member(world, name="Ann")
    event = make_event(world)  # its task never ran (no commit here)
    assert services.events_run(now=NOW + timedelta(minutes=5)) == 0  # it may still be running
    assert services.events_run(now=NOW + timedelta(minutes=20)) == 1
    assert services.events_run(now=NOW + timedelta(minutes=80)) == 0
    event.refresh_from_db()
    assert event.invitations_done_at == NOW + timedelta(minutes=20)


def test_the_reminder_goes_the_day_before_in_the_shops_calendar_once(world):
    # 07:00 on the 12th in Taipei is 23:00 on the 11th in UTC: a server's UTC day would be wrong.
    starts = at("2027-03-12 07:00")
    event = make_event(world, starts=starts, capacity=2)
    ann, bo, cy, di = (member(world, name=name) for name in ("Ann", "Bo", "Cy", "Di"))
    for person in (ann, bo, cy):
        answer(person, event, "yes")
    answer(di, event, "no")
    reminders = Message.objects.filter(campaign=services.REMINDER)
    # The 10th at 20:00 in Taipei (12:00 UTC, the day before in UTC): two days before in the shop.
    assert services.events_remind(now=at("2027-03-10 20:00")) == 0
    assert services.events_remind(now=at("2027-03-10 23:59")) == 0
    # The 11th, the day before: not at night, from 9:00 (01:00 UTC, the event's own UTC day).
    assert services.events_remind(now=at("2027-03-11 00:00")) == 0
    assert services.events_remind(now=at("2027-03-11 09:00")) == 2
    assert sorted(reminders.values_list("member__name", flat=True)) == ["Ann", "Bo"]  # not the waiting, not a no
    assert services.events_remind(now=at("2027-03-11 10:00")) == 0  # the next run: nobody twice
    # A seat given later that day is reminded at the next run; the day itself is too late.
    answer(ann, event, "no", now=at("2027-03-11 12:00"))
    assert services.events_remind(now=at("2027-03-11 13:00")) == 1
    assert reminders.filter(member=cy).exists()
    assert services.events_remind(now=at("2027-03-12 06:00")) == 0
    assert reminders.count() == 3
    message = reminders.get(member=bo)
    assert (message.kind, message.context["kind"], message.context["time"]) == (
        Message.Kind.TRANSACTIONAL, "reminder", "07:00",
    )  # fmt: skip
    assert message_send(message.pk) and "Tomorrow: Cupping" in mail.outbox[-1].subject


def test_a_cancelled_events_reminder_is_never_sent(world):
    event = make_event(world)
    answer(member(world), event, "yes")
    services.event_cancel(event=event, by=world.bob, now=NOW)
    assert services.events_remind(now=at("2027-03-11 10:00")) == 0


# At the door.


def test_check_in_gives_the_reward_once(world):
    event = make_event(world, gift="points", gift_points=40)
    ann = member(world, name="Ann")
    answer(ann, event, "yes")
    door = STARTS - timedelta(minutes=10)
    rsvp = event_check_in(event=event, member=ann, staff=world.carol, now=door)
    assert (rsvp.checked_in_at, rsvp.checked_in_by, rsvp.points, rsvp.walk_in) == (door, world.carol, 40, False)
    error = refused(Code.ALREADY_CHECKED_IN, event_check_in, event=event, member=ann, staff=world.carol, now=door)
    assert "18:50" in error.message  # when, on the shop's clock
    ann.refresh_from_db()
    assert ann.points == 40
    rows = LedgerEntry.objects.filter(member=ann)
    assert [(row.reason, row.points, row.note) for row in rows] == [(LedgerEntry.Reason.CAMPAIGN, 40, "Cupping")]


def test_check_in_with_a_voucher_or_stamps(world, program):
    voucher_event = make_event(world, gift="voucher", voucher_title="A free pour-over", voucher_valid_days=7)
    stamp_event = make_event(world, gift="stamps", gift_stamps=2, starts=STARTS + timedelta(days=1))
    ann = member(world)
    for event in (voucher_event, stamp_event):
        answer(ann, event, "yes")
    first = event_check_in(event=voucher_event, member=ann, staff=world.carol, now=STARTS)
    assert first.voucher.title == "A free pour-over" and first.voucher.status == Voucher.Status.ISSUED
    # Valid to the end of the shop's day a week on.
    assert first.voucher.expires_at == at("2027-03-20 00:00")
    second = event_check_in(event=stamp_event, member=ann, staff=world.carol, now=STARTS + timedelta(days=1))
    assert second.stamps == 2 and ann.cards.get(program=program).stamps == 2


def test_someone_not_on_the_list_is_refused_and_may_come_in_as_a_walk_in(world):
    event = make_event(world, capacity=1, gift="points", gift_points=10)
    ann, waiting, said_no, stranger = (member(world, name=name) for name in ("Ann", "Wai", "Noe", "Stranger"))
    answer(ann, event, "yes")
    answer(waiting, event, "yes")
    answer(said_no, event, "no")
    check = {"event": event, "staff": world.carol, "now": STARTS}
    assert "did not answer" in refused(Code.NOT_ON_LIST, event_check_in, member=stranger, **check).message
    assert "waiting list" in refused(Code.NOT_ON_LIST, event_check_in, member=waiting, **check).message
    assert "not coming" in refused(Code.NOT_ON_LIST, event_check_in, member=said_no, **check).message
    assert not Rsvp.objects.filter(checked_in_at__isnull=False).exists()
    walk_in = event_check_in(member=stranger, walk_in=True, **check)
    assert (walk_in.status, walk_in.walk_in, walk_in.points, walk_in.responded_at) == (YES, True, 10, STARTS)
    moved = event_check_in(member=waiting, walk_in=True, **check)
    assert (moved.status, moved.position, moved.walk_in) == (YES, None, True)
    # A yes checks in without asking; over the seats is fine: they are here.
    assert not event_check_in(member=ann, **check).walk_in
    assert services.taken(event) == 3


def test_check_in_is_open_around_the_events_time_for_the_shops_staff(world):
    event = make_event(world)
    ann = member(world)
    answer(ann, event, "yes")
    early = refused(
        Code.EVENT_CLOSED, event_check_in, event=event, member=ann, staff=world.carol,
        now=STARTS - timedelta(hours=2, seconds=1),
    )  # fmt: skip
    assert "17:00" in early.message and "2027-03-12" in early.message
    refused(Code.NOT_ALLOWED, event_check_in, event=event, member=ann, staff=world.dave, now=STARTS)
    ends = STARTS + timedelta(hours=2)
    refused(
        Code.EVENT_CLOSED, event_check_in, event=event, member=ann, staff=world.carol,
        now=ends + timedelta(hours=2, seconds=1),
    )  # fmt: skip
    assert event_check_in(event=event, member=ann, staff=world.carol, now=ends + timedelta(hours=2)).checked_in_at


# Recurring events.


def test_occurrence_dates_keep_to_the_rule_at_month_ends():
    rule = EventSeries.Rule
    monthly = [dates.occurrence_day(rule.MONTHLY_DAY, date(2027, 1, 31), n) for n in range(5)]
    assert monthly == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30), date(2027, 5, 31)]
    assert dates.occurrence_day(rule.MONTHLY_DAY, date(2027, 1, 29), 13) == date(2028, 2, 29)  # a leap year
    assert dates.occurrence_day(rule.MONTHLY_DAY, date(2027, 11, 30), 3) == date(2028, 2, 29)  # across a year
    # The second Tuesday; the fifth (the last) Tuesday is the last one of a month with four.
    second = [dates.occurrence_day(rule.MONTHLY_WEEKDAY, date(2027, 3, 9), n) for n in range(3)]
    assert second == [date(2027, 3, 9), date(2027, 4, 13), date(2027, 5, 11)]
    last = [dates.occurrence_day(rule.MONTHLY_WEEKDAY, date(2027, 3, 30), n) for n in range(3)]
    assert last == [date(2027, 3, 30), date(2027, 4, 27), date(2027, 5, 25)]
    assert all(day.weekday() == 1 for day in second + last)
    assert dates.occurrence_day(rule.WEEKLY, date(2027, 12, 28), 1) == date(2028, 1, 4)


def test_repeating_makes_the_next_dates_with_the_same_details_in_the_shops_time(world, tiers):
    # The 31st at 19:00 in Taipei: 11:00 UTC.
    first = make_event(
        world, starts=at("2027-01-31 19:00"), hours=2, now=at("2027-01-02 10:00"), capacity=12, title="Cupping",
        description="Three Ethiopian lots.", audience=Event.Audience.TIER, audience_tier=tiers["gold"],
        gift="points", gift_points=30,
    )  # fmt: skip
    made = services.event_repeat(
        event=first, by=world.bob, rule=EventSeries.Rule.MONTHLY_DAY, count=3, now=at("2027-01-02 10:00")
    )
    local = [dates.local(event.starts_at, world.shop.tz) for event in made]
    assert [f"{moment:%Y-%m-%d %H:%M}" for moment in local] == [
        "2027-02-28 19:00", "2027-03-31 19:00", "2027-04-30 19:00",
    ]  # fmt: skip
    for event in Event.objects.filter(pk__in=[event.pk for event in made]):
        assert (event.title, event.description, event.place, event.capacity) == (
            "Cupping", "Three Ethiopian lots.", "The roastery", 12,
        )  # fmt: skip
        assert (event.audience, event.audience_tier, event.gift_points) == ("tier", tiers["gold"], 30)
        assert event.ends_at - event.starts_at == timedelta(hours=2)
        assert event.invited_at is None and event.series == made[0].series
    first.refresh_from_db()
    assert (first.series.first_day, first.occurrence) == (date(2027, 1, 31), 0)
    # Repeated again, from any of its dates: the series goes on after its last date, by its own rule.
    more = services.event_repeat(event=made[1], by=world.bob, count=2, rule="", now=at("2027-01-03 10:00"))
    assert [f"{dates.local(e.starts_at, world.shop.tz):%m-%d}" for e in more] == ["05-31", "06-30"]
    assert [e.occurrence for e in more] == [4, 5]


def test_repeating_skips_dates_that_have_passed_and_keeps_to_its_limits(world):
    first = make_event(world, starts=at("2027-03-02 19:00"))
    later = at("2027-03-20 10:00")
    made = services.event_repeat(event=first, by=world.bob, rule=EventSeries.Rule.WEEKLY, count=2, now=later)
    assert [f"{dates.local(e.starts_at, world.shop.tz):%m-%d}" for e in made] == ["03-23", "03-30"]
    refused(Code.BAD_COUNT, services.event_repeat, event=first, by=world.bob, count=13, now=later)
    refused(Code.BAD_COUNT, services.event_repeat, event=first, by=world.bob, count=0, now=later)
    refused(Code.NOT_ALLOWED, services.event_repeat, event=first, by=world.carol, count=1, now=later)
    lone = make_event(world)
    refused(Code.BAD_DATE, services.event_repeat, event=lone, by=world.bob, count=1, rule="yearly", now=NOW)
    services.event_cancel(event=lone, by=world.bob, now=NOW)
    refused(Code.EVENT_CANCELLED, services.event_repeat, event=lone, by=world.bob, count=1, rule="weekly", now=NOW)


# PostgreSQL: the last seat taken twice at once.


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="locking is proven on PostgreSQL only")
def test_the_last_seat_taken_by_many_at_once_goes_to_one():
    shop = ShopFactory()
    manager = StaffFactory(shop=shop, role="manager").user
    now = at("2027-03-01 10:00")
    event = Event(shop=shop, title="Cupping", capacity=3, starts_at=STARTS, ends_at=STARTS + timedelta(hours=2))
    event = services.event_save(event=event, by=manager, now=now)
    services.event_invite_request(event=event, by=manager, now=now)
    for _ in range(2):
        rsvp_set(member=MemberFactory(shop=shop), event=event, answer="yes", now=now)
    racers = [MemberFactory(shop=shop) for _ in range(6)]
    results = race(6, lambda i: rsvp_set(member=racers[i], event=event, answer="yes", now=now).status)
    assert sorted(results) == sorted([YES] + [WAITING] * 5), results
    assert services.taken(event) == 3
    positions = sorted(event.rsvps.filter(status=WAITING).values_list("position", flat=True))
    assert positions == [1, 2, 3, 4, 5]
    # Under the member's lock and then the event's.
    with CaptureQueriesContext(connection) as queries:
        rsvp_set(member=racers[0], event=event, answer="no", now=now)
    locks = [query["sql"] for query in queries.captured_queries if "FOR UPDATE" in query["sql"]]
    first, second = locks[:2]
    assert '"members_member"' in first and '"campaigns_event"' in second
    assert services.taken(event) == 3  # the first waiting took the seat
