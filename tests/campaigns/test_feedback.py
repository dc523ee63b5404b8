"""Feedback after a visit: the rules of giving it (once a day in the shop's time zone, once per visit,
only after a recent visit), what is flagged, the reply through the outbox in the member's language,
what an erasure empties, what the card asks for and what that costs; the race on PostgreSQL."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.feedback import services
from campaigns.feedback.services import feedback_give, feedback_reply
from campaigns.models import Feedback, FeedbackSetup
from members.errors import Code, LoyaltyError
from members.models import Member, Message
from members.outbox import message_send
from members.services import member_erase, shop_delete
from rewards import services as rewards_services
from rewards.services.merge import member_merge, merge_undo

from ..conftest import key
from ..factories import MemberFactory, ShopFactory, StaffFactory, StampProgramFactory
from ..rewards.test_concurrency import race
from .conftest import at


def turn_on(world, **fields) -> FeedbackSetup:
    values = {"is_active": True, "question": "", "flag_at": 2, **fields}
    return services.setup_save(shop=world.shop, by=world.alice, **values)


def visit(world, program, member, when=None, staff=None):
    """A stamp at the counter (backdated to ``when``): a visit."""
    return rewards_services.stamp_add(
        member=member, program=program, count=1, staff=staff or world.carol, idempotency_key=key(), at=when
    )


def refused(code, **kwargs):
    with pytest.raises(LoyaltyError) as caught:
        feedback_give(**kwargs)
    assert caught.value.code == code, caught.value.message
    return caught.value


@pytest.fixture
def asking(world):
    return turn_on(world)


def test_off_until_the_owner_turns_it_on(world, program, member):
    visit(world, program, member)
    refused(Code.FEEDBACK_OFF, member=member, rating=5)
    turn_on(world, is_active=False)
    refused(Code.FEEDBACK_OFF, member=member, rating=5)
    turn_on(world)
    feedback = feedback_give(member=member, rating=5, comment="  Lovely flat white.  ")
    assert (feedback.rating, feedback.comment, feedback.flagged) == (5, "Lovely flat white.", False)
    assert feedback.staff == world.carol  # who served the visit, for the page per person


def test_only_about_a_visit_in_the_last_24_hours(world, program, member, asking):
    refused(Code.NO_RECENT_VISIT, member=member, rating=4)  # never came
    visit(world, program, member, at("2027-03-10 09:00"))
    refused(Code.NO_RECENT_VISIT, member=member, rating=4, now=at("2027-03-11 09:01"))
    # A visit after the moment asked about is not one the member can answer for.
    refused(Code.NO_RECENT_VISIT, member=member, rating=4, now=at("2027-03-10 08:59"))
    feedback = feedback_give(member=member, rating=4, now=at("2027-03-11 08:59"))
    assert feedback.day.isoformat() == "2027-03-11"


def test_a_visit_undone_is_no_visit(world, program, member, asking):
    slip = visit(world, program, member)
    rewards_services.action_undo(shop=world.shop, group=slip.group, staff=world.carol, idempotency_key=key())
    refused(Code.NO_RECENT_VISIT, member=member, rating=3)


def test_once_per_visit_even_across_midnight(world, program, member, asking):
    visit(world, program, member, at("2027-03-10 22:30"))
    feedback_give(member=member, rating=5, now=at("2027-03-10 23:30"))
    # Another day in Taipei, the same visit: answered already.
    refused(Code.FEEDBACK_GIVEN, member=member, rating=1, now=at("2027-03-11 00:30"))
    # A new visit that day may be answered.
    visit(world, program, member, at("2027-03-11 08:00"))
    feedback_give(member=member, rating=4, now=at("2027-03-11 08:30"))
    assert Feedback.objects.filter(member=member).count() == 2


@pytest.mark.parametrize(("time_zone", "second_allowed"), [("Asia/Taipei", True), ("UTC", False)])
def test_once_a_day_by_the_shops_day(world, program, member, time_zone, second_allowed):
    """23:50 and 00:20 in Taipei are 15:50 and 16:20 on one day in UTC: two days for a shop in Taipei,
    one for a shop in UTC. (The visits are more than VISIT_MINUTES apart: two visits.)"""
    world.shop.time_zone = time_zone
    world.shop.save()
    turn_on(world)
    visit(world, program, member, at("2027-03-10 22:50"))
    assert feedback_give(member=member, rating=5, now=at("2027-03-10 23:50")).day.isoformat() == "2027-03-10"
    visit(world, program, member, at("2027-03-11 00:10"))
    if second_allowed:
        assert feedback_give(member=member, rating=4, now=at("2027-03-11 00:20")).day.isoformat() == "2027-03-11"
    else:
        refused(Code.FEEDBACK_GIVEN, member=member, rating=4, now=at("2027-03-11 00:20"))


def test_two_utc_days_can_be_one_day_in_taipei(world, program, member, asking):
    # 07:20 and 08:30 in Taipei are 23:20 on the 10th and 00:30 on the 11th in UTC.
    visit(world, program, member, at("2027-03-11 07:20"))
    feedback_give(member=member, rating=5, now=at("2027-03-11 07:40"))
    visit(world, program, member, at("2027-03-11 08:30"))
    refused(Code.FEEDBACK_GIVEN, member=member, rating=2, now=at("2027-03-11 08:40"))
    assert Feedback.objects.filter(member=member).count() == 1


def test_a_double_submit_makes_one_answer(world, program, member, asking):
    visit(world, program, member)
    feedback_give(member=member, rating=5, comment="Great")
    refused(Code.FEEDBACK_GIVEN, member=member, rating=5, comment="Great")
    assert Feedback.objects.count() == 1


@pytest.mark.parametrize(
    ("rating", "comment", "code"),
    [(0, "", Code.BAD_RATING), (6, "", Code.BAD_RATING), ("abc", "", Code.BAD_RATING), (None, "", Code.BAD_RATING),
     ("", "", Code.BAD_RATING), (4, "x" * (Feedback.COMMENT_MAX + 1), Code.TOO_LONG)],
)  # fmt: skip
def test_bad_input_is_refused_and_changes_nothing(world, program, member, asking, rating, comment, code):
    visit(world, program, member)
    error = refused(code, member=member, rating=rating, comment=comment)
    assert error.message
    assert not Feedback.objects.exists()
    # The limit is on the words, not on the spaces around them.
    feedback_give(member=member, rating="4", comment=" " + "x" * Feedback.COMMENT_MAX + " ")


@pytest.mark.parametrize(("flag_at", "rating", "flagged"), [(2, 2, True), (2, 3, False), (3, 3, True), (1, 2, False)])
def test_low_ratings_are_flagged_by_the_shops_threshold(world, program, member, flag_at, rating, flagged):
    turn_on(world, flag_at=flag_at)
    visit(world, program, member)
    assert feedback_give(member=member, rating=rating).flagged is flagged


def test_the_setting_is_held_and_read_again_when_it_changes(world, django_assert_num_queries):
    assert services.setup_for(world.shop) is None
    world.shop.refresh_from_db()
    with django_assert_num_queries(0):
        assert services.setup_for(world.shop) is None
    turn_on(world)
    world.shop.refresh_from_db()  # another request: the shop row with its new settings key
    assert services.asking(world.shop).is_active


def test_only_managers_and_owners_change_the_setting(world):
    with pytest.raises(LoyaltyError) as caught:
        services.setup_save(shop=world.shop, by=world.carol, is_active=True, question="", flag_at=2)
    assert caught.value.code == Code.NOT_ALLOWED
    assert not FeedbackSetup.objects.exists()


# Replies.


@pytest.fixture
def low(world, program, asking):
    member = MemberFactory(shop=world.shop, name="Mia Chen", email="mia@example.com", language="zh-hant")
    visit(world, program, member)
    return feedback_give(member=member, rating=1, comment="The milk was cold.")


def test_a_reply_goes_once_by_e_mail_in_the_members_language(world, low, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        feedback_reply(feedback=low, by=world.bob, text="We are sorry: the next one is on us.")
    low.refresh_from_db()
    assert (low.replied_by, low.reply) == (world.bob, "We are sorry: the next one is on us.")
    assert low.replied_at is not None
    [message] = Message.objects.filter(member=low.member)
    assert (message.campaign, message.occasion, message.kind) == ("feedback_reply", str(low.public_id), "transactional")
    [sent] = mail.outbox
    assert sent.to == ["mia@example.com"]
    body = sent.body
    assert "Mia Chen 您好" in body  # the greeting in Traditional Chinese, as the member joined in
    assert "We are sorry: the next one is on us." in body and "The milk was cold." in body
    assert "1 分（滿分 5 分）" in body  # the rating in words, translated too

    with pytest.raises(LoyaltyError) as caught:
        feedback_reply(feedback=low, by=world.alice, text="Again")
    assert caught.value.code == Code.ALREADY_REPLIED
    assert Message.objects.filter(member=low.member).count() == 1
    low.refresh_from_db()
    assert low.replied_by == world.bob


def test_no_reply_without_an_e_mail_address_or_by_staff(world, program, asking):
    member = MemberFactory(shop=world.shop, email="")
    visit(world, program, member)
    feedback = feedback_give(member=member, rating=2)
    assert not services.can_reply(feedback)
    with pytest.raises(LoyaltyError) as caught:
        feedback_reply(feedback=feedback, by=world.bob, text="Sorry")
    assert caught.value.code == Code.NO_EMAIL
    member.email = "late@example.com"
    member.save()
    with pytest.raises(LoyaltyError) as caught:
        feedback_reply(feedback=feedback, by=world.carol, text="Sorry")
    assert caught.value.code == Code.NOT_ALLOWED
    for text, code in [("   ", Code.NOTE_REQUIRED), ("x" * (Feedback.REPLY_MAX + 1), Code.TOO_LONG)]:
        with pytest.raises(LoyaltyError) as caught:
            feedback_reply(feedback=feedback, by=world.bob, text=text)
        assert caught.value.code == code
    assert not Message.objects.exists()
    feedback.refresh_from_db()
    assert feedback.replied_at is None


def test_an_erased_members_words_go_and_the_rating_stays(world, low):
    feedback_reply(feedback=low, by=world.bob, text="Sorry, Mia.")
    member_erase(member=low.member, by=world.alice)
    low.refresh_from_db()
    assert (low.rating, low.comment, low.reply) == (1, "", "")
    assert Feedback.objects.filter(shop=world.shop).count() == 1


def test_no_reply_to_an_erased_member(world, low):
    member_erase(member=low.member, by=world.alice)
    low.refresh_from_db()
    with pytest.raises(LoyaltyError) as caught:
        feedback_reply(feedback=low, by=world.bob, text="Sorry")
    assert caught.value.code == Code.NO_EMAIL


def test_a_queued_reply_is_sent_by_the_worker(world, low):
    feedback_reply(feedback=low, by=world.bob, text="Thank you for telling us.")
    message = Message.objects.get(member=low.member)
    assert message_send(message.pk)
    assert mail.outbox[0].subject  # rendered in the member's language, whatever the words


def test_a_merge_takes_the_answers_to_the_kept_record_and_its_undo_brings_them_back(world, program, asking):
    kept = MemberFactory(shop=world.shop, email="")
    twin = MemberFactory(shop=world.shop, email="twin@example.com")
    visit(world, program, kept, at("2027-03-10 09:00"))
    visit(world, program, twin, at("2027-03-10 12:00"))
    visit(world, program, twin, at("2027-03-11 12:00"))
    both = feedback_give(member=kept, rating=4, now=at("2027-03-10 09:10"))
    same_day = feedback_give(member=twin, rating=2, now=at("2027-03-10 12:10"))
    other_day = feedback_give(member=twin, rating=1, now=at("2027-03-11 12:10"))
    record = member_merge(shop=world.shop, keep=kept, merge=twin, by=world.bob)
    owners = dict(Feedback.objects.values_list("pk", "member_id"))
    # One a day: the twin's answer of a day the kept record answered too stays with the twin.
    assert owners == {both.pk: kept.pk, same_day.pk: twin.pk, other_day.pk: kept.pk}
    other_day.refresh_from_db()
    assert services.can_reply(other_day)  # the kept record took the twin's address
    merge_undo(merge_record=record, by=world.bob)
    assert Feedback.objects.get(pk=other_day.pk).member_id == twin.pk


def test_a_shop_deleted_takes_its_feedback_along(world, low):
    shop_delete(shop=world.shop)
    assert not Feedback.objects.exists() and not FeedbackSetup.objects.exists()


# The card's question.


def as_the_card_loads(member):
    """The member as the card loads them (with their shop), and the shop's setting held already."""
    loaded = Member.objects.select_related("shop").get(pk=member.pk)
    services.setup_for(loaded.shop)
    return loaded


def test_the_card_asks_after_a_visit_until_answered(world, program, member, asking, django_assert_num_queries):
    loaded = as_the_card_loads(member)
    with django_assert_num_queries(0):  # no visit yet: the member's last visit says so
        assert services.question_for(loaded, timezone.now()) is None
    visit(world, program, member)
    loaded = as_the_card_loads(member)
    with django_assert_num_queries(1):
        question = services.question_for(loaded, timezone.now())
    assert question["question"] == "How was your visit today?" and question["ratings"] == (1, 2, 3, 4, 5)
    feedback_give(member=member, rating=5)
    with django_assert_num_queries(1):
        assert services.question_for(loaded, timezone.now()) is None
    # A day later, nothing to ask and nothing asked of the database.
    with django_assert_num_queries(0):
        assert services.question_for(loaded, timezone.now() + timedelta(days=1, minutes=1)) is None


def test_the_card_asks_nothing_of_a_shop_that_does_not_ask(world, program, member, django_assert_num_queries):
    visit(world, program, member)
    loaded = as_the_card_loads(member)
    with django_assert_num_queries(0):
        assert services.question_for(loaded, timezone.now()) is None
    turn_on(world, is_active=False)
    loaded = as_the_card_loads(member)
    with django_assert_num_queries(0):
        assert services.question_for(loaded, timezone.now()) is None


def test_the_card_words_the_shops_own_question(world, program, member):
    turn_on(world, question="Was your coffee hot enough?")
    visit(world, program, member)
    assert services.question_for(as_the_card_loads(member), timezone.now())["question"] == "Was your coffee hot enough?"


# Two submits at once (PostgreSQL: SQLite cannot show the lock).


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="locking is proven on PostgreSQL only")
def test_two_submits_at_once_make_one_answer():
    shop = ShopFactory()
    owner = StaffFactory(shop=shop, role="owner").user
    program = StampProgramFactory(shop=shop, name="Card", reward="Free", min_minutes_between_visits=0)
    member = MemberFactory(shop=shop)
    services.setup_save(shop=shop, by=owner, is_active=True, question="", flag_at=2)
    rewards_services.stamp_add(member=member, program=program, count=1, staff=owner, idempotency_key=key())
    results = race(4, lambda i: feedback_give(member=member, rating=1 + i, comment=f"tab {i}"))
    answers = [r for r in results if isinstance(r, Feedback)]
    refusals = [r for r in results if isinstance(r, LoyaltyError)]
    assert len(answers) == 1 and len(refusals) == 3, results
    assert {r.code for r in refusals} == {Code.FEEDBACK_GIVEN}
    assert Feedback.objects.count() == 1

    rewards_services.stamp_add(member=member, program=program, count=1, staff=owner, idempotency_key=key())
    with CaptureQueriesContext(connection) as queries:
        refused(Code.FEEDBACK_GIVEN, member=member, rating=3)
    assert any("FOR UPDATE" in query["sql"] for query in queries.captured_queries)
