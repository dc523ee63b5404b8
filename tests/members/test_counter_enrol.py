"""Enrolling a customer at the counter: a name and a phone or an e-mail, consent asked aloud and
recorded as such, the visit's stamp in the same tap, the card link e-mailed or shown as a QR code."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from members.models import ConsentMethod, Member, Message
from members.tokens import card_token
from rewards.models import FoundBy, LedgerEntry

from ..factories import MemberFactory

pytestmark = pytest.mark.usefixtures("ledger_reconciles")


@pytest.fixture
def carol(world):
    return world.client(world.carol)


def enrol_url(world):
    return reverse("rewards:counter_enrol", args=[world.shop.slug])


def enrol(client, world, **data):
    data = {"language": "zh-hant", "key": "enrol-1", **data}
    return client.post(enrol_url(world), data, headers={"HX-Request": "true"})


@pytest.mark.parametrize(
    ("typed", "field"),
    [("0912 345 678", "phone"), ("mia@example.com", "email"), ("Mia Chen", "name")],
)
def test_what_staff_typed_in_the_scan_field_fills_its_field(world, carol, typed, field):
    body = carol.get(enrol_url(world), {"q": typed}, headers={"HX-Request": "true"}).content.decode()
    assert re.search(rf'name="{field}" value="{typed}"', body)
    assert 'id="enrol-title"' in body and "Enrol only" in body


def test_enrol_and_stamp_in_one_tap_with_consent_asked_aloud(world, program, carol, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = enrol(
            carol, world, name=" Walk-in Wu ", email="WU@example.com", marketing_consent="on",
            stamp=str(program.public_id),
        )  # fmt: skip
    body = response.content.decode()
    assert response.status_code == 200
    member = Member.objects.get(shop=world.shop, email="wu@example.com")
    assert member.name == "Walk-in Wu" and member.language == "zh-hant"
    assert member.enrolled_by == world.carol
    assert member.marketing_consent and member.consent_method == ConsentMethod.ALOUD and member.consent_at
    # The stamp, recorded as found by enrolling: the customer is the one at the counter.
    visit = LedgerEntry.objects.get(member=member)
    assert visit.stamps == 1 and visit.found_by == FoundBy.ENROLLED and visit.staff == world.carol
    # What staff see: the new member's panel with the stamp, its undo, the welcome and the card's QR code.
    assert 'id="member-name">Walk-in Wu<' in body and "+1 stamp added" in body and "Undo" in body
    assert "Their card link is on its way to w•••@example.com" in body
    assert "<svg" in body and "scan with your phone" in body
    # No "I checked this is ..." before a spend: staff enrolled the person in front of them.
    assert "I checked" not in body
    # The card link went by e-mail, and the card it opens shows the stamp.
    message = Message.objects.get(member=member, campaign="card_link")
    assert message.status == Message.Status.SENT and mail.outbox[-1].to == ["wu@example.com"]
    card = carol.get(reverse("rewards:card", args=[card_token(member)])).content.decode()
    # In the customer's language (chosen by staff), with the stamp on it.
    assert '<html lang="zh-hant">' in card and 'aria-label="1 of 10' not in card
    carol.cookies["django_language"] = "en"
    card = carol.get(reverse("rewards:card", args=[card_token(member)])).content.decode()
    assert 'aria-label="1 of 10 stamps"' in card
    # The owner's member page says how they joined and how they agreed.
    page = world.client(world.alice).get(reverse("rewards:member_detail", args=[world.shop.slug, member.public_id]))
    assert "At the counter, enrolled by carol@example.com" in page.content.decode()
    assert "Said yes when staff asked at the counter" in page.content.decode()


def test_enrol_with_a_phone_only_sends_nothing_and_says_to_show_the_qr(world, program, carol):
    body = enrol(carol, world, name="Lin", phone="0912 000 555").content.decode()
    member = Member.objects.get(shop=world.shop, phone="+886912000555")
    assert not member.marketing_consent and member.consent_method == "" and member.consent_at is None
    assert not Message.objects.filter(member=member).exists()
    assert "Show them their card&#x27;s QR code" in body and "on its way" not in body
    # "Enrol only": no stamp.
    assert not LedgerEntry.objects.filter(member=member).exists() and "stamp added" not in body


def test_enrolling_someone_already_a_member_opens_their_panel_and_changes_nothing(world, program, carol):
    mia = MemberFactory(shop=world.shop, name="Mia Chen", phone="+886912345678", email="mia@example.com")
    response = enrol(carol, world, name="Someone Else", phone="0912 345 678", stamp=str(program.public_id))
    body = response.content.decode()
    assert response.status_code == 200
    assert Member.objects.filter(shop=world.shop).count() == 1
    assert not LedgerEntry.objects.exists()
    assert "Already a member: Mia Chen (••• 678). Nothing was changed." in body
    assert 'id="member-name">Mia Chen<' in body
    # Found by a phone number, not in person: a spend asks staff to check who it is.
    mia.refresh_from_db()
    assert mia.name == "Mia Chen" and mia.enrolled_by is None


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": "Wu"}, "Enter their e-mail address or mobile number"),
        ({"name": "", "phone": "0912 000 555"}, "This field is required"),
        ({"name": "Wu", "phone": "12345"}, "Enter a valid mobile number"),
        ({"name": "Wu", "email": "not-an-address"}, "Enter a valid email address"),
        ({"name": "Wu", "phone": "0912 000 555", "language": "xx"}, "Select a valid choice"),
    ],
    ids=["no-contact", "no-name", "bad-phone", "bad-email", "bad-language"],
)
def test_bad_enrolments_say_why_and_change_nothing(world, program, carol, data, error):
    response = enrol(carol, world, stamp=str(program.public_id), **data)
    assert response.status_code == 422
    assert error in response.content.decode()
    assert not Member.objects.filter(shop=world.shop).exists() and not LedgerEntry.objects.exists()


def test_a_nul_byte_is_refused_before_the_form(world, program, carol):
    response = enrol(carol, world, name="W\x00u", phone="0912 000 555", stamp=str(program.public_id))
    assert response.status_code == 400 and "(a NUL byte), so nothing was changed" in response.content.decode()
    assert not Member.objects.filter(shop=world.shop).exists()


def test_a_double_tap_on_enrol_and_stamp_makes_one_member_and_one_stamp(world, program, carol):
    for _ in range(2):
        enrol(carol, world, name="Wu", phone="0912 000 555", stamp=str(program.public_id), key="same-tap")
    assert Member.objects.filter(shop=world.shop).count() == 1
    assert LedgerEntry.objects.filter(reason="visit").count() == 1


def test_the_card_qr_opens_the_members_own_card(world, carol, django_assert_num_queries):
    member = MemberFactory(shop=world.shop, name="Mia Chen", phone="+886912345678")
    url = reverse("rewards:counter_card_qr", args=[world.shop.slug, member.public_id])
    carol.get(url)
    # the user with their role, the member
    with django_assert_num_queries(2):
        body = carol.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<svg" in body and "Mia Chen: scan with your phone" in body
    panel = carol.get(reverse("rewards:counter_member", args=[world.shop.slug, member.public_id])).content.decode()
    assert f'data-hx-get="{url}"' in panel and "Card QR for their phone" in panel


def test_the_enrol_form_in_a_fixed_number_of_queries(world, program, carol, django_assert_num_queries):
    carol.get(enrol_url(world))
    # the user with their role (the shop's cards are held)
    with django_assert_num_queries(1):
        carol.get(enrol_url(world), headers={"HX-Request": "true"})
