"""Accounts through allauth's own doors: sign-up, verification, codes, reset, log-out."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from members.models import User

from ..factories import PASSWORD, UserFactory


def test_sign_up_requires_a_verified_email_before_log_in(client, db):
    response = client.post(
        reverse("account_signup"),
        {"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    user = User.objects.get(email="new@example.com")
    assert not user.emailaddress_set.get().verified
    assert "/accounts/confirm-email/" in mail.outbox[-1].body

    # Not yet verified: the session is not logged in.
    assert client.get(reverse("members:shop_create")).status_code == 302

    confirm = re.search(r"http://\S+(/accounts/confirm-email/\S+/)", mail.outbox[-1].body).group(1)
    response = client.post(confirm)
    assert response.status_code == 302
    assert user.emailaddress_set.get().verified
    assert client.get(reverse("members:shop_create")).status_code == 200


def test_log_in_by_emailed_code(client, db):
    user = UserFactory(email="customer@example.com")
    response = client.post(reverse("account_request_login_code"), {"email": "customer@example.com"})
    assert response.status_code == 302
    code = re.search(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", mail.outbox[-1].body, re.M).group(1)
    response = client.post(reverse("account_confirm_login_code"), {"code": code})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_a_wrong_code_does_not_log_in(client, db):
    UserFactory(email="customer@example.com")
    client.post(reverse("account_request_login_code"), {"email": "customer@example.com"})
    response = client.post(reverse("account_confirm_login_code"), {"code": "WRONG1"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_password_reset_by_email(client, db):
    user = UserFactory(email="owner@example.com")
    client.post(reverse("account_reset_password"), {"email": "owner@example.com"})
    link = re.search(r"http://\S+(/accounts/password/reset/key/\S+/)", mail.outbox[-1].body).group(1)
    response = client.get(link)
    assert response.status_code == 302  # allauth moves the key out of the URL into the session
    response = client.post(response["Location"], {"password1": "Brand-new-pass-99", "password2": "Brand-new-pass-99"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Brand-new-pass-99")


def test_log_out_is_a_post(client, user):
    client.force_login(user)
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


# What allauth's and Django's own catalogs get wrong in each script, fixed by the project's catalogs
# (loyalty_site/third_party_strings.py): English "Email" inside Simplified Chinese, 帳戶 beside 帳號 and
# the variant 驗証 in Traditional, half-width brackets and colons after Chinese text.
NOT_IN = {
    "zh-hant": ["Email", "帳戶", "驗証", "電子信箱", "主要的", "(再次"],
    "zh-hans": ["Email", "帐号", "账户", "首选", "(重复", "（重复", "现已被"],
}
ACCOUNT_PAGES = [
    "account_login",
    "account_signup",
    "account_reset_password",
    "account_request_login_code",
    "account_email",
    "account_change_password",
    "account_reauthenticate",
    "account_logout",
    "account_inactive",
    "account_email_verification_sent",
    "account_reset_password_done",
    "account_reset_password_from_key_done",
]


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    html = re.sub(r'placeholder="([^"]*)"', r">\1<", html)
    return re.sub(r"<[^>]+>", " ", html)


@pytest.mark.parametrize("language", NOT_IN)
def test_account_pages_read_as_one_language(client, language, db):
    user = UserFactory(email="owner@example.com")
    client.cookies["django_language"] = language
    for signed_in in (False, True):
        if signed_in:
            client.force_login(user)
        for name in ACCOUNT_PAGES:
            response = client.get(reverse(name))
            if response.status_code == 302:
                continue  # a page for the other state (sign-in pages once signed in)
            assert response.status_code == 200, name
            text = visible_text(response.content.decode())
            wrong = [word for word in NOT_IN[language] if word in text]
            assert not wrong, f"{name} in {language}: {wrong}"
            assert not re.search(r"[\u4e00-\u9fff]:", text), f"{name} in {language}: a half-width colon"


@pytest.mark.parametrize("language", NOT_IN)
def test_account_emails_read_as_one_language(client, language, db):
    """The e-mails allauth sends: confirm the address, reset the password, the address already taken."""
    UserFactory(email="owner@example.com")
    client.cookies["django_language"] = language
    client.post(reverse("account_signup"), {"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD})
    client.post(reverse("account_signup"), {"email": "owner@example.com", "password1": PASSWORD, "password2": PASSWORD})
    client.post(reverse("account_reset_password"), {"email": "owner@example.com"})
    assert len(mail.outbox) == 3
    for message in mail.outbox:
        wrong = [word for word in NOT_IN[language] if word in message.subject + message.body]
        assert not wrong, f"{message.subject!r} in {language}: {wrong}"
