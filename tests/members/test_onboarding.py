"""A new shop's first day: the checklist on its home names each step, links to it, ticks itself as
the owner does each one, and is gone once all are done."""

import re

import pytest
from django.urls import reverse

from campaigns.models import Campaign
from rewards.models import StampProgram

from ..factories import MemberFactory

pytestmark = pytest.mark.usefixtures("ledger_reconciles")


def checklist(client, shop):
    body = client.get(reverse("members:shop_home", args=[shop.slug])).content.decode()
    if "Your first day" not in body:
        return None
    section = body[body.index("Your first day") : body.index("</section>", body.index("Your first day"))]
    return {label: done for done, label in re.findall(r'<li( class="done")?><a href="[^"]+">([^<]+)</a>', section)}


def test_the_first_day_ticks_itself_off(client, django_user_model, settings):
    owner = django_user_model.objects.create_user(email="new-owner@example.com", password="pw-for-tests-1")
    client.force_login(owner)
    client.post(reverse("members:shop_create"), {
        "name": "Morning Brew", "slug": "morning-brew", "brand_colour": "#224466", "currency": "TWD",
        "time_zone": "Asia/Taipei", "language": "en",
    })  # fmt: skip
    from members.models import Shop

    shop = Shop.objects.get(slug="morning-brew")
    steps = checklist(client, shop)
    assert steps == {
        "Set up your stamp card": "", "Print the join poster": "", "Invite your staff": "",
        "Give the first stamp at the counter": "", "Start your first campaign": "",
    }  # fmt: skip

    # Each step as the owner takes it, through the pages that do it.
    program = StampProgram.objects.get(shop=shop)
    client.post(reverse("rewards:program_edit", args=[shop.slug, program.public_id]), {
        "name": "Coffee card", "stamps_needed": 8, "reward": "A free coffee", "max_stamps_per_visit": 3,
        "min_minutes_between_visits": 30, "voucher_valid_days": 90, "is_active": "on",
    })  # fmt: skip
    client.get(reverse("members:poster", args=[shop.slug, "a4", "png"]))
    client.post(reverse("members:staff_invite", args=[shop.slug]), {"email": "barista@example.com", "role": "staff"})
    member = MemberFactory(shop=shop)
    client.post(
        reverse("rewards:counter_stamp", args=[shop.slug, member.public_id]),
        {"program": program.public_id, "count": 1, "key": "first-stamp"},
    )
    steps = checklist(client, shop)
    assert all(steps[step] for step in ("Set up your stamp card", "Print the join poster", "Invite your staff",
                                          "Give the first stamp at the counter"))  # fmt: skip
    assert steps["Start your first campaign"] == ""

    Campaign.objects.create(shop=shop, kind=Campaign.Kind.ANNOUNCEMENT, name="Hello")
    assert checklist(client, shop) is None


def test_staff_do_not_see_the_owners_checklist(world):
    assert checklist(world.client(world.carol), world.shop) is None
    assert checklist(world.client(world.alice), world.shop) is not None
