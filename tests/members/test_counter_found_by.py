"""A photo of someone's card is not the person: spending after anything but a fresh QR scan needs
staff to confirm the customer's name and masked phone, and every ledger row records how the member
was found (regression: the fixed code printed under the QR redeemed vouchers when typed)."""

import pytest
from django.urls import reverse

from members.tokens import member_qr_payload
from rewards.models import LedgerEntry, Voucher

from ..factories import MemberFactory, StampProgramFactory, VoucherFactory


@pytest.fixture
def mia(world):
    member = MemberFactory(shop=world.shop, name="Mia Chen", phone="+886912345678")
    voucher = VoucherFactory(shop=world.shop, member=member, title="Free latte")
    return member, voucher


def panel(carol, world, query):
    return carol.get(reverse("rewards:counter", args=[world.shop.slug]), {"q": query})


def found_token(body: str) -> str:
    import re

    return re.search(r'name="found" value="([^"]+)"', body).group(1)


def redeem(carol, world, member, voucher, found, **extra):
    return carol.post(
        reverse("rewards:counter_redeem", args=[world.shop.slug, member.public_id]),
        {"voucher": voucher.public_id, "key": "r-" + found[-8:], "found": found, **extra},
        headers={"HX-Request": "true"},
    )


@pytest.mark.parametrize("how", ["code", "phone", "name"])
def test_a_typed_look_up_asks_staff_to_confirm_the_person(world, mia, how):
    member, voucher = mia
    carol = world.client(world.carol)
    query = {"code": member.code, "phone": "0912 345 678", "name": "Mia"}[how]
    body = panel(carol, world, query).content.decode()
    assert "I checked: this is Mia Chen (••• 678)" in body
    response = redeem(carol, world, member, voucher, found_token(body))
    assert response.status_code == 409
    assert "Check with the customer that this is Mia Chen (••• 678)" in response.content.decode()
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.ISSUED
    response = redeem(carol, world, member, voucher, found_token(body), confirmed="1")
    assert "Redeemed: Free latte" in response.content.decode()
    assert LedgerEntry.objects.get(reason="redeem").found_by == how


def test_a_fresh_qr_scan_redeems_in_one_tap_and_says_so_in_the_ledger(world, mia):
    member, voucher = mia
    carol = world.client(world.carol)
    body = panel(carol, world, member_qr_payload(member)).content.decode()
    assert "I checked" not in body
    response = redeem(carol, world, member, voucher, found_token(body))
    assert "Redeemed: Free latte" in response.content.decode()
    assert LedgerEntry.objects.get(reason="redeem").found_by == "qr"


def test_a_forged_or_borrowed_found_token_proves_nothing(world, mia):
    member, voucher = mia
    other = MemberFactory(shop=world.shop)
    from rewards.lookup import found_token as sign

    carol = world.client(world.carol)
    others_qr = sign(other.public_id, "qr")  # a fresh scan of somebody else's card
    for token in ("qr", others_qr, ""):
        assert redeem(carol, world, member, voucher, token).status_code == 409
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.ISSUED


def test_earning_needs_no_confirmation_and_records_the_look_up(world, mia):

    member, _voucher = mia
    program = StampProgramFactory(shop=world.shop, name="Card", reward="Gift", min_minutes_between_visits=0)
    carol = world.client(world.carol)
    body = panel(carol, world, "0912345678").content.decode()
    response = carol.post(
        reverse("rewards:counter_stamp", args=[world.shop.slug, member.public_id]),
        {"program": program.public_id, "count": "1", "key": "s1", "found": found_token(body)},
    )
    assert response.status_code == 200
    assert LedgerEntry.objects.get(reason="visit").found_by == "phone"


def test_a_part_of_a_name_finds_the_latest_visitors_first(world, monkeypatch):
    """Looked for among the latest visitors first (a big shop's customer at the counter is most
    likely one of them), then among everyone when fewer than ten match there."""
    from datetime import timedelta

    from django.utils import timezone

    from rewards import lookup

    now = timezone.now()
    never = MemberFactory(shop=world.shop, name="Chen Never", last_visit_at=None)
    old = MemberFactory(shop=world.shop, name="Chen Old", last_visit_at=now - timedelta(days=300))
    recent = MemberFactory(shop=world.shop, name="Chen Recent", last_visit_at=now - timedelta(days=1))
    MemberFactory(shop=world.shop, name="Lin Latest", last_visit_at=now)
    MemberFactory(shop=world.other_shop, name="Chen Elsewhere", last_visit_at=now)
    assert lookup.by_name(world.shop, "chen") == [recent, old, never]
    # Only Lin and Chen Recent are among the two latest visitors: the rest come from everyone.
    monkeypatch.setattr(lookup, "RECENT", 2)
    assert lookup.by_name(world.shop, "chen") == [recent, old, never]
    assert lookup.by_name(world.shop, "chen", limit=1) == [recent]
