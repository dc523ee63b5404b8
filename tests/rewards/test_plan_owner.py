"""The owner's side of memberships: a plan's new price scheduled ahead of its day from the plans page,
its results (who was invited, who renewed early, who holds the plan without renewing), cancelling it,
and this month's figures on the plans page (sales new and renewed, early renewals, trials, churn,
monthly vouchers)."""

import re
import uuid
import zoneinfo
from datetime import datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction
from django.urls import reverse

from members.models import Message
from rewards import services
from rewards.ledger import lock_member
from rewards.models import Membership, MembershipPlan, PlanPriceChange, Voucher
from rewards.plan_figures import plans_summary
from rewards.services.plans import PRICE_RISE

from ..conftest import key
from ..factories import MemberFactory

TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")
# Ten days into November 2026, at noon in Taipei.
NOW = datetime(2026, 11, 10, 12, tzinfo=TAIPEI)


def at(*args) -> datetime:
    return datetime(*args, tzinfo=TAIPEI)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def club(world):
    return MembershipPlan.objects.create(
        shop=world.shop, name="Coffee club", kind="period", price=Decimal(490), period_months=1
    )


@pytest.fixture
def lattes(world):
    return MembershipPlan.objects.create(
        shop=world.shop, name="10 lattes", kind="bundle", price=Decimal(1000), items=10, item_name="latte"
    )


def sell(member, plan, staff, **kwargs) -> Membership:
    return services.plan_sell(
        member=member, plan=plan, staff=staff, payment_method="cash", idempotency_key=key(), **kwargs
    ).membership


def trial(member, plan, days, now) -> Membership:
    """A campaign's free trial, started as the campaign starts it: under the member lock."""
    with transaction.atomic():
        return services.plan_trial_start_locked(member=lock_member(member.pk), plan=plan, days=days, now=now)


def list_url(world) -> str:
    return reverse("rewards:plan_list", args=[world.shop.slug])


def price_url(shop, plan) -> str:
    return reverse("rewards:plan_price", args=[shop.slug, plan.public_id])


def change_url(shop, plan, change_id) -> str:
    return reverse("rewards:plan_price_change", args=[shop.slug, plan.public_id, change_id])


def cancel_url(shop, plan, change_id) -> str:
    return reverse("rewards:plan_price_cancel", args=[shop.slug, plan.public_id, change_id])


def schedule(client, shop, plan, capture, **data):
    """Post the form; the invitations' task queued after the commit runs (eager in tests)."""
    with capture(execute=True):
        return client.post(price_url(shop, plan), {"new_price": "1500", "from_day": "2026-12-01", **data})


def text(response) -> str:
    """The page's text, tags out and spaces squeezed: what a reader sees."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


@pytest.fixture
def holders(world, club, frozen):
    """Mia and Ben hold the Coffee club, bought on 1 November; Ann's trial of it runs."""
    mia = MemberFactory(shop=world.shop, name="Mia Chen")
    ben = MemberFactory(shop=world.shop, name="Ben Wu")
    ann = MemberFactory(shop=world.shop, name="Ann Lee")
    held = {person: sell(person, club, world.carol, at=at(2026, 11, 1, 10)) for person in (mia, ben)}
    trial(ann, club, 14, at(2026, 11, 5, 10))
    return {"mia": mia, "ben": ben, "ann": ann, "held": held}


# Scheduling a new price


def test_the_owner_schedules_a_new_price_and_the_list_shows_it(
    world, alice_client, club, holders, django_capture_on_commit_callbacks
):
    page = alice_client.get(list_url(world)).content.decode()
    assert price_url(world.shop, club) in page and "Schedule a new price" in page
    form = alice_client.get(price_url(world.shop, club))
    assert form.status_code == 200
    assert 'min="2026-11-11"' in form.content.decode()  # tomorrow in Taipei
    assert "The price now is NT$490." in text(form)

    response = schedule(alice_client, world.shop, club, django_capture_on_commit_callbacks)
    change = PlanPriceChange.objects.get()
    assert response.status_code == 302 and response["Location"] == change_url(world.shop, club, change.public_id)
    assert (change.shop, change.plan, change.created_by) == (world.shop, club, world.alice)
    assert (change.old_price, change.new_price, change.starts_at) == (Decimal(490), Decimal(1500), at(2026, 12, 1))
    # The two paying members are invited, once each; the trial is not a holding.
    assert change.invited == 2 and change.invited_at == NOW
    assert set(Message.objects.filter(campaign=PRICE_RISE).values_list("member__name", flat=True)) == {
        "Mia Chen", "Ben Wu"
    }  # fmt: skip
    club.refresh_from_db()
    assert club.price == Decimal(490)  # until its day

    page = text(alice_client.get(list_url(world)))
    assert "NT$1,500 from 1 December; 2 members invited" in page
    html = alice_client.get(list_url(world)).content.decode()
    assert (
        cancel_url(world.shop, club, change.public_id) in html
        and change_url(world.shop, club, change.public_id) in html
    )
    assert f'href="{price_url(world.shop, club)}"' not in html  # one scheduled change at a time


def test_a_second_price_while_one_is_scheduled_is_refused(
    world, alice_client, club, frozen, django_capture_on_commit_callbacks
):
    schedule(alice_client, world.shop, club, django_capture_on_commit_callbacks)
    response = schedule(alice_client, world.shop, club, django_capture_on_commit_callbacks, new_price="1600")
    assert response.status_code == 400
    page = text(response)
    assert "A new price is already scheduled; cancel it first." in page
    assert "A new price is already scheduled: NT$1,500 from 1 Dec 2026." in page
    assert PlanPriceChange.objects.get().new_price == Decimal(1500)


def test_a_bundle_gets_a_new_price_too(world, alice_client, lattes, frozen, django_capture_on_commit_callbacks):
    assert price_url(world.shop, lattes) in alice_client.get(list_url(world)).content.decode()
    response = schedule(alice_client, world.shop, lattes, django_capture_on_commit_callbacks, new_price="1100")
    change = PlanPriceChange.objects.get()
    assert response.status_code == 302 and change.plan == lattes and change.invited == 0
    page = text(alice_client.get(change_url(world.shop, lattes, change.public_id)))
    assert "a prepaid bundle is not renewed but sold again" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"new_price": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"new_price": "1500.5"}, "Enter a whole amount: NT$ has no cents."),
        ({"new_price": "490"}, "That is the price now."),
        ({"new_price": ""}, "This field is required."),
        # A NUL byte is turned away before any view, with its own page (members' middleware).
        ({"new_price": "\x00"}, "holds a character that no field here accepts (a NUL byte)"),
        ({"new_price": "abc"}, "Enter a number."),
        ({"new_price": "1e309"}, "Ensure that there are no more than"),
        ({"new_price": "99999999999999999999999"}, "Ensure that there are no more than"),
        ({"from_day": "2026-11-10"}, "Choose a day from tomorrow on."),  # today
        ({"from_day": "2026-10-01"}, "Choose a day from tomorrow on."),
        ({"from_day": "0001-01-01"}, "Choose a day from tomorrow on."),
        ({"from_day": "2027-11-12"}, "Choose a day within a year."),
        ({"from_day": "9999-12-31"}, "Choose a day within a year."),
        ({"from_day": "a\x00b"}, "holds a character that no field here accepts (a NUL byte)"),
        ({"from_day": "tomorrow"}, "Enter a valid date."),
        ({"from_day": "2026-02-30"}, "Enter a valid date."),
        ({"from_day": ""}, "This field is required."),
    ],
)
def test_bad_input_is_refused_with_the_reason_and_changes_nothing(
    world, alice_client, club, holders, data, message, django_capture_on_commit_callbacks
):
    response = schedule(alice_client, world.shop, club, django_capture_on_commit_callbacks, **data)
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not PlanPriceChange.objects.exists() and not Message.objects.exists()
    club.refresh_from_db()
    assert club.price == Decimal(490)


def test_the_day_is_the_shops_day(world, alice_client, club, django_capture_on_commit_callbacks):
    """At 23:30 on 10 November in Taipei it is 15:30 UTC: the 11th is tomorrow there, and is fine."""
    with time_machine.travel(at(2026, 11, 10, 23, 30), tick=False):
        response = schedule(alice_client, world.shop, club, django_capture_on_commit_callbacks, from_day="2026-11-11")
    assert response.status_code == 302
    assert PlanPriceChange.objects.get().starts_at == at(2026, 11, 11)


# The results


def renew(member, held, staff, when) -> Membership:
    return sell(member, held.plan, staff, renews=held, at=when)


def test_the_results_show_who_renewed_early_and_who_did_not(
    world, alice_client, club, holders, frozen, django_capture_on_commit_callbacks
):
    schedule(alice_client, world.shop, club, django_capture_on_commit_callbacks)
    change = PlanPriceChange.objects.get()
    mia = holders["mia"]
    renewal = renew(mia, holders["held"][mia], world.carol, at(2026, 11, 12, 9))
    frozen.move_to(at(2026, 11, 20, 12))
    response = alice_client.get(change_url(world.shop, club, change.public_id))
    assert response.status_code == 200
    page = text(response)
    assert "A new price for Coffee club" in page
    assert "Price before NT$490" in page and "New price NT$1,500" in page
    assert "New price from 1 Dec 2026" in page
    assert "Invitations to renew early 2 members, on 10 Nov 2026 12:00" in page
    assert "Members invited 2 Renewed early 1 Hold the plan and have not renewed 1" in page
    html = response.content.decode()
    member_link = reverse("rewards:member_detail", args=[world.shop.slug, mia.public_id])
    assert f'<a href="{member_link}">Mia Chen</a>' in html
    row = html[html.index(member_link) :]
    row = row[: row.index("</tr>")]
    assert "NT$490" in row  # today's price, not the new one
    assert renewal.starts_at == holders["held"][mia].ends_at
    assert "1 Dec 2026 to 1 Jan 2027" in row  # from the end of the one it continues, for a month
    assert "Ben Wu" not in html  # he did not renew
    assert cancel_url(world.shop, club, change.public_id) in html
    assert "Scheduled" in page


def test_past_changes_are_listed_with_their_status(
    world, alice_client, club, holders, frozen, django_capture_on_commit_callbacks
):
    schedule(alice_client, world.shop, club, django_capture_on_commit_callbacks, from_day="2026-11-15")
    first = PlanPriceChange.objects.get()
    frozen.move_to(at(2026, 11, 15, 1))
    assert services.memberships_run() >= 1
    club.refresh_from_db()
    assert club.price == Decimal(1500)
    schedule(alice_client, world.shop, club, django_capture_on_commit_callbacks, new_price="1600")
    second = PlanPriceChange.objects.exclude(pk=first.pk).get()
    alice_client.post(cancel_url(world.shop, club, second.public_id))
    schedule(alice_client, world.shop, club, django_capture_on_commit_callbacks, new_price="1700")
    third = PlanPriceChange.objects.exclude(pk__in=[first.pk, second.pk]).get()

    response = alice_client.get(change_url(world.shop, club, first.public_id))
    page = text(response)
    assert "In effect since 15 Nov 2026" in page
    assert cancel_url(world.shop, club, first.public_id) not in response.content.decode()  # started: nothing to cancel
    history = page[page.index("Price changes of this plan") :]
    assert history.count("Cancelled") == 1 and history.count("In effect") == 1 and history.count("Scheduled on") == 3
    for item in (second, third):
        assert change_url(world.shop, club, item.public_id) in response.content.decode()
    # The form lists them too.
    form = alice_client.get(price_url(world.shop, club)).content.decode()
    assert all(change_url(world.shop, club, item.public_id) in form for item in (first, second))


def test_the_results_page_is_a_fixed_number_of_queries(
    world, alice_client, club, frozen, django_assert_num_queries, django_capture_on_commit_callbacks
):
    people = [MemberFactory(shop=world.shop) for _ in range(6)]
    held = {person: sell(person, club, world.carol, at=at(2026, 11, 1, 10)) for person in people}
    schedule(alice_client, world.shop, club, django_capture_on_commit_callbacks)
    change = PlanPriceChange.objects.get()
    url = change_url(world.shop, club, change.public_id)
    renew(people[0], held[people[0]], world.carol, at(2026, 11, 11, 9))
    alice_client.get(url)
    # user and role; the plan; its price changes with who made them; the early renewals with their
    # members; those holding the plan without renewing; the shop switcher
    with django_assert_num_queries(6):
        response = alice_client.get(url)
    assert text(response).count("Renewed early 1") == 1
    for person in people[1:5]:
        renew(person, held[person], world.carol, at(2026, 11, 11, 10))
    with django_assert_num_queries(6):
        response = alice_client.get(url)
    assert "Renewed early 5 Hold the plan and have not renewed 1" in text(response)


def test_the_form_is_a_fixed_number_of_queries(world, alice_client, club, frozen, django_assert_num_queries):
    alice_client.get(price_url(world.shop, club))
    # user and role; the plan; its price changes; the shop switcher
    with django_assert_num_queries(4):
        assert alice_client.get(price_url(world.shop, club)).status_code == 200


# Cancelling


def test_the_owner_cancels_a_scheduled_price_from_the_list(
    world, alice_client, club, holders, django_capture_on_commit_callbacks
):
    schedule(alice_client, world.shop, club, django_capture_on_commit_callbacks)
    change = PlanPriceChange.objects.get()
    response = alice_client.post(cancel_url(world.shop, club, change.public_id), follow=True)
    assert response.redirect_chain[-1][0] == list_url(world)
    page = text(response)
    assert "The new price of Coffee club is cancelled: it stays as it is." in page
    assert "NT$1,500 from" not in page
    change.refresh_from_db()
    assert change.cancelled_at is not None and not change.pending
    club.refresh_from_db()
    assert club.price == Decimal(490)
    # Twice is refused, with the reason, and changes nothing.
    again = alice_client.post(cancel_url(world.shop, club, change.public_id), follow=True)
    assert "This price change has already started or was cancelled." in text(again)
    assert PlanPriceChange.objects.get().cancelled_at == change.cancelled_at
    # The results say so, and a new price may be scheduled again.
    assert "Cancelled" in text(alice_client.get(change_url(world.shop, club, change.public_id)))
    assert schedule(alice_client, world.shop, club, django_capture_on_commit_callbacks).status_code == 302


# Who may


def price_pages(shop, plan, change_id) -> list[tuple[str, str]]:
    return [
        ("get", price_url(shop, plan)),
        ("post", price_url(shop, plan)),
        ("get", change_url(shop, plan, change_id)),
        ("post", cancel_url(shop, plan, change_id)),
    ]


@pytest.fixture
def scheduled(world, alice_client, club, holders, django_capture_on_commit_callbacks):
    schedule(alice_client, world.shop, club, django_capture_on_commit_callbacks)
    return PlanPriceChange.objects.get()


def test_a_manager_is_refused_the_price_pages_but_sees_the_list_without_money(world, club, holders, scheduled):
    for user in (world.bob, world.carol):
        client = world.client(user)
        for method, url in price_pages(world.shop, club, scheduled.public_id):
            response = getattr(client, method)(url, {"new_price": "2000", "from_day": "2026-12-05"})
            assert response.status_code == 403, (user, url)
    assert PlanPriceChange.objects.get().pending and PlanPriceChange.objects.count() == 1

    response = world.client(world.bob).get(list_url(world))
    assert response.status_code == 200
    html = response.content.decode()
    assert "NT$1,500 from 1 December" in text(response)  # the price staff will charge
    assert "Schedule a new price" not in html and "Cancel the new price" not in html
    assert change_url(world.shop, club, scheduled.public_id) not in html
    assert "New memberships and bundles sold" in html and "NT$980" not in html  # counts, no money
    assert "Download memberships (CSV)" not in html
    owner = world.client(world.alice).get(list_url(world)).content.decode()
    assert "NT$980" in owner and "Download memberships (CSV)" in owner


def test_another_shops_owner_gets_404_and_cannot_cancel(world, club, holders, scheduled):
    dave = world.client(world.dave)
    for shop in (world.shop, world.other_shop):  # Alice's shop, and Alice's plan through Dave's own shop
        for method, url in price_pages(shop, club, scheduled.public_id):
            response = getattr(dave, method)(url, {"new_price": "2000", "from_day": "2026-12-05"})
            assert response.status_code == 404, url
    # Dave's own plan with Alice's change: no such change of his plan.
    his = MembershipPlan.objects.create(shop=world.other_shop, name="Bread club", kind="period", price=100,
                                        period_months=1)  # fmt: skip
    assert dave.get(change_url(world.other_shop, his, scheduled.public_id)).status_code == 404
    assert dave.post(cancel_url(world.other_shop, his, scheduled.public_id)).status_code == 404
    scheduled.refresh_from_db()
    assert scheduled.pending and PlanPriceChange.objects.count() == 1
    assert world.shop.slug not in dave.get(reverse("rewards:plan_list", args=[world.other_shop.slug])).content.decode()


def test_ids_that_name_nothing_are_404(world, alice_client, club, lattes, scheduled):
    nobody = uuid.uuid4()
    assert alice_client.get(reverse("rewards:plan_price", args=[world.shop.slug, nobody])).status_code == 404
    assert (
        alice_client.get(
            reverse("rewards:plan_price_change", args=[world.shop.slug, nobody, scheduled.public_id])
        ).status_code
        == 404
    )
    for change_id in (uuid.uuid4(), scheduled.plan.public_id):
        assert alice_client.get(change_url(world.shop, club, change_id)).status_code == 404
        assert alice_client.post(cancel_url(world.shop, club, change_id)).status_code == 404
    # Another plan of the same shop does not own it.
    assert alice_client.get(change_url(world.shop, lattes, scheduled.public_id)).status_code == 404
    assert alice_client.post(cancel_url(world.shop, lattes, scheduled.public_id)).status_code == 404
    assert alice_client.get(f"/s/{world.shop.slug}/plans/{club.public_id}/price/abc/").status_code == 404
    assert PlanPriceChange.objects.get().pending


def test_wrong_methods(world, alice_client, club, scheduled):
    assert alice_client.delete(price_url(world.shop, club)).status_code == 405
    assert alice_client.post(change_url(world.shop, club, scheduled.public_id)).status_code == 405
    assert alice_client.get(cancel_url(world.shop, club, scheduled.public_id)).status_code == 405
    assert PlanPriceChange.objects.get().pending


# This month's figures


@pytest.fixture
def month(world):
    """May 2026 in Taipei, seen on the 20th at noon: a club with a monthly free coffee, and a bundle.

    p0 bought in April and let it end on 10 May: churned. p1 renewed early on 12 May. p2 let it end on
    5 May and bought again on the 8th: not churned, a new sale. p3 runs to the 25th and renewed early
    on the 19th (the renewal has not started). p4 ended in April: none of this month's. p5 was
    refunded on 3 May: churned. p6's trial runs. p7 renewed on the 19th, after it ended on the 18th:
    a renewal, not early. p8's sale in April was undone, and so was one in May. A bundle sold on 2
    May."""
    shop = world.shop
    club = MembershipPlan.objects.create(
        shop=shop, name="Club", kind="period", price=Decimal(300), period_months=1, allowance_title="Free coffee"
    )
    lattes = MembershipPlan.objects.create(
        shop=shop, name="10 lattes", kind="bundle", price=Decimal(1000), items=10, item_name="latte"
    )
    p = [MemberFactory(shop=shop) for _ in range(9)]
    carol = world.carol
    with time_machine.travel(at(2026, 4, 12, 9), tick=False) as traveller:
        sold = {
            0: sell(p[0], club, carol, at=at(2026, 4, 10, 10)),
            1: sell(p[1], club, carol, at=at(2026, 4, 15, 10)),
            2: sell(p[2], club, carol, at=at(2026, 4, 5, 10)),
            3: sell(p[3], club, carol, at=at(2026, 4, 25, 10)),
            4: sell(p[4], club, carol, at=at(2026, 3, 1, 10)),
            5: sell(p[5], club, carol, at=at(2026, 4, 20, 10)),
            7: sell(p[7], club, carol, at=at(2026, 4, 18, 10)),
        }
        undone = services.plan_sell(member=p[8], plan=club, staff=carol, payment_method="cash", idempotency_key=key())
        services.action_undo(shop=shop, group=undone.group, staff=carol, idempotency_key=key())
        traveller.move_to(at(2026, 5, 20, 11, 55))
        sell(p[0], lattes, carol, at=at(2026, 5, 2, 10))
        renew(p[1], sold[1], carol, at(2026, 5, 12, 10))
        sell(p[2], club, carol, at=at(2026, 5, 8, 10))
        renew(p[3], sold[3], carol, at(2026, 5, 19, 10))
        services.membership_refund(membership=sold[5], staff=world.bob, idempotency_key=key(), at=at(2026, 5, 3))
        trial(p[6], club, 14, at(2026, 5, 15, 10))
        renewal = renew(p[7], sold[7], carol, at(2026, 5, 19, 10))
        undone = services.plan_sell(member=p[8], plan=club, staff=carol, payment_method="cash", idempotency_key=key())
        services.action_undo(shop=shop, group=undone.group, staff=carol, idempotency_key=key())
        voucher = Voucher.objects.get(membership=renewal)
        services.voucher_redeem(shop=shop, voucher_id=voucher.pk, staff=carol, idempotency_key=key())
    return at(2026, 5, 20, 12)


def test_this_months_figures_for_a_constructed_month(world, month):
    summary = plans_summary(world.shop, month)
    assert summary.since == at(2026, 5, 1)
    # Sales: the bundle and p2's, new; p1's, p3's and p7's renewals, two early; the undone ones out.
    assert (summary.sold_new, summary.sold_new_amount) == (2, Decimal(1300))
    assert (summary.renewed, summary.renewed_amount, summary.renewed_early) == (3, Decimal(900), 2)
    assert (summary.sold_this_month, summary.sold_this_month_amount) == (5, Decimal(2200))
    assert summary.trials == 1
    # Running at 1 May: p0, p1, p2, p3, p5, p7; ended since without coming back: p0, and p5 refunded.
    assert (summary.churned, summary.paid_at_start) == (2, 6)
    assert round(summary.churn_percent, 1) == Decimal("33.3")
    # Monthly vouchers issued in May: p2's sale, p6's trial, p7's renewal (the undone sale's is void);
    # p7's used. p1's and p3's renewals started without the worker's round, or not yet.
    assert (summary.vouchers_issued, summary.vouchers_used) == (3, 1)
    # Held now: p1's, p2's, p3's, p7's renewal and p6's trial; p3's renewal bought ahead is not a second.
    assert (summary.memberships, summary.bundles) == (5, 1)


def test_the_figures_on_the_page(world, alice_client, month):
    with time_machine.travel(month, tick=False):
        owner = text(alice_client.get(list_url(world)))
        manager = text(world.client(world.bob).get(list_url(world)))
    section = owner[owner.index("This month: May 2026") :]
    assert "New memberships and bundles sold 2 NT$1,300" in section
    assert "Renewals sold 3 NT$900 2 early" in section
    assert "Free trials running 1" in section
    assert "Memberships not renewed 2 33.3% of 6 running on the 1st" in section
    assert "Monthly vouchers issued 3 1 used this month" in section
    section = manager[manager.index("This month: May 2026") :]
    assert "New memberships and bundles sold 2 Renewals sold 3 2 early" in section
    assert "NT$1,300" not in manager and "NT$900" not in manager


def test_a_month_without_paid_memberships_at_its_start_has_no_share(world, alice_client, club, frozen):
    summary = plans_summary(world.shop, NOW)
    assert (summary.churned, summary.paid_at_start, summary.churn_percent) == (0, 0, None)
    assert "Memberships not renewed 0 none ran on the 1st" in text(alice_client.get(list_url(world)))
