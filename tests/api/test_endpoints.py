"""Each endpoint's work: the counter's services with the counter's rules, the ledger rows naming
the key, and what the member's card and the owner's member page then show."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from members.errors import Code, LoyaltyError
from members.models import Member
from members.tokens import card_token, member_qr_payload
from rewards import services
from rewards.models import LedgerEntry, Purchase, Voucher
from tests.conftest import key
from tests.factories import CatalogueRewardFactory, MemberFactory, VoucherFactory

pytestmark = pytest.mark.usefixtures("ledger_reconciles")


def _path(world, member, **more):
    return {"shop_slug": world.shop.slug, "member_id": member.public_id, **more}


def _card_page(member) -> str:
    response = Client().get(reverse("rewards:card", args=[card_token(member)]))
    assert response.status_code == 200
    return response.content.decode()


# Look-up


@pytest.mark.parametrize("how", ["qr", "code", "phone", "email", "last_digits"])
def test_lookup_finds_the_member_as_the_counter_does(api, keys, world, how):
    mia = MemberFactory(shop=world.shop, name="Mia Chen", phone="+886912345678", email="mia@example.com")
    query = {
        "qr": member_qr_payload(mia), "code": mia.code.lower(), "phone": "0912 345 678", "email": "MIA@example.com",
        "last_digits": "5678",
    }[how]  # fmt: skip
    response = api.call("lookup", keys.read, data={"q": query}, shop_slug=world.shop.slug)
    assert response.status_code == 200
    body = response.json()
    assert [m["id"] for m in body["members"]] == [str(mia.public_id)]
    assert body["method"] == {"last_digits": "phone"}.get(how, how)
    assert "mia@" not in body["members"][0]["contact"]  # masked


def test_lookup_of_a_voucher_code_names_the_voucher_and_its_member(api, keys, world, member):
    voucher = VoucherFactory(member=member)
    body = api.call("lookup", keys.read, data={"q": voucher.code}, shop_slug=world.shop.slug).json()
    assert body["voucher"]["code"] == voucher.code
    assert body["members"][0]["id"] == str(member.public_id)


def test_lookup_never_finds_another_shops_member(api, keys, world):
    daves = MemberFactory(shop=world.other_shop, email="d@example.com")
    for query in (daves.code, "d@example.com", member_qr_payload(daves)):
        body = api.call("lookup", keys.read, data={"q": query}, shop_slug=world.shop.slug).json()
        assert body["members"] == []


def test_lookup_says_why_an_expired_qr_finds_nobody(api, keys, world, member, settings):
    settings.MEMBER_QR_MAX_AGE_SECONDS = -1
    body = api.call("lookup", keys.read, data={"q": member_qr_payload(member)}, shop_slug=world.shop.slug).json()
    assert body["members"] == [] and "expired" in body["message"]


def test_lookup_without_a_query_is_422(api, keys, world):
    response = api.call("lookup", keys.read, shop_slug=world.shop.slug)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"


def test_lookup_runs_a_fixed_number_of_queries(api, keys, world, django_assert_num_queries):
    members = [MemberFactory(shop=world.shop, name=f"Lin {n}") for n in range(5)]
    api.call("lookup", keys.read, data={"q": "Lin"}, shop_slug=world.shop.slug)  # the key's use is recorded
    # The key with its shop; the members.
    with django_assert_num_queries(2):
        body = api.call("lookup", keys.read, data={"q": members[0].code}, shop_slug=world.shop.slug).json()
    assert len(body["members"]) == 1
    with django_assert_num_queries(3):  # a name: the latest visitors' names, then the matches
        body = api.call("lookup", keys.read, data={"q": "Lin"}, shop_slug=world.shop.slug).json()
    assert len(body["members"]) == 5


# Balances and history


def test_balances_show_points_stamps_vouchers_and_tier(api, keys, world, member, program, rule):
    services.stamp_add(member=member, program=program, count=3, staff=world.carol, idempotency_key=key())
    services.purchase_record(member=member, amount=Decimal(250), staff=world.carol, idempotency_key=key())
    VoucherFactory(member=member, title="Free cake")
    body = api.call("member_get", keys.read, **_path(world, member)).json()
    assert body["points"] == 25
    assert body["cards"] == [
        {"program_id": str(program.public_id), "program": "Coffee card", "stamps": 3, "stamps_needed": 10,
         "reward": "Free latte"}
    ]  # fmt: skip
    assert [v["title"] for v in body["vouchers"]] == ["Free cake"]
    assert body["tier"] is None


def test_balances_run_a_fixed_number_of_queries(api, keys, world, member, program, django_assert_num_queries):
    for _n in range(3):
        VoucherFactory(member=member)
    api.call("member_get", keys.read, **_path(world, member))  # the key's use, the shop's settings held
    # The key with its shop; the member with their tier; their cards; their vouchers.
    with django_assert_num_queries(4):
        body = api.call("member_get", keys.read, **_path(world, member)).json()
    assert len(body["vouchers"]) == 3


def test_history_pages_newest_first_and_names_the_actor(api, keys, world, member, program):
    for _n in range(55):
        services.stamp_add(member=member, program=program, count=1, staff=world.carol, idempotency_key=key())
    api.call("visit_record", keys.counter, data={}, **_path(world, member))
    first = api.call("member_history", keys.read, **_path(world, member)).json()
    assert len(first["items"]) == 50 and first["next_page"] == 2
    assert first["items"][0]["by"] == "API: Till counter"
    assert first["items"][1]["by"] == world.carol.get_full_name() or world.carol.email
    second = api.call("member_history", keys.read, data={"page": 2}, **_path(world, member)).json()
    assert second["next_page"] is None
    # 55 visits, 5 full cards (each with its voucher row) and the API's visit.
    assert len(first["items"]) + len(second["items"]) == member.ledger.count()


# Members


def test_create_a_member_then_the_same_person_again(api, keys, world):
    data = {"name": "Lin Mei", "phone": "0912 345 678", "marketing_consent": True}
    response = api.call("member_create", keys.counter, data=data, shop_slug=world.shop.slug)
    assert response.status_code == 201
    body = response.json()
    assert body["created"] is True
    lin = Member.objects.get(public_id=body["member"]["id"])
    assert (lin.shop, lin.phone, lin.marketing_consent, lin.joined_from, lin.language) == (
        world.shop, "+886912345678", True, "api", "en",
    )  # fmt: skip
    again = api.call(
        "member_create", keys.counter, data={"name": "Mei", "phone": "0912345678"}, shop_slug=world.shop.slug
    )
    assert again.status_code == 200
    assert again.json()["created"] is False and again.json()["member"]["id"] == str(lin.public_id)
    assert Member.objects.filter(shop=world.shop).count() == 1


@pytest.mark.parametrize(
    "data", [{"name": "No contact"}, {"name": "Bad phone", "phone": "12"}, {"name": "X", "email": "not-an-address"},
             {"name": "X", "phone": "0912345678", "language": "fr"}, {"phone": "0912345678"}],
)  # fmt: skip
def test_a_member_that_cannot_be_enrolled_is_422_and_nothing_is_made(api, keys, world, data):
    response = api.call("member_create", keys.counter, data=data, shop_slug=world.shop.slug)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid" and response.json()["message"]
    assert not Member.objects.filter(shop=world.shop).exists()


# Visits


def test_a_visit_is_a_stamp_by_the_key_and_the_card_shows_it(api, keys, world, member, program):
    response = api.call("visit_record", keys.counter, data={}, **_path(world, member))
    assert response.status_code == 200
    body = response.json()
    assert body["member"]["cards"][0]["stamps"] == 1
    entry = LedgerEntry.objects.get(member=member)
    assert (entry.reason, entry.stamps, entry.staff, entry.api_key.name) == ("visit", 1, None, "Till counter")
    assert body["entries"][0]["by"] == "API: Till counter"
    page = _card_page(member)
    assert 'aria-label="1 of 10 stamps"' in page
    # The owner's member page names the key as who did it.
    owner_page = world.client(world.alice).get(
        reverse("rewards:member_detail", args=[world.shop.slug, member.public_id])
    )
    assert "API: Till counter" in owner_page.content.decode()


def test_a_full_card_issues_its_voucher(api, keys, world, member, program):
    services.stamp_add(member=member, program=program, count=3, staff=world.carol, idempotency_key=key())
    for _n in range(2):
        services.stamp_add(member=member, program=program, count=3, staff=world.carol, idempotency_key=key())
    body = api.call("visit_record", keys.counter, data={"program_id": str(program.public_id)}, **_path(world, member))
    body = body.json()
    assert [v["title"] for v in body["vouchers_issued"]] == ["Free latte"]
    assert body["member"]["vouchers"][0]["code"] == body["vouchers_issued"][0]["code"]


def test_a_visit_keeps_the_counters_limits(api, keys, world, member, program):
    program.min_minutes_between_visits = 60
    program.save()
    api.call("visit_record", keys.counter, data={}, **_path(world, member))
    response = api.call("visit_record", keys.counter, data={}, **_path(world, member))
    assert response.status_code == 409
    assert response.json()["code"] == "too_soon"
    too_many = api.call("visit_record", keys.counter, data={"count": 51}, **_path(world, member))
    assert too_many.status_code == 422
    assert LedgerEntry.objects.filter(member=member).count() == 1


def test_a_visit_to_an_unknown_card_is_404(api, keys, world, member, program):
    other = api.call(
        "visit_record",
        keys.counter,
        data={"program_id": "00000000-0000-4000-8000-000000000000"},
        **_path(world, member),
    )
    assert other.status_code == 404


# Purchases


def test_a_purchase_earns_points_and_its_receipt_id_records_it_once(api, keys, world, member, rule):
    data = {"amount": "120", "receipt_id": "POS-0001"}
    first = api.call("purchase_record", keys.counter, data=data, **_path(world, member))
    assert first.status_code == 200
    assert first.json()["member"]["points"] == 12 and first.json()["replayed"] is False
    again = api.call("purchase_record", keys.counter, data=data, **_path(world, member))
    assert again.status_code == 200
    assert again.json()["replayed"] is True and again.json()["member"]["points"] == 12
    assert again.json()["purchase"]["id"] == first.json()["purchase"]["id"]
    purchase = Purchase.objects.get(member=member)
    assert (purchase.receipt, purchase.staff, purchase.amount) == ("POS-0001", None, Decimal(120))
    assert LedgerEntry.objects.get(member=member).api_key.name == "Till counter"
    assert '<span class="points-balance">12</span>' in _card_page(member)


def test_a_typo_of_a_few_zeros_hits_the_counters_limit(api, keys, world, member, rule):
    response = api.call(
        "purchase_record", keys.counter, data={"amount": "100000", "receipt_id": "R1"}, **_path(world, member)
    )
    assert response.status_code == 409
    assert response.json()["code"] == "too_large"
    assert not Purchase.objects.exists()


@pytest.mark.parametrize("amount", ["0", "-5", "12.5", "abc", "1e309", "99999999999999"])
def test_an_amount_the_counter_would_not_take_is_422(api, keys, world, member, rule, amount):
    response = api.call(
        "purchase_record", keys.counter, data={"amount": amount, "receipt_id": "R1"}, **_path(world, member)
    )
    assert response.status_code == 422, response.content
    assert not Purchase.objects.exists()


def test_a_receipt_id_the_ledger_cannot_keep_is_422(api, keys, world, member, rule):
    response = api.call(
        "purchase_record", keys.counter, data={"amount": "10", "receipt_id": "a b"}, **_path(world, member)
    )
    assert response.status_code == 422


def test_points_pay_part_of_a_bill_as_at_the_counter(api, keys, world, member, rule):
    rule.bill_points, rule.bill_value = 100, Decimal(10)
    rule.save()
    services.purchase_record(member=member, amount=Decimal(1000), staff=world.carol, idempotency_key=key())
    response = api.call(
        "purchase_record", keys.counter, data={"amount": "100", "receipt_id": "R2", "pay_points": 100},
        **_path(world, member),
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json()["purchase"]["points_spent"] == 100
    short = api.call(
        "purchase_record", keys.counter, data={"amount": "100", "receipt_id": "R3", "pay_points": 10_000},
        **_path(world, member),
    )  # fmt: skip
    assert short.status_code == 409 and short.json()["code"] == "not_enough_points"


# Vouchers and rewards


def test_redeem_a_voucher_once(api, keys, world, member):
    voucher = VoucherFactory(member=member)
    response = api.call("voucher_redeem", keys.counter, **_path(world, member, code=voucher.code.lower()))
    assert response.status_code == 200
    assert response.json()["voucher_redeemed"]["status"] == "redeemed"
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.REDEEMED and voucher.redeemed_by is None
    again = api.call("voucher_redeem", keys.counter, **_path(world, member, code=voucher.code))
    assert again.status_code == 409 and again.json()["code"] == "redeemed"
    assert LedgerEntry.objects.filter(voucher=voucher).count() == 1


def test_another_members_voucher_is_404(api, keys, world, member):
    someone = VoucherFactory(member=MemberFactory(shop=world.shop))
    response = api.call("voucher_redeem", keys.counter, **_path(world, member, code=someone.code))
    assert response.status_code == 404
    someone.refresh_from_db()
    assert someone.status == Voucher.Status.ISSUED


def test_redeem_a_reward_with_points(api, keys, world, member, rule):
    services.purchase_record(member=member, amount=Decimal(150), staff=world.carol, idempotency_key=key())
    cake = CatalogueRewardFactory(shop=world.shop, name="Cake", cost_points=10)
    response = api.call("reward_redeem", keys.counter, **_path(world, member, reward_id=cake.public_id))
    assert response.status_code == 200
    assert response.json()["member"]["points"] == 5
    assert response.json()["entries"][0]["points"] == -10


def test_a_refusal_is_409_in_the_shops_language(api, keys, world, member):
    world.shop.language = "zh-hant"
    world.shop.save()
    cake = CatalogueRewardFactory(shop=world.shop, name="Cake", cost_points=10)
    response = api.call("reward_redeem", keys.counter, **_path(world, member, reward_id=cake.public_id))
    assert response.status_code == 409
    with translation.override("zh-hant"):
        expected = gettext("%(reward)s needs %(cost)d points; the member has %(points)d.") % {
            "reward": "Cake", "cost": 10, "points": 0,
        }  # fmt: skip
    assert response.json() == {"code": "not_enough_points", "message": expected, "errors": None}
    assert expected != "Cake needs 10 points; the member has 0."
    assert not LedgerEntry.objects.exists()


def test_another_shops_reward_is_404(api, keys, world, member):
    daves = CatalogueRewardFactory(shop=world.other_shop, cost_points=0)
    response = api.call("reward_redeem", keys.counter, **_path(world, member, reward_id=daves.public_id))
    assert response.status_code == 404


# Refunds


def test_refund_part_then_the_rest(api, keys, world, member, rule):
    bought = api.call(
        "purchase_record", keys.counter, data={"amount": "200", "receipt_id": "R7"}, **_path(world, member)
    )
    purchase_id = bought.json()["purchase"]["id"]
    half = api.call("refund", keys.admin, data={"purchase_id": purchase_id, "amount": "100"}, **_path(world, member))
    assert half.status_code == 200, half.content
    assert half.json()["member"]["points"] == 10
    rest = api.call("refund", keys.admin, data={"receipt_id": "R7", "amount": "100"}, **_path(world, member))
    assert rest.json()["member"]["points"] == 0
    assert rest.json()["purchase"]["refunded_amount"] in ("200", "200.00")
    too_much = api.call("refund", keys.admin, data={"receipt_id": "R7", "amount": "1"}, **_path(world, member))
    assert too_much.status_code == 409 and too_much.json()["code"] == "too_much"
    refunds = LedgerEntry.objects.filter(member=member, reason="refund")
    assert {(e.staff, e.api_key.name) for e in refunds} == {(None, "Till admin")}


def test_a_refund_names_one_purchase_that_exists(api, keys, world, member, rule):
    neither = api.call("refund", keys.admin, data={"amount": "1"}, **_path(world, member))
    assert neither.status_code == 422
    unknown = api.call("refund", keys.admin, data={"receipt_id": "nope", "amount": "1"}, **_path(world, member))
    assert unknown.status_code == 404


def test_a_refund_without_a_key_or_a_manager_is_refused_by_the_service(world, member, rule):
    """The service itself refuses a refund that names neither a manager nor an API key."""
    bought = services.purchase_record(member=member, amount=Decimal(100), staff=world.carol, idempotency_key=key())
    with pytest.raises(LoyaltyError) as refused:
        services.purchase_refund(
            shop=world.shop, purchase_id=bought.purchase.pk, amount=Decimal(10), staff=None, idempotency_key=key()
        )
    assert refused.value.code == Code.NOT_ALLOWED
    assert not LedgerEntry.objects.filter(reason="refund").exists()
