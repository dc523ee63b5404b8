"""Accounts through allauth's own doors: sign-up, verification, codes, reset, log-out."""

import re

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
