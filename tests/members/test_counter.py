import re
import time

import pytest
from django.core import signing
from django.urls import reverse

from members.tokens import member_qr_payload
from rewards.models import LedgerEntry, MemberCard, Voucher

from ..factories import MemberFactory, StampProgramFactory, TierFactory, TierPolicyFactory, VoucherFactory


@pytest.fixture
def short_program(world):
    return StampProgramFactory(
        shop=world.shop, name="Coffee card", reward="Free latte", stamps_needed=3, min_minutes_between_visits=0
    )


@pytest.fixture
def findable_member(world):
    return MemberFactory(shop=world.shop, name="Mia Chen", phone="+886912345678", email="mia@example.com")


@pytest.fixture
def carol(world):
    return world.client(world.carol)


@pytest.fixture(autouse=True)
def _reconciled(ledger_reconciles):
    """After every counter test, each cached balance equals the sum of its ledger (tests/conftest.py)."""


def counter_url(world, **params):
    return reverse("rewards:counter", args=[world.shop.slug])


def stamp(client, world, member, program, key="k1", count=1, **extra):
    return client.post(
        reverse("rewards:counter_stamp", args=[world.shop.slug, member.public_id]),
        {"program": program.public_id, "count": count, "key": key, **extra},
        headers={"HX-Request": "true"},
    )


@pytest.mark.parametrize(
    "query",
    ["MEMBERCODE", "0912 345 678", "+886 912 345 678", "MIA@example.com", "mia ch", "5678"],
    ids=["code", "local-phone", "intl-phone", "email", "name", "last-four-digits"],
)
def test_lookup_finds_the_member_by_what_staff_type(world, findable_member, short_program, carol, query):
    query = findable_member.code if query == "MEMBERCODE" else query
    response = carol.get(counter_url(world), {"q": query})
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="member-name">Mia Chen<' in body
    assert "+1 stamp" in body


def test_a_fresh_member_qr_opens_the_panel(world, findable_member, short_program, carol):
    response = carol.get(counter_url(world), {"q": member_qr_payload(findable_member)})
    assert 'id="member-name">Mia Chen<' in response.content.decode()


def test_an_old_member_qr_is_refused(world, findable_member, short_program, carol, settings):
    payload = member_qr_payload(findable_member)
    settings.MEMBER_QR_MAX_AGE_SECONDS = 0
    time.sleep(1.1)
    response = carol.get(counter_url(world), {"q": payload})
    body = response.content.decode()
    assert "expired" in body and "Mia Chen" not in body


@pytest.mark.parametrize("tamper", ["other-shop", "altered", "forged"])
def test_a_foreign_or_altered_qr_is_refused(world, findable_member, short_program, carol, tamper):
    if tamper == "other-shop":
        outsider = MemberFactory(shop=world.other_shop)
        payload = member_qr_payload(outsider)
    elif tamper == "altered":
        payload = member_qr_payload(findable_member)
        payload = payload[:-2] + ("AA" if not payload.endswith("AA") else "BB")
    else:
        payload = signing.TimestampSigner(salt="something").sign(findable_member.code)
    body = carol.get(counter_url(world), {"q": payload}).content.decode()
    assert "not one of this shop" in body and "Mia Chen" not in body


def test_another_shops_member_is_not_found(world, carol):
    MemberFactory(shop=world.other_shop, name="Olga Outsider", email="olga@example.com")
    body = carol.get(counter_url(world), {"q": "olga@example.com"}).content.decode()
    assert "Olga" not in body.replace("olga@example.com", "")


def test_stamp_fragment_then_double_tap_counts_once(world, findable_member, short_program, carol):
    response = stamp(carol, world, findable_member, short_program, key="same")
    assert response.status_code == 200
    body = response.content.decode()
    # The answer is what changed: the outcome, then the card it stamped swapped in place; not the
    # whole panel, and no history.
    assert body.lstrip().startswith('<div id="outcome"')
    assert "+1 stamp added" in body
    assert f'id="card-{short_program.public_id}" data-hx-swap-oob="true"' in body
    assert 'aria-label="1 of 3 stamps"' in body
    assert 'id="member-name"' not in body and "<table" not in body
    again = stamp(carol, world, findable_member, short_program, key="same").content.decode()
    assert "Already recorded, nothing added twice" in again
    assert 'aria-label="1 of 3 stamps"' in again
    assert MemberCard.objects.get(member=findable_member).stamps == 1
    assert LedgerEntry.objects.count() == 1


def test_a_full_card_says_so_loudly_and_the_voucher_is_redeemed_by_scanning_its_code(
    world, findable_member, short_program, carol
):
    for i in range(3):
        response = stamp(carol, world, findable_member, short_program, key=f"k{i}")
    body = response.content.decode()
    assert "Card complete!" in body
    voucher = Voucher.objects.get(member=findable_member)
    assert voucher.code in body
    # The card starts again, its form with a new key, and the new voucher joins the panel's list.
    assert 'aria-label="0 of 3 stamps"' in body and 'value="k2"' not in body
    added = body[body.index('data-hx-swap-oob="beforeend:#vouchers"') :]
    assert f'id="voucher-{voucher.public_id}"' in added and "Redeem" in added

    body = carol.get(counter_url(world), {"q": voucher.code.lower()}).content.decode()
    assert 'class="highlight"' in body
    response = carol.post(
        reverse("rewards:counter_redeem", args=[world.shop.slug, findable_member.public_id]),
        {"voucher": voucher.public_id, "key": "r1", "confirmed": "1"},
    )
    assert "Redeemed: Free latte" in response.content.decode()
    # ... and leaves it once redeemed.
    assert f'<li id="voucher-{voucher.public_id}" data-hx-swap-oob="delete">' in response.content.decode()
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.REDEEMED
    # A second redemption with a new key is refused, clearly.
    response = carol.post(
        reverse("rewards:counter_redeem", args=[world.shop.slug, findable_member.public_id]),
        {"voucher": voucher.public_id, "key": "r2", "confirmed": "1"},
    )
    assert response.status_code == 409
    assert "already redeemed" in response.content.decode()


def test_undo_from_the_confirmation(world, findable_member, short_program, carol):
    body = stamp(carol, world, findable_member, short_program).content.decode()
    group = re.search(r'name="group" value="([0-9a-f-]+)"', body).group(1)
    response = carol.post(
        reverse("rewards:counter_undo", args=[world.shop.slug, findable_member.public_id]),
        {"group": group, "key": "u1"},
    )
    assert "Undone." in response.content.decode()
    assert MemberCard.objects.get(member=findable_member).stamps == 0
    assert LedgerEntry.objects.filter(reason="void", staff=world.carol).count() == 1


def test_too_soon_is_a_clear_error_and_only_a_manager_may_override(world, findable_member, short_program, carol):
    short_program.min_minutes_between_visits = 30
    short_program.save()
    stamp(carol, world, findable_member, short_program, key="a")
    response = stamp(carol, world, findable_member, short_program, key="b")
    assert response.status_code == 409
    assert "Next stamp in" in response.content.decode()
    assert "Manager override" not in response.content.decode()
    response = stamp(carol, world, findable_member, short_program, key="c", override="1")
    assert response.status_code == 409
    bob = world.client(world.bob)
    response = stamp(bob, world, findable_member, short_program, key="d", override="1", override_reason="correction")
    assert response.status_code == 200
    assert LedgerEntry.objects.get(idempotency_key="d").override


@pytest.mark.parametrize("data", [{"count": "x"}, {"count": "0"}, {"program": "not-a-uuid"}])
def test_bad_stamp_input_changes_nothing(world, findable_member, short_program, carol, data):
    response = carol.post(
        reverse("rewards:counter_stamp", args=[world.shop.slug, findable_member.public_id]),
        {"program": short_program.public_id, "count": 1, "key": "k", **data},
    )
    assert response.status_code == 422
    assert "Not done:" in response.content.decode()
    assert not LedgerEntry.objects.exists()


def test_an_unknown_undo_group_is_404(world, findable_member, carol):
    response = carol.post(
        reverse("rewards:counter_undo", args=[world.shop.slug, findable_member.public_id]),
        {"group": "8d0f8ac4-4a4e-4b0e-9a57-3e7a1b2c3d4e", "key": "u"},
    )
    assert response.status_code == 404


def test_wrong_methods(world, findable_member, carol):
    assert carol.post(counter_url(world)).status_code == 405
    url = reverse("rewards:counter_stamp", args=[world.shop.slug, findable_member.public_id])
    assert carol.get(url).status_code == 405


def test_last_four_digits_list_every_match_latest_visitor_first_with_masked_phones(world, carol):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    MemberFactory(shop=world.shop, name="Old Friend", phone="+886911005678", last_visit_at=now - timedelta(days=90))
    MemberFactory(shop=world.shop, name="Never Came", phone="+886922005678", last_visit_at=None)
    MemberFactory(shop=world.shop, name="This Morning", phone="+886933005678", last_visit_at=now - timedelta(hours=2))
    MemberFactory(shop=world.shop, name="Other Digits", phone="+886944001234")
    MemberFactory(shop=world.other_shop, name="Other Shop", phone="+886955005678")
    body = carol.get(counter_url(world), {"q": "56 78"}).content.decode()
    names = re.findall(r"<strong>([^<]+)</strong> <code>", body)
    assert names == ["This Morning", "Old Friend", "Never Came"]
    assert body.count("••• 678") == 3 and "005678" not in body
    assert "Last visit 2\xa0hours ago" in body and "No visit yet" in body


def test_lookup_panel_and_action_query_counts(world, findable_member, short_program, carol, django_assert_num_queries):
    """The shop's settings are held (rewards.config), so the counter spends its queries on the member."""
    for i in range(3):
        stamp(carol, world, findable_member, short_program, key=f"q{i}")
    url = counter_url(world)
    carol.get(url, {"q": findable_member.code})
    # the user with their role at the shop, the member, their cards, their vouchers
    with django_assert_num_queries(4):
        carol.get(url, {"q": findable_member.code}, headers={"HX-Request": "true"})
    panel = reverse("rewards:counter_member", args=[world.shop.slug, findable_member.public_id])
    carol.get(panel)
    # the full page adds the shop switcher
    with django_assert_num_queries(5):
        carol.get(panel)
    # +1 stamp: the user with their role, the member; BEGIN, the lock (with the key's replay), the
    # card (with its last visit), the row, the card's and the member's balance, COMMIT.
    with django_assert_num_queries(9):
        response = stamp(carol, world, findable_member, short_program, key="q4")
    assert response.status_code == 200

    # Redeem: the user with their role, the member, the voucher; BEGIN, the lock, the voucher's
    # status, the row, the member's last visit, COMMIT.
    voucher = VoucherFactory(shop=world.shop, member=findable_member)
    redeem = reverse("rewards:counter_redeem", args=[world.shop.slug, findable_member.public_id])
    with django_assert_num_queries(9):
        response = carol.post(redeem, {"voucher": voucher.public_id, "key": "q5", "confirmed": "1"})
    assert response.status_code == 200
    assert f'id="voucher-{voucher.public_id}" data-hx-swap-oob="delete"' in response.text

    # With tiers: the member's progress, however much history there is, on the panel and in the action.
    TierPolicyFactory(shop=world.shop)
    TierFactory(shop=world.shop, name="Gold", threshold=5)
    carol.get(panel)
    with django_assert_num_queries(6):
        carol.get(panel)


def test_times_are_the_shops_local_time(world, findable_member, short_program, carol):
    world.shop.time_zone = "Asia/Taipei"
    world.shop.save()
    stamp(carol, world, findable_member, short_program)
    history = reverse("rewards:counter_history", args=[world.shop.slug, findable_member.public_id])
    body = carol.get(history, headers={"HX-Request": "true"}).content.decode()
    assert re.search(r'<time datetime="[^"]+\+08:00">', body)
    assert "Visit" in body
