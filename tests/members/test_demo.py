from django.core.management import call_command

from members.models import Member, Shop, StaffMember
from members.roles import Role
from rewards.models import LedgerEntry, MemberCard, StampProgram, Voucher
from rewards.services import ledger_drift


def test_demo_creates_a_cafe_with_people_and_is_idempotent(db, django_capture_on_commit_callbacks):
    call_command("demo")
    call_command("demo")
    shop = Shop.objects.get(slug="demo-cafe")
    roles = dict(StaffMember.objects.filter(shop=shop).values_list("user__email", "role"))
    assert roles == {
        "owner@demo.example": Role.OWNER,
        "manager@demo.example": Role.MANAGER,
        "staff@demo.example": Role.STAFF,
    }
    assert Member.objects.filter(shop=shop).count() == 40
    assert shop.logo
    # Members at every stage: a reward waiting, one stamp short, vouchers used.
    first, second = Member.objects.filter(shop=shop).order_by("pk")[:2]
    assert first.vouchers.filter(status=Voucher.Status.ISSUED).exists()
    program = StampProgram.objects.get(shop=shop)
    assert MemberCard.objects.get(member=second).stamps == program.stamps_needed - 1
    assert Voucher.objects.filter(shop=shop, status=Voucher.Status.REDEEMED).exists()
    assert LedgerEntry.objects.filter(shop=shop).count() > 100
    assert ledger_drift() == []
    # A campaign of each kind, and a win-back with results to show.
    from campaigns.models import Campaign
    from campaigns.services import results

    assert set(Campaign.objects.filter(shop=shop).values_list("kind", flat=True)) == set(Campaign.Kind.values)
    winback = results(Campaign.objects.get(shop=shop, kind=Campaign.Kind.WINBACK))
    assert winback["reached"]["members"] >= 5 and winback["held_out"]["members"] >= 1
    assert winback["reached"]["returned"] and winback["issued"] and winback["redeemed"]


def test_demo_owner_can_log_in_and_see_the_cafe(db, client):
    call_command("demo")
    from members.management.commands.demo import DEMO_PASSWORD

    response = client.post("/accounts/login/", {"login": "owner@demo.example", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    response = client.get("/s/demo-cafe/")
    assert response.status_code == 200
    assert "Demo Café" in response.content.decode()
