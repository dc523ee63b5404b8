import re
from datetime import timedelta

import pytest
from django.core import mail, signing
from django.urls import reverse
from django.utils import timezone

from members import services
from members.models import Invitation, StaffMember, User
from members.roles import Role
from members.tokens import invitation_token

from ..factories import PASSWORD, StaffFactory, UserFactory


@pytest.fixture
def invite(django_capture_on_commit_callbacks):
    """Invite through the view, running the after-commit e-mail as a real commit would."""

    def invite(client, shop, email="erin@example.com", role="staff"):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("members:staff_invite", args=[shop.slug]), {"email": email, "role": role})

    return invite


def link_from_mail(message) -> str:
    return re.search(r"http://\S+/invitations/\S+/", message.body).group(0)


def test_owner_invites_by_email_and_the_link_works_once(world, alice_client, client, invite):
    response = invite(alice_client, world.shop, "Erin@Example.com", "manager")
    assert response.status_code == 302
    invitation = Invitation.objects.get(shop=world.shop)
    assert (invitation.email, invitation.role) == ("erin@example.com", Role.MANAGER)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["erin@example.com"]
    assert "Alice's Café" in mail.outbox[0].subject
    link = link_from_mail(mail.outbox[0])
    path = link.split("127.0.0.1:8000", 1)[1]

    # A newcomer creates an account from the link and lands in the shop.
    response = client.get(path)
    assert response.status_code == 200
    assert "Create account and join" in response.content.decode()
    response = client.post(path, {"name": "Erin", "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    erin = User.objects.get(email="erin@example.com")
    assert erin.emailaddress_set.get().verified
    assert StaffMember.objects.get(shop=world.shop, user=erin).role == Role.MANAGER
    assert not Invitation.objects.exists()

    # The link does not work a second time.
    assert client.get(path).status_code == 404


def test_existing_account_must_log_in_to_accept(world, alice_client, client, invite):
    erin = UserFactory(email="erin@example.com")
    invite(alice_client, world.shop, "erin@example.com")
    path = "/invitations/" + link_from_mail(mail.outbox[0]).rsplit("/invitations/", 1)[1]
    response = client.get(path)
    assert "Log in to accept" in response.content.decode()
    response = client.post(path)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert not StaffMember.objects.filter(user=erin).exists()

    client.force_login(erin)
    response = client.post(path)
    assert response.status_code == 302
    assert StaffMember.objects.get(shop=world.shop, user=erin).role == Role.STAFF


def test_a_signed_in_user_accepting_keeps_an_existing_role(world, alice_client):
    invitation = services.staff_invite(shop=world.shop, invited_by=world.alice, email="dave@example.com", role="staff")
    services.invitation_accept(invitation=invitation, user=world.dave)
    # Dave was not at Alice's shop before; now he is staff there and still owns his own.
    assert StaffMember.objects.get(shop=world.shop, user=world.dave).role == Role.STAFF
    assert StaffMember.objects.get(shop=world.other_shop, user=world.dave).role == Role.OWNER


def test_inviting_someone_already_on_staff_is_refused(world, alice_client, invite):
    response = invite(alice_client, world.shop, "carol@example.com")
    assert response.status_code == 400
    assert "already works at this shop" in response.content.decode()
    assert not Invitation.objects.exists()
    assert not mail.outbox


def test_inviting_twice_refreshes_one_invitation(world, alice_client, invite):
    invite(alice_client, world.shop, "erin@example.com", "staff")
    invite(alice_client, world.shop, "ERIN@example.com", "manager")
    assert Invitation.objects.get().role == Role.MANAGER
    assert len(mail.outbox) == 2


def test_bad_invite_input_changes_nothing(world, alice_client, invite):
    response = invite(alice_client, world.shop, "not-an-email", "staff")
    assert response.status_code == 400
    response = invite(alice_client, world.shop, "erin@example.com", "emperor")
    assert response.status_code == 400
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("tamper", ["altered", "forged", "expired", "garbage"])
def test_broken_invitation_links_are_refused(world, client, tamper):
    invitation = services.staff_invite(shop=world.shop, invited_by=world.alice, email="erin@example.com", role="owner")
    token = invitation_token(invitation)
    if tamper == "altered":
        token = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    elif tamper == "forged":
        token = signing.dumps(str(invitation.id), salt="something-else")
    elif tamper == "expired":
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    else:
        token = "not-a-token"
    path = reverse("members:invitation", args=[token])
    assert client.get(path).status_code == 404
    response = client.post(path, {"name": "Erin", "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 404
    assert not User.objects.filter(email="erin@example.com").exists()


def test_the_invitation_page_speaks_the_browsers_language_else_the_shops(world, client):
    world.shop.language = "zh-hant"
    world.shop.save()
    invitation = services.staff_invite(shop=world.shop, invited_by=world.alice, email="erin@example.com", role="staff")
    path = reverse("members:invitation", args=[invitation_token(invitation)])
    response = client.get(path, headers={"accept-language": "fr"})
    assert response.headers["Content-Language"] == "zh-hant"
    assert '<html lang="zh-hant">' in response.content.decode()
    response = client.get(path, headers={"accept-language": "zh-CN,en;q=0.5"})
    assert response.headers["Content-Language"] == "zh-hans"
    # An explicit choice with the language switcher wins.
    client.cookies["django_language"] = "en"
    response = client.get(path, headers={"accept-language": "zh-CN"})
    assert response.headers["Content-Language"] == "en"


def test_owner_changes_a_role(world, alice_client):
    carol = StaffMember.objects.get(user=world.carol)
    response = alice_client.post(
        reverse("members:staff_role", args=[world.shop.slug, carol.public_id]), {"role": "manager"}
    )
    assert response.status_code == 302
    carol.refresh_from_db()
    assert carol.role == Role.MANAGER


def test_an_unknown_role_changes_nothing(world, alice_client):
    carol = StaffMember.objects.get(user=world.carol)
    alice_client.post(reverse("members:staff_role", args=[world.shop.slug, carol.public_id]), {"role": "god"})
    carol.refresh_from_db()
    assert carol.role == Role.STAFF


def test_the_last_owner_cannot_step_down_or_be_removed(world, alice_client):
    alice = StaffMember.objects.get(user=world.alice, shop=world.shop)
    role_url = reverse("members:staff_role", args=[world.shop.slug, alice.public_id])
    remove_url = reverse("members:staff_remove", args=[world.shop.slug, alice.public_id])
    response = alice_client.post(role_url, {"role": "staff"}, follow=True)
    assert "at least one owner" in response.content.decode()
    response = alice_client.post(remove_url, follow=True)
    assert "at least one owner" in response.content.decode()
    alice.refresh_from_db()
    assert alice.role == Role.OWNER

    # With a second owner, the first may go.
    StaffFactory(shop=world.shop, role=Role.OWNER)
    alice_client.post(remove_url)
    assert not StaffMember.objects.filter(pk=alice.pk).exists()


def test_owner_removes_staff(world, alice_client):
    carol = StaffMember.objects.get(user=world.carol)
    response = alice_client.post(reverse("members:staff_remove", args=[world.shop.slug, carol.public_id]))
    assert response.status_code == 302
    assert not StaffMember.objects.filter(pk=carol.pk).exists()
    assert world.client(world.carol).get(reverse("members:shop_home", args=[world.shop.slug])).status_code == 404


def test_owner_withdraws_an_invitation(world, alice_client, client):
    invitation = services.staff_invite(shop=world.shop, invited_by=world.alice, email="erin@example.com", role="staff")
    token = invitation_token(invitation)
    alice_client.post(reverse("members:invitation_revoke", args=[world.shop.slug, invitation.id]))
    assert not Invitation.objects.exists()
    assert client.get(reverse("members:invitation", args=[token])).status_code == 404


def test_htmx_requests_get_the_team_fragment(world, alice_client):
    carol = StaffMember.objects.get(user=world.carol)
    response = alice_client.post(
        reverse("members:staff_role", args=[world.shop.slug, carol.public_id]),
        {"role": "manager"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="team">')
    assert "<html" not in body
    assert "Role updated." in body


def test_staff_page_lists_team_and_permissions(world, alice_client, django_assert_num_queries):
    for _ in range(5):
        StaffFactory(shop=world.shop)
    services.staff_invite(shop=world.shop, invited_by=world.alice, email="erin@example.com", role="staff")
    url = reverse("members:staff_list", args=[world.shop.slug])
    alice_client.get(url)
    with django_assert_num_queries(4):
        response = alice_client.get(url)
    body = response.content.decode()
    assert "erin@example.com" in body and "carol@example.com" in body
    assert "Who can do what" in body


def test_an_invitation_is_for_its_address_only(world, alice_client, client, invite):
    """Regression: any signed-in account that opened a forwarded link got the role."""
    invite(alice_client, world.shop, "erin@example.com", "manager")
    path = "/invitations/" + link_from_mail(mail.outbox[0]).rsplit("/invitations/", 1)[1]
    mallory = UserFactory(email="mallory@example.com")
    client.force_login(mallory)
    page = client.get(path).content.decode()
    assert "This invitation was sent to erin@example.com" in page
    assert client.post(path).status_code == 403
    assert not StaffMember.objects.filter(user=mallory).exists()
    # The invited address, under a +tag, is the same mailbox and may accept.
    erin = UserFactory(email="erin+work@example.com")
    client.force_login(erin)
    assert client.post(path).status_code == 302
    assert StaffMember.objects.get(shop=world.shop, user=erin).role == Role.MANAGER


def test_another_address_accepts_after_the_owner_confirms_it(world, alice_client, client, invite):
    invite(alice_client, world.shop, "erin@example.com")
    path = "/invitations/" + link_from_mail(mail.outbox[0]).rsplit("/invitations/", 1)[1]
    erin_private = UserFactory(email="erin.private@example.net")
    client.force_login(erin_private)
    response = client.post(path, {"ask": "1"}, follow=True)
    assert "Open this link again once the shop has confirmed" in response.content.decode()
    assert client.post(path).status_code == 403, "asking is not accepting"
    invitation = Invitation.objects.get(shop=world.shop)
    # The owner sees who asked, and confirms.
    team = alice_client.get(reverse("members:staff_list", args=[world.shop.slug])).content.decode()
    assert "erin.private@example.net opened the link and asks to accept it." in team
    alice_client.post(reverse("members:invitation_confirm", args=[world.shop.slug, invitation.id]))
    assert client.post(path).status_code == 302
    assert StaffMember.objects.get(shop=world.shop, user=erin_private).role == Role.STAFF


def test_confirming_nobody_changes_nothing(world, alice_client, invite):
    invite(alice_client, world.shop, "erin@example.com")
    invitation = Invitation.objects.get(shop=world.shop)
    alice_client.post(reverse("members:invitation_confirm", args=[world.shop.slug, invitation.id]))
    invitation.refresh_from_db()
    assert not invitation.requester_confirmed
