"""Lowering a card's target gives the voucher to cards already full, at once, exactly once
(regression: full cards waited for their next stamp)."""

from django.urls import reverse

from rewards import ledger, services
from rewards.models import LedgerEntry, MemberCard, Voucher

from ..conftest import key
from ..factories import MemberFactory


def test_a_lower_target_completes_full_cards_once(world, member, program):
    other = MemberFactory(shop=world.shop)
    for who, stamps in ((member, 8), (other, 4)):
        services.stamps_adjust(member=who, program=program, stamps=stamps, note="paper card", staff=world.bob,
                               idempotency_key=key())  # fmt: skip
    data = {"name": program.name, "stamps_needed": "6", "reward": program.reward, "max_stamps_per_visit": "3",
            "min_minutes_between_visits": "0", "voucher_valid_days": "30", "is_active": "on"}  # fmt: skip
    url = reverse("rewards:program_edit", args=[world.shop.slug, program.public_id])
    for _ in range(2):  # saving again issues nothing more
        assert world.client(world.bob).post(url, data).status_code == 302
    assert Voucher.objects.filter(member=member).count() == 1
    assert Voucher.objects.filter(member=other).count() == 0
    assert MemberCard.objects.get(member=member).stamps == 2
    row = LedgerEntry.objects.get(member=member, reason="card_complete")
    assert (row.stamps, row.staff) == (-6, world.bob)
    assert ledger.drift() == []
    # The member sees the reward on the card.
    from members.tokens import card_token

    assert program.reward in world.client(None).get(reverse("rewards:card", args=[card_token(member)])).content.decode()
