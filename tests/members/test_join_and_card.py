import re

import pytest
from django.core import mail
from django.urls import resolve, reverse

from members.models import Member, User
from members.tokens import card_token, member_from_card_token
from rewards import services

from ..factories import MemberFactory, StampProgramFactory


def card_holder(url: str):
    """The member whose card a URL opens (a card link is signed with the time, so compare holders)."""
    match = resolve(url)
    assert match.view_name == "rewards:card"
    return member_from_card_token(match.kwargs["token"])


@pytest.fixture
def join_program(world):
    return StampProgramFactory(shop=world.shop, name="Coffee card", reward="Free latte", stamps_needed=10)


def join_url(world):
    return reverse("members:join", args=[world.shop.slug])


def join(client, world, on_commit, **data):
    form = {"name": "Mia Chen", "email": "mia@example.com", "phone": "", "birthday": "", **data}
    with on_commit(execute=True):
        return client.post(join_url(world), form)


def test_join_lands_on_the_card_and_emails_the_link(world, join_program, client, django_capture_on_commit_callbacks):
    response = join(
        client, world, django_capture_on_commit_callbacks, phone="0912 345 678", birthday="1990-02-28",
        marketing_consent="on",
    )  # fmt: skip
    member = Member.objects.get(shop=world.shop)
    assert response.status_code == 302
    assert card_holder(response["Location"]) == member
    assert (member.phone, str(member.birthday), member.marketing_consent) == ("+886912345678", "1990-02-28", True)
    assert member.consent_version and member.consent_at
    assert member.user.email == "mia@example.com" and not member.user.has_usable_password()
    # The card link arrives by e-mail, and holds neither e-mail nor phone.
    assert mail.outbox[-1].to == ["mia@example.com"]
    link = re.search(r"http://\S+/c/\S+/", mail.outbox[-1].body).group(0)
    assert "mia" not in link and "912" not in link
    body = client.get(response["Location"]).content.decode()
    assert "Hello, Mia Chen" in body and member.code in body and "<svg" in body


def test_consent_is_never_assumed(world, join_program, client, django_capture_on_commit_callbacks):
    join(client, world, django_capture_on_commit_callbacks)
    member = Member.objects.get()
    assert not member.marketing_consent and member.consent_at is None
    page = client.get(join_url(world)).content.decode()
    assert re.search(r'<input type="checkbox" name="marketing_consent"[^>]*>', page)
    assert "checked" not in re.search(r'<input type="checkbox" name="marketing_consent"[^>]*>', page).group(0)


def test_joining_twice_makes_no_second_member_and_sends_a_code(
    world, join_program, client, django_capture_on_commit_callbacks
):
    join(client, world, django_capture_on_commit_callbacks)
    sent = len(mail.outbox)
    response = join(client, world, django_capture_on_commit_callbacks, name="Mia again", email="MIA@example.com")
    assert Member.objects.count() == 1 and User.objects.filter(email="mia@example.com").count() == 1
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_confirm_login_code"))
    assert len(mail.outbox) == sent + 1
    code = re.search(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", mail.outbox[-1].body, re.M).group(1)
    response = client.post(response["Location"], {"code": code})
    member = Member.objects.get()
    assert response.status_code == 302
    assert card_holder(response["Location"]) == member


def test_joining_twice_by_phone(world, join_program, client, django_capture_on_commit_callbacks):
    join(client, world, django_capture_on_commit_callbacks, email="", phone="0912345678")
    response = join(client, world, django_capture_on_commit_callbacks, email="", phone="+886 912 345 678")
    assert Member.objects.count() == 1
    assert "already a member" in response.content.decode()


def test_the_same_person_may_join_two_shops(world, client, django_capture_on_commit_callbacks):
    join(client, world, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("members:join", args=[world.other_shop.slug]), {"name": "Mia", "email": "mia@example.com"})
    assert Member.objects.count() == 2 and User.objects.count() == 5  # four staff and Mia


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "", "phone": ""}, "Enter an e-mail address or a mobile number"),
        ({"phone": "12345"}, "Enter a valid mobile number"),
        ({"email": "not-an-email"}, "Enter a valid email address"),
        ({"birthday": "2999-01-01"}, "Enter your real birthday"),
        ({"name": ""}, "This field is required"),
    ],
)
def test_bad_input_gets_a_clear_error_and_creates_nothing(
    world, join_program, client, django_capture_on_commit_callbacks, data, message
):
    response = join(client, world, django_capture_on_commit_callbacks, **data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Member.objects.exists() and not mail.outbox


def test_join_is_rate_limited_per_ip(world, join_program, client, django_capture_on_commit_callbacks, settings):
    settings.JOINS_PER_IP_PER_HOUR = 5
    for i in range(settings.JOINS_PER_IP_PER_HOUR):
        join(client, world, django_capture_on_commit_callbacks, email=f"p{i}@example.com")
    response = join(client, world, django_capture_on_commit_callbacks, email="one-more@example.com")
    assert response.status_code == 429
    assert not Member.objects.filter(email="one-more@example.com").exists()


def test_join_page_speaks_the_shops_language(world, client):
    world.shop.language = "zh-hant"
    world.shop.save()
    response = client.get(join_url(world), headers={"accept-language": "en"})
    assert '<html lang="zh-hant">' in response.content.decode()


def test_unknown_shop_join_is_404(client, db):
    assert client.get("/j/no-such-shop/").status_code == 404


@pytest.mark.parametrize("token", ["garbage", "altered"])
def test_forged_or_altered_card_links_are_404(world, client, token):
    member = MemberFactory(shop=world.shop)
    if token == "altered":
        token = card_token(member)[:-2] + "xx"
    assert client.get(reverse("rewards:card", args=[token])).status_code == 404


def test_card_shows_slots_progress_vouchers_and_history(world, join_program, client, django_assert_num_queries):
    member = MemberFactory(shop=world.shop)
    for i in range(3):
        services.stamp_add(
            member=member,
            program=join_program,
            count=1,
            staff=world.bob,
            idempotency_key=f"c{i}",
            override=True,
            override_reason="correction",
        )
    url = reverse("rewards:card", args=[card_token(member)])
    client.get(url)
    # member+shop+tier, cards, tier changes, vouchers, history, and whether a referral campaign runs
    # (the shop's cards, points rule, catalogue and tiers are held: rewards.config)
    with django_assert_num_queries(6):
        response = client.get(url)
    body = response.content.decode()
    assert body.count('<li class="filled">') == 3 and body.count("<li></li>") == 7
    assert "7 more stamps to your Free latte" in body
    assert response.headers["Cache-Control"].startswith("max-age=0")


def test_the_card_qr_refreshes_as_a_fragment(world, client):
    member = MemberFactory(shop=world.shop)
    url = reverse("rewards:card", args=[card_token(member)])
    response = client.get(url, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="qr"') and "<html" not in body
