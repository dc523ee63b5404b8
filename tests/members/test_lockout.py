"""Guessing is slowed, and says so: failed sign-ins and one-time codes past allauth's limits answer
429 with Retry-After (the page still says why), and a staff account paging through members at the
counter is slowed and written in the owner's audit trail."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from members.models import AuditEntry
from members.ratelimit import client_ip
from members.tokens import member_qr_payload

from ..factories import MemberFactory, UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-enough-password-2026"


@pytest.fixture
def owner():
    user = UserFactory(email="owner@example.com")
    user.set_password(PASSWORD)
    user.save()
    user.emailaddress_set.update(verified=True)
    return user


def log_in(client, password):
    return client.post(reverse("account_login"), {"login": "owner@example.com", "password": password})


def test_five_wrong_passwords_lock_the_address_out_with_429_and_retry_after(client, owner):
    for _attempt in range(5):
        answer = log_in(client, "wrong-password")
        assert answer.status_code == 200 and "Retry-After" not in answer
    locked = log_in(client, PASSWORD)  # even the right one, while locked out
    assert locked.status_code == 429
    assert locked["Retry-After"] == "300"
    assert "Too many failed login attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_right_password_within_the_limit_signs_in(client, owner):
    for _attempt in range(3):
        log_in(client, "wrong-password")
    answer = log_in(client, PASSWORD)
    assert answer.status_code == 302
    assert client.session["_auth_user_id"] == str(owner.pk)


def test_guessing_a_one_time_code_ends_it_after_three_tries(client, owner):
    client.post(reverse("account_request_login_code"), {"email": owner.email})
    code = re.search(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", mail.outbox[-1].body, re.MULTILINE)[1]
    confirm = reverse("account_confirm_login_code")
    wrong = "AAAA-AAAA" if code != "AAAA-AAAA" else "BBBB-BBBB"
    answers = [client.post(confirm, {"code": wrong}) for _try in range(3)]
    assert [answer.status_code for answer in answers[:2]] == [200, 200]
    assert answers[2].status_code == 302  # the code is void: back to the sign-in page
    after = client.post(confirm, {"code": code}, follow=True)
    assert "_auth_user_id" not in client.session
    assert after.status_code == 200


def test_asking_for_codes_again_and_again_is_a_429(owner):
    # A fresh session each time, as a script would (one session is sent one code and kept on it).
    url = reverse("account_request_login_code")
    answers = [Client().post(url, {"email": owner.email}) for _ask in range(4)]
    assert answers[-1].status_code == 429
    assert int(answers[-1]["Retry-After"]) > 0
    assert len(mail.outbox) == 3


def test_a_burst_of_counter_look_ups_is_slowed_and_recorded_once(world, settings):
    settings.COUNTER_LOOKUPS_PER_MINUTE = 5
    carol = world.client(world.carol)
    url = reverse("rewards:counter", args=[world.shop.slug])
    member = MemberFactory(shop=world.shop, name="Mia Chen")
    for n in range(5):
        assert carol.get(url, {"q": f"{1000 + n}"}, HTTP_HX_REQUEST="true").status_code == 200
    slowed = [carol.get(url, {"q": f"{2000 + n}"}, HTTP_HX_REQUEST="true") for n in range(3)]
    assert {answer.status_code for answer in slowed} == {429}
    assert 1 <= int(slowed[0]["Retry-After"]) <= 60
    assert "Too many look-ups in a minute" in slowed[0].content.decode()
    # The scan of a real customer waits too: nothing about the member is shown.
    scan = carol.get(url, {"q": member_qr_payload(member)}, HTTP_HX_REQUEST="true")
    assert scan.status_code == 429 and "Mia Chen" not in scan.content.decode()
    [entry] = AuditEntry.objects.filter(shop=world.shop, action=AuditEntry.Action.LOOKUP_BURST)
    assert entry.actor == world.carol
    page = world.client(world.alice).get(reverse("members:audit_list", args=[world.shop.slug])).content.decode()
    assert "Looked members up at the counter faster than the limit" in page
    assert "More than 5 look-ups in a minute; slowed down." in page
    # Another member of staff at another till is not slowed by carol's burst.
    assert world.client(world.bob).get(url, {"q": "3000"}, HTTP_HX_REQUEST="true").status_code == 200


def test_the_counter_page_itself_is_not_counted(world, settings):
    settings.COUNTER_LOOKUPS_PER_MINUTE = 1
    carol = world.client(world.carol)
    url = reverse("rewards:counter", args=[world.shop.slug])
    for _visit in range(3):
        assert carol.get(url).status_code == 200


def test_behind_the_proxy_the_client_is_the_address_the_proxy_wrote(rf, settings):
    request = rf.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.7")
    settings.BEHIND_PROXY = False
    assert client_ip(request) == "127.0.0.1"  # a header anyone can send is not trusted
    settings.BEHIND_PROXY = True
    assert client_ip(request) == "203.0.113.7"  # what a client put before it is ignored
    assert client_ip(rf.get("/", REMOTE_ADDR="127.0.0.1")) == "127.0.0.1"


def test_behind_the_proxy_two_clients_are_locked_out_apart(client, owner, settings):
    settings.BEHIND_PROXY = True
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    url = reverse("account_login")
    for n in range(10):
        # Ten failures for ten different addresses from one client: its own address is limited.
        client.post(url, {"login": f"nobody{n}@example.com", "password": "x"}, HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert (
        client.post(url, {"login": "n@example.com", "password": "x"}, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code
        == 429
    )
    other = Client().post(
        url, {"login": "owner@example.com", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="198.51.100.2"
    )
    assert other.status_code == 302
