"""LINE as a message channel beside e-mail: a member whose card is linked to a LINE account that
follows the shop's official account gets campaign messages, reminders and service messages there,
in their language, through the same outbox (once per occasion, retries, the failure list); consent
is unchanged, and unfollowing is the channel's consent. Against a fake LINE API on 127.0.0.1."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign
from members import line, outbox
from members import services as member_services
from members.models import LineFollower, Member, Message

from ..factories import MemberFactory
from ..line_fake import connect, serve

TAIPEI = ZoneInfo("Asia/Taipei")


@pytest.fixture
def fake_line(settings):
    yield from serve(settings)


@pytest.fixture
def channel(world, settings, fake_line):
    return connect(world.shop, world.alice, settings)


@pytest.fixture
def anniversary(world, make):
    world.shop.time_zone = "Asia/Taipei"
    world.shop.save()
    return make(Campaign.Kind.ANNIVERSARY, gift="points", gift_points=20)


def joined_a_year_ago(world, **fields) -> Member:
    fields = {"email": "mia@example.com", "marketing_consent": True, "language": "zh-hant", **fields}
    return MemberFactory(shop=world.shop, joined_at=datetime(2025, 3, 10, 12, tzinfo=TAIPEI), **fields)


def on_line(member, user_id="U1", following=True) -> LineFollower:
    return LineFollower.objects.create(shop=member.shop, line_user_id=user_id, member=member, following=following)


def run_anniversaries() -> int:
    return services.anniversaries_run(now=datetime(2026, 3, 10, 10, tzinfo=TAIPEI))


def send_all(now=None) -> int:
    return outbox.outbox_flush(now=now or timezone.now())


def test_a_campaign_message_goes_on_line_in_the_members_language_and_not_by_email(
    world, channel, fake_line, anniversary
):
    member = joined_a_year_ago(world)
    on_line(member)
    assert run_anniversaries() == 1
    message = Message.objects.get(member=member)
    assert (message.channel, message.to_line) == (Message.Channel.LINE, "U1")
    assert send_all() == 1
    [push] = fake_line.pushes
    assert push["to"] == "U1" and push["key"] == str(message.public_id)
    [text] = push["texts"]
    assert text.startswith(f"{world.shop.name} 祝您入會週年快樂！\n\n")  # subject, then the body
    assert "今天是您加入我們滿 1 年的日子" in text and "20 點" in text and "\n\n\n" not in text
    assert "/u/" in text  # news say how to stop them, as the e-mail does
    assert not mail.outbox
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    # once per occasion: the day's run again queues nothing
    assert run_anniversaries() == 0 and send_all() == 0
    assert len(fake_line.pushes) == 1


def test_service_messages_go_on_line_too(world, channel, fake_line):
    member = MemberFactory(shop=world.shop, email="", language="en")
    on_line(member)
    assert member_services.card_link_send(member=member, occasion="again-2026-03-10")
    assert send_all() == 1
    [push] = fake_line.pushes
    assert reverse("rewards:card", args=[member_services.card_token(member)]) in push["texts"][0]


def test_consent_is_unchanged_no_news_without_it(world, channel, fake_line, anniversary):
    member = joined_a_year_ago(world, marketing_consent=False)
    on_line(member)
    run_anniversaries()
    assert not Message.objects.filter(member=member).exists()
    assert send_all() == 0 and fake_line.pushes == []


def test_an_unfollowed_account_gets_nothing_on_line_and_the_email_goes(world, channel, fake_line, anniversary):
    member = joined_a_year_ago(world)
    on_line(member, following=False)
    run_anniversaries()
    assert Message.objects.get(member=member).channel == Message.Channel.EMAIL
    send_all()
    assert fake_line.pushes == [] and len(mail.outbox) == 1


def test_unfollowing_after_the_message_was_queued_sends_it_by_email(world, channel, fake_line, anniversary):
    member = joined_a_year_ago(world)
    on_line(member)
    run_anniversaries()
    line.unfollow(world.shop, "U1")
    assert send_all() == 1
    assert fake_line.push_attempts == [] and len(mail.outbox) == 1
    assert Message.objects.get(member=member).channel == Message.Channel.EMAIL


def test_a_member_with_no_email_who_unfollowed_is_in_the_failure_list(world, channel, fake_line, alice_client):
    member = MemberFactory(shop=world.shop, email="", name="Mia Chen")
    on_line(member)
    member_services.card_link_send(member=member, occasion="again")
    line.unfollow(world.shop, "U1")
    assert send_all() == 0
    body = alice_client.get(reverse("campaigns:message_list", args=[world.shop.slug])).content.decode()
    assert "Mia Chen" in body and "no longer follows the shop on LINE" in body


def test_a_line_error_is_retried_and_the_message_arrives_once(world, channel, fake_line, anniversary, alice_client):
    member = joined_a_year_ago(world, name="Mia Chen")
    on_line(member)
    run_anniversaries()
    fake_line.mode = "500"
    assert send_all() == 0
    message = Message.objects.get(member=member)
    assert message.status == Message.Status.FAILED and "500" in message.last_error
    # the owner sees it in the failure list, on LINE
    body = alice_client.get(reverse("campaigns:message_list", args=[world.shop.slug])).content.decode()
    assert "Mia Chen" in body and "LINE" in body
    fake_line.mode = "ok"
    assert send_all() == 0  # not due yet: backoff
    assert send_all(now=timezone.now() + timedelta(minutes=3)) == 1
    assert len(fake_line.pushes) == 1 and not mail.outbox


def test_a_timeout_is_retried_with_the_same_key_and_shown_once(world, channel, fake_line, anniversary, monkeypatch):
    monkeypatch.setattr(line, "PUSH_TIMEOUT", 0.3)
    member = joined_a_year_ago(world)
    on_line(member)
    run_anniversaries()
    fake_line.mode = "slow"  # LINE takes it, but answers too late
    assert send_all() == 0
    message = Message.objects.get(member=member)
    assert message.status == Message.Status.FAILED and "could not be reached" in message.last_error
    fake_line.mode = "ok"
    assert send_all(now=timezone.now() + timedelta(minutes=3)) == 1
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    # two attempts with one key; LINE delivered it once
    assert [attempt["retry_key"] for attempt in fake_line.push_attempts] == [str(message.public_id)] * 2
    assert len(fake_line.pushes) == 1


def test_sending_twice_pushes_once(world, channel, fake_line):
    member = MemberFactory(shop=world.shop)
    on_line(member)
    message = outbox.message_queue(
        member=member, campaign="card_link", occasion="x", template="members/email/card_link",
        kind=Message.Kind.TRANSACTIONAL, context={"url": "https://example.com/c/x/"},
    )  # fmt: skip
    assert outbox.message_send(message.pk) is True
    assert outbox.message_send(message.pk) is False
    assert len(fake_line.push_attempts) == 1


def test_a_disconnected_shop_sends_by_email(world, channel, fake_line, anniversary):
    member = joined_a_year_ago(world)
    on_line(member)
    run_anniversaries()
    line.channel_disconnect(shop=world.shop, by=world.alice)
    assert send_all() == 1
    assert fake_line.push_attempts == [] and len(mail.outbox) == 1


def test_erasing_the_member_forgets_the_line_address_of_their_messages(world, channel, fake_line, anniversary):
    member = joined_a_year_ago(world)
    on_line(member)
    run_anniversaries()
    member_services.member_erase(member=member, by=world.alice)
    message = Message.objects.get(member=member)
    assert (message.to_line, message.to_email, message.status) == ("", "", Message.Status.FAILED)
    assert send_all() == 0 and fake_line.push_attempts == []


def test_without_line_nothing_changes_and_no_query_is_added(world, anniversary, django_assert_num_queries):
    member = joined_a_year_ago(world)
    member = Member.objects.select_related("shop").get(pk=member.pk)
    member.shop.refresh_from_db()
    line.has_line(member.shop)  # the shop's settings are held from here on
    with CaptureQueriesContext(connection) as captured:
        outbox.message_queue(
            member=member, campaign="c", occasion="o", template="members/email/card_link",
            kind=Message.Kind.TRANSACTIONAL, context={"url": "https://example.com/c/x/"},
        )  # fmt: skip
    assert not any("linefollower" in query["sql"].lower() for query in captured.captured_queries)
    assert Message.objects.get(member=member).channel == Message.Channel.EMAIL
