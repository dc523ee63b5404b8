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
    match = resolve(url.split("?")[0])
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


def test_joining_twice_makes_no_second_member_and_emails_the_card_link_to_the_known_address(
    world, join_program, client, django_capture_on_commit_callbacks
):
    join(client, world, django_capture_on_commit_callbacks)
    sent = len(mail.outbox)
    response = join(client, world, django_capture_on_commit_callbacks, name="Mia again", email="MIA@example.com")
    assert Member.objects.count() == 1 and User.objects.filter(email="mia@example.com").count() == 1
    # The shop's own page says where the link went; the card is not shown to whoever typed the address.
    body = response.content.decode()
    assert response.status_code == 200 and "We sent the link to your card to m•••@example.com" in body
    assert world.shop.name.replace("'", "&#x27;") in body and "/c/" not in body
    assert len(mail.outbox) == sent + 1 and mail.outbox[-1].to == ["mia@example.com"]
    link = re.search(r"http://\S+(/c/\S+/)", mail.outbox[-1].body).group(1)
    assert card_holder(link) == Member.objects.get()
    # Asking again the same day sends nothing more: the form cannot flood a mailbox.
    join(client, world, django_capture_on_commit_callbacks, email="mia@example.com")
    assert len(mail.outbox) == sent + 1


def test_joining_twice_by_phone(world, join_program, client, django_capture_on_commit_callbacks):
    join(client, world, django_capture_on_commit_callbacks, email="", phone="0912345678")
    sent = len(mail.outbox)
    response = join(client, world, django_capture_on_commit_callbacks, email="", phone="+886 912 345 678")
    assert Member.objects.count() == 1
    body = response.content.decode()
    assert "already a member" in body and "Ask at the counter" in body and "sent" not in body
    assert len(mail.outbox) == sent


def test_a_phone_only_member_lands_on_the_card_told_how_to_keep_it_and_never_of_an_email(
    world, join_program, client, django_capture_on_commit_callbacks
):
    response = join(client, world, django_capture_on_commit_callbacks, email="", phone="0912 345 678")
    assert response.status_code == 302 and response["Location"].endswith("?welcome=1")
    body = client.get(response["Location"]).content.decode()
    assert "This page is your card" in body and "Add to Home Screen" in body and "bookmark this page" in body
    assert "e-mail" not in body.lower() and not mail.outbox
    # The code to show comes before the balances.
    assert body.index('id="qr"') < body.index("Coffee card")


def test_an_email_member_is_told_the_link_was_also_emailed(
    world, join_program, client, django_capture_on_commit_callbacks
):
    response = join(client, world, django_capture_on_commit_callbacks)
    body = client.get(response["Location"]).content.decode()
    assert "We also e-mailed the link to m•••@example.com" in body


@pytest.mark.parametrize(
    ("asks_first", "first", "second"), [("email", "id_email", "id_phone"), ("phone", "id_phone", "id_email")]
)
def test_the_join_page_asks_first_for_what_the_shop_chooses(world, client, asks_first, first, second):
    world.shop.join_asks_first = asks_first
    world.shop.save()
    body = client.get(join_url(world)).content.decode()
    assert body.index(f'id="{first}"') < body.index(f'id="{second}"')
    assert "(optional)" in body[body.index(f'id="{first}"') : body.index(f'id="{second}"') + 200]


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


@pytest.mark.parametrize(
    ("browser", "page"),
    [
        ("en-US,en;q=0.9", "en"),
        ("zh-CN,zh;q=0.9", "zh-hans"),
        ("zh-TW", "zh-hant"),
        ("fr-FR,de;q=0.5", "zh-hant"),
        ("", "zh-hant"),
    ],
)
def test_the_join_page_speaks_the_browsers_language_else_the_shops(world, client, browser, page):
    world.shop.language = "zh-hant"
    world.shop.save()
    response = client.get(join_url(world), headers={"accept-language": browser} if browser else {})
    assert f'<html lang="{page}">' in response.content.decode()


def test_the_card_speaks_the_members_language_unless_they_chose_another(world, join_program, client):
    member = MemberFactory(shop=world.shop, language="zh-hans")
    url = reverse("rewards:card", args=[card_token(member)])
    assert '<html lang="zh-hans">' in client.get(url, headers={"accept-language": "en"}).content.decode()
    client.cookies["django_language"] = "en"
    assert '<html lang="en">' in client.get(url).content.decode()


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


def test_the_card_is_an_installable_app_of_its_shop(world, client, django_assert_num_queries):
    world.shop.brand_colour = "#123456"
    world.shop.save()
    member = MemberFactory(shop=world.shop, language="zh-hant")
    token = card_token(member)
    card = client.get(reverse("rewards:card", args=[token])).content.decode()
    manifest_url = reverse("rewards:card_manifest", args=[token])
    assert f'<link rel="manifest" href="{manifest_url}">' in card
    assert '<meta name="theme-color" content="#123456">' in card
    # the member with their shop
    with django_assert_num_queries(1):
        response = client.get(manifest_url)
    assert response["Content-Type"] == "application/manifest+json"
    manifest = response.json()
    assert manifest["start_url"] == manifest["scope"] == reverse("rewards:card", args=[token])
    assert manifest["name"] == f"{world.shop.name} 會員卡" and manifest["lang"] == "zh-hant"
    assert manifest["theme_color"] == "#123456" and manifest["display"] == "standalone"
    assert {icon["sizes"] for icon in manifest["icons"]} == {"192x192", "512x512"}
    assert client.get(reverse("rewards:card_manifest", args=["forged"])).status_code == 404


def test_the_card_worker_and_the_icons_are_served(client, db):
    worker = client.get(reverse("rewards:card_service_worker"))
    assert worker.status_code == 200 and worker["Content-Type"].startswith("text/javascript")
    assert "caches.open" in worker.content.decode() and "no-cache" in worker["Cache-Control"]
    favicon = client.get("/favicon.ico")
    assert favicon.status_code == 301 and favicon["Location"].endswith(".ico")


def test_the_shops_logo_is_the_apps_icon_and_a_lost_file_is_no_error(world, client, settings, tmp_path):
    from ..images import image_upload

    settings.MEDIA_ROOT = tmp_path
    world.shop.logo.save("logo.png", image_upload(size=(256, 256)), save=True)
    member = MemberFactory(shop=world.shop)
    url = reverse("rewards:card_manifest", args=[card_token(member)])
    icons = client.get(url).json()["icons"]
    assert icons[0] == {"src": world.shop.logo.url, "sizes": "256x256", "type": "image/png"}
    (tmp_path / world.shop.logo.name).unlink()
    response = client.get(url)
    assert response.status_code == 200 and all(icon["src"] != world.shop.logo.url for icon in response.json()["icons"])
