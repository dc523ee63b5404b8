"""A customer's own place: the link to a lost card sent to their mailbox, and every card they hold at
this installation's shops on one page once signed in."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from members.services import member_erase, member_join
from rewards import services as rewards
from rewards.models import Voucher

from ..conftest import key
from ..factories import PointsRuleFactory, ShopFactory, StaffFactory, StampProgramFactory, VoucherFactory

pytestmark = pytest.mark.usefixtures("ledger_reconciles")


def joined(shop, email="mia@example.com", name="Mia Chen", phone=""):
    member, _created = member_join(
        shop=shop, name=name, email=email, phone=phone, birthday=None, marketing_consent=False, language="en"
    )
    return member


def ask_for_link(client, shop, email, capture):
    with capture(execute=True):
        return client.post(reverse("members:lost_card", args=[shop.slug]), {"email": email})


def test_a_member_who_lost_the_link_gets_it_by_email(world, client, django_capture_on_commit_callbacks):
    mia = joined(world.shop)
    mail.outbox.clear()
    page = client.get(reverse("members:join", args=[world.shop.slug])).content.decode()
    assert reverse("members:lost_card", args=[world.shop.slug]) in page

    response = ask_for_link(client, world.shop, "Mia@Example.com", django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert "If this address belongs to a member" in response.content.decode()
    assert [message.to for message in mail.outbox] == [["mia@example.com"]]
    link = re.search(r"http://\S+/c/\S+/", mail.outbox[0].body).group(0)
    card = client.get(link.split("127.0.0.1:8000", 1)[1])
    assert card.status_code == 200 and mia.code in card.content.decode()

    # Asking again the same day sends nothing more: the form cannot flood a mailbox.
    ask_for_link(client, world.shop, "mia@example.com", django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1


def test_the_answer_tells_nobody_whether_an_address_is_a_members(world, client, django_capture_on_commit_callbacks):
    joined(world.shop)
    joined(world.other_shop, email="ben@example.com", name="Ben")
    mail.outbox.clear()
    known = ask_for_link(client, world.shop, "mia@example.com", django_capture_on_commit_callbacks)
    unknown = ask_for_link(client, world.shop, "nobody@example.com", django_capture_on_commit_callbacks)
    # A member of another shop is nobody here.
    elsewhere = ask_for_link(client, world.shop, "ben@example.com", django_capture_on_commit_callbacks)

    def text(response):
        page = re.sub(r'name="csrfmiddlewaretoken" value="\w+"', "", response.content.decode())
        page = re.sub(r'nonce="[^"]+"', "", page)
        return re.sub(r"[A-Za-z0-9]{64}", "", page)  # the CSRF token htmx sends

    assert known.status_code == unknown.status_code == elsewhere.status_code == 200
    assert text(known) == text(unknown) == text(elsewhere)
    assert [message.to for message in mail.outbox] == [["mia@example.com"]]


def test_an_erased_member_gets_no_link(world, client, django_capture_on_commit_callbacks):
    mia = joined(world.shop)
    member_erase(member=mia, by=world.alice)
    mail.outbox.clear()
    ask_for_link(client, world.shop, "mia@example.com", django_capture_on_commit_callbacks)
    assert mail.outbox == []


@pytest.mark.parametrize("email", ["", "not an address", "mia@example.com\x00", "mia@"])
def test_a_bad_address_is_refused_with_a_reason(world, client, email, django_capture_on_commit_callbacks):
    joined(world.shop)
    mail.outbox.clear()
    response = ask_for_link(client, world.shop, email, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert 'class="errorlist' in response.content.decode() or "error" in response.content.decode()
    assert mail.outbox == []


def test_too_many_requests_from_one_address_are_refused(world, client, django_capture_on_commit_callbacks):
    for n in range(10):
        ask_for_link(client, world.shop, f"guess{n}@example.com", django_capture_on_commit_callbacks)
    response = ask_for_link(client, world.shop, "guess@example.com", django_capture_on_commit_callbacks)
    assert response.status_code == 429
    assert "Too many requests" in response.content.decode()


def test_a_signed_in_customer_sees_every_card_on_one_page(world, program, client, django_assert_num_queries):
    PointsRuleFactory(shop=world.shop, is_active=True, step_amount=10)
    mia = joined(world.shop)
    rewards.stamp_add(member=mia, program=program, count=3, staff=world.carol, idempotency_key=key())
    rewards.purchase_record(member=mia, amount=120, staff=world.carol, idempotency_key=key())
    VoucherFactory(shop=world.shop, member=mia, program=program, title="Free latte")
    VoucherFactory(shop=world.shop, member=mia, program=program, title="Used one", status=Voucher.Status.REDEEMED)
    bakery_program = StampProgramFactory(shop=world.other_shop, name="Bread card", stamps_needed=8)
    at_bakery = joined(world.other_shop)
    rewards.stamp_add(member=at_bakery, program=bakery_program, count=1, staff=world.dave, idempotency_key=key())
    # Someone else's card at a third shop is not hers.
    joined(ShopFactory(name="Tea House"), email="other@example.com", name="Other")
    StaffFactory(shop=world.other_shop)

    client.force_login(mia.user)
    home = client.get("/").content.decode()
    assert reverse("rewards:my_cards") in home
    page = client.get(reverse("rewards:my_cards")).content.decode()
    assert "Alice&#x27;s Café" in page and "Dave&#x27;s Bakery" in page and "Tea House" not in page
    assert "3 of 10 stamps" in page and "1 of 8 stamps" in page
    assert "Free latte" in page and "Used one" not in page
    assert mia.code in page and at_bakery.code in page
    assert page.count("<svg") >= 2  # a QR code for each

    # A fixed cost per shop joined, whatever the history.
    with django_assert_num_queries(7):
        client.get(reverse("rewards:my_cards"))


def test_my_cards_needs_signing_in(client, db):
    response = client.get(reverse("rewards:my_cards"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
