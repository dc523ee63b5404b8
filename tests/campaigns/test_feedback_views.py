"""Feedback's pages: the card's question and its answer (HTMX and not), the owner's page per week and
per member of staff with replies, the setting; the negative trio and the query counts."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.feedback import figures, services
from campaigns.models import Feedback, FeedbackSetup
from members.models import Message
from members.services import member_erase
from members.tokens import card_token
from rewards import services as rewards_services

from ..conftest import key
from ..factories import MemberFactory, StaffFactory
from .conftest import at

HTMX = {"HX-Request": "true"}


def turn_on(world, **fields):
    return services.setup_save(
        shop=world.shop, by=world.alice, **{"is_active": True, "question": "", "flag_at": 2, **fields}
    )


def visit(world, program, member, when=None, staff=None):
    return rewards_services.stamp_add(
        member=member, program=program, count=1, staff=staff or world.carol, idempotency_key=key(), at=when
    )


# A card link is signed with the time: one per member for the whole test, so URLs compare equal.
_tokens: dict = {}


def token(member) -> str:
    return _tokens.setdefault(member.public_id, card_token(member))


def card_url(member) -> str:
    return reverse("rewards:card", args=[token(member)])


def answer_url(member) -> str:
    return reverse("campaigns:feedback_give", args=[token(member)])


@pytest.fixture
def asking(world):
    return turn_on(world)


@pytest.fixture
def visited(world, program, member, asking):
    visit(world, program, member)
    return member


# The card.


def test_the_card_asks_after_a_visit_and_stops_once_answered(client, visited):
    body = client.get(card_url(visited)).text
    assert "How was your visit today?" in body
    assert body.count('name="rating"') == 5 and re.search(r'action="/c/[^/"]+/feedback/"', body)
    response = client.post(answer_url(visited), {"rating": "5", "comment": "Lovely"}, headers=HTMX)
    assert response.status_code == 200
    assert "Thank you for telling us about your visit." in response.text and "<html" not in response.text
    [feedback] = Feedback.objects.all()
    assert (feedback.member, feedback.rating, feedback.comment) == (visited, 5, "Lovely")
    assert "How was your visit today?" not in client.get(card_url(visited)).text


def test_no_question_without_a_recent_visit_or_when_the_shop_does_not_ask(client, world, program, member):
    turn_on(world)
    assert "How was your visit today?" not in client.get(card_url(member)).text  # never came
    visit(world, program, member, timezone.now() - timedelta(hours=25))
    assert "How was your visit today?" not in client.get(card_url(member)).text
    visit(world, program, member)
    assert "How was your visit today?" in client.get(card_url(member)).text
    turn_on(world, is_active=False)
    assert "How was your visit today?" not in client.get(card_url(member)).text


def test_the_question_costs_the_card_one_query_and_nothing_when_off(
    client, world, program, member, django_assert_num_queries
):
    """The card's count is pinned elsewhere (tests/members/test_join_and_card.py); this is what the
    question adds to it: one query when the shop asks and the last visit is recent, none otherwise."""
    visit(world, program, member)
    url = card_url(member)

    def count() -> int:
        client.get(url)  # the shop's settings, held from here on
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    off = count()
    turn_on(world)
    assert count() == off + 1
    services.feedback_give(member=member, rating=4)
    assert count() == off + 1  # asked, and answered: nothing shown
    turn_on(world, is_active=False)
    assert count() == off


def test_without_htmx_the_answer_goes_back_to_the_card_with_a_message(client, visited):
    response = client.post(answer_url(visited), {"rating": "2", "comment": ""})
    assert response.status_code == 302 and response["Location"] == card_url(visited)
    body = client.get(response["Location"]).text
    assert "Thank you for telling us about your visit." in body
    assert Feedback.objects.get().flagged


def test_a_double_submit_gives_one_answer_and_says_so(client, visited):
    first = client.post(answer_url(visited), {"rating": "4"}, headers=HTMX)
    second = client.post(answer_url(visited), {"rating": "4"}, headers=HTMX)
    assert first.status_code == 200
    assert second.status_code == 409 and "you have told us about your visit already" in second.text
    assert Feedback.objects.count() == 1
    third = client.post(answer_url(visited), {"rating": "4"})
    assert third.status_code == 302
    assert "you have told us about your visit already" in client.get(third["Location"]).text


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"rating": "0"}, "Choose a rating from 1 to 5."),
        ({"rating": "6"}, "Choose a rating from 1 to 5."),
        ({"rating": "abc"}, "Choose a rating from 1 to 5."),
        ({}, "Choose a rating from 1 to 5."),
        ({"rating": "3", "comment": "x" * 501}, "Please keep it to 500 characters (this is 501)."),
    ],
)
def test_bad_input_says_why_and_changes_nothing(client, visited, data, says):
    response = client.post(answer_url(visited), data, headers=HTMX)
    assert response.status_code == 422
    assert says in response.text and 'id="feedback"' in response.text and 'name="rating"' in response.text
    assert ("x" * 501 in response.text) is ("comment" in data)  # what was typed is kept
    response = client.post(answer_url(visited), data)
    assert response.status_code == 302 and says in client.get(response["Location"]).text
    assert not Feedback.objects.exists()


def test_the_answer_is_posted_only_with_a_valid_card_link_and_csrf(world, visited):
    client = Client(enforce_csrf_checks=True)
    assert client.post(answer_url(visited), {"rating": "5"}).status_code == 403
    assert client.get(answer_url(visited)).status_code == 405
    bad = reverse("campaigns:feedback_give", args=[card_token(visited)[:-2] + "xx"])
    assert Client().post(bad, {"rating": "5"}).status_code == 404
    assert not Feedback.objects.exists()
    # The card's own form carries the token.
    page = client.get(card_url(visited)).text
    token = page.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    assert client.post(answer_url(visited), {"rating": "5", "csrfmiddlewaretoken": token}).status_code == 302
    assert Feedback.objects.count() == 1


def test_the_card_asks_in_the_members_language(client, world, program, asking):
    member = MemberFactory(shop=world.shop, language="zh-hant")
    visit(world, program, member)
    response = client.post(answer_url(member), {"rating": "9"}, headers=HTMX)
    assert response.status_code == 422
    assert 'lang="zh-hant"' in client.get(card_url(member)).text


# The owner's page.


@pytest.fixture
def answers(world, program, asking):
    """Answers over three weeks in Taipei, from visits Carol and Bob served."""
    now = timezone.now()
    made = []
    for days_ago, rating, staff, comment in [
        (0, 5, "carol", "Perfect"), (1, 1, "carol", "Cold milk"), (8, 4, "bob", ""), (9, 2, "bob", "Slow"),
        (15, 5, "carol", ""),
    ]:  # fmt: skip
        member = MemberFactory(shop=world.shop)
        when = now - timedelta(days=days_ago, minutes=30)
        visit(world, program, member, when, staff=getattr(world, staff))
        made.append(
            services.feedback_give(member=member, rating=rating, comment=comment, now=when + timedelta(minutes=5))
        )
    return made


def page_url(world) -> str:
    return reverse("campaigns:feedback", args=[world.shop.slug])


def test_the_page_shows_weeks_staff_and_low_ratings_first(world, answers):
    body = world.client(world.bob).get(page_url(world)).text
    flagged = body.index("Low ratings waiting for a reply")
    assert flagged < body.index("Cold milk") < body.index("Per week") < body.index("Latest comments")
    assert body.count("Send the reply") == 2  # the 1 and the 2
    assert "5 answers in the last 12 weeks, 3.4 of 5 on average" in body
    staff = body[body.index("Per member of staff") :]
    carol = world.carol.get_full_name() or world.carol.email
    bob = world.bob.get_full_name() or world.bob.email
    assert f'<th scope="row">{carol}</th><td>3</td><td>3.7</td><td>1</td>' in staff
    assert f'<th scope="row">{bob}</th><td>2</td><td>3.0</td><td>1</td>' in staff


def test_weeks_are_the_shops_weeks(world, program, asking):
    # Monday 00:30 in Taipei is still Sunday in UTC: the answer counts in the week that starts that Monday.
    member = MemberFactory(shop=world.shop)
    visit(world, program, member, at("2027-03-15 00:10"))
    services.feedback_give(member=member, rating=3, now=at("2027-03-15 00:30"))
    weeks = figures.weeks(world.shop, at("2027-03-16 12:00").date())
    assert [(w.start.isoformat(), w.answers) for w in weeks[-2:]] == [("2027-03-08", 0), ("2027-03-15", 1)]
    assert len(weeks) == 12


def test_the_page_is_a_fixed_number_of_queries(world, answers, program, django_assert_num_queries):
    client = world.client(world.bob)
    client.get(page_url(world))
    # the user with their role; the days of 12 weeks, the staff lines, the low ratings waiting and the
    # latest comments; the shop switcher (the shop's setting is held: members.config)
    with django_assert_num_queries(6):
        client.get(page_url(world))
    for n in range(5):
        member = MemberFactory(shop=world.shop)
        visit(world, program, member, staff=StaffFactory(shop=world.shop).user)
        services.feedback_give(member=member, rating=1 + n % 5, comment=f"Comment {n}")
    with django_assert_num_queries(6):
        assert client.get(page_url(world)).status_code == 200


def test_a_reply_from_the_page_goes_once(world, answers, django_capture_on_commit_callbacks):
    low = answers[1]
    url = reverse("campaigns:feedback_reply", args=[world.shop.slug, low.public_id])
    client = world.client(world.bob)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"reply": "So sorry, the next one is on us."}, headers=HTMX)
    assert response.status_code == 200 and "Replied on" in response.text and "<html" not in response.text
    assert len(mail.outbox) == 1 and "So sorry" in mail.outbox[0].body
    again = client.post(url, {"reply": "Again"}, headers=HTMX)
    assert again.status_code == 409 and "answered already" in again.text
    assert Message.objects.filter(campaign="feedback_reply").count() == 1
    body = client.get(page_url(world)).text
    assert body.count("Send the reply") == 1
    assert "So sorry, the next one is on us." in body[body.index("Latest comments") :]


def test_a_reply_without_htmx_comes_back_to_the_page(world, answers):
    url = reverse("campaigns:feedback_reply", args=[world.shop.slug, answers[1].public_id])
    client = world.client(world.alice)
    response = client.post(url, {"reply": "  "})
    assert response.status_code == 422 and "Write the reply first." in response.text
    response = client.post(url, {"reply": "Sorry!"})
    assert response.status_code == 302 and response["Location"] == page_url(world)
    assert "Your reply is on its way" in client.get(page_url(world)).text


def test_the_page_says_when_a_reply_cannot_be_sent(world, program, asking):
    member = MemberFactory(shop=world.shop, email="")
    visit(world, program, member)
    services.feedback_give(member=member, rating=1, comment="Rude")
    body = world.client(world.bob).get(page_url(world)).text
    assert "A reply cannot be sent: this member has no e-mail address." in body
    assert "Send the reply" not in body


def test_the_negative_trio(world, answers):
    reply = reverse("campaigns:feedback_reply", args=[world.shop.slug, answers[1].public_id])
    settings = reverse("campaigns:feedback_settings", args=[world.shop.slug])
    bob = world.client(world.bob)
    # Wrong method.
    assert bob.get(reply).status_code == 405
    assert bob.post(page_url(world)).status_code == 405
    assert bob.put(settings).status_code == 405
    # A role too low: staff at the counter.
    carol = world.client(world.carol)
    for url in (page_url(world), settings):
        assert carol.get(url).status_code == 403
    assert carol.post(reply, {"reply": "Hi"}).status_code == 403
    # Another shop's owner: no such page, no such answer.
    dave = world.client(world.dave)
    assert dave.get(page_url(world)).status_code == 404
    assert dave.post(reply, {"reply": "Hi"}).status_code == 404
    theirs = reverse("campaigns:feedback_reply", args=[world.other_shop.slug, answers[1].public_id])
    assert dave.post(theirs, {"reply": "Hi"}).status_code == 404
    assert not Message.objects.exists()


def test_managers_see_the_link_and_staff_do_not(world):
    home = reverse("members:shop_home", args=[world.shop.slug])
    assert page_url(world) in world.client(world.bob).get(home).text
    assert page_url(world) not in world.client(world.carol).get(home).text


# The setting.


def test_a_manager_turns_feedback_on_with_a_question_of_their_own(world, program, member, client):
    url = reverse("campaigns:feedback_settings", args=[world.shop.slug])
    bob = world.client(world.bob)
    assert "How was your visit today?" in bob.get(url).text
    visit(world, program, member)
    assert 'name="rating"' not in client.get(card_url(member)).text
    response = bob.post(url, {"is_active": "on", "question": "Was the coffee hot?", "flag_at": "3"})
    assert response.status_code == 302 and response["Location"] == page_url(world)
    setup = FeedbackSetup.objects.get(shop=world.shop)
    assert (setup.is_active, setup.question, setup.flag_at) == (True, "Was the coffee hot?", 3)
    assert "Was the coffee hot?" in client.get(card_url(member)).text
    assert bob.post(url, {"is_active": "on", "flag_at": "5"}).status_code == 400
    assert FeedbackSetup.objects.get(shop=world.shop).flag_at == 3


def test_an_erased_members_words_leave_the_page(world, answers):
    cold = answers[1]
    member_erase(member=cold.member, by=world.alice)
    body = world.client(world.bob).get(page_url(world)).text
    assert "Cold milk" not in body
    assert body.count("Send the reply") == 1  # only the 2 of 5 waits now
    assert "5 answers in the last 12 weeks" in body  # the rating still counts
