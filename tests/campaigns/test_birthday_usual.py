"""A birthday voucher for "their usual": named after what the member has most often at the counter,
as the menu tells; a member with no usual yet gets the voucher as titled."""

from datetime import date

from campaigns import services
from campaigns.models import Campaign
from rewards import services as rewards_services
from rewards.models import Voucher
from rewards.services import menu

from ..conftest import key
from ..factories import MemberFactory, StampProgramFactory
from .conftest import at


def test_the_birthday_voucher_names_the_members_usual(world, make):
    make(Campaign.Kind.BIRTHDAY, gift="voucher", voucher_title="Birthday drink", days_before=0, voucher_usual=True)
    program = StampProgramFactory(shop=world.shop, min_minutes_between_visits=0)
    oat = menu.menu_item_save(shop=world.shop, fields={"name": "Oat latte", "tag": "coffee"}, by=world.bob)
    regular = MemberFactory(shop=world.shop, birthday=date(1990, 3, 10), marketing_consent=True)
    newcomer = MemberFactory(shop=world.shop, birthday=date(1991, 3, 10), marketing_consent=True)
    rewards_services.stamp_add(
        member=regular, program=program, count=1, staff=world.carol, idempotency_key=key(), items=[oat]
    )
    assert services.birthdays_run(now=at("2027-03-10 10:00")) == 2
    assert Voucher.objects.get(member=regular).title == "Birthday drink: Oat latte"
    assert Voucher.objects.get(member=newcomer).title == "Birthday drink"


def test_without_the_choice_the_voucher_keeps_its_title(world, make):
    make(Campaign.Kind.BIRTHDAY, gift="voucher", voucher_title="Birthday drink", days_before=0)
    program = StampProgramFactory(shop=world.shop, min_minutes_between_visits=0)
    oat = menu.menu_item_save(shop=world.shop, fields={"name": "Oat latte"}, by=world.bob)
    regular = MemberFactory(shop=world.shop, birthday=date(1990, 3, 10), marketing_consent=True)
    rewards_services.stamp_add(
        member=regular, program=program, count=1, staff=world.carol, idempotency_key=key(), items=[oat]
    )
    services.birthdays_run(now=at("2027-03-10 10:00"))
    assert Voucher.objects.get(member=regular).title == "Birthday drink"
