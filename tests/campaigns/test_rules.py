"""Each campaign type's rules, at their boundaries."""

from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from campaigns import services
from campaigns.audience import next_birthday
from campaigns.models import Campaign, Reach
from members import services as member_services
from members.models import Member, Message
from rewards import services as rewards_services
from rewards.models import LedgerEntry, MemberCard, Voucher
from rewards.services.purchases import purchase_record, purchase_refund

from ..conftest import key
from ..factories import MemberFactory, PointsRuleFactory, ShopFactory, TierFactory, VoucherFactory
from .conftest import at

Kind = Campaign.Kind
LA = ZoneInfo("America/Los_Angeles")


def stamps_of(member) -> int:
    return MemberCard.objects.filter(member=member).values_list("stamps", flat=True).first() or 0


def join(world, **fields):
    data = {"name": "Mia", "email": "mia@example.com", "phone": "", "birthday": None, "marketing_consent": True}
    member, created = member_services.member_join(shop=world.shop, language="en", **{**data, **fields})
    assert created
    return member


# Welcome


def test_welcome_bonus_on_joining_once(world, program, make):
    make(Kind.WELCOME, gift="stamps", gift_stamps=2)
    member = join(world)
    assert stamps_of(member) == 2
    entry = LedgerEntry.objects.get(member=member)
    assert (entry.reason, entry.note) == (LedgerEntry.Reason.CAMPAIGN, "Welcome bonus")
    # Joining again is the same member, and no second gift.
    again, created = member_services.member_join(
        shop=world.shop, name="Mia", email="MIA@example.com", phone="", birthday=None, marketing_consent=False,
        language="en",
    )  # fmt: skip
    assert (again, created) == (member, False) and stamps_of(member) == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"is_active": False},
        {"starts_at": timezone.now() + timedelta(days=1)},
        {"ends_at": timezone.now() - timedelta(minutes=1)},
        {"audience": Campaign.Audience.TIER},
    ],
    ids=["paused", "not-started", "ended", "tier-audience"],
)
def test_no_welcome_outside_its_dates_or_audience(world, program, make, fields):
    make(Kind.WELCOME, gift="points", gift_points=50, **fields)
    member = join(world)
    assert member.points == 0 and not Reach.objects.exists()


def test_welcome_voucher_valid_to_the_end_of_the_shops_day(world, make):
    make(Kind.WELCOME, gift="voucher", voucher_title="Free cookie", voucher_valid_days=14)
    member = join(world)
    voucher = Voucher.objects.get(member=member)
    last_day = timezone.localtime(timezone.now(), world.shop.tz).date() + timedelta(days=14)
    assert timezone.localtime(voucher.expires_at, world.shop.tz).date() == last_day + timedelta(days=1)
    assert timezone.localtime(voucher.expires_at, world.shop.tz).time().hour == 0


def test_holdout_members_get_nothing_and_the_same_ones_every_time(world, make):
    campaign = make(Kind.WELCOME, gift="points", gift_points=10, holdout_percent=50)
    members = [join(world, name=f"M{i}", email=f"m{i}@example.com") for i in range(40)]
    reaches = {r.member_id: r.held_out for r in Reach.objects.filter(campaign=campaign)}
    held = [m for m in members if reaches[m.pk]]
    assert 8 <= len(held) <= 32  # about half
    for member in members:
        member.refresh_from_db()
        assert member.points == (0 if reaches[member.pk] else 10)
    from campaigns.audience import is_held_out

    assert [is_held_out(campaign, m) for m in members] == [reaches[m.pk] for m in members]


# Birthday


def birthday_campaign(make, **fields):
    return make(Kind.BIRTHDAY, **{"gift": "voucher", "voucher_title": "Birthday cake", "days_before": 0, **fields})


def test_next_birthday_keeps_29_february_on_the_28th_in_other_years():
    born = date(2000, 2, 29)
    assert next_birthday(born, date(2027, 1, 1)) == date(2027, 2, 28)
    assert next_birthday(born, date(2027, 3, 1)) == date(2028, 2, 29)
    assert next_birthday(born, date(2028, 2, 29)) == date(2028, 2, 29)


def test_birthday_on_29_february(world, make):
    birthday_campaign(make)
    leapling = MemberFactory(shop=world.shop, birthday=date(2000, 2, 29), marketing_consent=True)
    assert services.birthdays_run(now=at("2027-02-27 10:00")) == 0
    assert services.birthdays_run(now=at("2027-02-28 10:00")) == 1
    assert services.birthdays_run(now=at("2027-03-01 10:00")) == 0
    assert services.birthdays_run(now=at("2028-02-28 10:00")) == 0
    assert services.birthdays_run(now=at("2028-02-29 10:00")) == 1
    assert list(Reach.objects.filter(member=leapling).values_list("occasion", flat=True).order_by("occasion")) == [
        "2027",
        "2028",
    ]


def test_birthday_once_a_year_however_often_the_task_runs(world, make):
    birthday_campaign(make, days_before=7)
    member = MemberFactory(shop=world.shop, birthday=date(1990, 3, 10), marketing_consent=True)
    for day in range(3, 11):  # every hour the beat runs, for a week
        for hour in (9, 13, 20):
            services.birthdays_run(now=at(f"2027-03-{day:02d} {hour:02d}:00"))
    voucher = Voucher.objects.get(member=member)
    assert timezone.localtime(voucher.issued_at, world.shop.tz).date() == date(2027, 3, 3)
    # Valid until a week after the birthday, as long after as it came before.
    assert timezone.localtime(voucher.expires_at, world.shop.tz) == at("2027-03-18 00:00")
    assert Message.objects.filter(member=member).count() == 1
    services.birthdays_run(now=at("2028-03-03 09:00"))
    assert Voucher.objects.filter(member=member).count() == 2


def test_a_later_run_skips_the_members_already_given_their_birthday_gift(world, make, django_assert_max_num_queries):
    """The hourly run in the days before birthdays finds those already reached in one query, instead
    of locking each of them (a big shop has thousands of birthdays in the window)."""
    birthday_campaign(make, days_before=7)
    MemberFactory.create_batch(5, shop=world.shop, birthday=date(1990, 3, 10), marketing_consent=True)
    assert services.birthdays_run(now=at("2027-03-05 10:00")) == 5
    with django_assert_max_num_queries(4):  # the campaigns, those reached, the birthdays
        assert services.birthdays_run(now=at("2027-03-05 11:00")) == 0
    assert Voucher.objects.filter(shop=world.shop).count() == 5


def test_birthday_in_each_shops_own_time_zone_and_daytime(world, make):
    la_shop = ShopFactory(time_zone="America/Los_Angeles")
    birthday_campaign(make)
    birthday_campaign(make, shop=la_shop)
    taipei = MemberFactory(shop=world.shop, birthday=date(1990, 3, 10))
    la = MemberFactory(shop=la_shop, birthday=date(1990, 3, 10))
    utc = ZoneInfo("UTC")
    # 00:30 on the 10th in Taipei: the birthday has begun, but nobody gets mail at midnight.
    assert services.birthdays_run(now=at("2027-03-09 16:30", utc)) == 0
    # 09:30 on the 10th in Taipei is 18:30 on the 9th in Los Angeles.
    assert services.birthdays_run(now=at("2027-03-10 01:30", utc)) == 1
    assert Reach.objects.get().member == taipei
    # 10:00 on the 10th in Los Angeles is already the 11th in Taipei: Taipei is not given a second.
    assert services.birthdays_run(now=at("2027-03-10 18:00", utc)) == 1
    assert set(Reach.objects.values_list("member", flat=True)) == {taipei.pk, la.pk}


def test_birthday_gift_without_consent_is_given_but_not_mailed(world, make):
    birthday_campaign(make)
    member = MemberFactory(shop=world.shop, birthday=date(1990, 3, 10), marketing_consent=False)
    services.birthdays_run(now=at("2027-03-10 09:00"))
    assert Voucher.objects.filter(member=member).exists()
    assert not Message.objects.exists()


def test_birthday_message_in_the_members_language(world, make, django_capture_on_commit_callbacks):
    birthday_campaign(make)
    MemberFactory(shop=world.shop, birthday=date(1990, 3, 10), marketing_consent=True, language="zh-hant")
    with django_capture_on_commit_callbacks(execute=True):
        services.birthdays_run(now=at("2027-03-10 09:00"))
    [sent] = mail.outbox
    assert "生日" in sent.subject
    assert "Birthday cake" in sent.body and "/u/" in sent.extra_headers["List-Unsubscribe"]


# Member day and happy hour


def test_member_day_that_starts_while_a_visit_is_in_progress(world, program, member, make):
    # Wednesdays, double stamps, in Taipei. The panel was opened at 23:59 on Tuesday.
    make(Kind.BOOST, multiplier=Decimal(2), weekdays="2")
    tuesday_night = at("2027-03-09 23:59:50")
    from campaigns.boosts import boosts_for

    assert boosts_for(member, tuesday_night) == []
    # The stamp is recorded after midnight: Wednesday's double applies.
    result = rewards_services.stamp_add(
        member=member, program=program, count=1, staff=world.carol, idempotency_key=key(),
        at=at("2027-03-10 00:00:10"),
    )  # fmt: skip
    assert result.stamps == 2 and stamps_of(member) == 2
    # And a stamp recorded just after Wednesday ends has no bonus.
    result = rewards_services.stamp_add(
        member=member, program=program, count=1, staff=world.carol, idempotency_key=key(),
        at=at("2027-03-11 00:00:10"),
    )  # fmt: skip
    assert result.stamps == 1 and stamps_of(member) == 3


def test_happy_hour_across_midnight_and_rounding_down(world, program, member, make):
    make(Kind.BOOST, multiplier=Decimal("1.5"), hours_from="22:00", hours_to="02:00", multiplies="stamps")
    for moment, count, expected in [
        ("2027-03-09 21:59", 2, 2),
        ("2027-03-09 22:00", 2, 3),
        ("2027-03-10 01:59", 3, 4),  # 3 x 1.5 = 4.5, rounded down
        ("2027-03-10 02:00", 2, 2),
    ]:
        result = rewards_services.stamp_add(
            member=member, program=program, count=count, staff=world.bob, idempotency_key=key(), at=at(moment)
        )
        assert result.stamps == expected, moment


def test_points_multiplier_is_refunded_in_proportion_and_undone_with_the_visit(world, member, make):
    PointsRuleFactory(shop=world.shop, is_active=True, step_amount=10)
    make(Kind.BOOST, multiplier=Decimal(2), multiplies="points")
    result = purchase_record(member=member, amount=Decimal(100), staff=world.carol, idempotency_key=key())
    member.refresh_from_db()
    assert (result.points, member.points, result.purchase.points_earned) == (20, 20, 20)
    purchase_refund(
        shop=world.shop, purchase_id=result.purchase.pk, amount=Decimal(50), staff=world.bob, idempotency_key=key()
    )
    member.refresh_from_db()
    assert member.points == 10
    second = purchase_record(member=member, amount=Decimal(30), staff=world.carol, idempotency_key=key())
    rewards_services.action_undo(shop=world.shop, group=second.group, staff=world.carol, idempotency_key=key())
    member.refresh_from_db()
    assert member.points == 10


def test_multiplier_only_for_its_audience(world, program, make):

    gold = TierFactory(shop=world.shop, name="Gold", threshold=10)
    make(Kind.BOOST, multiplier=Decimal(3), audience=Campaign.Audience.TIER, audience_tier=gold)
    regular = MemberFactory(shop=world.shop)
    vip = MemberFactory(shop=world.shop, tier=gold)
    for person, expected in ((regular, 1), (vip, 3)):
        result = rewards_services.stamp_add(
            member=person, program=program, count=1, staff=world.carol, idempotency_key=key()
        )
        assert result.stamps == expected


def test_staff_see_the_multiplier_on_the_counter(world, program, member, make):
    make(Kind.BOOST, name="Double Wednesday", multiplier=Decimal(2))
    make(Kind.BOOST, name="Old promo", multiplier=Decimal(5), ends_at=timezone.now() - timedelta(days=1))
    from django.urls import reverse

    page = world.client(world.carol).get(reverse("rewards:counter_member", args=[world.shop.slug, member.public_id]))
    body = page.content.decode()
    assert "×2 now: Double Wednesday" in body and "Old promo" not in body


# Win-back


def winback(make, **fields):
    return make(Kind.WINBACK, days_away=30, gift="voucher", voucher_title="Coffee on us", **fields)


def test_winback_once_per_lapse(world, program, make):
    campaign = winback(make)
    now = at("2027-05-01 10:00")
    lapsed = MemberFactory(shop=world.shop, last_visit_at=now - timedelta(days=31), marketing_consent=True)
    recent = MemberFactory(shop=world.shop, last_visit_at=now - timedelta(days=29))
    assert services.winback_run(now=now) == 1
    assert services.winback_run(now=now + timedelta(hours=1)) == 0
    # Ten days on, only the member seen 29 days ago is new; the first is still in the same lapse.
    assert services.winback_run(now=now + timedelta(days=10)) == 1
    assert Reach.objects.filter(campaign=campaign, member=recent).count() == 1
    # They come back, then stay away again: a new lapse, a new voucher.
    rewards_services.stamp_add(
        member=lapsed, program=program, count=1, staff=world.carol, idempotency_key=key(), at=now + timedelta(days=11)
    )
    assert services.winback_run(now=now + timedelta(days=40)) == 0
    assert services.winback_run(now=now + timedelta(days=42)) == 1
    assert Reach.objects.filter(campaign=campaign, member=lapsed).count() == 2
    assert Message.objects.filter(member=lapsed).count() == 2


def test_winback_waits_for_the_shops_daytime(world, make):
    winback(make)
    MemberFactory(shop=world.shop, last_visit_at=at("2027-01-01 10:00"))
    assert services.winback_run(now=at("2027-05-01 08:59")) == 0
    assert services.winback_run(now=at("2027-05-01 09:00")) == 1


# Referral


@pytest.fixture
def referral(make):
    since = timezone.now() - timedelta(days=1)
    return make(Kind.REFERRAL, gift="stamps", gift_stamps=3, referral_limit=2, starts_at=since)


def visit(world, member, program):
    return rewards_services.stamp_add(member=member, program=program, count=1, staff=world.carol, idempotency_key=key())


def test_referral_both_get_the_bonus_once_at_the_friends_first_visit(world, program, member, referral):
    friend = join(world, name="Friend", email="friend@example.com", referrer=member)
    assert friend.referred_by == member and stamps_of(member) == 0
    visit(world, friend, program)
    assert (stamps_of(friend), stamps_of(member)) == (1 + 3, 3)
    visit(world, friend, program)
    assert (stamps_of(friend), stamps_of(member)) == (1 + 3 + 1, 3)
    assert Reach.objects.filter(campaign=referral).count() == 2


def test_referral_guards(world, program, member, referral):
    # The same person under a second address: the same account.
    twin = join(world, name="Me again", email="me2@example.com", referrer=member)
    Member.objects.filter(pk=member.pk).update(user=twin.user)
    visit(world, twin, program)
    assert stamps_of(member) == 0 and stamps_of(twin) == 1
    # Another shop's member cannot refer anyone here.
    outsider = MemberFactory(shop=world.other_shop)
    stranger = join(world, name="Stranger", email="s@example.com", referrer=outsider)
    assert stranger.referred_by is None
    # At most referral_limit friends are rewarded.
    friends = [join(world, name=f"F{i}", email=f"f{i}@example.com", referrer=member) for i in range(3)]
    for friend in friends:
        visit(world, friend, program)
    assert stamps_of(member) == 2 * 3
    assert [stamps_of(f) for f in friends] == [4, 4, 1]


def test_referral_only_for_friends_who_joined_after_it_began(world, program, member, make):
    friend = join(world, name="Early", email="early@example.com", referrer=member)
    make(Kind.REFERRAL, gift="points", gift_points=100)
    visit(world, friend, program)
    member.refresh_from_db()
    assert member.points == 0


def test_referral_link_on_the_card_and_the_join_page(world, program, member, referral, client):
    import re

    from django.urls import reverse

    from members.tokens import card_token, referrer_from_token

    card = client.get(reverse("rewards:card", args=[card_token(member)])).content.decode()
    # The token is signed with the time, so read it from the page rather than sign it again.
    token = re.search(r"\?ref=([\w:.-]+)", card).group(1)
    assert referrer_from_token(world.shop, token) == member and "3 stamps" in card
    join_url = reverse("members:join", args=[world.shop.slug])
    page = client.get(join_url, {"ref": token}).content.decode()
    assert f"{member.name} invited you." in page
    client.post(f"{join_url}?ref={token}", {"name": "Friend", "email": "friend@example.com", "ref": token})
    assert Member.objects.get(email="friend@example.com").referred_by == member
    # A forged or altered link: a clear note, and joining still works, unreferred.
    page = client.get(join_url, {"ref": token[:-2] + "xx"}).content.decode()
    assert "This invitation link is not valid any more" in page
    response = client.post(join_url, {"name": "Other", "email": "other@example.com", "ref": "garbage"})
    assert response.status_code == 302 and Member.objects.get(email="other@example.com").referred_by is None


# Announcements


def test_announcement_to_opted_in_members_of_the_audience_once(world, make):
    campaign = make(Kind.ANNOUNCEMENT, subject="New cakes", body="Come and try them.")
    yes = MemberFactory(shop=world.shop, marketing_consent=True)
    MemberFactory(shop=world.shop, marketing_consent=False)
    MemberFactory(shop=world.shop, marketing_consent=True, email="")
    assert services.announcement_send(campaign=campaign) == 1
    assert services.announcement_send(campaign=campaign) == 0
    assert list(Message.objects.values_list("member", flat=True)) == [yes.pk]
    campaign.refresh_from_db()
    assert campaign.sent_at is not None


def test_scheduled_announcement_goes_when_due(world, make):
    campaign = make(Kind.ANNOUNCEMENT, subject="Hi", body="News", send_at=timezone.now() + timedelta(hours=2))
    MemberFactory(shop=world.shop, marketing_consent=True)
    assert services.announcements_run() == 0
    assert services.announcements_run(now=timezone.now() + timedelta(hours=3)) == 1
    assert services.announcements_run(now=timezone.now() + timedelta(hours=4)) == 0
    campaign.refresh_from_db()
    assert campaign.sent_at


def test_audience_of_members_who_joined_between_two_days_in_shop_time(world, make):
    campaign = make(
        Kind.ANNOUNCEMENT, subject="Hi", body="News", audience=Campaign.Audience.JOINED,
        audience_from=date(2027, 1, 1), audience_to=date(2027, 1, 31),
    )  # fmt: skip
    inside = MemberFactory(shop=world.shop, joined_at=at("2027-01-31 23:59"), marketing_consent=True)
    MemberFactory(shop=world.shop, joined_at=at("2027-02-01 00:00"), marketing_consent=True)
    MemberFactory(shop=world.shop, joined_at=at("2026-12-31 23:59"), marketing_consent=True)
    assert list(services.preview(campaign)["sample"]) == [inside]


# Expiring vouchers


def test_voucher_reminder_once_before_it_expires(world, member):
    Member.objects.filter(pk=member.pk).update(marketing_consent=True)
    VoucherFactory(shop=world.shop, member=member, title="Cake", expires_at=timezone.now() + timedelta(days=2))
    VoucherFactory(shop=world.shop, member=member, title="Later", expires_at=timezone.now() + timedelta(days=9))
    assert services.voucher_reminders_run() == 1
    assert services.voucher_reminders_run() == 0
    assert Message.objects.get().context["voucher"] == "Cake"


# Results


def test_results_compare_reached_members_with_those_held_back(world, program, make):
    campaign = winback(make, holdout_percent=50)
    now = at("2027-05-01 10:00")
    members = [MemberFactory(shop=world.shop, last_visit_at=now - timedelta(days=60)) for _ in range(20)]
    services.winback_run(now=now)
    reaches = {r.member_id: r for r in Reach.objects.filter(campaign=campaign)}
    reached = [m for m in members if not reaches[m.pk].held_out]
    held = [m for m in members if reaches[m.pk].held_out]
    assert reached and held
    # Two reached members come back within 30 days, one of them twice; one held-back member comes back;
    # a visit after the 30 days does not count.
    moments = [(reached[0], 5), (reached[0], 6), (reached[1], 20), (held[0], 3), (reached[2], 31)]
    for person, days in moments:
        rewards_services.stamp_add(
            member=person, program=program, count=1, staff=world.carol, idempotency_key=key(),
            at=now + timedelta(days=days),
        )  # fmt: skip
    rewards_services.voucher_redeem(
        shop=world.shop, voucher_id=reaches[reached[0].pk].voucher_id, staff=world.carol, idempotency_key=key(),
        at=now + timedelta(days=5),
    )  # fmt: skip
    result = services.results(campaign)
    assert result["reached"] == {
        "members": len(reached), "returned": 2, "visits": 3, "rate": round(200 / len(reached)),
    }  # fmt: skip
    assert result["held_out"]["members"] == len(held) and result["held_out"]["returned"] == 1
    assert result["lift"] == round(200 / len(reached)) - round(100 / len(held))
    assert (result["issued"], result["redeemed"]) == (len(reached), 1)


def test_voucher_reminders_go_in_batches_once_each_and_only_to_members_who_want_news(world, monkeypatch):
    monkeypatch.setattr(services, "BATCH", 2)
    soon = timezone.now() + timedelta(days=2)
    readers = [MemberFactory(shop=world.shop, marketing_consent=True) for _ in range(5)]
    for reader in readers:
        VoucherFactory(shop=world.shop, member=reader, title="Cake", expires_at=soon)
    VoucherFactory(shop=world.shop, member=MemberFactory(shop=world.shop), title="Cake", expires_at=soon)
    assert services.voucher_reminders_run() == 5
    assert services.voucher_reminders_run() == 0
    assert set(Message.objects.values_list("member", flat=True)) == {reader.pk for reader in readers}
