"""The event pages: the owner's form (times in the shop's time zone, bad input refused with the
reason), the list and the event page in a fixed number of queries, inviting, repeating and
cancelling; the card's invitation and answer (signed link, CSRF, HTMX and a plain form); check-in at
the door with the counter's scan field (a QR code, a typed code, a name), refusals with 409 and a
walk-in; the counter's link to an open check-in; the negative trio."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from campaigns.events import services
from campaigns.models import Event, EventSeries, Rsvp
from members.tokens import card_token, member_qr_payload
from rewards.models import FoundBy, LedgerEntry

from ..factories import MemberFactory, TierFactory
from .conftest import at
from .test_events import NOW, STARTS, answer, make_event

HTMX = {"HX-Request": "true"}
DOOR = STARTS - timedelta(minutes=10)


@pytest.fixture(autouse=True)
def clock():
    """Monday 1 March 2027, 10:00 in Taipei, standing still: the cupping is on the 12th at 19:00."""
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def bob(world):
    return world.client(world.bob)


@pytest.fixture
def carol(world):
    return world.client(world.carol)


def url(world, name, event=None, shop=None):
    args = [(shop or world.shop).slug] + ([event.public_id] if event is not None else [])
    return reverse(f"campaigns:{name}", args=args)


def rsvp_url(person, event):
    return reverse("campaigns:event_rsvp", args=[card_token(person), event.public_id])


def card(person) -> str:
    return Client().get(reverse("rewards:card", args=[card_token(person)])).text


def form(**fields) -> dict:
    data = {
        "title": "Cupping", "description": "Three Ethiopian lots.", "day": "2027-03-12", "start": "19:00",
        "end": "21:00", "place": "", "capacity": "12", "audience": "all", "gift": "none", "voucher_valid_days": "14",
    }  # fmt: skip
    return {**data, **fields}


# The owner's pages.


def test_the_owner_creates_an_event_on_the_shops_clock(world, bob):
    response = bob.post(url(world, "event_create"), form())
    event = Event.objects.get()
    assert response.status_code == 302 and response["Location"] == url(world, "event_detail", event)
    assert (event.starts_at, event.ends_at) == (at("2027-03-12 19:00"), at("2027-03-12 21:00"))
    assert (event.title, event.capacity, event.created_by, event.invited_at) == ("Cupping", 12, world.bob, None)
    page = bob.get(response["Location"]).text
    assert "Event created. Invite its members when you are ready." in page and "Not sent yet" in page
    # An evening into the night ends the next morning; a change keeps the rest.
    response = bob.post(url(world, "event_edit", event), form(start="22:00", end="01:00", capacity="30"))
    event.refresh_from_db()
    assert response.status_code == 302
    assert (event.ends_at, event.capacity) == (at("2027-03-13 01:00"), 30)
    assert 'value="22:00"' in bob.get(url(world, "event_edit", event)).text


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"day": "2027-02-28"}, "Choose a time from now on."),
        ({"day": "2027-03-01", "start": "09:59"}, "Choose a time from now on."),
        ({"day": "2029-12-01"}, "Choose a time within two years."),
        ({"capacity": "0"}, "greater than or equal to 1"),
        ({"capacity": "100000"}, "less than or equal to 10000"),
        ({"capacity": "many"}, "Enter a whole number."),
        ({"end": "19:00"}, "The end must come after the start."),
        ({"audience": "tier"}, "Choose the tier."),
        ({"audience": "plan"}, "Choose the plan."),
        ({"gift": "points"}, "Say how many points."),
        ({"day": "12/03/2027x"}, "Enter a valid date."),
        ({"title": ""}, "This field is required."),
    ],
)
def test_bad_input_is_refused_with_the_reason(world, bob, fields, words):
    response = bob.post(url(world, "event_create"), form(**fields))
    assert response.status_code == 400
    assert words in response.text
    assert not Event.objects.exists()


def test_a_nul_byte_is_refused_before_the_view(world, bob):
    assert bob.post(url(world, "event_create"), form(title="Cup\x00ping")).status_code == 400
    assert not Event.objects.exists()


def test_the_negative_trio(world, bob, carol):
    event = make_event(world)
    # Wrong method.
    assert bob.get(url(world, "event_invite", event)).status_code == 405
    assert bob.post(url(world, "event_detail", event)).status_code == 405
    assert bob.delete(url(world, "event_list")).status_code == 405
    assert Client().get(rsvp_url(MemberFactory(shop=world.shop), event)).status_code == 405
    # Role too low: staff check members in, they do not set events up.
    assert carol.get(url(world, "event_list")).status_code == 403
    assert carol.post(url(world, "event_cancel", event)).status_code == 403
    assert carol.get(url(world, "event_check_in", event)).status_code == 200
    # Another shop: its owner gets 404, through either shop; a member of another shop too.
    dave = world.client(world.dave)
    assert dave.get(url(world, "event_detail", event)).status_code == 404
    assert dave.get(url(world, "event_detail", event, shop=world.other_shop)).status_code == 404
    assert dave.post(url(world, "event_check_in", event, shop=world.other_shop), {"q": "x"}).status_code == 404
    outsider = MemberFactory(shop=world.other_shop)
    assert Client().post(rsvp_url(outsider, event), {"answer": "yes"}).status_code == 404
    event.refresh_from_db()
    assert not event.is_cancelled and not Rsvp.objects.exists()


def test_the_list_and_the_event_page_cost_a_fixed_number_of_queries(world, bob, django_assert_num_queries):
    events = [make_event(world, starts=STARTS + timedelta(days=n), capacity=3) for n in range(2)]
    for n in range(3):
        answer(MemberFactory(shop=world.shop, name=f"Early {n}"), events[0], "yes")
    bob.get(url(world, "event_list"))
    # the user with their role, the shop switcher, coming events and past ones (each with its counts)
    with django_assert_num_queries(4):
        page = bob.get(url(world, "event_list")).text
    assert "3 of 3" in page and "Cupping" in page
    for n in range(4):
        make_event(world, starts=NOW - timedelta(days=n + 1), now=NOW - timedelta(days=30))
    with django_assert_num_queries(4):
        assert bob.get(url(world, "event_list")).text.count("Cupping") == 6
    # the user with their role, the event, the shop switcher, the answers, the invitations sent
    with django_assert_num_queries(5):
        page = bob.get(url(world, "event_detail", events[0])).text
    assert "3 of 3 taken" in page and "Early 2" in page
    for n in range(4):
        answer(MemberFactory(shop=world.shop, name=f"Late {n}"), events[0], "yes")
    with django_assert_num_queries(5):
        page = bob.get(url(world, "event_detail", events[0])).text
    assert "4 waiting" in page and "Late 3" in page


def test_invite_repeat_and_cancel_from_the_event_page(world, bob, django_capture_on_commit_callbacks):
    MemberFactory(shop=world.shop, marketing_consent=True, name="Ann")
    event = make_event(world, invite=False, starts=at("2027-03-09 19:00"))  # the second Tuesday
    page = bob.get(url(world, "event_detail", event)).text
    assert "Every month on the second Tuesday" in page and "Every week, on Tuesday" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = bob.post(url(world, "event_invite", event), follow=True)
    assert "Invitations are on their way" in response.text
    assert "Sent on 1 Mar 2027 10:00 · 1 e-mail" in bob.get(url(world, "event_detail", event)).text
    event.refresh_from_db()
    assert event.invited_at == NOW

    response = bob.post(url(world, "event_repeat", event), {"rule": "monthly_weekday", "count": "2"}, follow=True)
    assert "Dates added: 2027-04-13, 2027-05-11." in response.text
    made = Event.objects.exclude(pk=event.pk)
    assert [e.starts_at for e in made] == [at("2027-04-13 19:00"), at("2027-05-11 19:00")]
    # A series keeps its rule: the form asks only how many.
    assert 'name="rule"' not in bob.get(url(world, "event_detail", made[0])).text
    assert bob.post(url(world, "event_repeat", event), {"rule": "yearly", "count": "2"}).status_code == 302
    # The rule sent is ignored: the series' own, after its last date.
    assert [e.starts_at for e in Event.objects.all()[3:]] == [at("2027-06-08 19:00"), at("2027-07-13 19:00")]
    assert bob.post(url(world, "event_repeat", made[0]), {"count": "99"}).status_code == 422
    assert EventSeries.objects.count() == 1

    response = bob.post(url(world, "event_cancel", event), follow=True)
    assert "Event cancelled." in response.text
    response = bob.post(url(world, "event_cancel", event), follow=True)
    assert "This event is cancelled already." in response.text
    response = bob.get(url(world, "event_edit", event), follow=True)
    assert "can no longer be changed" in response.text


# The card.


def test_the_card_shows_the_invitation_and_then_the_answer(world):
    mia = MemberFactory(shop=world.shop, name="Mia")
    uninvited = make_event(world, title="Secret tasting", invite=False)
    event = make_event(world, capacity=1, gift="points", gift_points=30)
    body = card(mia)
    assert "Cupping" in body and "The roastery" in body and "30 points" in body and "1 seat left." in body
    assert "Secret tasting" not in body and str(uninvited.public_id) not in body
    assert "I&#x27;m coming" in body or "I'm coming" in body

    response = Client().post(rsvp_url(mia, event), {"answer": "yes"}, headers=HTMX)
    assert response.status_code == 200 and "<html" not in response.text
    assert f'id="event-{event.public_id}"' in response.text and "You are coming. See you there!" in response.text
    body = card(mia)
    assert "You are coming. See you there!" in body and "come after all" in body

    # Without HTMX: back to the card, with the answer as a message.
    response = Client().post(rsvp_url(mia, event), {"answer": "no"})
    assert response.status_code == 302 and response["Location"] == reverse("rewards:card", args=[card_token(mia)])
    assert "You are not coming." in card(mia)
    # Someone else now: the seat is free again, and theirs.
    ben = MemberFactory(shop=world.shop)
    assert "You are coming" in Client().post(rsvp_url(ben, event), {"answer": "yes"}, headers=HTMX).text


def test_a_full_event_puts_a_yes_on_the_waiting_list(world):
    event = make_event(world, capacity=1)
    answer(MemberFactory(shop=world.shop), event, "yes")
    mia = MemberFactory(shop=world.shop)
    assert "Every seat is taken: say yes to go on the waiting list." in card(mia)
    response = Client().post(rsvp_url(mia, event), {"answer": "yes"}, headers=HTMX)
    assert "You are number 1 on the waiting list" in response.text


def test_an_answer_refused_says_why(world):
    event = make_event(world)
    mia = MemberFactory(shop=world.shop)
    response = Client().post(rsvp_url(mia, event), {"answer": "maybe"}, headers=HTMX)
    assert response.status_code == 422 and "Answer yes or no." in response.text
    services.event_cancel(event=event, by=world.bob, now=NOW)
    response = Client().post(rsvp_url(mia, event), {"answer": "yes"}, headers=HTMX)
    assert response.status_code == 409 and "This event is cancelled." in response.text
    response = Client().post(rsvp_url(mia, event), {"answer": "yes"}, follow=True)
    assert "This event is cancelled." in response.text and "Cupping" not in response.text.split("</h1>", 1)[-1]
    forged = reverse("campaigns:event_rsvp", args=["forged", event.public_id])
    assert Client().post(forged, {"answer": "yes"}).status_code == 404
    assert not Rsvp.objects.exists()


def test_an_answer_needs_the_cards_csrf_token(world):
    event = make_event(world)
    mia = MemberFactory(shop=world.shop)
    client = Client(enforce_csrf_checks=True)
    assert client.post(rsvp_url(mia, event), {"answer": "yes"}).status_code == 403
    page = client.get(reverse("rewards:card", args=[card_token(mia)])).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert client.post(rsvp_url(mia, event), {"answer": "yes", "csrfmiddlewaretoken": token}).status_code == 302
    assert Rsvp.objects.get().status == Rsvp.Status.YES


def test_the_card_costs_no_query_for_events_without_any_and_one_with(world, django_assert_num_queries):
    mia = MemberFactory(shop=world.shop)
    page = reverse("rewards:card", args=[card_token(mia)])
    client = Client()
    client.get(page)
    # member+shop+tier, cards, tier changes, vouchers, history, and whether a referral campaign runs;
    # none for events: the shop has none (held with its settings)
    with django_assert_num_queries(6):
        client.get(page)
    event = make_event(world, invite=False)
    client.get(page)
    with django_assert_num_queries(6):  # not invited yet: not on the card
        assert "Cupping" not in client.get(page).text
    services.event_invite_request(event=event, by=world.bob, now=NOW)
    client.get(page)
    with django_assert_num_queries(7):  # the events for the member, with their answer and the seats
        assert "Cupping" in client.get(page).text
    # A tier's event the member is not in: decided without asking.
    services.event_cancel(event=event, by=world.bob, now=NOW)
    gold = TierFactory(shop=world.shop, name="Gold", threshold=20)
    make_event(world, audience=Event.Audience.TIER, audience_tier=gold)
    client.get(page)
    with django_assert_num_queries(6):
        assert "Cupping" not in client.get(page).text


# At the door.


def test_check_in_by_the_members_qr_code_gives_the_reward_once(world, carol):
    event = make_event(world, gift="points", gift_points=40)
    mia = MemberFactory(shop=world.shop, name="Mia Chen")
    answer(mia, event, "yes")
    with time_machine.travel(DOOR, tick=False):
        response = carol.post(url(world, "event_check_in", event), {"q": member_qr_payload(mia)}, headers=HTMX)
        assert response.status_code == 200 and "<html" not in response.text
        assert "Mia Chen" in response.text and "checked in" in response.text and "40 points" in response.text
        assert 'id="attendance"' in response.text and 'data-hx-swap-oob="true"' in response.text
        assert "1 of 1 checked in" in response.text
        again = carol.post(url(world, "event_check_in", event), {"q": mia.code}, headers=HTMX)
        assert again.status_code == 409 and "Already done:" in again.text and "checked in at 18:50" in again.text
    row = LedgerEntry.objects.get(member=mia)
    assert (row.points, row.found_by, row.staff) == (40, FoundBy.QR, world.carol)
    mia.refresh_from_db()
    assert mia.points == 40


def test_check_in_of_someone_not_on_the_list_is_refused_and_then_a_walk_in(world, carol):
    event = make_event(world)
    walker = MemberFactory(shop=world.shop, name="Walker")
    with time_machine.travel(DOOR, tick=False):
        response = carol.post(url(world, "event_check_in", event), {"q": walker.code})
        assert response.status_code == 409 and "<html" in response.text
        assert "Walker is not on the list: they did not answer the invitation." in response.text
        assert "Check Walker in anyway" in response.text
        found = re.search(r'name="found" value="([^"]+)"', response.text).group(1)
        data = {"member": walker.public_id, "found": found, "walk_in": "1"}
        response = carol.post(url(world, "event_check_in", event), data, headers=HTMX)
        assert response.status_code == 200 and "without a yes" in response.text
    rsvp = Rsvp.objects.get(member=walker)
    assert (rsvp.walk_in, rsvp.status, rsvp.checked_in_by) == (True, Rsvp.Status.YES, world.carol)


def test_the_door_reads_what_staff_type(world, carol, django_assert_num_queries):
    event = make_event(world)
    for name in ("Lin Mei", "Lin Wei"):
        answer(MemberFactory(shop=world.shop, name=name), event, "yes")
    check_in = url(world, "event_check_in", event)
    with time_machine.travel(DOOR, tick=False):
        assert carol.post(check_in, {"q": "  "}, headers=HTMX).status_code == 422
        response = carol.post(check_in, {"q": "ZZZZZZZZ"}, headers=HTMX)
        assert response.status_code == 422 and "No member matches" in response.text
        response = carol.post(check_in, {"q": "Lin"}, headers=HTMX)
        assert response.status_code == 200 and "Lin Mei" in response.text and "Lin Wei" in response.text
        assert not Rsvp.objects.filter(checked_in_at__isnull=False).exists()
        assert carol.post(check_in, {"member": "not-a-uuid"}).status_code == 404
        carol.get(check_in)
        # the user with their role, the event, the shop switcher, the answers
        with django_assert_num_queries(4):
            page = carol.get(check_in).text
        assert "0 of 2 checked in" in page and page.count(">Check in</button>") == 3


def test_check_in_outside_its_hours_says_when(world, carol):
    event = make_event(world)
    mia = MemberFactory(shop=world.shop)
    answer(mia, event, "yes")
    response = carol.post(url(world, "event_check_in", event), {"q": mia.code}, headers=HTMX)
    assert response.status_code == 409 and "Check-in opens at 17:00 on 2027-03-12" in response.text


def test_the_counter_points_to_an_open_check_in(world, carol):
    event = make_event(world)
    mia = MemberFactory(shop=world.shop)
    panel = reverse("rewards:counter_member", args=[world.shop.slug, mia.public_id])
    assert "Check in at Cupping" not in carol.get(panel).text
    with time_machine.travel(DOOR, tick=False):
        body = carol.get(panel).text
        link = f"{url(world, 'event_check_in', event)}?member={mia.public_id}"
        assert "Check in at Cupping" in body and link in body
        page = carol.get(link).text
        assert "No answer" in page and f'name="member" value="{mia.public_id}"' in page
