"""LINE as a channel: a shop connects its official account (credentials encrypted at rest), the
webhook checks LINE's signature with the shop's secret, follows and unfollows are kept, a member
links their LINE account with a one-time code from their card and asks it for their card. Replies
go to a fake LINE API on 127.0.0.1."""

import base64
import hashlib
import hmac
import json
import logging
import re
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from members import line, services
from members.models import LineChannel, LineFollower, LineLinkCode
from members.tokens import card_token, member_from_card_token
from rewards.models import MemberCard

from ..factories import MemberFactory, PointsRuleFactory, StampProgramFactory
from ..line_fake import SECRET, TOKEN, connect, serve

OTHER_SECRET = "fedcba9876543210fedcba9876543210"


@pytest.fixture
def fake_line(settings):
    yield from serve(settings)


@pytest.fixture
def key(settings):
    settings.LINE_CREDENTIALS_KEY = Fernet.generate_key().decode()
    return settings.LINE_CREDENTIALS_KEY


@pytest.fixture
def channel(world, key, settings):
    return connect(world.shop, world.alice, settings)


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def event(kind: str, user: str = "U1", text: str | None = None) -> dict:
    data = {
        "type": kind,
        "mode": "active",
        "timestamp": 1700000000000,
        "source": {"type": "user", "userId": user},
        "webhookEventId": "01H0000000000000000000000" + kind[:1].upper(),
        "deliveryContext": {"isRedelivery": False},
    }
    if kind != "unfollow":
        data["replyToken"] = "reply-token-1"
    if kind == "follow":
        data["follow"] = {"isUnblocked": False}
    if text is not None:
        data["message"] = {"type": "text", "id": "1", "text": text, "quoteToken": "q"}
    return data


def post(client, shop_slug: str, *events, secret: str = SECRET, signature: str | None = None):
    body = json.dumps({"destination": "Udest", "events": list(events)}).encode()
    headers = {} if signature == "" else {"X-Line-Signature": signature or sign(body, secret)}
    return client.post(
        reverse("rewards:line_webhook", args=[shop_slug]), body, content_type="application/json", headers=headers
    )


# Connecting


def test_owner_connects_line_encrypted_and_sees_only_the_tails(world, key, alice_client):
    url = reverse("members:line_settings", args=[world.shop.slug])
    data = {"connect": "1", "channel_id": "1650000000", "channel_secret": SECRET, "access_token": TOKEN}
    assert alice_client.post(url, data).status_code == 302
    channel = LineChannel.objects.get(shop=world.shop)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_encrypted, token_encrypted FROM members_linechannel WHERE id = %s", [channel.pk])
        stored = " ".join(cursor.fetchone())
    assert SECRET not in stored and TOKEN not in stored
    assert line.credentials(channel) == line.Credentials(secret=SECRET, token=TOKEN)
    body = alice_client.get(url).content.decode()
    assert "secret …1a2b, token …9z8y" in body and "1650000000" in body
    assert SECRET not in body and TOKEN not in body and "Disconnect" in body
    # the settings page links to it
    assert url in alice_client.get(reverse("members:shop_settings", args=[world.shop.slug])).content.decode()


def test_owner_disconnects_line(world, channel, alice_client):
    url = reverse("members:line_settings", args=[world.shop.slug])
    assert alice_client.post(url, {"disconnect": "1"}).status_code == 302
    assert not LineChannel.objects.filter(shop=world.shop).exists()
    assert not line.has_line(world.shop.__class__.objects.get(pk=world.shop.pk))


def test_without_a_key_line_cannot_be_connected(world, settings, alice_client):
    settings.LINE_CREDENTIALS_KEY = ""
    url = reverse("members:line_settings", args=[world.shop.slug])
    assert "LINE cannot be connected on this installation" in alice_client.get(url).content.decode()
    data = {"connect": "1", "channel_id": "1650000000", "channel_secret": SECRET, "access_token": TOKEN}
    assert alice_client.post(url, data).status_code == 400
    assert not LineChannel.objects.exists()


def test_other_shops_owner_gets_404_staff_and_managers_403(world, channel):
    url = reverse("members:line_settings", args=[world.shop.slug])
    dave = world.client(world.dave)
    assert dave.get(url).status_code == 404
    assert dave.post(url, {"disconnect": "1"}).status_code == 404
    for user in (world.bob, world.carol):
        assert world.client(user).get(url).status_code == 403
        assert world.client(user).post(url, {"disconnect": "1"}).status_code == 403
    assert LineChannel.objects.filter(shop=world.shop).exists()


# The webhook


def test_follow_then_unfollow_updates_the_follower(world, channel, client, fake_line):
    assert post(client, world.shop.slug, event("follow")).status_code == 200
    follower = LineFollower.objects.get(shop=world.shop, line_user_id="U1")
    assert follower.following and follower.unfollowed_at is None
    assert post(client, world.shop.slug, event("unfollow")).status_code == 200
    follower.refresh_from_db()
    assert not follower.following and follower.unfollowed_at is not None


@pytest.mark.parametrize("signature", ["", "forged"])
def test_a_forged_or_missing_signature_is_refused(world, channel, client, signature):
    forged = "" if signature == "" else base64.b64encode(b"x" * 32).decode()
    assert post(client, world.shop.slug, event("follow"), signature=forged).status_code == 400
    assert not LineFollower.objects.exists()


def test_another_shops_secret_does_not_verify(world, channel, client, key):
    line.channel_connect(
        shop=world.other_shop, channel_id="1650000001", secret=OTHER_SECRET, token=TOKEN, by=world.dave
    )
    assert post(client, world.shop.slug, event("follow"), secret=OTHER_SECRET).status_code == 400
    assert post(client, world.other_shop.slug, event("follow"), secret=SECRET).status_code == 400
    assert not LineFollower.objects.exists()


def test_a_shop_without_a_channel_is_404(world, client):
    assert post(client, world.shop.slug, event("follow")).status_code == 404
    assert post(client, "no-such-shop", event("follow")).status_code == 404


# Linking from the card


def test_the_card_links_line_with_a_one_time_code(world, channel, client, fake_line):
    member = MemberFactory(shop=world.shop, name="Mia Chen", language="en")
    card_url = reverse("rewards:card", args=[card_token(member)])
    assert "Connect LINE" in client.get(card_url).content.decode()
    assert client.post(reverse("rewards:card_line_code", args=[card_token(member)])).status_code == 302
    code = LineLinkCode.objects.get(member=member).code
    assert code in client.get(card_url).content.decode()

    assert post(client, world.shop.slug, event("follow"), event("message", text=code.lower())).status_code == 200
    assert LineFollower.objects.get(line_user_id="U1").member == member
    welcome, linked = fake_line.texts()
    assert "Thank you for following" in welcome and "Connect LINE" in welcome
    assert reverse("members:join", args=[world.shop.slug]) in welcome
    assert linked == f"Linked: this LINE account now gets {world.shop.name}'s messages for Mia's card"
    assert fake_line.replies[1]["auth"] == f"Bearer {TOKEN}"
    assert fake_line.replies[1]["path"] == "/v2/bot/message/reply"
    assert fake_line.replies[1]["body"]["replyToken"] == "reply-token-1"
    body = client.get(card_url).content.decode()
    assert "LINE connected" in body and code not in body
    assert "come to you on LINE" in body
    assert post(client, world.shop.slug, event("unfollow")).status_code == 200
    body = client.get(card_url).content.decode()
    assert "LINE connected" in body and "You do not follow" in body

    # spent: another account sending it links nothing
    assert post(client, world.shop.slug, event("message", user="U2", text=code)).status_code == 200
    assert LineFollower.objects.get(line_user_id="U2").member is None
    assert "not known" in fake_line.texts()[-1]

    # disconnect from the card
    assert client.post(reverse("rewards:card_line_disconnect", args=[card_token(member)])).status_code == 302
    assert LineFollower.objects.get(line_user_id="U1").member is None
    assert "Connect LINE" in client.get(card_url).content.decode()


def test_an_expired_code_is_refused_with_a_reply(world, channel, client, fake_line):
    member = MemberFactory(shop=world.shop)
    code = line.code_new(member)
    LineLinkCode.objects.filter(member=member).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert post(client, world.shop.slug, event("message", text=code)).status_code == 200
    assert LineFollower.objects.get(line_user_id="U1").member is None
    assert "expired" in fake_line.texts()[0]


def test_a_new_code_replaces_the_old_one(world, channel):
    member = MemberFactory(shop=world.shop)
    first, second = line.code_new(member), line.code_new(member)
    assert LineLinkCode.objects.filter(member=member).count() == 1
    assert line.live_code(member) == second and (first == second or line.looks_like_code(first))


def test_a_card_of_a_shop_without_line_shows_nothing(world, client):
    member = MemberFactory(shop=world.shop)
    body = client.get(reverse("rewards:card", args=[card_token(member)])).content.decode()
    assert "Connect LINE" not in body
    assert client.post(reverse("rewards:card_line_code", args=[card_token(member)])).status_code == 404


# Asking for the card


@pytest.mark.parametrize("word", ["card", "卡", "My Card", "我的卡"])
def test_card_replies_with_the_link_and_balances_to_a_linked_follower(world, channel, client, fake_line, word):
    program = StampProgramFactory(shop=world.shop, name="Coffee card", stamps_needed=8)
    PointsRuleFactory(shop=world.shop)
    member = MemberFactory(shop=world.shop, language="en", points=42)
    MemberCard.objects.create(member=member, program=program, stamps=3)
    LineFollower.objects.create(shop=world.shop, line_user_id="U1", member=member)
    assert post(client, world.shop.slug, event("message", text=word)).status_code == 200
    (text,) = fake_line.texts()
    token = re.search(r"/c/([^/]+)/", text)[1]  # a fresh link (its signature carries the time)
    assert member_from_card_token(token) == member
    assert "Points: 42" in text and "Coffee card: 3 of 8 stamps" in text


def test_card_tells_an_unlinked_follower_how_to_link(world, channel, client, fake_line):
    world.shop.language = "en"
    world.shop.save()
    assert post(client, world.shop.slug, event("message", text="card")).status_code == 200
    (text,) = fake_line.texts()
    assert "Connect LINE" in text and "not linked" in text


def test_other_text_gets_no_reply(world, channel, client, fake_line):
    assert post(client, world.shop.slug, event("message", text="hello")).status_code == 200
    assert fake_line.replies == []


# LINE failing


@pytest.mark.parametrize("mode", ["500", "slow"])
def test_a_failing_line_api_is_logged_and_the_webhook_still_answers_200(
    world, channel, client, fake_line, mode, monkeypatch, caplog
):
    fake_line.mode = mode
    monkeypatch.setattr(line, "REPLY_TIMEOUT", 0.3)
    with caplog.at_level(logging.WARNING, logger="members.line"):
        assert post(client, world.shop.slug, event("message", text="card")).status_code == 200
    assert "LINE reply failed" in caplog.text
    assert LineFollower.objects.filter(line_user_id="U1").exists()


def test_erasing_a_member_unlinks_their_line_account(world, channel):
    member = MemberFactory(shop=world.shop)
    line.code_new(member)
    LineFollower.objects.create(shop=world.shop, line_user_id="U1", member=member)
    services.member_erase(member=member, by=world.alice)
    assert LineFollower.objects.get(line_user_id="U1").member is None
    assert not LineLinkCode.objects.filter(member=member).exists()


def test_line_costs_the_card_two_queries_and_only_at_a_shop_with_a_channel(world, key, client):
    member = MemberFactory(shop=world.shop)
    url = reverse("rewards:card", args=[card_token(member)])

    def queries() -> int:
        client.get(url)  # the shop's settings are held from here on
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        return len(captured)

    without = queries()
    line.channel_connect(shop=world.shop, channel_id="1650000000", secret=SECRET, token=TOKEN, by=world.alice)
    assert queries() == without + 2  # whether a LINE account is linked, and the member's live code


def test_a_linked_member_who_follows_again_is_welcomed_by_name(world, channel, client, fake_line):
    member = MemberFactory(shop=world.shop, name="Mia Chen", language="zh-hant")
    LineFollower.objects.create(shop=world.shop, line_user_id="U1", member=member, following=False)
    assert post(client, world.shop.slug, event("follow")).status_code == 200
    (text,) = fake_line.texts()
    assert "Mia" in text and "卡" in text


def test_connecting_and_disconnecting_are_in_the_audit_trail(world, key, alice_client):
    url = reverse("members:line_settings", args=[world.shop.slug])
    data = {"connect": "1", "channel_id": "1650000000", "channel_secret": SECRET, "access_token": TOKEN}
    alice_client.post(url, data)
    alice_client.post(url, {"disconnect": "1"})
    body = alice_client.get(reverse("members:audit_list", args=[world.shop.slug])).content.decode()
    assert "Connected the shop&#x27;s LINE official account" in body
    assert "Disconnected the shop&#x27;s LINE official account" in body and "1650000000" in body


def test_forged_requests_from_one_address_are_slowed_down(world, channel, client, monkeypatch):
    monkeypatch.setattr("rewards.views.line.BAD_SIGNATURES_PER_MINUTE", 3)
    forged = base64.b64encode(b"x" * 32).decode()
    codes = [post(client, world.shop.slug, event("follow"), signature=forged).status_code for _ in range(5)]
    assert codes == [400, 400, 400, 429, 429]
    refused = post(client, world.shop.slug, event("follow"), signature=forged)
    assert int(refused["Retry-After"]) >= 1
    assert not LineFollower.objects.exists()


def test_a_flood_of_signed_events_is_refused_past_the_shops_limit(world, channel, client, fake_line, monkeypatch):
    monkeypatch.setattr("rewards.views.line.EVENTS_PER_SHOP_PER_MINUTE", 2)
    codes = [post(client, world.shop.slug, event("follow", user=f"U{i}")).status_code for i in range(3)]
    assert codes == [200, 200, 429]
    assert LineFollower.objects.count() == 2
