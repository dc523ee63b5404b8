"""A free trial of a higher plan: the owner offers it in an announcement to chosen members (a tier or
a segment); each of them gets the plan's benefits for N days, once, and is told until when; the
card shows it; the campaign's page counts the trials and those who took the plan after."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.forms import CampaignForm
from campaigns.models import Campaign, MemberActivity, Reach, Segment
from members.models import Message
from members.tokens import card_token
from rewards import services as rewards_services
from rewards.models import LedgerEntry, Membership, MembershipPlan

from ..conftest import key
from ..factories import MemberFactory, TierFactory, TierPolicyFactory

Kind = Campaign.Kind
PLAN = MembershipPlan.Kind


def club_plan(shop, **fields) -> MembershipPlan:
    """The monthly coffee club."""
    values = {"name": "Coffee club", "kind": PLAN.PERIOD, "price": Decimal(300), "period_months": 1, **fields}
    return MembershipPlan.objects.create(shop=shop, **values)


@pytest.fixture
def tiers(world):
    TierPolicyFactory(shop=world.shop, basis="visits", window_months=12, grace_days=30)
    return (
        TierFactory(shop=world.shop, name="Silver", threshold=3),
        TierFactory(shop=world.shop, name="Gold", threshold=5),
    )


@pytest.fixture
def club(world, tiers):
    """The coffee club: Gold while it runs."""
    return club_plan(world.shop, tier=tiers[1])


def create_url(world, kind=Kind.ANNOUNCEMENT):
    return reverse("campaigns:campaign_create", args=[world.shop.slug, kind])


def edit_url(campaign):
    return reverse("campaigns:campaign_edit", args=[campaign.shop.slug, campaign.public_id])


def form(**fields) -> dict:
    return {
        "name": "Try the club", "is_active": "on", "audience": "all", "holdout_percent": "0",
        "subject": "A month on us", "body": "Come and try the club.", "voucher_valid_days": "14",
        "gift": "plan_trial", **fields,
    }  # fmt: skip


def offer(make, plan, tier=None, days=30, **fields) -> Campaign:
    audience = {"audience": Campaign.Audience.TIER, "audience_tier": tier} if tier else {}
    return make(
        Kind.ANNOUNCEMENT, subject="A month on us", body="Come and try the club.", gift="plan_trial",
        gift_plan=plan, gift_plan_days=days, **{**audience, **fields},
    )  # fmt: skip


def new_offer(world) -> Campaign:
    return Campaign(shop=world.shop, kind=Kind.ANNOUNCEMENT, name="Try the club")


def news_reader(world, **fields):
    return MemberFactory(shop=world.shop, marketing_consent=True, **fields)


def send(campaign, capture) -> int:
    with capture(execute=True):
        return services.announcement_send(campaign=campaign)


def last_day(membership) -> str:
    return timezone.localtime(membership.ends_at, membership.shop.tz).date().isoformat()


# The owner's form.


def test_owner_offers_a_trial_in_an_announcement(world, club):
    client = world.client(world.alice)
    page = client.get(create_url(world)).content.decode()
    assert "A free trial of a membership plan" in page and "Coffee club" in page
    response = client.post(create_url(world), form(gift_plan=club.pk, gift_plan_days="30"))
    campaign = Campaign.objects.get(shop=world.shop)
    assert response.status_code == 302 and response["Location"] == edit_url(campaign)
    assert (campaign.gift, campaign.gift_plan, campaign.gift_plan_days) == ("plan_trial", club, 30)
    assert "A free trial of Coffee club for 30 days" in client.get(edit_url(campaign)).content.decode()


def test_the_form_lists_only_plans_that_can_be_tried(world, club):
    club_plan(world.shop, name="Old club", status=MembershipPlan.Status.PAUSED)
    club_plan(world.shop, name="Ten lattes", kind=PLAN.BUNDLE, period_months=None, items=10, item_name="latte")
    club_plan(world.other_shop, name="Dave's club")
    page = world.client(world.alice).get(create_url(world)).content.decode()
    assert "Coffee club" in page
    assert "Old club" not in page and "Ten lattes" not in page and "Dave&#x27;s club" not in page


@pytest.mark.parametrize("kind", [Kind.WELCOME, Kind.BIRTHDAY, Kind.WINBACK, Kind.REFERRAL])
def test_only_announcements_offer_a_trial(world, club, kind):
    client = world.client(world.alice)
    assert "plan_trial" not in client.get(create_url(world, kind)).content.decode()
    data = form(gift_plan=club.pk, gift_plan_days="30", days_before="7", days_away="45", referral_limit="5")
    response = client.post(create_url(world, kind), data)
    assert response.status_code == 400 and "gift" in response.context["form"].errors
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    ("plan", "days", "field", "error"),
    [
        ("bundle", "30", "gift_plan", "A prepaid bundle cannot be tried"),
        ("paused", "30", "gift_plan", "This plan is not on sale"),
        ("retired", "30", "gift_plan", "This plan is not on sale"),
        ("theirs", "30", "gift_plan", "Select a valid choice"),
        ("", "30", "gift_plan", "Choose the plan to offer."),
        ("garbage", "30", "gift_plan", "Select a valid choice"),
        ("nul", "30", "gift_plan", None),
        ("club", "", "gift_plan_days", "Say for how many days the trial runs."),
        ("club", "0", "gift_plan_days", "greater than or equal to 1"),
        ("club", "400", "gift_plan_days", "less than or equal to 365"),
        ("club", "-3", "gift_plan_days", "greater than or equal to"),
        ("club", "many", "gift_plan_days", "Enter a whole number."),
        ("club", "3\x00", "gift_plan_days", None),
    ],
)
def test_a_trial_that_cannot_be_given_is_refused_and_nothing_saved(world, club, plan, days, field, error):
    plans = {
        "club": club.pk,
        "bundle": club_plan(
            world.shop, name="Ten lattes", kind=PLAN.BUNDLE, period_months=None, items=10, item_name="latte"
        ).pk,
        "paused": club_plan(world.shop, name="Old club", status=MembershipPlan.Status.PAUSED).pk,
        "retired": club_plan(world.shop, name="Older club", status=MembershipPlan.Status.RETIRED).pk,
        # Another shop's plan, its id put in the form by hand: refused like any unknown choice.
        "theirs": club_plan(world.other_shop, name="Dave's club").pk,
        "garbage": "1; drop table",
        "nul": f"{club.pk}\x00",
        "": "",
    }
    response = world.client(world.alice).post(create_url(world), form(gift_plan=plans[plan], gift_plan_days=days))
    assert response.status_code == 400
    if error is None:
        # A NUL byte is refused before any view sees it (loyalty_site.middleware); the form would too.
        assert "form" not in response.context
        bound = CampaignForm(form(gift_plan=plans[plan], gift_plan_days=days), instance=new_offer(world))
        assert not bound.is_valid() and field in bound.errors
    else:
        errors = response.context["form"].errors
        assert field in errors and error in " ".join(errors[field])
    assert not Campaign.objects.exists()


def test_editing_cannot_switch_to_another_shops_plan(world, club, make):
    campaign = offer(make, club)
    theirs = club_plan(world.other_shop, name="Dave's club")
    response = world.client(world.alice).post(edit_url(campaign), form(gift_plan=theirs.pk, gift_plan_days="30"))
    assert response.status_code == 400 and "gift_plan" in response.context["form"].errors
    campaign.refresh_from_db()
    assert campaign.gift_plan == club


def test_another_shops_owner_cannot_see_or_change_the_offer(world, club, make):
    campaign = offer(make, club)
    dave = world.client(world.dave)
    assert dave.get(edit_url(campaign)).status_code == 404
    assert dave.post(edit_url(campaign), form(gift_plan=club.pk, gift_plan_days="60")).status_code == 404
    campaign.refresh_from_db()
    assert campaign.gift_plan_days == 30


# Sending it.


def test_members_of_the_tier_get_one_trial_each_and_move_up(
    world, club, tiers, make, django_capture_on_commit_callbacks
):
    silver, gold = tiers
    ann, ben = news_reader(world, name="Ann", tier=silver), news_reader(world, name="Ben", tier=silver)
    outside = news_reader(world, name="Cat")
    campaign = offer(make, club, tier=silver)

    assert send(campaign, django_capture_on_commit_callbacks) == 2
    trials = Membership.objects.filter(plan=club).order_by("member__name")
    assert [held.member for held in trials] == [ann, ben]
    for held in trials:
        assert held.trial and held.price_paid == 0 and held.status == Membership.Status.ACTIVE
        assert Reach.objects.get(campaign=campaign, member=held.member).trial == held
        rows = LedgerEntry.objects.filter(member=held.member, reason=LedgerEntry.Reason.PLAN_TRIAL)
        assert list(rows.values_list("membership", flat=True)) == [held.pk]
        held.member.refresh_from_db()
        assert held.member.tier == gold  # the plan's tier, while the trial runs
    outside.refresh_from_db()
    assert outside.tier is None and not outside.memberships.exists() and not outside.reaches.exists()

    # Sent again: those reached are not reached twice.
    assert send(campaign, django_capture_on_commit_callbacks) == 0
    assert Membership.objects.count() == 2
    assert LedgerEntry.objects.filter(reason=LedgerEntry.Reason.PLAN_TRIAL).count() == 2
    assert Message.objects.count() == 2 and len(mail.outbox) == 2


def test_the_message_says_until_when_and_how_to_keep_it(world, club, tiers, make, django_capture_on_commit_callbacks):
    ann = news_reader(world, name="Ann", tier=tiers[0])
    send(offer(make, club, tier=tiers[0]), django_capture_on_commit_callbacks)
    held = Membership.objects.get(member=ann)
    expected = timezone.localtime(held.starts_at, world.shop.tz).date() + timedelta(days=30)
    assert last_day(held) == expected.isoformat()
    message = Message.objects.get(member=ann)
    assert (message.context["trial_plan"], message.context["trial_until"]) == ("Coffee club", expected.isoformat())
    (sent,) = mail.outbox
    text = f"Try Coffee club free until {expected.isoformat()}: its benefits are yours"
    assert text in sent.body and "take the plan at the counter to keep them." in sent.body
    assert text in sent.alternatives[0][0]


def test_a_member_who_holds_the_plan_gets_the_message_but_no_trial(
    world, club, tiers, make, django_capture_on_commit_callbacks
):
    dan = news_reader(world, name="Dan", tier=tiers[0])
    paid = rewards_services.plan_sell(
        member=dan, plan=club, staff=world.carol, payment_method="card", idempotency_key=key()
    ).membership
    campaign = offer(make, club, tier=tiers[0])
    # Holding the plan made Dan Gold: the audience is who holds Silver, so ask for everyone.
    campaign.audience = Campaign.Audience.ALL
    campaign.save()
    assert send(campaign, django_capture_on_commit_callbacks) == 1
    assert list(Membership.objects.filter(member=dan)) == [paid]
    assert Reach.objects.get(campaign=campaign, member=dan).trial is None
    assert not LedgerEntry.objects.filter(reason=LedgerEntry.Reason.PLAN_TRIAL).exists()
    message = Message.objects.get(member=dan)
    assert (message.context["trial_plan"], message.context["trial_until"]) == ("", "")
    (sent,) = mail.outbox
    assert "Come and try the club." in sent.body and "free until" not in sent.body


def test_a_segment_gets_the_trial_and_others_do_not(world, club, make, django_capture_on_commit_callbacks):
    at_risk, regular = news_reader(world, name="Ann"), news_reader(world, name="Ben")
    for member, segment in ((at_risk, Segment.AT_RISK), (regular, Segment.REGULAR)):
        MemberActivity.objects.create(member=member, shop=world.shop, segment=segment)
    campaign = offer(make, club, audience=Campaign.Audience.SEGMENT, audience_segment=Segment.AT_RISK)
    assert send(campaign, django_capture_on_commit_callbacks) == 1
    assert list(Membership.objects.values_list("member", "trial")) == [(at_risk.pk, True)]


def test_members_held_back_get_no_trial(world, club, make, django_capture_on_commit_callbacks):
    members = [news_reader(world) for _ in range(20)]
    campaign = offer(make, club, holdout_percent=50)
    send(campaign, django_capture_on_commit_callbacks)
    held_out = set(Reach.objects.filter(campaign=campaign, held_out=True).values_list("member", flat=True))
    assert held_out and len(held_out) < len(members)
    assert not Membership.objects.filter(member__in=held_out).exists()
    assert Membership.objects.count() == len(members) - len(held_out)


def test_the_trial_shows_on_the_members_card(world, club, tiers, make, client, django_capture_on_commit_callbacks):
    ann = news_reader(world, name="Ann", tier=tiers[0])
    send(offer(make, club, tier=tiers[0]), django_capture_on_commit_callbacks)
    body = client.get(reverse("rewards:card", args=[card_token(ann)])).content.decode()
    assert "Coffee club" in body


# What the owner sees.


def test_results_count_the_trials_and_those_who_took_the_plan(
    world, club, tiers, make, django_capture_on_commit_callbacks
):
    silver = tiers[0]
    ann, _ben = news_reader(world, name="Ann", tier=silver), news_reader(world, name="Ben", tier=silver)
    campaign = offer(make, club, tier=silver)
    send(campaign, django_capture_on_commit_callbacks)
    client = world.client(world.alice)
    body = client.get(edit_url(campaign)).content.decode()
    assert "<dt>Free trials given</dt><dd>2 · 0 took the plan since</dd>" in body
    assert "A free trial of Coffee club for 30 days" in body

    # Ann buys the club at the counter: her trial ends and she is counted.
    rewards_services.plan_sell(member=ann, plan=club, staff=world.carol, payment_method="cash", idempotency_key=key())
    services.figures_refresh(campaign=campaign)
    body = client.get(edit_url(campaign)).content.decode()
    assert "<dt>Free trials given</dt><dd>2 · 1 took the plan since</dd>" in body


def test_results_cost_the_same_queries_for_more_trials(world, club, tiers, make, django_capture_on_commit_callbacks):
    silver = tiers[0]
    campaign = offer(make, club, tier=silver)
    news_reader(world, tier=silver)
    send(campaign, django_capture_on_commit_callbacks)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            services.results(campaign)
        return len(captured)

    few = count_queries()
    for _ in range(4):
        news_reader(world, tier=silver)
    Campaign.objects.filter(pk=campaign.pk).update(sent_at=None)
    send(campaign, django_capture_on_commit_callbacks)
    assert services.results(campaign)["trials"] == 5
    assert count_queries() == few


def test_other_campaigns_pages_say_no_trial(world, make):
    campaign = make(Kind.ANNOUNCEMENT, subject="Hi", body="News")
    MemberFactory(shop=world.shop, marketing_consent=True)
    services.announcement_send(campaign=campaign)
    body = world.client(world.alice).get(edit_url(campaign)).content.decode()
    assert "Free trials given" not in body
