"""Input no field accepts is refused with a clear page, before it reaches a view or the database."""

import pytest

from members.models import Member

from ..factories import MemberFactory, StampProgramFactory


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "/s/alices-cafe/counter/", {"q": "Mia\x00"}),
        ("get", "/s/alices-cafe/members/", {"q": "\x00"}),
        ("post", "/j/alices-cafe/", {"name": "Eve\x00", "email": "eve@example.com"}),
        ("get", "/", {"a\x00b": "1"}),
    ],
)
def test_a_nul_byte_is_a_clear_400_and_changes_nothing(world, method, path, data):
    MemberFactory(shop=world.shop, name="Mia")
    before = Member.objects.count()
    response = getattr(world.client(world.alice), method)(path, data)
    assert response.status_code == 400
    assert "NUL" in response.content.decode()
    assert Member.objects.count() == before


def test_the_refusal_is_in_the_visitors_language(world):
    response = world.client(world.alice).get("/s/alices-cafe/counter/", {"q": "\x00"}, HTTP_ACCEPT_LANGUAGE="zh-hant")
    assert response.status_code == 400
    assert "這個請求無法理解" in response.content.decode()


def test_a_forged_idempotency_key_is_refused_at_the_counter_and_changes_nothing(world):
    from rewards.models import LedgerEntry

    program = StampProgramFactory(shop=world.shop, name="Card", reward="Gift")
    member = MemberFactory(shop=world.shop)
    url = f"/s/alices-cafe/counter/m/{member.public_id}/stamp/"
    response = world.client(world.carol).post(
        url, {"program": str(program.public_id), "count": "1", "key": "x" * 65}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 409
    assert "out of date" in response.content.decode()
    assert not LedgerEntry.objects.filter(member=member).exists()
