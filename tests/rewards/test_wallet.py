"""A member's card in a phone's wallet, whichever wallet: its barcode never changes, so the counter
takes it under the usual visit limits, tells staff it is a wallet pass and asks them to confirm the
person before anything is spent; the member revokes it from the card, and a new pass replaces the
old one of its kind."""

import json
import re
import zipfile
from io import BytesIO

import pytest
from django.urls import reverse

from members import services as member_services
from members.tokens import card_token
from rewards.data import archive
from rewards.models import FoundBy, LedgerEntry, WalletPass
from rewards.services import wallet

from ..conftest import key
from ..factories import MemberFactory, UserFactory, VoucherFactory


def scan(client, shop, barcode):
    return client.get(reverse("rewards:counter", args=[shop.slug]), {"q": barcode}, HTTP_HX_REQUEST="true")


def found_token(page) -> str:
    return re.search(r'name="found" value="([^"]+)"', page.content.decode())[1]


@pytest.fixture
def held(world, member):
    return wallet.pass_issue(member=member, kind=WalletPass.Kind.APPLE)


def test_a_new_pass_replaces_the_old_one_of_its_kind_only(world, member):
    first = wallet.pass_issue(member=member, kind=WalletPass.Kind.APPLE)
    google = wallet.pass_issue(member=member, kind=WalletPass.Kind.GOOGLE)
    second = wallet.pass_issue(member=member, kind=WalletPass.Kind.APPLE)
    first.refresh_from_db()
    assert first.revoked_at is not None
    assert {p.pk for p in wallet.active_passes(member)} == {google.pk, second.pk}
    assert first.barcode != second.barcode and first.barcode.startswith("W:")
    assert member.code not in second.barcode


def test_the_counter_finds_the_member_by_the_pass_and_says_it_is_one(world, member, held, program):
    carol = world.client(world.carol)
    page = scan(carol, world.shop, held.barcode)
    html = page.content.decode()
    assert "Mia Chen" in html and "Wallet pass: check it is theirs before spending" in html
    stamp = carol.post(
        reverse("rewards:counter_stamp", args=[world.shop.slug, member.public_id]),
        {"program": program.public_id, "count": "1", "key": key(), "found": found_token(page)},
        HTTP_HX_REQUEST="true",
    )
    assert stamp.status_code == 200
    entry = LedgerEntry.objects.get(member=member, reason=LedgerEntry.Reason.VISIT)
    assert entry.found_by == FoundBy.WALLET


def test_the_usual_visit_limits_hold_for_a_pass(world, member, held, program):
    program.min_minutes_between_visits = 60
    program.save()
    carol = world.client(world.carol)
    page = scan(carol, world.shop, held.barcode)
    url = reverse("rewards:counter_stamp", args=[world.shop.slug, member.public_id])
    data = {"program": program.public_id, "count": "1", "found": found_token(page)}
    assert carol.post(url, {**data, "key": key()}, HTTP_HX_REQUEST="true").status_code == 200
    assert carol.post(url, {**data, "key": key()}, HTTP_HX_REQUEST="true").status_code == 409
    assert LedgerEntry.objects.filter(member=member, reason=LedgerEntry.Reason.VISIT).count() == 1


def test_spending_from_a_pass_needs_staff_to_confirm_the_person(world, member, held):
    voucher = VoucherFactory(shop=world.shop, member=member, title="Free latte")
    carol = world.client(world.carol)
    page = scan(carol, world.shop, held.barcode)
    url = reverse("rewards:counter_redeem", args=[world.shop.slug, member.public_id])
    data = {"voucher": voucher.public_id, "found": found_token(page)}
    refused = carol.post(url, {**data, "key": key()}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 409 and "Check with the customer that this is Mia Chen" in refused.content.decode()
    voucher.refresh_from_db()
    assert voucher.status == voucher.Status.ISSUED
    done = carol.post(url, {**data, "key": key(), "confirmed": "1"}, HTTP_HX_REQUEST="true")
    assert done.status_code == 200
    voucher.refresh_from_db()
    assert voucher.status == voucher.Status.REDEEMED


def test_a_revoked_pass_finds_nobody_and_says_why(world, member, held, client):
    card = reverse("rewards:card", args=[card_token(member)])
    revoke = reverse("rewards:card_wallet_revoke", args=[card_token(member), held.public_id])
    answer = client.post(revoke, follow=True)
    assert "The pass is revoked" in answer.content.decode()
    page = scan(world.client(world.carol), world.shop, held.barcode)
    html = page.content.decode()
    assert "replaced or revoked" in html and "Mia Chen" not in html
    assert client.post(revoke).status_code == 404  # once only
    assert client.get(card).status_code == 200


def test_nobody_else_revokes_a_members_pass(world, member, held, client):
    other = MemberFactory(shop=world.shop)
    revoke = reverse("rewards:card_wallet_revoke", args=[card_token(other), held.public_id])
    assert client.post(revoke).status_code == 404
    assert client.post(reverse("rewards:card_wallet_revoke", args=["forged", held.public_id])).status_code == 404
    assert (
        client.get(reverse("rewards:card_wallet_revoke", args=[card_token(member), held.public_id])).status_code == 405
    )
    held.refresh_from_db()
    assert held.revoked_at is None


def test_another_shops_counter_finds_nobody_by_the_pass(world, member, held):
    page = scan(world.client(world.dave), world.other_shop, held.barcode)
    assert "Mia Chen" not in page.content.decode() and "replaced or revoked" in page.content.decode()


def test_an_erased_member_is_not_found_by_their_pass(world, member, held):
    member_services.member_erase(member=member, by=world.alice, note="asked")
    assert wallet.member_for_barcode(world.shop, held.barcode) is None
    held.refresh_from_db()
    assert held.revoked_at is not None  # void in the wallet too, on its next fetch


def test_without_wallets_set_up_the_card_offers_none_and_asks_nothing(world, member, client):
    page = client.get(reverse("rewards:card", args=[card_token(member)])).content.decode()
    assert "In your phone&#x27;s wallet" not in page and "In your phone's wallet" not in page


def test_a_members_passes_are_in_their_copy_of_their_data(world):
    user = UserFactory()
    member = MemberFactory(shop=world.shop, user=user)
    first = wallet.pass_issue(member=member, kind=WalletPass.Kind.APPLE)
    wallet.pass_issue(member=member, kind=WalletPass.Kind.APPLE)
    with zipfile.ZipFile(BytesIO(archive(user))) as copy:
        name = next(name for name in copy.namelist() if name.endswith(".json") and "profile" not in name)
        data = json.loads(copy.read(name))
    rows = data["wallet_passes"]
    assert [row["wallet"] for row in rows] == ["Apple Wallet", "Apple Wallet"]
    assert rows[0]["revoked"] and not rows[1]["revoked"]
    assert first.barcode not in json.dumps(data)  # a credential, not data about the person
