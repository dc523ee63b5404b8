"""A customer's own place: the link to a lost card sent to their mailbox, and every card they hold at
this installation's shops on one page once signed in."""

import io
import json
import re
import zipfile
from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from members.models import AuditEntry, ConsentMethod, DataDownload, Member, Message, User
from members.services import CONSENT_VERSION, member_erase, member_join
from rewards import data
from rewards import services as rewards
from rewards.models import Voucher

from ..conftest import key
from ..factories import (
    MessageFactory,
    PointsRuleFactory,
    ShopFactory,
    StaffFactory,
    StampProgramFactory,
    VoucherFactory,
)

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
    # The card says where to ask for it again, for the day it is lost.
    assert reverse("members:lost_card", args=[world.shop.slug]) in card.content.decode()

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


@pytest.fixture
def mia_account(world, program):
    """Mia joined Alice's café and Dave's bakery with the same address, and signs in."""
    mia = joined(world.shop)
    bakery = joined(world.other_shop)
    rewards.stamp_add(member=mia, program=program, count=2, staff=world.carol, idempotency_key=key())
    return mia, bakery


def signed_in(client, member):
    client.force_login(member.user)
    return client


def test_a_customer_changes_name_and_language_everywhere_and_birthday_once(world, mia_account, client):
    mia, bakery = mia_account
    signed_in(client, mia)
    url = reverse("members:account")
    page = client.get(url).content.decode()
    assert "Alice&#x27;s Café" in page and "Dave&#x27;s Bakery" in page
    assert 'name="birthday"' in page

    # A birthday in the future is refused and nothing changes.
    response = client.post(url, {"name": "Mia Lin", "language": "zh-hant", "birthday": "2999-01-01"})
    assert response.status_code == 400
    assert Member.objects.get(pk=mia.pk).name == "Mia Chen"

    response = client.post(url, {"name": "  Mia Lin ", "language": "zh-hant", "birthday": "1990-05-04"})
    assert response.status_code == 302
    for member in (mia, bakery):
        member.refresh_from_db()
        assert (member.name, member.language, str(member.birthday)) == ("Mia Lin", "zh-hant", "1990-05-04")
    # Once given, the birthday is the shops' to change.
    page = client.get(url).content.decode()
    assert 'name="birthday"' not in page
    client.post(url, {"name": "Mia Lin", "language": "en", "birthday": "1991-01-01"})
    mia.refresh_from_db()
    assert str(mia.birthday) == "1990-05-04"


def test_news_and_offers_per_shop_are_recorded_with_time_and_version(world, mia_account, client):
    mia, bakery = mia_account
    signed_in(client, mia)
    client.post(reverse("members:account_consent", args=[mia.public_id]), {"agreed": "1"})
    mia.refresh_from_db()
    bakery.refresh_from_db()
    assert mia.marketing_consent and mia.consent_at and mia.consent_version == CONSENT_VERSION
    assert mia.consent_method == ConsentMethod.ACCOUNT
    assert not bakery.marketing_consent
    client.post(reverse("members:account_consent", args=[mia.public_id]), {"agreed": "0"})
    mia.refresh_from_db()
    assert not mia.marketing_consent


def test_another_persons_membership_is_not_found(world, mia_account, client):
    mia, _bakery = mia_account
    ben = joined(world.shop, email="ben@example.com", name="Ben")
    signed_in(client, mia)
    assert client.post(reverse("members:account_consent", args=[ben.public_id]), {"agreed": "1"}).status_code == 404
    assert client.get(reverse("members:account_leave", args=[ben.public_id])).status_code == 404
    assert client.post(reverse("members:account_leave", args=[ben.public_id]), {"confirm": "1"}).status_code == 404
    ben.refresh_from_db()
    assert not ben.marketing_consent and ben.erased_at is None


def test_leaving_one_shop_erases_that_membership_only(world, mia_account, client, alice_client):
    mia, bakery = mia_account
    signed_in(client, mia)
    url = reverse("members:account_leave", args=[mia.public_id])
    page = client.get(url).content.decode()
    assert "Leave Alice&#x27;s Café" in page and "It cannot be undone." in page
    response = client.post(url, {"confirm": "1"}, follow=True)
    assert "You left Alice&#x27;s Café" in response.content.decode()
    assert Member.all_objects.get(pk=mia.pk).erased_at is not None
    assert Member.objects.get(pk=bakery.pk).name == "Mia Chen"
    entry = AuditEntry.objects.get(shop=world.shop)
    assert (entry.action, entry.actor, entry.subject) == (AuditEntry.Action.MEMBER_LEFT, None, mia.code)
    # The owner's trail says a member left, by code, and names nobody.
    trail = alice_client.get(reverse("members:audit_list", args=[world.shop.slug])).content.decode()
    assert mia.code in trail and "mia@example.com" not in trail and "A member left" in trail
    cards = client.get(reverse("rewards:my_cards")).content.decode()
    assert "Alice&#x27;s Café" not in cards and "Dave&#x27;s Bakery" in cards


def test_deleting_the_account_leaves_every_shop_and_signs_out(world, mia_account, client):
    mia, bakery = mia_account
    signed_in(client, mia)
    user_id = mia.user_id
    page = client.get(reverse("members:account_delete")).content.decode()
    assert "You leave 2 shops" in page
    response = client.post(reverse("members:account_delete"), {"confirm": "1"}, follow=True)
    assert "Your account was deleted" in response.content.decode()
    assert not User.objects.filter(pk=user_id).exists()
    assert Member.objects.filter(pk__in=[mia.pk, bakery.pk]).count() == 0
    assert AuditEntry.objects.filter(action=AuditEntry.Action.MEMBER_LEFT).count() == 2
    assert client.get(reverse("members:account")).status_code == 302  # signed out


def test_an_account_that_works_at_a_shop_is_not_deleted(world, client):
    client.force_login(world.carol)
    response = client.post(reverse("members:account_delete"), {"confirm": "1"}, follow=True)
    assert "remove you from the staff first" in response.content.decode()
    assert User.objects.filter(pk=world.carol.pk).exists()


def test_the_account_pages_need_signing_in(db, client):
    for url in (reverse("members:account"), reverse("members:account_delete")):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_customer_downloads_a_copy_of_their_data(
    world, program, mia_account, client, django_capture_on_commit_callbacks
):
    mia, _bakery = mia_account
    rewards.stamps_adjust(member=mia, program=program, stamps=1, note="=HYPERLINK(evil)", staff=world.bob,
                          idempotency_key=key())  # fmt: skip
    MessageFactory(shop=world.shop, member=mia, campaign="news", occasion="1", to_email=mia.email,
                   status=Message.Status.SENT)  # fmt: skip
    signed_in(client, mia)
    # The request's own task is lost (a broker down): the beat's run prepares it.
    response = client.post(reverse("members:data_request"), follow=True)
    assert "preparing a copy of your data" in response.content.decode()
    # Asking again while it is being prepared asks nothing more.
    client.post(reverse("members:data_request"))
    assert DataDownload.objects.count() == 1
    assert "being prepared" in client.get(reverse("members:account")).content.decode()

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert data.prepare_due() == 1
    assert data.prepare_due() == 0  # a second run prepares nothing twice
    assert [message.to for message in mail.outbox] == [["mia@example.com"]]
    link = re.search(r"http://\S+/me/data/\S+/", mail.outbox[0].body).group(0).split("127.0.0.1:8000", 1)[1]

    response = client.get(link)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="my-data-')
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = set(archive.namelist())
    assert {"README.txt", "profile.json", "alices-cafe/member.json", "alices-cafe/history.csv",
            "daves-bakery/vouchers.csv", "daves-bakery/messages.csv"} <= names  # fmt: skip
    profile = json.loads(archive.read("profile.json"))
    assert profile["email"] == "mia@example.com" and len(profile["shops"]) == 2
    at_cafe = json.loads(archive.read("alices-cafe/member.json"))
    assert at_cafe["member_code"] == mia.code and at_cafe["cards"] == [{"card": "Coffee card", "stamps": 3}]
    assert [row["stamps"] for row in at_cafe["history"]] == [2, 1]
    assert at_cafe["messages"][-1]["to"] == "mia@example.com"
    assert at_cafe["news_and_offers"]["agreed"] is False
    history = archive.read("alices-cafe/history.csv").decode("utf-8-sig")
    assert history.splitlines()[0].startswith("time,reason,card,stamps")
    assert "carol@example.com" not in archive.read("alices-cafe/member.json").decode()  # staff are not named
    # A note a spreadsheet would run as a formula is neutralised in the CSV (JSON keeps it as it is).
    assert ",'=HYPERLINK(evil)" in history and ",=HYPERLINK" not in history
    assert at_cafe["history"][-1]["note"] == "=HYPERLINK(evil)"

    # Nobody else gets it, and not after its days.
    other = joined(world.shop, email="ben@example.com", name="Ben")
    assert signed_in(Client(), other).get(link).status_code == 404
    assert Client().get(link).status_code == 302
    download = DataDownload.objects.get()
    later = download.ready_at + timedelta(days=8)
    DataDownload.objects.filter(pk=download.pk).update(ready_at=download.ready_at - timedelta(days=8))
    assert client.get(link).status_code == 410
    assert data.purge(later + timedelta(days=8)) == 1
    assert not default_storage.exists(download.file)


def test_a_few_copies_a_day_are_enough(world, mia_account, client, django_capture_on_commit_callbacks):
    mia, _bakery = mia_account
    signed_in(client, mia)
    for _n in range(3):
        client.post(reverse("members:data_request"))
        with django_capture_on_commit_callbacks(execute=True):
            data.prepare_due()
    response = client.post(reverse("members:data_request"), follow=True)
    assert "several times today" in response.content.decode()
    assert DataDownload.objects.count() == 3
