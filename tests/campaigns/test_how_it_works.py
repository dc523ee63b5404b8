"""A shop's public "how our programme works" page (/j/<slug>/how/): every rule of its settings and
running campaigns in plain words, only what is on now, new words as soon as a setting changes, in the
visitor's language, at a fixed number of queries; linked from the join page, the card and the poster."""

import html
import io
import re
import shutil
import subprocess
from datetime import time, timedelta
from decimal import Decimal

import pytest
import zxingcpp
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from campaigns import how_it_works
from campaigns.models import Campaign
from members import poster
from members.config import forget
from members.tokens import card_token
from rewards.models import MembershipPlan, PointsRule, StampProgram, TierPolicy
from rewards.services.setup import points_rule_save, program_save

from ..factories import (
    CampaignFactory,
    CatalogueRewardFactory,
    CauseFactory,
    MemberFactory,
    PointsRuleFactory,
    StampProgramFactory,
    TierFactory,
    TierPolicyFactory,
)

Kind = Campaign.Kind


def page_url(shop) -> str:
    return reverse("campaigns:how_it_works", args=[shop.slug])


def words(response) -> str:
    """The page's text as a reader sees it: tags out, entities read, runs of white space one space."""
    assert response.status_code == 200
    body = re.sub(r"<script.*?</script>|<style.*?</style>", "", response.content.decode(), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def set_expiry(rule: PointsRule, expiry: str, months: int | None) -> None:
    """As the owner's points page does: the new terms apply to points earned from now on."""
    rule.expiry, rule.expiry_months = expiry, months
    points_rule_save(rule=rule)


@pytest.fixture
def shop(world):
    """Alice's café with everything on: a card, points that expire, tiers, rewards, plans and campaigns."""
    shop = world.shop
    card = StampProgramFactory(
        shop=shop, name="Coffee card", stamps_needed=10, reward="a free latte", voucher_valid_days=30,
        max_stamps_per_visit=2, min_minutes_between_visits=60,
    )  # fmt: skip
    rule = PointsRuleFactory(
        shop=shop, step_amount=10, bill_points=100, bill_value=10, bill_max_percent=50, purchase_stamps=card
    )
    set_expiry(rule, PointsRule.Expiry.AFTER_EARNED, 12)
    TierPolicyFactory(shop=shop, basis=TierPolicy.Basis.VISITS, window_months=6, grace_days=30)
    silver = TierFactory(shop=shop, name="Silver", threshold=8, multiplier=Decimal("1.25"), benefits="Free oat milk")
    TierFactory(shop=shop, name="Gold", threshold=20)
    CatalogueRewardFactory(shop=shop, name="Butter cookie", cost_points=50)
    CatalogueRewardFactory(
        shop=shop, name="Tasting flight", cost_points=None, cost_stamps=3, stamp_program=card, min_tier=silver,
        per_member_limit=1,
    )  # fmt: skip
    MembershipPlan.objects.create(
        shop=shop, name="Coffee club", price=300, period_months=1, discount_percent=10, allowance_title="a free drink",
        tier=silver, vip_after_months=6,
    )  # fmt: skip
    MembershipPlan.objects.create(
        shop=shop, name="Latte pack", kind=MembershipPlan.Kind.BUNDLE, price=1000, items=10, item_name="latte",
        valid_days=90, vip_after_months=None,
    )  # fmt: skip
    CampaignFactory(shop=shop, kind=Kind.WELCOME, gift="stamps", gift_stamps=1)
    CampaignFactory(shop=shop, kind=Kind.BIRTHDAY, gift="voucher", voucher_title="a slice of cake", days_before=7)
    CampaignFactory(
        shop=shop, kind=Kind.BOOST, name="Double Wednesday", multiplier=2, weekdays="2", hours_from=time(14),
        hours_to=time(17),
    )  # fmt: skip
    CampaignFactory(shop=shop, kind=Kind.BOOST, name="Gold hour", multiplier=Decimal("1.5"), multiplies="points",
                    audience=Campaign.Audience.TIER, audience_tier=silver)  # fmt: skip
    CampaignFactory(shop=shop, kind=Kind.REFERRAL, gift="stamps", gift_stamps=2, referral_limit=5)
    CampaignFactory(shop=shop, kind=Kind.WINBACK, gift="voucher", voucher_title="a coffee on us", days_away=30)
    return shop


def test_the_page_says_each_rule_in_plain_words(shop, client):
    text = words(client.get(page_url(shop)))

    for sentence in [
        # The card: what it gives, how stamps are earned, what a full card becomes.
        "Coffee card: collect 10 stamps and get a free latte.",
        "Staff stamp your card at the counter: up to 2 stamps per visit.",
        "Visits count when they are at least 1 hour apart.",
        "A purchase also stamps this card.",
        "A full card gives you a voucher on your card, valid for 30 days.",
        # Points: earning, rounding, what they are worth, expiry.
        "Earn 1 point for every NT$10 you spend.",
        "What you spend counts in steps of NT$10, rounded down: NT$15 earns 1 point.",
        "100 points take NT$10 off your bill.",
        "You can pay up to 50% of a bill with points.",
        "Points expire 12 months after you earn them.",
        # Rewards: costs in points and in stamps, who may have them.
        "Butter cookie: 50 points",
        "Tasting flight: 3 stamps on Coffee card",
        "For Silver members and above.",
        "At most 1 per member.",
        # Tiers: what counts, over how long, moving up and down, each tier.
        "Your tier depends on your visits in the last 6 months.",
        "You move up as soon as you reach a tier.",
        "If you fall below your tier, you keep it for 30 more days before moving down.",
        "Silver: 8 visits",
        "Points ×1.25 on your purchases.",
        "Free oat milk",
        "Gold: 20 visits",
        # Memberships on sale, with their price and benefits.
        "Coffee club: NT$300 for 1 month.",
        "You are Silver while it runs.",
        "10% off what you buy at the counter",
        "Each month: a free drink, as a voucher on your card.",
        "After 6 months in a row you are VIP.",
        "Latte pack: 10 × latte for NT$1,000.",
        "Use them within 90 days.",
        # The running campaigns.
        "A welcome gift when you join: 1 stamp on Coffee card",
        "A birthday gift: a slice of cake, 7 days before your birthday.",
        "Double Wednesday: your stamps and points count ×2.",
        "Every Wednesday, from 14:00 to 17:00",
        "Gold hour: your points count ×1.5.",
        "For Silver members.",
        "you both get 2 stamps on Coffee card.",
        "For up to 5 friends.",
        "We miss you: after 30 days without a visit, you get a coffee on us.",
    ]:
        assert sentence in text, sentence
    # Each section in the order a customer meets them, and a way to join.
    sections = [s.key for s in how_it_works.sections(shop)]
    assert sections == ["stamps", "points", "rewards", "tiers", "plans", "extras"]
    assert f'href="{reverse("members:join", args=[shop.slug])}"' in client.get(page_url(shop)).content.decode()


@pytest.mark.parametrize(
    ("rounding", "sentence"),
    [
        ("down", "rounded down: NT$55 earns 5 points."),
        ("nearest", "rounded to the nearest: NT$55 earns 6 points."),
        ("up", "rounded up: NT$52 earns 6 points."),
    ],
)
def test_the_rounding_is_shown_on_a_purchase_that_earns_points(world, client, rounding, sentence):
    PointsRuleFactory(shop=world.shop, step_amount=10, rounding=rounding, min_purchase=50)

    text = words(client.get(page_url(world.shop)))

    assert sentence in text
    assert "Purchases under NT$50 earn no points." in text
    assert "Points do not expire." in text


def test_the_page_changes_when_the_settings_do(shop, client):
    before = words(client.get(page_url(shop)))
    assert "collect 10 stamps" in before and "Points expire 12 months after you earn them." in before

    card = StampProgram.objects.get(shop=shop, name="Coffee card")
    card.stamps_needed, card.reward = 8, "a free cappuccino"
    program_save(program=card)
    set_expiry(PointsRule.objects.get(shop=shop), PointsRule.Expiry.AFTER_LAST_VISIT, 3)
    tier = shop.tiers.get(name="Gold")
    tier.threshold = 25
    tier.save()
    Campaign.objects.filter(shop=shop, kind=Kind.WINBACK).update(days_away=60)
    after = words(client.get(page_url(shop)))

    assert "Coffee card: collect 8 stamps and get a free cappuccino." in after and "collect 10 stamps" not in after
    assert "Points expire after 3 months without a visit: every visit keeps them all." in after
    assert "Points expire 12 months after you earn them." not in after
    # Points already earned keep the terms they were earned under.
    assert "keep the terms that applied when they were earned." in after
    assert "Gold: 25 visits" in after and "Gold: 20 visits" not in after
    assert "after 60 days without a visit" in after


def test_expiry_terms_announced_for_a_later_day_are_said_with_their_day(world, client):
    rule = PointsRuleFactory(shop=world.shop)
    rule.expiry, rule.expiry_months = PointsRule.Expiry.AFTER_EARNED, 6
    points_rule_save(rule=rule, expiry_from=timezone.now() + timedelta(days=40))

    text = words(client.get(page_url(world.shop)))

    assert "Points do not expire." in text
    day = timezone.localtime(timezone.now() + timedelta(days=40), world.shop.tz)
    assert f"From {day.day} {day:%b %Y}: Points expire 6 months after you earn them." in text


def test_only_what_is_on_now_is_said(world, client):
    shop = world.shop
    StampProgramFactory(shop=shop, name="Coffee card", reward="a free latte")
    paused = StampProgramFactory(shop=shop, name="Tea card", reward="a free tea", is_active=False)
    PointsRuleFactory(shop=shop, is_active=False)
    CatalogueRewardFactory(shop=shop, name="Cookie for points", cost_points=20)  # points are off
    CatalogueRewardFactory(shop=shop, name="Tea from the paused card", cost_points=None, cost_stamps=2,
                           stamp_program=paused)  # fmt: skip
    CatalogueRewardFactory(shop=shop, name="Sold out", cost_points=None, cost_stamps=1, stock=0,
                           stamp_program=shop.stamp_programs.get(name="Coffee card"))  # fmt: skip
    MembershipPlan.objects.create(shop=shop, name="Retired club", price=100, period_months=1, status="retired")
    MembershipPlan.objects.create(shop=shop, name="Paused club", price=100, period_months=1, status="paused")
    now = timezone.now()
    gift = {"gift": "voucher"}
    CampaignFactory(
        shop=shop, kind=Kind.WELCOME, voucher_title="Ended gift", ends_at=now - timedelta(minutes=1), **gift
    )
    CampaignFactory(shop=shop, kind=Kind.WELCOME, voucher_title="Later gift", starts_at=now + timedelta(days=1), **gift)
    CampaignFactory(shop=shop, kind=Kind.WELCOME, voucher_title="Stopped gift", is_active=False, **gift)
    CampaignFactory(shop=shop, kind=Kind.WELCOME, voucher_title="Held back gift", holdout_percent=20, **gift)
    CampaignFactory(shop=shop, kind=Kind.BIRTHDAY, voucher_title="Regulars' gift", audience="segment",
                    audience_segment="regular", **gift)  # fmt: skip
    CampaignFactory(shop=shop, kind=Kind.BOOST, name="Stamps on a paused day", multiplier=2,
                    on_date=timezone.localdate(timezone=shop.tz) - timedelta(days=1))  # fmt: skip
    CampaignFactory(shop=shop, kind=Kind.WELCOME, gift="stamps", gift_stamps=1, gift_program=paused)
    CampaignFactory(shop=shop, kind=Kind.ANNOUNCEMENT, name="Autumn menu")

    text = words(client.get(page_url(shop)))

    assert "Coffee card: collect" in text
    for absent in [
        "Tea card", "a free tea", "Points", "Cookie for points", "Tea from the paused card", "Sold out",
        "Retired club", "Paused club", "Ended gift", "Later gift", "Stopped gift", "Held back gift",
        "Regulars' gift", "Stamps on a paused day", "welcome gift", "Autumn menu", "Tiers",
    ]:  # fmt: skip
        assert absent not in text, absent


def test_a_shop_with_nothing_on_says_so_plainly(world, client):
    StampProgramFactory(shop=world.shop, is_active=False)
    TierFactory(shop=world.shop)  # tiers without a policy are not in use

    text = words(client.get(page_url(world.shop)))

    assert "Alice's Café has not set up its loyalty card yet. Ask at the counter." in text
    assert how_it_works.sections(world.shop) == []


def test_an_unknown_shop_is_404(db, client):
    assert client.get("/j/no-such-shop/how/").status_code == 404


@pytest.mark.parametrize(
    ("how", "language"),
    [({"HTTP_ACCEPT_LANGUAGE": "zh-TW,zh;q=0.9"}, "zh-hant"), ({"HTTP_ACCEPT_LANGUAGE": "zh-CN"}, "zh-hans")],
)
def test_the_page_is_in_the_browsers_language(shop, client, how, language):
    response = client.get(page_url(shop), **how)

    assert response.status_code == 200
    body = response.content.decode()
    assert f'<html lang="{language}">' in body
    # The owner's words as typed, the amounts as the currency writes them.
    assert "Coffee card" in body and "NT$10" in body and "Double Wednesday" in body


def test_the_visitors_choice_wins_over_the_browser_and_the_shop(shop, client):
    shop.language = "zh-hant"
    shop.save()

    assert '<html lang="zh-hant">' in client.get(page_url(shop)).content.decode()
    client.cookies["django_language"] = "zh-hans"
    assert '<html lang="zh-hans">' in client.get(page_url(shop), HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_the_page_costs_the_same_queries_however_much_the_shop_has(shop, client, django_assert_num_queries):
    # Settings held by this process (the usual case): the shop and its running campaigns.
    client.get(page_url(shop))
    with django_assert_num_queries(2):
        assert client.get(page_url(shop)).status_code == 200

    def cold() -> int:
        forget()  # another process, or the first request after a change
        with CaptureQueriesContext(connection) as queries:
            assert client.get(page_url(shop)).status_code == 200
        return len(queries)

    few = cold()
    cards = [StampProgramFactory(shop=shop, name=f"Card {n}") for n in range(5)]
    for n in range(5):
        TierFactory(shop=shop, name=f"Tier {n}", threshold=100 + n, multiplier=2)
        CatalogueRewardFactory(shop=shop, name=f"Reward {n}", cost_points=None, cost_stamps=2, stamp_program=cards[n])
        MembershipPlan.objects.create(shop=shop, name=f"Plan {n}", price=100, period_months=3, tier=shop.tiers.last())
        CampaignFactory(shop=shop, kind=Kind.WELCOME, gift="stamps", gift_stamps=1, gift_program=cards[n])
        CampaignFactory(shop=shop, kind=Kind.BOOST, name=f"Boost {n}", multiplier=2, audience="tier",
                        audience_tier=shop.tiers.first())  # fmt: skip
    assert "Plan 4" in words(client.get(page_url(shop)))
    assert cold() == few


def test_the_join_page_and_the_card_link_to_the_page(shop, client):
    link = f'href="{page_url(shop)}"'
    member = MemberFactory(shop=shop)

    assert link in client.get(reverse("members:join", args=[shop.slug])).content.decode()
    assert link in client.get(reverse("rewards:card", args=[card_token(member)])).content.decode()


JOIN_URL = "https://loyalty.example.com/j/morning-light-coffee-roasters-and-bakery/"
HOW_URL = "https://loyalty.example.com/j/morning-light-coffee-roasters-and-bakery/how/"


@pytest.mark.parametrize("layout", ["a4", "tent"])
@pytest.mark.parametrize("language", ["en", "zh-hant"])
def test_the_poster_names_the_page_under_the_join_link(shop, layout, language):
    shop.language, shop.poster_second_language = language, "en" if language != "en" else ""
    spec = poster.LAYOUTS[layout]

    image, boxes = poster.compose(shop=shop, join_url=JOIN_URL, spec=spec, how_url=HOW_URL)

    sheet = poster.plan(shop=shop, join_url=JOIN_URL, spec=spec, how_url=HOW_URL)
    small_print = "".join(item.text for item in sheet.panel if isinstance(item, poster._Line))
    assert HOW_URL in small_print and JOIN_URL in small_print
    # The small print keeps inside the margins, clear of everything else; the QR code still opens the join page.
    boxes.pop("fold_hint", None)
    margin = round(spec.margin * poster.MM)
    panel_top = image.height - spec.panel[1]
    for name, (left, top, right, bottom) in boxes.items():
        assert margin <= left < right <= image.width - margin, name
        assert panel_top + margin <= top < bottom <= image.height - margin, name
    url = boxes["url"]
    for name in ("qr", "offer", "headline"):
        other = boxes[name]
        assert url[2] <= other[0] or other[2] <= url[0] or url[3] <= other[1] or other[3] <= url[1], name
    barcodes = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    assert [code.text for code in barcodes] == [JOIN_URL] * (2 if spec.tent else 1)


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils is not installed")
def test_the_downloaded_poster_says_where_the_rules_are(shop, world, tmp_path):
    client = world.client(world.bob)
    png = client.get(reverse("members:poster", args=[shop.slug, "a4", "png"]))
    pdf = client.get(reverse("members:poster", args=[shop.slug, "tent", "pdf"]))

    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert code.text.endswith(reverse("members:join", args=[shop.slug]))
    (tmp_path / "poster.pdf").write_bytes(pdf.content)
    text = subprocess.run(["pdftotext", tmp_path / "poster.pdf", "-"], check=True, capture_output=True, text=True)
    squeezed = "".join(text.stdout.split())
    # On each side of the tent, under the join link.
    assert squeezed.count("Howitworks:") == 2 and squeezed.count(page_url(shop)) == 2


def test_a_running_cause_says_what_the_shop_gives_and_what_a_point_is_worth(world, client):
    CauseFactory(shop=world.shop, point_value="0.5", match_limit=1000)
    CauseFactory(shop=world.shop, name="Paused cause", status="paused")
    page = client.get(reverse("campaigns:how_it_works", args=[world.shop.slug])).content.decode()
    assert "Doing some good" in page
    assert "Trees for Taipei, with Green Taiwan: the goal is 500 trees." in page
    assert "For every visit, the shop gives NT$10." in page
    assert "every 2 points send NT$1" in page
    assert "up to NT$1,000 in all" in page
    assert "Paused cause" not in page


def test_an_anniversary_gift_is_said_with_its_growth(world, client):
    CampaignFactory(shop=world.shop, kind=Kind.ANNIVERSARY, gift="points", gift_points=20)
    page = client.get(reverse("campaigns:how_it_works", args=[world.shop.slug])).content.decode()
    assert "Every year on the day you joined: 20 points." in page
    assert "It grows with every year you have been with us, up to ten years." in page
