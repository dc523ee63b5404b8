from django.core.management import call_command

from members.models import Member, Shop, StaffMember
from members.roles import Role


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


def test_demo_owner_can_log_in_and_see_the_cafe(db, client):
    call_command("demo")
    from members.management.commands.demo import DEMO_PASSWORD

    response = client.post("/accounts/login/", {"login": "owner@demo.example", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    response = client.get("/s/demo-cafe/")
    assert response.status_code == 200
    assert "Demo Café" in response.content.decode()
