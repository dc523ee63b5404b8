"""Partner offers between two shops: proposed by one owner and accepted by the other, shown on the
members' cards and the rules page, given at the partner's counter once per member and period (in
the partner's calendar), ended by either side; each step proven by what the owners, the member and
the partner's counter see afterwards. Nothing about a member reaches the partner but the use."""

import json
import re
import zipfile
from datetime import date, datetime, timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from members import services as member_services
from members.models import Role
from members.tokens import card_token, member_qr_payload
from rewards.data import archive
from rewards.models import PartnerOffer, PartnerRedemption
from rewards.services import partners

from ..factories import MemberFactory, ShopFactory, StaffFactory, UserFactory

TAIPEI = ZoneInfo("Asia/Taipei")
# A Wednesday in Taipei.
WEDNESDAY = datetime(2026, 11, 25, 10, 0, tzinfo=TAIPEI)


@pytest.fixture(autouse=True)
def wednesday():
    with time_machine.travel(WEDNESDAY, tick=False):
        yield


@pytest.fixture
def mia(world):
    return MemberFactory(shop=world.shop, name="Mia Chen", email="mia@example.com", phone="+886912345678")


@pytest.fixture
def dave_staff(world):
    return StaffFactory(shop=world.other_shop, role=Role.STAFF, user__email="erin@example.com").user


def propose(world, **fields):
    """Alice proposes that her members get 10% off at Dave's Bakery, once a week."""
    values = {"title": "10% off any pastry", "terms": "Not with other offers.", "period": "week", "ends_on": None}
    values.update(fields)
    return partners.offer_propose(shop=world.shop, partner=world.other_shop, ours=True, by=world.alice, **values)


def accepted(world, offer):
    return partners.offer_answer(offer=offer, shop=world.other_shop, accept=True, by=world.dave)


def redeem(world, offer, member, now=None):
    return partners.redeem(offer=offer, member=member, shop=world.other_shop, staff=world.dave, now=now)


@pytest.fixture
def offer(world):
    offer = propose(world)
    return partners.offer_answer(offer=offer, shop=world.other_shop, accept=True, by=world.dave)


def counter_scan(client, shop, member):
    """A scan at the counter, answered as htmx asks: the result area only."""
    return client.get(
        reverse("rewards:counter", args=[shop.slug]), {"q": member_qr_payload(member)}, HTTP_HX_REQUEST="true"
    )


def pass_in(page) -> str:
    """The pass the counter rendered into the offer's form, as the browser posts it."""
    return re.search(r'name="pass" value="([^"]+)"', page.content.decode())[1]


def undo_url(page) -> str:
    return re.search(r'action="([^"]+/counter/partner/undo/[^"]+)"', page.content.decode())[1]


def give(client, shop, offer, page):
    url = reverse("rewards:counter_partner_redeem", args=[shop.slug, offer.public_id])
    return client.post(url, {"pass": pass_in(page)}, HTTP_HX_REQUEST="true")


# The owners: propose, accept, decline, withdraw, end.


def test_a_proposal_reaches_the_partner_owner_who_accepts_it_and_both_see_it_run(
    world, django_capture_on_commit_callbacks
):
    alice, dave = world.client(world.alice), world.client(world.dave)
    with django_capture_on_commit_callbacks(execute=True):
        answer = alice.post(
            reverse("rewards:partner_propose", args=[world.shop.slug]),
            {"partner": f"https://loyalty.example/j/{world.other_shop.slug}/", "direction": "ours",
             "title": "10% off any pastry", "terms": "", "period": "week", "ends_on": ""},
        )  # fmt: skip
    assert answer.status_code == 302
    [news] = mail.outbox
    assert news.to == ["dave@example.com"]
    assert "Alice's Café" in news.subject and "10% off any pastry" in news.body

    page = dave.get(reverse("rewards:partner_list", args=[world.other_shop.slug])).content.decode()
    assert "Proposed to you" in page and "Members of Alice&#x27;s Café, at our counter" in page
    offer = PartnerOffer.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        dave.post(reverse("rewards:partner_answer", args=[world.other_shop.slug, offer.public_id]), {"accept": "1"})
    assert mail.outbox[-1].to == ["alice@example.com"] and "accepted" in mail.outbox[-1].subject
    offer.refresh_from_db()
    assert offer.status == PartnerOffer.Status.ACTIVE and offer.answered_by == world.dave

    page = alice.get(reverse("rewards:partner_list", args=[world.shop.slug])).content.decode()
    assert "Our members, at Dave&#x27;s Bakery" in page and "Used 0 times, by 0 of our members" in page


def test_the_proposer_cannot_accept_their_own_proposal_and_a_declined_one_never_runs(world, mia):
    offer = propose(world)
    alice = world.client(world.alice)
    alice.post(reverse("rewards:partner_answer", args=[world.shop.slug, offer.public_id]), {"accept": "1"})
    offer.refresh_from_db()
    assert offer.status == PartnerOffer.Status.PROPOSED
    assert partners.card_offers(mia) == []

    world.client(world.dave).post(
        reverse("rewards:partner_answer", args=[world.other_shop.slug, offer.public_id]), {"accept": "0"}
    )
    offer.refresh_from_db()
    assert offer.status == PartnerOffer.Status.DECLINED
    assert partners.card_offers(mia) == []
    page = alice.get(reverse("rewards:partner_list", args=[world.shop.slug])).content.decode()
    assert "Past offers" in page and "declined" in page


def test_the_proposer_withdraws_a_proposal_before_it_is_answered(world):
    offer = propose(world)
    world.client(world.alice).post(reverse("rewards:partner_end", args=[world.shop.slug, offer.public_id]))
    offer.refresh_from_db()
    assert offer.status == PartnerOffer.Status.WITHDRAWN
    answer = world.client(world.dave).post(
        reverse("rewards:partner_answer", args=[world.other_shop.slug, offer.public_id]), {"accept": "1"}, follow=True
    )
    assert "withdrawn: there is nothing to answer" in answer.content.decode()
    offer.refresh_from_db()
    assert offer.status == PartnerOffer.Status.WITHDRAWN


@pytest.mark.parametrize(
    "partner, error",
    [
        ("no-such-shop", "No shop of this portal has that address."),
        ("alices-cafe", "That is your own shop: choose another."),
        ("https://elsewhere.example/j/alices-cafe/", "That is your own shop: choose another."),
        ("", "This field is required."),
        ("bad\x00slug", "a NUL byte"),
    ],
)
def test_a_proposal_to_no_shop_or_to_itself_is_refused_and_nothing_is_made(world, partner, error):
    answer = world.client(world.alice).post(
        reverse("rewards:partner_propose", args=[world.shop.slug]),
        {"partner": partner, "direction": "ours", "title": "10% off", "period": "week"},
    )
    assert answer.status_code == 400
    assert error in answer.content.decode()
    assert not PartnerOffer.objects.exists()


def test_the_same_offer_is_not_proposed_twice_and_a_past_last_day_is_refused(world):
    propose(world)
    answer = world.client(world.alice).post(
        reverse("rewards:partner_propose", args=[world.shop.slug]),
        {"partner": "daves-bakery", "direction": "ours", "title": "10% OFF ANY PASTRY", "period": "week"},
    )
    assert answer.status_code == 400 and "already proposed or running" in answer.content.decode()
    answer = world.client(world.alice).post(
        reverse("rewards:partner_propose", args=[world.shop.slug]),
        {"partner": "daves-bakery", "direction": "ours", "title": "A free cookie", "period": "week",
         "ends_on": "2026-11-24"},
    )  # fmt: skip
    assert answer.status_code == 400 and "already passed" in answer.content.decode()
    assert PartnerOffer.objects.count() == 1


def test_an_offer_for_the_partners_members_runs_the_other_way(world):
    dave_member = MemberFactory(shop=world.other_shop)
    offer = partners.offer_propose(
        shop=world.shop, partner=world.other_shop, ours=False, title="A free espresso shot", terms="",
        period="month", ends_on=None, by=world.alice,
    )  # fmt: skip
    partners.offer_answer(offer=offer, shop=world.other_shop, accept=True, by=world.dave)
    assert (offer.members_shop, offer.partner_shop) == (world.other_shop, world.shop)
    [state] = partners.card_offers(dave_member)
    assert state.offer == offer and state.available


# The member's card and the rules page.


def test_the_card_and_the_rules_page_show_a_running_offer_and_forget_it_once_ended(world, mia, offer, client):
    card = reverse("rewards:card", args=[card_token(mia)])
    page = client.get(card).content.decode()
    assert "At our partners" in page and "10% off any pastry" in page and "at Dave&#x27;s Bakery" in page
    assert "Show the QR code above at their counter." in page
    rules = client.get(reverse("campaigns:how_it_works", args=[world.shop.slug])).content.decode()
    assert "10% off any pastry at Dave&#x27;s Bakery" in rules

    partners.offer_end(offer=offer, shop=world.other_shop, by=world.dave)
    assert "10% off any pastry" not in client.get(card).content.decode()
    rules = client.get(reverse("campaigns:how_it_works", args=[world.shop.slug])).content.decode()
    assert "10% off any pastry" not in rules


def test_an_offer_past_its_last_day_is_off_the_card_and_refused_at_the_counter(world, mia, dave_staff):
    offer = propose(world, ends_on=date(2026, 11, 25))
    partners.offer_answer(offer=offer, shop=world.other_shop, accept=True, by=world.dave)
    assert len(partners.card_offers(mia)) == 1
    with time_machine.travel(datetime(2026, 11, 26, 0, 0, tzinfo=TAIPEI), tick=False):
        assert partners.card_offers(mia) == []
        page = counter_scan(world.client(dave_staff), world.other_shop, mia)
        assert "Give this offer" not in page.content.decode()
        assert "This QR code is not one of this shop&#x27;s member codes." in page.content.decode()


# The partner's counter.


def test_the_partner_counter_gives_the_offer_once_a_week_and_shows_no_member_data(world, mia, offer, dave_staff):
    till = world.client(dave_staff)
    page = counter_scan(till, world.other_shop, mia)
    html = page.content.decode()
    assert "A member of Alice&#x27;s Café" in html and "Give this offer" in html
    for private in ("Mia", "Chen", mia.code, "mia@example.com", "5678"):
        assert private not in html

    given = give(till, world.other_shop, offer, page)
    assert given.status_code == 200
    html = given.content.decode()
    assert "Given: 10% off any pastry." in html and "Undo" in html
    assert "Already used this period. It can be used again from 2026-11-30." in html
    for private in ("Mia", "Chen", mia.code):
        assert private not in html

    again = give(till, world.other_shop, offer, page)
    assert again.status_code == 409
    assert "already used this offer once a week; it can be used again from 2026-11-30" in again.content.decode()
    assert PartnerRedemption.objects.filter(undone_at__isnull=True).count() == 1

    # The member's card says so; both owners count one use by one member.
    card = world.client(None).get(reverse("rewards:card", args=[card_token(mia)])).content.decode()
    assert "Used this period; again from" in card
    for client, shop, words in ((world.client(world.alice), world.shop, "of our members"),
                                (world.client(world.dave), world.other_shop, "of their members")):  # fmt: skip
        page = client.get(reverse("rewards:partner_list", args=[shop.slug])).content.decode()
        assert f"Used 1 time, by 1 {words}" in page

    # Monday in Taipei is a new week.
    with time_machine.travel(datetime(2026, 11, 30, 0, 1, tzinfo=TAIPEI), tick=False):
        page = counter_scan(till, world.other_shop, mia)
        assert give(till, world.other_shop, offer, page).status_code == 200
    with time_machine.travel(datetime(2026, 11, 29, 23, 59, tzinfo=TAIPEI), tick=False):
        assert [state.available for state in partners.card_offers(mia)] == [False]


@pytest.mark.parametrize(
    "period, used, again, open_at",
    [
        ("day", WEDNESDAY, "2026-11-26", datetime(2026, 11, 26, 0, 0, tzinfo=TAIPEI)),
        ("month", WEDNESDAY, "2026-12-01", datetime(2026, 12, 1, 0, 0, tzinfo=TAIPEI)),
        ("month", datetime(2027, 1, 31, 23, 0, tzinfo=TAIPEI), "2027-02-01", datetime(2027, 2, 1, 0, 0, tzinfo=TAIPEI)),
    ],
)
def test_each_period_opens_again_at_midnight_of_the_partners_next_window(world, mia, period, used, again, open_at):
    offer = accepted(world, propose(world, period=period))
    redeem(world, offer, mia, now=used)
    with pytest.raises(partners.LoyaltyError) as refused:
        redeem(world, offer, mia, now=open_at - timedelta(minutes=1))
    assert f"again from {again}" in refused.value.message
    redeem(world, offer, mia, now=open_at)
    assert PartnerRedemption.objects.count() == 2


def test_a_once_only_offer_is_used_once_ever(world, mia):
    offer = accepted(world, propose(world, period="once"))
    redeem(world, offer, mia)
    with pytest.raises(partners.LoyaltyError, match="once only"):
        redeem(world, offer, mia, now=WEDNESDAY + timedelta(days=400))


def test_a_slip_is_undone_within_minutes_and_the_offer_can_be_given_again(world, mia, offer, dave_staff):
    till = world.client(dave_staff)
    page = counter_scan(till, world.other_shop, mia)
    given = give(till, world.other_shop, offer, page)
    undo = undo_url(given)
    undone = till.post(undo)
    assert "Undone: 10% off any pastry was not given." in undone.content.decode()
    assert "Give this offer" in undone.content.decode()
    assert till.post(undo).status_code == 409

    given = give(till, world.other_shop, offer, counter_scan(till, world.other_shop, mia))
    assert given.status_code == 200, given.content.decode()
    with time_machine.travel(WEDNESDAY + timedelta(minutes=6), tick=False):
        late = till.post(undo_url(given))
    assert late.status_code == 409 and "Undo works for 5 minutes" in late.content.decode()
    assert PartnerRedemption.objects.filter(undone_at__isnull=True).count() == 1


def test_an_ended_offer_is_refused_at_the_counter_even_from_a_panel_open_before(world, mia, offer, dave_staff):
    till = world.client(dave_staff)
    page = counter_scan(till, world.other_shop, mia)
    partners.offer_end(offer=offer, shop=world.shop, by=world.alice)
    refused = give(till, world.other_shop, offer, page)
    assert refused.status_code == 409
    assert not PartnerRedemption.objects.exists()


def test_an_old_or_forged_pass_is_refused(world, mia, offer, dave_staff):
    till = world.client(dave_staff)
    url = reverse("rewards:counter_partner_redeem", args=[world.other_shop.slug, offer.public_id])
    page = counter_scan(till, world.other_shop, mia)
    token = pass_in(page)
    for forged in ("", "x" * 40, token[:-2] + "AA", "\x00"):
        answer = till.post(url, {"pass": forged})
        assert answer.status_code in (400, 409), forged
    with time_machine.travel(WEDNESDAY + timedelta(minutes=16), tick=False):
        stale = till.post(url, {"pass": token})
    assert stale.status_code == 409 and "Scan the customer&#x27;s card again." in stale.content.decode()
    assert not PartnerRedemption.objects.exists()


def test_an_expired_partner_qr_code_asks_for_a_fresh_one(world, mia, offer, dave_staff):
    payload = member_qr_payload(mia)
    with time_machine.travel(WEDNESDAY + timedelta(hours=1), tick=False):
        page = world.client(dave_staff).get(reverse("rewards:counter", args=[world.other_shop.slug]), {"q": payload})
    assert "This partner card&#x27;s QR code has expired." in page.content.decode()


def test_a_member_code_typed_at_the_partner_counter_finds_nobody(world, mia, offer, dave_staff):
    """Only a fresh QR code from the member's phone proves the card is theirs and here."""
    page = world.client(dave_staff).get(reverse("rewards:counter", args=[world.other_shop.slug]), {"q": mia.code})
    assert "Give this offer" not in page.content.decode() and "A member of" not in page.content.decode()


# Shops outside the offer.


def test_a_third_shop_learns_nothing_from_a_members_qr_code(world, mia, offer):
    third = ShopFactory(slug="third-shop")
    owner = StaffFactory(shop=third, role=Role.OWNER).user
    page = counter_scan(world.client(owner), third, mia)
    assert "This QR code is not one of this shop&#x27;s member codes." in page.content.decode()
    assert "Alice" not in page.content.decode()
    client = world.client(owner)
    token = partners.partner_view(world.other_shop, mia).token
    answer = client.post(reverse("rewards:counter_partner_redeem", args=[third.slug, offer.public_id]), {"pass": token})
    assert answer.status_code == 404
    for name in ("partner_answer", "partner_end"):
        assert client.post(reverse(f"rewards:{name}", args=[third.slug, offer.public_id])).status_code == 404
    assert not PartnerRedemption.objects.exists()
    offer.refresh_from_db()
    assert offer.status == PartnerOffer.Status.ACTIVE


def test_the_members_own_shop_cannot_give_the_offer_at_its_counter(world, mia, offer):
    token = partners.partner_view(world.other_shop, mia).token
    url = reverse("rewards:counter_partner_redeem", args=[world.shop.slug, offer.public_id])
    assert world.client(world.alice).post(url, {"pass": token}).status_code == 404


def test_staff_and_managers_do_not_manage_partner_offers(world, offer):
    for user in (world.bob, world.carol):
        client = world.client(user)
        assert client.get(reverse("rewards:partner_list", args=[world.shop.slug])).status_code == 403
        assert client.post(reverse("rewards:partner_end", args=[world.shop.slug, offer.public_id])).status_code == 403
    offer.refresh_from_db()
    assert offer.status == PartnerOffer.Status.ACTIVE


def test_the_owners_page_costs_a_fixed_number_of_queries(world, mia, offer, django_assert_num_queries):
    for n in range(3):
        extra = propose(world, title=f"Offer {n}")
        partners.offer_answer(offer=extra, shop=world.other_shop, accept=True, by=world.dave)
        partners.redeem(offer=extra, member=MemberFactory(shop=world.shop), shop=world.other_shop, staff=world.dave)
    client = world.client(world.alice)
    with django_assert_num_queries(4):  # the user, the role with its shop, the offers, the counts
        page = client.get(reverse("rewards:partner_list", args=[world.shop.slug]))
    assert page.content.decode().count("Used 1 time, by 1 of our members") == 3


def test_a_members_uses_are_in_their_copy_and_outlive_their_erasure_as_counts(world, offer):
    user = UserFactory()
    mia = MemberFactory(shop=world.shop, user=user, name="Mia Chen")
    redeem(world, offer, mia)
    with zipfile.ZipFile(BytesIO(archive(user))) as copy:
        name = next(name for name in copy.namelist() if name.endswith(".json") and "profile" not in name)
        data = json.loads(copy.read(name))
    assert data["partner_offers_used"] == [
        {"time": "2026-11-25T02:00:00+00:00", "offer": "10% off any pastry", "at": "Dave's Bakery", "undone": ""}
    ]
    member_services.member_erase(member=mia, by=world.alice, note="asked")
    [figures] = partners.figures(world.shop, [offer]).values()
    assert (figures.uses, figures.people) == (1, 1)
