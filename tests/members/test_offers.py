"""What a customer gets for joining: lines gathered from the apps that know (members.offers), in the
language asked for, and said first on the join page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from campaigns.models import Campaign
from members import offers

from ..factories import CampaignFactory, PointsRuleFactory, ShopFactory, StampProgramFactory, TierFactory

Gift = Campaign.Gift


@pytest.fixture
def shop(db):
    """A café with a stamp card, points on purchases and a welcome gift running."""
    shop = ShopFactory(name="Morning Light", language="zh-hant", currency="TWD")
    StampProgramFactory(shop=shop, stamps_needed=10, reward="Free latte")
    PointsRuleFactory(shop=shop, points_per_step=1, step_amount=10)
    CampaignFactory(shop=shop, kind=Campaign.Kind.WELCOME, gift=Gift.STAMPS, gift_stamps=1)
    return shop


def welcome(shop, **fields) -> Campaign:
    return CampaignFactory(shop=shop, kind=Campaign.Kind.WELCOME, **fields)


def test_the_card_the_points_and_the_welcome_gift_in_english(shop):
    assert offers.lines(shop, "en") == [
        "10 stamps → Free latte",
        "1 point for every NT$10",
        "A welcome gift when you join: +1 stamp",
    ]


@pytest.mark.parametrize("language", ["zh-hant", "zh-hans"])
def test_the_lines_come_in_the_language_asked_for(shop, language):
    with translation.override("en"):
        lines = offers.lines(shop, language)
        # The caller's language is left as it was.
        assert translation.get_language() == "en"

    assert len(lines) == 3
    stamps, points, gift = lines
    assert "10" in stamps and "Free latte" in stamps
    assert "1" in points and "NT$10" in points
    assert "1" in gift


def test_every_card_its_own_line_and_amounts_as_the_currency_writes_them(db):
    shop = ShopFactory(currency="USD")
    StampProgramFactory(shop=shop, stamps_needed=8, reward="a free coffee")
    StampProgramFactory(shop=shop, stamps_needed=5, reward="a slice of cake")
    StampProgramFactory(shop=shop, stamps_needed=6, reward="a paused reward", is_active=False)
    PointsRuleFactory(shop=shop, points_per_step=5, step_amount="2.50")

    assert offers.lines(shop, "en") == [
        "8 stamps → a free coffee",
        "5 stamps → a slice of cake",
        "5 points for every US$2.50",
    ]


def test_points_that_are_off_are_not_offered(db):
    shop = ShopFactory()
    PointsRuleFactory(shop=shop, is_active=False)

    assert offers.lines(shop, "en") == []


@pytest.mark.parametrize(
    ("fields", "line"),
    [
        ({"gift": Gift.STAMPS, "gift_stamps": 2}, "A welcome gift when you join: +2 stamps"),
        ({"gift": Gift.POINTS, "gift_points": 50}, "A welcome gift when you join: +50 points"),
        ({"gift": Gift.POINTS, "gift_points": 1}, "A welcome gift when you join: +1 point"),
        (
            {"gift": Gift.VOUCHER, "voucher_title": "A free slice of cake"},
            "A welcome gift when you join: A free slice of cake",
        ),
        ({"gift": Gift.VOUCHER, "name": "Hello there"}, "A welcome gift when you join: Hello there"),
    ],
)
def test_what_a_welcome_gift_gives(db, fields, line):
    shop = ShopFactory()
    StampProgramFactory(shop=shop, stamps_needed=10, reward="Free latte")
    welcome(shop, **fields)

    assert offers.lines(shop, "en")[1:] == [line]


def test_only_a_gift_everyone_joining_now_gets_is_promised(db):
    shop = ShopFactory()
    StampProgramFactory(shop=shop, reward="Free latte")
    now = timezone.now()
    gift = {"gift": Gift.POINTS, "gift_points": 10}
    welcome(shop, is_active=False, **gift)
    welcome(shop, starts_at=now + timedelta(days=1), **gift)
    welcome(shop, ends_at=now - timedelta(minutes=1), **gift)
    welcome(shop, holdout_percent=10, **gift)  # some who join get nothing, for comparison
    welcome(shop, audience=Campaign.Audience.TIER, audience_tier=TierFactory(shop=shop), **gift)
    welcome(shop, audience=Campaign.Audience.JOINED, audience_to=(now - timedelta(days=2)).date(), **gift)
    welcome(shop, gift=Gift.NONE)
    CampaignFactory(shop=shop, kind=Campaign.Kind.BIRTHDAY, **gift)
    assert offers.lines(shop, "en") == ["10 stamps → Free latte"]

    welcome(shop, audience=Campaign.Audience.JOINED, audience_from=(now - timedelta(days=2)).date(), **gift)
    assert offers.lines(shop, "en") == ["10 stamps → Free latte", "A welcome gift when you join: +10 points"]


def test_stamps_with_no_active_card_to_land_on_are_not_promised(db):
    shop = ShopFactory()
    paused = StampProgramFactory(shop=shop, is_active=False)
    welcome(shop, gift=Gift.STAMPS, gift_stamps=1)
    welcome(shop, gift=Gift.STAMPS, gift_stamps=2, gift_program=paused)

    assert offers.lines(shop, "en") == []


def test_a_change_shows_at_once(shop):
    assert len(offers.lines(shop, "en")) == 3

    campaign = Campaign.objects.get(shop=shop)
    campaign.is_active = False
    campaign.save()
    program = shop.stamp_programs.get()
    program.reward = "Free cappuccino"
    program.save()

    assert offers.lines(shop, "en") == ["10 stamps → Free cappuccino", "1 point for every NT$10"]


def test_sources_are_asked_in_their_order_and_in_the_language(db, monkeypatch):
    shop = ShopFactory()
    monkeypatch.setattr(offers, "SOURCES", {})
    offers.register(offers.Source("late", lambda shop: ["late"], order=30))
    offers.register(offers.Source("early", lambda shop: [translation.get_language(), shop.name], order=5))
    offers.register(offers.Source("none", lambda shop: [], order=10))

    assert offers.lines(shop, "zh-hans") == ["zh-hans", shop.name, "late"]


def test_each_app_registers_its_source():
    assert {"rewards", "campaigns"} <= offers.SOURCES.keys()


# The join page.


@pytest.mark.parametrize("language", ["en", "zh-hant"])
def test_the_join_page_says_what_joining_gives_in_the_customers_language(shop, client, language):
    response = client.get(reverse("members:join", args=[shop.slug]), HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 200
    page = response.content.decode()
    lines = offers.lines(shop, language)
    assert '<ul class="offer">' in page
    for line in lines:
        assert f"<li>{line}</li>" in page
    # Above the form.
    assert page.index('<ul class="offer">') < page.index("<form")


def test_a_join_page_with_nothing_to_offer_has_no_empty_list(db, client):
    shop = ShopFactory()

    response = client.get(reverse("members:join", args=[shop.slug]))

    assert response.status_code == 200
    assert 'class="offer"' not in response.content.decode()


def test_what_the_shop_typed_is_escaped_on_the_join_page(db, client):
    shop = ShopFactory()
    StampProgramFactory(shop=shop, stamps_needed=10, reward="<b>Free</b> latte")

    page = client.get(reverse("members:join", args=[shop.slug])).content.decode()

    assert "10 stamps → &lt;b&gt;Free&lt;/b&gt; latte" in page
