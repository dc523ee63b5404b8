"""Journey: an owner signs up, verifies the e-mail, creates a shop and invites staff,
and the invited barista accepts on a phone."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from members.models import Invitation, Shop, StaffMember
from members.roles import Role

from ..images import image_upload

PASSWORD = "Espresso-Tonic-42"


def link_in(message, pattern):
    return re.search(pattern, message.body).group(0)


@pytest.mark.django_db(transaction=True)
def test_owner_signs_up_creates_a_shop_and_invites_staff(
    live_server, page, phone_page, screenshot, tmp_path, assert_accessible
):
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Create your shop").first.click()

    page.get_by_label("Email").fill("owner@morning.example")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("heading", name="Verify Your Email Address")).to_be_visible()

    confirm_url = link_in(mail.outbox[-1], r"http://\S+/accounts/confirm-email/\S+/")
    page.goto(confirm_url)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="My shops")).to_be_visible()

    page.get_by_role("link", name="Create your shop").click()
    logo = tmp_path / "logo.png"
    logo.write_bytes(image_upload(size=(800, 600), colour="navy").read())
    page.get_by_label("Shop name").fill("Morning Brew")
    page.get_by_label("Web address").fill("morning-brew")
    page.get_by_label("Logo").set_input_files(str(logo))
    page.get_by_label("Currency").select_option("TWD")
    page.get_by_label("Time zone").select_option("Asia/Taipei")
    page.get_by_label("Default language").select_option("zh-hant")
    screenshot(page, "onboarding-create-shop")
    assert_accessible(page, "create shop")
    page.get_by_role("button", name="Create shop").click()

    expect(page.get_by_role("heading", name="Morning Brew")).to_be_visible()
    shop = Shop.objects.get(slug="morning-brew")
    assert shop.logo and StaffMember.objects.get(shop=shop).role == Role.OWNER

    page.get_by_role("navigation", name="Shop").get_by_role("link", name="Staff").click()
    invite_form = page.locator("form", has=page.get_by_role("button", name="Send invitation"))
    invite_form.get_by_label("Email address").fill("barista@morning.example")
    invite_form.get_by_label("Role").select_option("staff")
    page.get_by_role("button", name="Send invitation").click()
    # HTMX swaps the team in place: the invitation shows without a reload.
    expect(page.get_by_text("Invitation sent to barista@morning.example.")).to_be_visible()
    expect(page.get_by_text("barista@morning.example · Staff")).to_be_visible()
    screenshot(page, "onboarding-staff")
    assert_accessible(page, "staff page")
    assert Invitation.objects.filter(shop=shop, email="barista@morning.example").exists()

    invitation_url = link_in(mail.outbox[-1], r"http://\S+/invitations/\S+/")
    path = invitation_url.split("/invitations/", 1)[1]
    phone_page.goto(f"{live_server.url}/invitations/{path}")
    # The invitee's browser speaks English, so the page does (the shop's Chinese is the fallback).
    expect(phone_page.locator("html")).to_have_attribute("lang", "en")
    phone_page.locator("#id_name").fill("Barista Ben")
    phone_page.locator("#id_password1").fill(PASSWORD)
    phone_page.locator("#id_password2").fill(PASSWORD)
    screenshot(phone_page, "onboarding-accept-invitation")
    phone_page.locator("main form button[type=submit]").click()
    expect(phone_page.get_by_role("heading", name="Morning Brew")).to_be_visible()
    assert StaffMember.objects.get(shop=shop, user__email="barista@morning.example").role == Role.STAFF
