"""Plans at the counter, on the card and on the member page, through the views: staff sell a bundle
and use its drinks one tap at a time, undo a slip, see refusals in words; the customer sees what is
left on their card; a manager refunds the unused part with the amount on the button."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from members.tokens import card_token
from rewards import services
from rewards.lookup import found_token
from rewards.models import FoundBy, LedgerEntry, Membership, MembershipPlan

from ..conftest import key
from ..factories import MemberFactory

HTMX = {"HX-Request": "true"}


@pytest.fixture
def bundle(world):
    return MembershipPlan.objects.create(
        shop=world.shop, name="10 lattes for the price of 8", kind=MembershipPlan.Kind.BUNDLE, price=Decimal(800),
        items=10, item_name="latte", valid_days=90,
    )  # fmt: skip


@pytest.fixture
def club(world):
    return MembershipPlan.objects.create(
        shop=world.shop, name="Coffee club", kind=MembershipPlan.Kind.PERIOD, price=Decimal(300), period_months=1
    )


@pytest.fixture
def carol(world):
    return world.client(world.carol)


def url(world, name, member, *args):
    return reverse(f"rewards:{name}", args=[world.shop.slug, member.public_id, *args])


def sell(client, world, member, plan, **data):
    data = {"plan": plan.public_id, "payment_method": "cash", "receipt": "", "key": key(), **data}
    return client.post(url(world, "counter_plan_sell", member), data, headers=HTMX)


def use(client, world, member, held, **data):
    data = {"key": key(), "confirmed": "1", **data}
    return client.post(url(world, "counter_plan_use", member, held.public_id), data, headers=HTMX)


def undo(client, world, member, response):
    group = re.search(r'name="group" value="([0-9a-f-]+)"', response.text).group(1)
    return client.post(url(world, "counter_undo", member), {"group": group, "key": key()}, headers=HTMX)


def sold(world, member, plan, **kwargs) -> Membership:
    return services.plan_sell(
        member=member, plan=plan, staff=world.carol, payment_method="card", idempotency_key=key(), **kwargs
    ).membership


def panel(client, world, member) -> str:
    return client.get(url(world, "counter_member", member), headers=HTMX).text


def test_staff_sell_a_bundle_from_the_folded_control_and_see_it_held(world, member, bundle, club, carol):
    body = panel(carol, world, member)
    assert '<details class="plan-sell" data-shortcut="">' in body and "Sell a plan" in body
    assert "10 lattes for the price of 8 · NT$800" in body and "Coffee club · NT$300" in body
    assert '<option value="cash" selected>Cash</option>' in body

    response = sell(carol, world, member, bundle, payment_method="card", receipt="A-1042")
    assert response.status_code == 200
    assert "Sold: 10 lattes for the price of 8, NT$800 (Card)." in response.text
    assert 'id="memberships" data-hx-swap-oob="true"' in response.text
    assert "Latte: 10 of 10 left" in response.text
    assert 'name="group"' in response.text  # the undo button
    held = Membership.objects.get(member=member)
    assert (held.payment_method, held.receipt, held.sold_by, held.items_left) == ("card", "A-1042", world.carol, 10)


def test_use_one_then_undo_it(world, member, bundle, carol):
    held = sold(world, member, bundle)
    assert "Latte: 10 of 10 left" in panel(carol, world, member)
    response = use(carol, world, member, held)
    assert response.status_code == 200
    assert "One latte used: 9 of 10 left." in response.text
    assert "Latte: 9 of 10 left" in response.text  # the row, swapped in place

    response = undo(carol, world, member, response)
    assert response.status_code == 200
    assert "Undone." in response.text and "Latte: 10 of 10 left" in response.text
    held.refresh_from_db()
    assert held.items_left == 10


def test_a_sale_undone_leaves_the_panel(world, member, club, carol):
    response = sell(carol, world, member, club)
    assert "Coffee club until" in response.text
    response = undo(carol, world, member, response)
    assert "Undone." in response.text and "Coffee club until" not in response.text
    assert Membership.objects.get(member=member).status == Membership.Status.ENDED


def test_a_period_membership_shows_until_when(world, member, club, carol):
    sold(world, member, club, at=timezone.now() - timedelta(days=3))
    body = panel(carol, world, member)
    assert re.search(r"Coffee club until \d+ \w+<", body)
    assert "Use one" not in body


def test_none_left_is_refused_in_words(world, member, carol):
    single = MembershipPlan.objects.create(
        shop=world.shop, name="One flat white", kind="bundle", price=Decimal(90), items=1, item_name="flat white"
    )
    held = sold(world, member, single)
    assert use(carol, world, member, held).status_code == 200
    body = panel(carol, world, member)
    assert "Flat white: 0 of 1 left" in body
    assert re.search(r"<button[^>]*disabled[^>]*>Use one</button>", body)

    response = use(carol, world, member, held)
    assert response.status_code == 409
    assert "Not done:" in response.text and "None left" in response.text
    assert "Flat white: 0 of 1 left" in response.text


def test_an_expired_bundle_is_refused_and_leaves_the_panel(world, member, bundle, carol):
    held = sold(world, member, bundle, at=timezone.now() - timedelta(days=91))
    assert "Latte:" not in panel(carol, world, member)
    response = use(carol, world, member, held)
    assert response.status_code == 409
    assert "Not done:" in response.text and "This bundle expired on" in response.text
    assert Membership.objects.get(pk=held.pk).items_left == 10


def test_a_replayed_key_sells_once(world, member, bundle, carol):
    first = sell(carol, world, member, bundle, key="sale-once")
    again = sell(carol, world, member, bundle, key="sale-once")
    assert first.status_code == again.status_code == 200
    assert "Already recorded, nothing added twice:" in again.text
    assert Membership.objects.filter(member=member).count() == 1
    assert LedgerEntry.objects.filter(reason=LedgerEntry.Reason.PLAN_SOLD).count() == 1


def test_a_replayed_key_uses_one_item(world, member, bundle, carol):
    held = sold(world, member, bundle)
    use(carol, world, member, held, key="drink-once")
    again = use(carol, world, member, held, key="drink-once")
    assert "Already recorded, nothing added twice:" in again.text
    assert Membership.objects.get(pk=held.pk).items_left == 9


def test_using_an_item_checks_the_person_unless_their_qr_was_scanned(world, member, bundle, carol):
    held = sold(world, member, bundle)
    response = use(carol, world, member, held, confirmed="")
    assert response.status_code == 409 and "tick the box" in response.text
    assert Membership.objects.get(pk=held.pk).items_left == 10
    # Scanned from the customer's phone: one tap.
    response = use(carol, world, member, held, confirmed="", found=found_token(member.public_id, FoundBy.QR))
    assert response.status_code == 200
    assert Membership.objects.get(pk=held.pk).items_left == 9


def test_a_plan_paused_since_the_panel_opened_is_refused(world, member, bundle, carol):
    panel(carol, world, member)
    bundle.status = MembershipPlan.Status.PAUSED
    bundle.save()
    response = sell(carol, world, member, bundle)
    assert response.status_code == 409 and "is not on sale at the moment" in response.text
    assert not Membership.objects.exists()


def test_no_plan_chosen_is_unreadable(world, member, bundle, carol):
    response = carol.post(url(world, "counter_plan_sell", member), {"key": key()}, headers=HTMX)
    assert response.status_code == 422 and "Choose a plan to sell." in response.text


def test_another_shops_member_membership_or_plan_is_404(world, member, bundle, carol):
    outsider = MemberFactory(shop=world.other_shop)
    their_plan = MembershipPlan.objects.create(
        shop=world.other_shop, name="Bread bundle", kind="bundle", price=Decimal(500), items=5, item_name="loaf"
    )
    theirs = services.plan_sell(
        member=outsider, plan=their_plan, staff=world.dave, payment_method="cash", idempotency_key=key()
    ).membership
    assert sell(carol, world, outsider, bundle).status_code == 404
    assert sell(carol, world, member, their_plan).status_code == 404
    assert use(carol, world, member, theirs).status_code == 404
    # Another member's bundle of the same shop, through this member's panel.
    neighbour = MemberFactory(shop=world.shop)
    assert use(carol, world, member, sold(world, neighbour, bundle)).status_code == 404
    assert Membership.objects.get(pk=theirs.pk).items_left == 5


def test_the_panel_costs_the_same_with_plans_and_memberships(
    world, member, bundle, club, carol, django_assert_num_queries
):
    """The plans on sale are held with the shop's settings; the memberships are the one query."""
    for plan in (bundle, club, bundle):
        sold(world, member, plan)
    panel(carol, world, member)
    # the user with their role, the member, cards, vouchers, memberships (with their plans)
    with django_assert_num_queries(5):
        body = panel(carol, world, member)
    assert body.count("Use one") == 2


def test_the_card_shows_what_is_left_after_two_drinks_at_the_counter(world, member, bundle, club, carol, client):
    held = sold(world, member, bundle)
    services.bundle_redeem(member=member, membership=held, staff=world.carol, idempotency_key=key())
    sold(world, member, club)
    for _ in range(2):
        assert use(carol, world, member, held).status_code == 200
    body = client.get(reverse("rewards:card", args=[card_token(member)])).text
    assert "10 lattes for the price of 8" in body
    assert "Latte: 7 of 10 left" in body and "Use them by" in body
    assert re.search(r"Coffee club until \d+ \w+ \d{4}<", body)


def test_the_card_costs_one_query_for_memberships(world, member, bundle, client, django_assert_num_queries):
    card = reverse("rewards:card", args=[card_token(member)])
    client.get(card)
    sold(world, member, bundle)
    sold(world, member, bundle)
    client.get(card)
    # member+shop+tier, cards, tier changes, vouchers, memberships (with their plans), history, and
    # whether a referral campaign runs
    with django_assert_num_queries(7):
        assert client.get(card).text.count("Latte: 10 of 10 left") == 2


def test_a_manager_refunds_the_unused_part_shown_on_the_button(world, member, bundle, club):
    held = sold(world, member, bundle)
    for _ in range(2):
        services.bundle_redeem(member=member, membership=held, staff=world.carol, idempotency_key=key())
    bob = world.client(world.bob)
    page = reverse("rewards:member_detail", args=[world.shop.slug, member.public_id])
    body = bob.get(page).text
    assert "Memberships" in body and "8 of 10" in body
    assert "Refund NT$640" in body  # 800 for ten, eight unused

    refund = reverse("rewards:membership_refund", args=[world.shop.slug, member.public_id, held.public_id])
    response = bob.post(refund, {"key": key()}, follow=True)
    assert "Membership refunded: give back NT$640." in response.text
    held.refresh_from_db()
    assert (held.status, held.refunded_amount, held.items_left) == (Membership.Status.REFUNDED, 640, 0)
    assert "Refund NT$640" not in response.text
    # Once only: a second post says so, and changes nothing.
    response = bob.post(refund, {"key": key()}, follow=True)
    assert "already refunded" in response.text
    assert LedgerEntry.objects.filter(reason=LedgerEntry.Reason.PLAN_REFUND).count() == 1


def test_staff_do_not_refund_and_managers_find_the_refund_from_the_counter(world, member, bundle, carol):
    held = sold(world, member, bundle)
    refund = reverse("rewards:membership_refund", args=[world.shop.slug, member.public_id, held.public_id])
    assert carol.post(refund, {"key": key()}).status_code == 403
    assert "Refund a membership" not in panel(carol, world, member)
    assert "Refund a membership" in panel(world.client(world.bob), world, member)
    assert Membership.objects.get(pk=held.pk).status == Membership.Status.ACTIVE


def test_staff_renew_in_one_tap_and_a_second_till_is_told_why_not(world, member, club, carol):
    """Renew on the membership's row: the same plan, from its end. The panel then says until when it
    runs on and offers no second renewal; a till still showing the old panel is refused in words."""
    first = sold(world, member, club, at=timezone.now() - timedelta(days=20))
    body = panel(carol, world, member)
    assert f'name="renews" value="{first.public_id}"' in body and "Renew · NT$300" in body

    response = sell(carol, world, member, club, renews=first.public_id, payment_method="transfer", receipt="R-77")
    assert response.status_code == 200
    assert re.search(r"Renewed: Coffee club runs until \d+ \w+ \d{4}, NT\$300 \(Bank transfer\)\.", response.text)
    assert "Renewed: runs on until" in response.text and "Renew · NT$300" not in response.text
    renewal = Membership.objects.get(renews=first)
    assert (renewal.starts_at, renewal.receipt, renewal.payment_method) == (first.ends_at, "R-77", "transfer")

    again = sell(carol, world, member, club, renews=first.public_id)
    assert again.status_code == 409 and "Already renewed: it runs on until" in again.text
    assert Membership.objects.filter(member=member).count() == 2
    # The card says it too.
    assert "Renew · NT$300" not in panel(carol, world, member)


def test_renewing_someone_elses_or_a_made_up_membership_is_404(world, member, club, carol):
    neighbour = MemberFactory(shop=world.shop)
    theirs = sold(world, neighbour, club)
    outsider = MemberFactory(shop=world.other_shop)
    their_club = MembershipPlan.objects.create(
        shop=world.other_shop, name="Bread club", kind="period", price=Decimal(200), period_months=1
    )
    abroad = sold(world, outsider, their_club)
    for renews in (theirs.public_id, abroad.public_id, "not-a-uuid", ""):
        assert sell(carol, world, member, club, renews=renews).status_code == 404
    # A NUL byte never reaches the view: the request is refused as malformed.
    assert sell(carol, world, member, club, renews="\x00").status_code == 400
    assert Membership.objects.filter(renews__isnull=False).count() == 0


def test_a_price_rise_shows_at_the_counter_and_a_renewal_before_it_pays_todays_price(world, member, club, carol):
    first = sold(world, member, club)
    tomorrow = timezone.localdate(timezone=world.shop.tz) + timedelta(days=1)
    services.price_change_schedule(plan=club, new_price=Decimal(360), from_day=tomorrow, staff=world.alice)
    body = panel(carol, world, member)
    assert "Renew · NT$300" in body and "NT$360 from" in body
    assert "Coffee club · NT$300" in body  # the plans on sale, in the folded control
    sell(carol, world, member, club, renews=first.public_id)
    assert Membership.objects.get(renews=first).price_paid == Decimal(300)


def test_a_renewal_whose_membership_was_refunded_shows_from_the_day_it_starts(world, member, club, carol, client):
    first = sold(world, member, club, at=timezone.now() - timedelta(days=10))
    renewal = sold(world, member, club)
    assert renewal.renews_id == first.pk
    body = panel(carol, world, member)
    assert (
        "Renewed: runs on until" in body and " from " not in re.sub(r"<[^>]+>", "", body).split("Memberships")[1][:80]
    )
    services.membership_refund(membership=first, staff=world.alice, idempotency_key=key())
    body = panel(carol, world, member)
    assert re.search(r"Coffee club from \d+ \w+ until \d+ \w+<", body)
    card = client.get(reverse("rewards:card", args=[card_token(member)])).text
    assert re.search(r"Coffee club from \d+ \w+ \d{4} until \d+ \w+ \d{4}<", card)
