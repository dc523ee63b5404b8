"""Challenges: each kind counted at the edges of its window in the shop's time zone (Asia/Taipei,
UTC+8, so a week or a month that turns at midnight there turns at 16:00 UTC the day before),
completed once per member and window in the visit's transaction, taken back with an undo (or the
reason it cannot be), paused and ended ones doing nothing, the queries they cost, and leaderboards
that show only the members who chose to be on them."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from members.services import member_erase
from rewards import services
from rewards.ledger import LoyaltyError, Reason
from rewards.models import Challenge, ChallengeCompletion, LedgerEntry, Member, Voucher
from rewards.services import challenges, menu

from ..conftest import key
from ..factories import CatalogueRewardFactory, MemberFactory, PointsRuleFactory, StampProgramFactory

TAIPEI = ZoneInfo("Asia/Taipei")
Note = ChallengeCompletion.RevokeNote


def at(month, day, hour=12, minute=0, year=2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TAIPEI)


def make(world, **fields) -> Challenge:
    base = {"name": "Three visits this week", "kind": "visits", "window": "week", "target": 3, "badge_emoji": "☕"}
    return challenges.challenge_save(shop=world.shop, fields={**base, **fields}, by=world.alice)


def stamp(member, program, staff, **kwargs):
    return services.stamp_add(member=member, program=program, count=1, staff=staff, idempotency_key=key(), **kwargs)


def buy(member, staff, amount, **kwargs):
    return services.purchase_record(member=member, amount=Decimal(amount), staff=staff, idempotency_key=key(), **kwargs)


def undo(world, result, staff=None):
    return services.action_undo(shop=world.shop, group=result.group, staff=staff or world.carol, idempotency_key=key())


# Tests that undo at the counter record their visits now (an undo works for minutes): their
# challenges run from a day well before, so no week or month turns over between two visits.
RUN = {"window": "run", "starts_at": datetime(2026, 1, 1, tzinfo=TAIPEI)}


def windows(member, challenge=None) -> list[date]:
    rows = ChallengeCompletion.objects.filter(member=member, revoked_at__isnull=True)
    if challenge is not None:
        rows = rows.filter(challenge=challenge)
    return sorted(rows.values_list("window_start", flat=True))


def points_of(member) -> int:
    member.refresh_from_db()
    return member.points


@pytest.fixture
def rule(world):
    """A point for every NT$1."""
    return PointsRuleFactory(shop=world.shop, points_per_step=1, step_amount=1, max_purchase=100_000)


# Windows, at their edges in the shop's time zone


def test_sunday_2359_is_still_the_week_and_monday_0000_starts_the_next(world, program, member):
    visits = make(world, target=2)
    assert date(2026, 3, 1).weekday() == 6  # a Sunday (and the first of a month)
    stamp(member, program, world.carol, at=at(3, 1, 10))
    stamp(member, program, world.carol, at=at(3, 1, 23, 59))
    assert windows(member) == [date(2026, 2, 23)]  # Monday 23 February to Sunday 1 March
    # Midnight in Taipei is 16:00 UTC the day before: a week counted in UTC would put this in the last one.
    stamp(member, program, world.carol, at=at(3, 2, 0, 0) + timedelta(hours=1))
    [mine] = challenges.progress_for(member, now=at(3, 2, 9))
    assert (mine.challenge, mine.count, mine.done, mine.span.last_day) == (visits, 1, False, date(2026, 3, 8))
    assert mine.text == "1 of 2 visits this week"
    stamp(member, program, world.carol, at=at(3, 8, 23, 59))
    assert windows(member) == [date(2026, 2, 23), date(2026, 3, 2)]


def test_a_visit_at_monday_0000_counts_in_the_new_week_only(world, program, member):
    make(world, target=2)
    stamp(member, program, world.carol, at=at(3, 1, 20))  # Sunday evening
    stamp(member, program, world.carol, at=at(3, 2, 0, 0))  # Monday, the first minute
    assert windows(member) == []
    [mine] = challenges.progress_for(member, now=at(3, 2, 0, 30))
    assert mine.count == 1
    stamp(member, program, world.carol, at=at(3, 2, 12))
    assert windows(member) == [date(2026, 3, 2)]


def test_months_end_at_midnight_of_the_last_day_in_the_shops_time_zone(world, program, member):
    make(world, name="Two visits this month", window="month", target=2)
    stamp(member, program, world.carol, at=at(1, 31, 22))
    stamp(member, program, world.carol, at=at(2, 1, 0, 30))  # 31 January 16:30 UTC
    assert windows(member) == []
    stamp(member, program, world.carol, at=at(2, 28, 23, 59))
    assert windows(member) == [date(2026, 2, 1)]
    [mine] = challenges.progress_for(member, now=at(2, 28, 23, 59))
    assert mine.text == "2 of 2 visits this month" and mine.done and mine.span.last_day == date(2026, 2, 28)
    [march] = challenges.progress_for(member, now=at(3, 1, 0, 0))
    assert (march.count, march.done) == (0, False)


def test_weekdays_are_the_shops_days(world, program, member):
    make(world, name="Three different days", kind="weekdays", target=3)
    stamp(member, program, world.carol, at=at(3, 2, 0, 30))  # Monday in Taipei, Sunday in UTC
    stamp(member, program, world.carol, at=at(3, 2, 18))  # Monday again: the same day of the week
    stamp(member, program, world.carol, at=at(3, 3, 10))  # Tuesday
    [mine] = challenges.progress_for(member, now=at(3, 3, 11))
    assert mine.text == "2 of 3 different days this week"
    assert windows(member) == []
    stamp(member, program, world.carol, at=at(3, 8, 23))  # Sunday late: still this week
    assert windows(member) == [date(2026, 3, 2)]


def test_a_visit_is_one_however_many_stamps_and_purchases_it_holds(world, program, member, rule):
    make(world, target=2)
    stamp(member, program, world.carol, at=at(3, 3, 10))
    buy(member, world.carol, 100, at=at(3, 3, 10, 20))  # the same visit
    stamp(member, program, world.carol, at=at(3, 3, 10, 40))
    assert windows(member) == []
    stamp(member, program, world.carol, at=at(3, 4, 10))
    assert windows(member) == [date(2026, 3, 2)]


# Spending, a menu tag, friends, weeks in a row


def test_spending_counts_what_was_not_refunded(world, member, rule):
    spend = make(world, name="Spend NT$500", kind="spend", window="month", amount=500, target=1, gift="points",
                 gift_points=50)  # fmt: skip
    first = buy(member, world.carol, 300, at=at(3, 2, 10))
    services.purchase_refund(
        shop=world.shop, purchase_id=first.purchase.pk, amount=Decimal(100), staff=world.bob, idempotency_key=key()
    )
    buy(member, world.carol, 250, at=at(3, 5, 10))
    [mine] = challenges.progress_for(member, now=at(3, 5, 11))
    assert mine.count == Decimal(450) and mine.text == "NT$450 of NT$500 spent this month"
    assert windows(member) == []
    buy(member, world.carol, 60, at=at(3, 31, 23, 50))
    assert windows(member, spend) == [date(2026, 3, 1)]
    assert LedgerEntry.objects.filter(member=member, reason=Reason.CHALLENGE, points=50).count() == 1


def test_a_refund_of_the_purchase_that_completed_it_takes_the_reward_back(world, member, rule):
    make(world, name="Spend NT$500", kind="spend", amount=500, gift="points", gift_points=50, **RUN)
    buy(member, world.carol, 300)
    second = buy(member, world.carol, 250)
    assert points_of(member) == 300 + 250 + 50
    services.purchase_refund(
        shop=world.shop, purchase_id=second.purchase.pk, amount=Decimal(100), staff=world.bob, idempotency_key=key()
    )
    completion = ChallengeCompletion.objects.get(member=member)
    assert (completion.revoke_note, points_of(member)) == (Note.TAKEN_BACK, 300 + 150 + 0)
    assert completion.revoked_at is not None


def test_undoing_the_purchase_that_completed_it_takes_the_reward_back(world, member, rule):
    make(world, name="Spend NT$500", kind="spend", amount=500, gift="voucher", voucher_title="Cake", **RUN)
    buy(member, world.carol, 300, at=timezone.now() - timedelta(hours=2))
    second = buy(member, world.carol, 250)
    voucher = ChallengeCompletion.objects.get().voucher
    result = undo(world, second)
    voucher.refresh_from_db()
    completion = ChallengeCompletion.objects.get()
    assert (completion.revoke_note, voucher.status) == (Note.TAKEN_BACK, Voucher.Status.VOIDED)
    # The voucher's row is voided with the undo, in its group: the counter shows it gone.
    assert any(row.voucher_id == voucher.pk for row in result.entries)
    [mine] = challenges.progress_for(member)
    assert mine.count == Decimal(300)


def test_items_of_a_tag_count_through_what_the_visit_was_tagged_with(world, program, member):
    oolong, latte = (
        menu.menu_item_save(shop=world.shop, fields={"name": name, "tag": tag}, by=world.bob)
        for name, tag in (("Osmanthus oolong", "Seasonal"), ("Oat latte", "coffee"))
    )
    seasonal = make(world, name="This season's drink", kind="tag", tag="seasonal", window="month", target=2,
                    badge_emoji="🌸", gift="voucher", voucher_title="A free cookie")  # fmt: skip
    stamp(member, program, world.carol, at=at(3, 2, 10), items=[oolong])
    stamp(member, program, world.carol, at=at(3, 3, 10), items=[latte])
    [mine] = challenges.progress_for(member, now=at(3, 3, 11))
    assert mine.text == "1 of 2 seasonal items this month"
    stamp(member, program, world.carol, at=at(3, 4, 10), items=[oolong, latte])
    assert windows(member, seasonal) == [date(2026, 3, 1)]
    completion = ChallengeCompletion.objects.get(member=member)
    assert completion.voucher.title == "A free cookie" and completion.voucher.status == Voucher.Status.ISSUED
    # Valid to the end of the shop's day, 14 days on.
    assert completion.voucher.expires_at == at(3, 19, 0, 0)


def test_undoing_the_tagged_visit_that_completed_it_revokes_it(world, program, member):
    oolong = menu.menu_item_save(shop=world.shop, fields={"name": "Oolong", "tag": "seasonal"}, by=world.bob)
    make(world, kind="tag", tag="seasonal", target=2, **RUN)
    stamp(member, program, world.carol, items=[oolong], at=timezone.now() - timedelta(hours=2))
    result = stamp(member, program, world.carol, items=[oolong])
    assert len(windows(member)) == 1
    undo(world, result)
    assert windows(member) == []
    assert ChallengeCompletion.objects.get().revoke_note == Note.NO_REWARD  # a badge only: nothing to take
    [mine] = challenges.progress_for(member)
    assert mine.count == 1


@pytest.fixture
def referrer(world):
    return MemberFactory(shop=world.shop, name="Ada", joined_at=at(1, 5))


def friend_of(referrer, joined) -> Member:
    return MemberFactory(shop=referrer.shop, referred_by=referrer, joined_at=joined)


def test_a_friend_who_joins_and_visits_counts_once_and_one_who_never_visits_does_not(
    world, program, referrer, django_assert_max_num_queries
):
    friends = make(world, name="Bring a friend", kind="friends", window="month", target=2, gift="points",
                   gift_points=100)  # fmt: skip
    sam, lee, kim = (friend_of(referrer, at(3, day)) for day in (2, 3, 4))
    stamp(sam, program, world.carol, at=at(3, 2, 15))
    stamp(sam, program, world.carol, at=at(3, 9, 15))  # the same friend again: still one
    assert windows(referrer) == []
    [mine] = challenges.progress_for(referrer, now=at(3, 10))
    assert mine.text == "1 of 2 friends joined and visited this month"
    # Lee joined and never came; Kim comes on the last evening of the month.
    stamp(kim, program, world.carol, at=at(3, 31, 23, 30))
    assert windows(referrer, friends) == [date(2026, 3, 1)]
    assert points_of(referrer) == 100 and points_of(kim) == 0 and points_of(lee) == 0
    completion = ChallengeCompletion.objects.get(member=referrer)
    assert completion.entry.member == kim


def test_a_friend_who_joined_before_the_window_does_not_count(world, program, referrer):
    make(world, kind="friends", window="month", target=1)
    old = friend_of(referrer, at(2, 28, 23, 30))
    stamp(old, program, world.carol, at=at(3, 1, 10))
    assert windows(referrer) == []


def test_undoing_the_friends_visit_takes_the_referrers_reward_back(world, program, referrer):
    make(world, kind="friends", target=1, gift="points", gift_points=100, **RUN)
    sam = friend_of(referrer, timezone.now() - timedelta(minutes=5))
    result = stamp(sam, program, world.carol)
    assert points_of(referrer) == 100
    undo(world, result)
    completion = ChallengeCompletion.objects.get(member=referrer)
    assert (completion.revoke_note, points_of(referrer)) == (Note.TAKEN_BACK, 0)
    void = LedgerEntry.objects.get(member=referrer, reason=Reason.VOID)
    assert void.voids.reason == Reason.CHALLENGE and void.group != result.group


def test_a_streak_counts_weeks_in_a_row_with_a_visit(world, program, member):
    streak = make(world, name="Four weeks in a row", kind="streak", window="run", target=4, badge_emoji="🔥",
                  starts_at=at(2, 1))  # fmt: skip
    for day in (2, 10, 16):  # three weeks in a row, Mondays to Sundays
        stamp(member, program, world.carol, at=at(3, day))
    [mine] = challenges.progress_for(member, now=at(3, 23, 9))  # a new week, no visit yet: still alive
    assert mine.text == "3 of 4 weeks in a row"
    [mine] = challenges.progress_for(member, now=at(3, 30, 9))  # a whole week missed
    assert mine.count == 0
    stamp(member, program, world.carol, at=at(3, 29, 23, 59))  # Sunday: the fourth week after all
    assert windows(member, streak) == [date(2026, 2, 1)]
    stamp(member, program, world.carol, at=at(4, 5, 10))  # the run completes once
    assert ChallengeCompletion.objects.filter(member=member).count() == 1


def test_a_streak_is_counted_in_the_run_only(world, program, member):
    with pytest.raises(ValidationError) as refused:
        make(world, kind="streak", window="week", target=2)
    assert "window" in refused.value.message_dict
    make(world, kind="streak", window="run", target=2, starts_at=at(3, 9))
    stamp(member, program, world.carol, at=at(3, 3))  # before it began
    stamp(member, program, world.carol, at=at(3, 10))
    assert windows(member) == []
    stamp(member, program, world.carol, at=at(3, 17))
    assert windows(member) == [date(2026, 3, 9)]


# Once per window


def test_once_per_window_and_again_the_next_week(world, program, member):
    make(world, target=2, gift="stamps", gift_stamps=2, gift_program=program)
    for day in (2, 3, 4):
        stamp(member, program, world.carol, at=at(3, day))
    assert windows(member) == [date(2026, 3, 2)]
    assert LedgerEntry.objects.filter(member=member, reason=Reason.CHALLENGE).count() == 1
    for day in (9, 10):
        stamp(member, program, world.carol, at=at(3, day))
    assert windows(member) == [date(2026, 3, 2), date(2026, 3, 9)]
    rewards = LedgerEntry.objects.filter(member=member, reason=Reason.CHALLENGE)
    assert [row.stamps for row in rewards] == [2, 2] and {row.note for row in rewards} == {"Three visits this week"}
    member.cards.get().refresh_from_db()
    assert member.cards.get().stamps == 5 + 4


def test_the_database_refuses_a_second_completion_of_a_window_that_stands(world, program, member):
    make(world, target=1)
    stamp(member, program, world.carol, at=at(3, 2))
    first = ChallengeCompletion.objects.get()
    twin = {"shop": world.shop, "challenge": first.challenge, "member": member, "window_start": first.window_start,
            "entry": first.entry}  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        ChallengeCompletion.objects.create(**twin)
    ChallengeCompletion.objects.filter(pk=first.pk).update(revoked_at=timezone.now(), revoke_note=Note.NO_REWARD)
    ChallengeCompletion.objects.create(**twin)  # a revoked completion leaves room for a new one


def test_a_run_challenge_completes_once_while_it_runs(world, program, member):
    make(world, name="Five visits", window="run", target=2, starts_at=at(3, 1), ends_at=at(4, 1))
    for day in (2, 9, 16, 23):
        stamp(member, program, world.carol, at=at(3, day))
    assert windows(member) == [date(2026, 3, 1)]


# Undo


def test_undo_of_the_completing_visit_takes_the_points_back(world, program, member):
    make(world, target=2, gift="points", gift_points=50, **RUN)
    stamp(member, program, world.carol, at=timezone.now() - timedelta(hours=2))
    result = stamp(member, program, world.carol)
    assert points_of(member) == 50
    undo(world, result)
    completion = ChallengeCompletion.objects.get(member=member)
    assert (completion.revoke_note, points_of(member)) == (Note.TAKEN_BACK, 0)
    [mine] = challenges.progress_for(member)
    assert (mine.count, mine.done) == (1, False)
    # Completed again with a new visit: the reward comes again (the first was taken back).
    stamp(member, program, world.carol)
    assert points_of(member) == 50 and len(windows(member)) == 1


def test_undo_takes_an_unused_voucher_back_and_says_why_when_it_was_used(world, program, member):
    make(world, target=2, gift="voucher", voucher_title="A free cookie", **RUN)
    stamp(member, program, world.carol, at=timezone.now() - timedelta(hours=2))
    result = stamp(member, program, world.carol)
    voucher = ChallengeCompletion.objects.get().voucher
    undo(world, result)
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.VOIDED
    assert ChallengeCompletion.objects.get().revoke_note == Note.TAKEN_BACK

    again = stamp(member, program, world.carol)
    voucher = ChallengeCompletion.objects.get(revoked_at__isnull=True).voucher
    services.voucher_redeem(shop=world.shop, voucher_id=voucher.pk, staff=world.carol, idempotency_key=key())
    undo(world, again)
    revoked = ChallengeCompletion.objects.get(voucher=voucher)
    assert (revoked.revoke_note, revoked.get_revoke_note_display()) == (
        Note.VOUCHER_USED, "The reward's voucher was already used"
    )  # fmt: skip


def test_undo_when_the_points_were_spent_records_why_and_never_gives_twice(world, program, member):
    make(world, target=2, gift="points", gift_points=50, **RUN)
    cookie = CatalogueRewardFactory(shop=world.shop, name="Cookie", cost_points=50)
    stamp(member, program, world.carol, at=timezone.now() - timedelta(hours=2))
    result = stamp(member, program, world.carol)
    services.reward_redeem(member=member, reward_id=cookie.pk, staff=world.carol, idempotency_key=key())
    undo(world, result)
    completion = ChallengeCompletion.objects.get(member=member)
    assert completion.revoked_at and completion.revoke_note == Note.POINTS_SPENT
    assert points_of(member) == 0
    # Met again in the same week: the badge again, not the points a second time.
    stamp(member, program, world.carol)
    assert len(windows(member)) == 1 and points_of(member) == 0
    assert ChallengeCompletion.objects.get(revoked_at__isnull=True).group is None


def test_undo_of_a_visit_that_still_leaves_the_challenge_met_keeps_it(world, program, member):
    make(world, target=2, gift="points", gift_points=50, **RUN)
    stamp(member, program, world.carol, at=timezone.now() - timedelta(hours=4))
    stamp(member, program, world.carol, at=timezone.now() - timedelta(hours=2))  # completes it
    later = stamp(member, program, world.carol)
    undo(world, later)
    assert ChallengeCompletion.objects.get().revoked_at is None and points_of(member) == 50


# Paused, ended, not begun


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "paused"},
        {"status": "ended"},
        {"ends_at": at(3, 1)},
        {"starts_at": at(3, 20)},
    ],
)
def test_a_challenge_not_running_does_nothing(world, program, member, fields):
    make(world, target=1, gift="points", gift_points=50, **fields)
    stamp(member, program, world.carol, at=at(3, 10))
    assert not ChallengeCompletion.objects.exists() and points_of(member) == 0
    assert challenges.progress_for(member, now=at(3, 10)) == []


# Rules of the owner's form


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"target": 0}, "target"),
        ({"kind": "weekdays", "target": 8}, "target"),
        ({"kind": "spend"}, "amount"),
        ({"kind": "tag", "tag": "this season"}, "tag"),
        ({"kind": "tag"}, "tag"),
        ({"amount": 100}, "amount"),
        ({"gift": "stamps", "gift_stamps": 2}, "gift_program"),
        ({"gift": "points"}, "gift_points"),
        ({"gift": "voucher"}, "voucher_title"),
        ({"starts_at": at(3, 2), "ends_at": at(3, 1)}, "ends_at"),
    ],
)
def test_the_rules_of_each_kind(world, fields, field):
    with pytest.raises(ValidationError) as refused:
        make(world, **fields)
    assert field in refused.value.message_dict
    assert not Challenge.objects.exists()


def test_only_managers_set_up_challenges_and_only_with_their_own_cards(world, program):
    with pytest.raises(LoyaltyError):
        challenges.challenge_save(shop=world.shop, fields={"name": "x"}, by=world.carol)
    theirs = StampProgramFactory(shop=world.other_shop)
    with pytest.raises(ValidationError) as refused:
        make(world, gift="stamps", gift_stamps=1, gift_program=theirs)
    assert "gift_program" in refused.value.message_dict
    assert not Challenge.objects.exists()


# Queries


def test_a_shop_without_challenges_pays_no_query(world, program, member, django_assert_num_queries):
    result = stamp(member, program, world.carol)
    with django_assert_num_queries(0):
        assert challenges.visit_counted(member, timezone.now(), result.entries) == []
        assert challenges.progress_for(member) == []
        assert challenges.badges_of(member) == []
        assert challenges.completions_of(member) == []


def _stamp_queries(member, program, staff, when) -> int:
    with CaptureQueriesContext(connection) as queries:
        stamp(member, program, staff, at=when)
    return len(queries)


def test_the_queries_of_a_visit_do_not_grow_with_the_number_of_challenges(world, program, rule):
    plain, one, many = MemberFactory(shop=world.shop), MemberFactory(shop=world.shop), MemberFactory(shop=world.shop)
    stamp(plain, program, world.carol, at=at(3, 2, 9))  # the shop's settings held, the card made
    without = _stamp_queries(plain, program, world.carol, at(3, 2, 11))

    make(world, target=5)
    stamp(one, program, world.carol, at=at(3, 2, 9))
    with_one = _stamp_queries(one, program, world.carol, at(3, 2, 11))
    # Visits, days, weeks in a row, a friends challenge (no friend here) and a spending challenge: a
    # stamp is no purchase, so spending is not read.
    make(world, kind="weekdays", target=5)
    make(world, kind="streak", window="run", target=5, starts_at=at(1, 1))
    make(world, kind="visits", window="month", target=9)
    make(world, kind="friends", window="month", target=2)
    make(world, kind="spend", window="month", amount=900)
    stamp(many, program, world.carol, at=at(3, 2, 9))
    with_many = _stamp_queries(many, program, world.carol, at(3, 2, 11))
    # One query for the member's visit times over the widest window; none for completions while
    # no challenge is met.
    assert with_one == without + 1
    assert with_many == with_one

    # A challenge met reads the completions of its window (one), then writes the completion and its
    # reward in a savepoint: the same whatever the number of challenges running beside it.
    make(world, kind="visits", window="week", target=2, gift="points", gift_points=5)
    third = MemberFactory(shop=world.shop)
    stamp(third, program, world.carol, at=at(3, 3, 9))
    completing = _stamp_queries(third, program, world.carol, at(3, 4, 9))
    assert len(windows(third)) == 1
    # The completions of the window; SAVEPOINT, the reward's row and the member's points, the
    # completion, RELEASE.
    assert completing == with_one + 6
    for n in range(3):
        make(world, kind="visits", window="month", target=20 + n)
    fourth = MemberFactory(shop=world.shop)
    stamp(fourth, program, world.carol, at=at(3, 3, 9))
    assert _stamp_queries(fourth, program, world.carol, at(3, 4, 9)) == completing
    # A purchase reads its spending too, one query for every spending challenge there is.
    buyer = MemberFactory(shop=world.shop)
    buy(buyer, world.carol, 10, at=at(3, 2, 9))
    with CaptureQueriesContext(connection) as one_spend:
        buy(buyer, world.carol, 10, at=at(3, 2, 11))
    make(world, kind="spend", window="week", amount=800)
    buyer = MemberFactory(shop=world.shop)
    buy(buyer, world.carol, 10, at=at(3, 2, 9))
    with CaptureQueriesContext(connection) as two_spends:
        buy(buyer, world.carol, 10, at=at(3, 2, 11))
    assert len(two_spends) == len(one_spend)


def test_progress_is_a_fixed_number_of_queries(world, program, member, rule, django_assert_num_queries):
    [oolong] = [menu.menu_item_save(shop=world.shop, fields={"name": "Oolong", "tag": "seasonal"}, by=world.bob)]
    make(world, target=3)
    stamp(member, program, world.carol, at=at(3, 2, 9), items=[oolong])
    member.shop.refresh_from_db()
    challenges.progress_for(member, now=at(3, 3))  # the shop's settings held
    with django_assert_num_queries(2):  # visits, completions
        challenges.progress_for(member, now=at(3, 3))
    for n in range(4):
        make(world, kind="weekdays", target=3 + n)
    member.shop.refresh_from_db()
    challenges.progress_for(member, now=at(3, 3))
    with django_assert_num_queries(2):
        assert len(challenges.progress_for(member, now=at(3, 3))) == 5
    make(world, kind="spend", window="month", amount=500)
    make(world, kind="tag", tag="seasonal", window="month", target=2)
    make(world, kind="friends", window="month", target=2)
    member.shop.refresh_from_db()
    challenges.progress_for(member, now=at(3, 3))
    with django_assert_num_queries(5):  # and purchases, tagged items, friends
        assert len(challenges.progress_for(member, now=at(3, 3))) == 8
    with django_assert_num_queries(1):
        challenges.badges_of(member)


# Leaderboards


def test_the_board_shows_only_members_who_joined_it(world, program):
    board = make(world, target=1, leaderboard=True)
    ada, bo, cy = (MemberFactory(shop=world.shop, name=name) for name in ("Ada Lin", "Bo Wu", "Cy Hsu"))
    for member in (ada, bo, cy):
        stamp(member, program, world.carol)
    challenges.seat_take(member=ada, challenge=board, nickname="  Latte   Queen ")
    challenges.seat_take(member=cy, challenge=board, nickname="cy")
    places = challenges.leaderboard(board)
    assert [(place.nickname, place.times) for place in places] == [("Latte Queen", 1), ("cy", 1)]
    assert "Bo" not in str(places)
    with pytest.raises(LoyaltyError) as taken:
        challenges.seat_take(member=bo, challenge=board, nickname="LATTE QUEEN")
    assert taken.value.code == "nickname_taken"
    with pytest.raises(LoyaltyError):
        challenges.seat_take(member=bo, challenge=board, nickname="x" * 21)
    assert challenges.seat_leave(member=cy, challenge=board)
    assert [place.nickname for place in challenges.leaderboard(board)] == ["Latte Queen"]
    member_erase(member=ada, by=world.alice)
    assert challenges.leaderboard(board) == []


def test_a_board_is_off_by_default(world, member):
    quiet = make(world)
    assert quiet.leaderboard is False
    with pytest.raises(LoyaltyError) as refused:
        challenges.seat_take(member=member, challenge=quiet, nickname="Mia")
    assert refused.value.code == "no_leaderboard"
    other = challenges.challenge_save(
        shop=world.other_shop, fields={"name": "Theirs", "leaderboard": True}, by=world.dave
    )
    with pytest.raises(LoyaltyError):
        challenges.seat_take(member=member, challenge=other, nickname="Mia")
