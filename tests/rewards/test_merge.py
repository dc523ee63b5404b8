"""Merging two records of one member: what moves, what the ledger says, undo within a day, the
pages, and races on PostgreSQL."""

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, MemberActivity, Reach
from members.errors import Code
from members.models import AuditEntry, Member, MemberMerge
from rewards import ledger, services
from rewards.ledger import LoyaltyError
from rewards.lookup import counter_lookup
from rewards.models import CatalogueReward, LedgerEntry, MemberCard, Purchase, TierChange, Voucher
from rewards.services import tiers
from rewards.services.merge import likely_duplicates, member_merge, merge_undo

from ..conftest import key
from ..factories import (
    CampaignFactory,
    MemberFactory,
    PointsRuleFactory,
    ShopFactory,
    StaffFactory,
    StampProgramFactory,
    TierFactory,
    TierPolicyFactory,
    VoucherFactory,
)
from .test_concurrency import race

on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="locking is proven on PostgreSQL only")


def stamps(member, program, count, staff):
    services.stamp_add(member=member, program=program, count=count, staff=staff, idempotency_key=key(), override=True,
                       override_reason="paper_card")  # fmt: skip


def card_stamps(member, program) -> int:
    return MemberCard.objects.filter(member=member, program=program).values_list("stamps", flat=True).first() or 0


def ledger_points(member) -> int:
    return LedgerEntry.objects.filter(member=member).aggregate(total=Sum("points"))["total"] or 0


@pytest.fixture
def pair(world, program):
    """Mia joined on her phone at the counter and with her e-mail at home: two records of one person."""
    keep = MemberFactory(shop=world.shop, name="Mia Chen", email="mia@example.com", phone="")
    merge = MemberFactory(
        shop=world.shop, name="mia  chen", email="", phone="+886912345678", birthday=date(1990, 5, 1),
        last_visit_at=timezone.now() - timedelta(hours=1),
    )  # fmt: skip
    return keep, merge


def test_merge_moves_everything_and_the_ledger_reconciles(world, program, pair):
    keep, merge = pair
    PointsRuleFactory(shop=world.shop)
    stamps(keep, program, 2, world.bob)
    stamps(merge, program, 3, world.bob)
    bought = services.purchase_record(member=merge, amount=Decimal(100), staff=world.carol, idempotency_key=key())
    assert Member.objects.get(pk=merge.pk).points == 10
    keep_voucher = VoucherFactory(shop=world.shop, member=keep, title="Cake")
    merge_voucher = VoucherFactory(shop=world.shop, member=merge, title="Tea")
    used = VoucherFactory(shop=world.shop, member=merge, title="Old", status=Voucher.Status.REDEEMED)
    friend = MemberFactory(shop=world.shop, referred_by=merge)
    campaign = CampaignFactory(shop=world.shop, kind=Campaign.Kind.BIRTHDAY)
    reach = Reach.objects.create(shop=world.shop, campaign=campaign, member=merge, occasion="2026")
    both = CampaignFactory(shop=world.shop, kind=Campaign.Kind.WELCOME)
    Reach.objects.create(shop=world.shop, campaign=both, member=keep, occasion="join")
    twin = Reach.objects.create(shop=world.shop, campaign=both, member=merge, occasion="join")
    MemberActivity.objects.create(member=merge, shop=world.shop, segment="new")

    record = member_merge(shop=world.shop, keep=keep, merge=merge, by=world.bob)

    assert ledger.drift() == []
    assert card_stamps(keep, program) == 5 and card_stamps(merge, program) == 0
    keep.refresh_from_db()
    assert keep.points == 10 == ledger_points(keep)
    assert Member.all_objects.get(pk=merge.pk).points == 0 == ledger_points(merge)
    merged_rows = LedgerEntry.objects.filter(group=record.group, reason=LedgerEntry.Reason.MERGED)
    assert sorted(merged_rows.values_list("member_id", "stamps", "points")) == sorted(
        [(merge.pk, -3, 0), (keep.pk, 3, 0), (merge.pk, 0, -10), (keep.pk, 0, 10)]
    )
    assert set(Voucher.objects.filter(member=keep)) == {keep_voucher, merge_voucher, used}
    assert Purchase.objects.get(pk=bought.purchase.pk).member_id == keep.pk
    assert Member.all_objects.get(pk=friend.pk).referred_by_id == keep.pk
    reach.refresh_from_db()
    twin.refresh_from_db()
    assert reach.member_id == keep.pk and twin.member_id == merge.pk  # one reach per occasion
    assert not MemberActivity.objects.filter(member=merge).exists()
    # The kept record takes the phone and birthday it lacked.
    assert (keep.phone, keep.birthday, keep.email) == ("+886912345678", date(1990, 5, 1), "mia@example.com")
    closed = Member.all_objects.get(pk=merge.pk)
    assert closed.erased_at is not None and (closed.name, closed.phone, closed.birthday) == ("", "", None)
    assert not Member.objects.filter(pk=merge.pk).exists()
    assert record.moved["fields"]["phone"] == "+886912345678"
    audit = AuditEntry.objects.get(action=AuditEntry.Action.MEMBERS_MERGED)
    assert audit.subject == f"{merge.code} → {keep.code}" and audit.actor == world.bob
    # The counter finds the kept record by the merged one's phone.
    found = counter_lookup(world.shop, "0912 345 678")
    assert [m.pk for m in found.members] == [keep.pk]


def test_cards_that_together_fill_up_issue_the_voucher(world, program, pair):
    keep, merge = pair
    stamps(keep, program, 6, world.bob)
    stamps(merge, program, 7, world.bob)
    record = member_merge(shop=world.shop, keep=keep, merge=merge, by=world.bob)
    assert card_stamps(keep, program) == 3
    issued = Voucher.objects.get(member=keep, program=program)
    assert issued.status == Voucher.Status.ISSUED and record.moved["issued"] == [issued.pk]
    assert LedgerEntry.objects.filter(group=record.group, reason=LedgerEntry.Reason.CARD_COMPLETE).count() == 1
    assert ledger.drift() == []


def test_vouchers_on_both_records_all_end_on_the_kept_one(world, program, pair):
    keep, merge = pair
    mine = [VoucherFactory(shop=world.shop, member=keep) for _ in range(2)]
    theirs = [VoucherFactory(shop=world.shop, member=merge) for _ in range(2)]
    member_merge(shop=world.shop, keep=keep, merge=merge, by=world.bob)
    assert set(Voucher.objects.filter(member=keep)) == {*mine, *theirs}
    assert all(v.status == Voucher.Status.ISSUED for v in Voucher.objects.filter(member=keep))


def test_the_higher_tier_is_kept(world, program, pair):
    keep, merge = pair
    TierPolicyFactory(shop=world.shop)
    silver = TierFactory(shop=world.shop, name="Silver", threshold=50)
    gold = TierFactory(shop=world.shop, name="Gold", threshold=100)
    Member.objects.filter(pk=keep.pk).update(tier=silver)
    Member.objects.filter(pk=merge.pk).update(tier=gold)
    change = TierChange.objects.create(shop=world.shop, member=merge, to_tier=gold, reason=TierChange.Reason.MANUAL)
    record = member_merge(shop=world.shop, keep=keep, merge=merge, by=world.bob)
    keep.refresh_from_db()
    assert keep.tier == gold
    assert TierChange.objects.get(pk=change.pk).member_id == keep.pk
    merge_undo(merge_record=record, by=world.bob)
    keep.refresh_from_db()
    assert keep.tier == silver
    assert TierChange.objects.get(pk=change.pk).member_id == merge.pk
    assert not TierChange.objects.filter(member=keep).exists()


def test_refusals(world, program, pair):
    keep, merge = pair
    with pytest.raises(LoyaltyError) as same:
        member_merge(shop=world.shop, keep=keep, merge=keep, by=world.bob)
    assert same.value.code == Code.SAME_MEMBER
    outsider = MemberFactory(shop=world.other_shop)
    with pytest.raises(LoyaltyError) as other:
        member_merge(shop=world.shop, keep=keep, merge=outsider, by=world.bob)
    assert other.value.code == Code.WRONG_SHOP
    with pytest.raises(LoyaltyError) as staff:
        member_merge(shop=world.shop, keep=keep, merge=merge, by=world.carol)
    assert staff.value.code == Code.NOT_ALLOWED
    member_merge(shop=world.shop, keep=keep, merge=merge, by=world.bob)
    # The same pair again, either way round: the merged record is closed.
    for first, second in ((keep, merge), (merge, keep)):
        with pytest.raises(LoyaltyError) as twice:
            member_merge(shop=world.shop, keep=first, merge=second, by=world.bob)
        assert twice.value.code == Code.NOT_FOUND
    # The kept record cannot itself be merged away while its merge may be undone.
    third = MemberFactory(shop=world.shop)
    with pytest.raises(LoyaltyError) as pending:
        member_merge(shop=world.shop, keep=third, merge=keep, by=world.bob)
    assert pending.value.code == Code.MERGE_PENDING
    assert MemberMerge.objects.count() == 1


def test_undo_within_a_day_restores_everything_exactly(world, program, pair):
    keep, merge = pair
    PointsRuleFactory(shop=world.shop)
    stamps(keep, program, 6, world.bob)
    stamps(merge, program, 7, world.bob)
    services.purchase_record(member=merge, amount=Decimal(50), staff=world.carol, idempotency_key=key())
    theirs = VoucherFactory(shop=world.shop, member=merge)
    friend = MemberFactory(shop=world.shop, referred_by=merge)
    campaign = CampaignFactory(shop=world.shop, kind=Campaign.Kind.BIRTHDAY)
    reach = Reach.objects.create(shop=world.shop, campaign=campaign, member=merge, occasion="2026")
    MemberActivity.objects.create(member=merge, shop=world.shop, segment="new", visits_90=2)
    before = {
        "keep": Member.objects.filter(pk=keep.pk).values().get(),
        "merge": Member.objects.filter(pk=merge.pk).values().get(),
    }
    record = member_merge(shop=world.shop, keep=keep, merge=merge, by=world.bob)
    issued = Voucher.objects.get(pk=record.moved["issued"][0])

    merge_undo(merge_record=record, by=world.bob, now=record.created_at + timedelta(hours=23))

    assert ledger.drift() == []
    assert card_stamps(keep, program) == 6 and card_stamps(merge, program) == 7
    assert Member.objects.filter(pk=keep.pk).values().get() == before["keep"]
    assert Member.objects.filter(pk=merge.pk).values().get() == before["merge"]
    issued.refresh_from_db()
    assert issued.status == Voucher.Status.VOIDED
    assert Voucher.objects.get(pk=theirs.pk).member_id == merge.pk
    assert Purchase.objects.get().member_id == merge.pk
    assert Member.objects.get(pk=friend.pk).referred_by_id == merge.pk
    reach.refresh_from_db()
    assert reach.member_id == merge.pk
    assert MemberActivity.objects.get(member=merge).visits_90 == 2
    record.refresh_from_db()
    assert record.undone_at is not None and record.undone_by == world.bob
    assert AuditEntry.objects.filter(action=AuditEntry.Action.MERGE_UNDONE).count() == 1
    # Findable again, by the phone the kept record gave back.
    assert [m.pk for m in counter_lookup(world.shop, "0912 345 678").members] == [merge.pk]
    with pytest.raises(LoyaltyError) as again:
        merge_undo(merge_record=record, by=world.bob)
    assert again.value.code == Code.ALREADY_UNDONE


def test_undo_after_a_day_is_refused(world, program, pair):
    keep, merge = pair
    stamps(merge, program, 2, world.bob)
    record = member_merge(shop=world.shop, keep=keep, merge=merge, by=world.bob)
    with pytest.raises(LoyaltyError) as late:
        merge_undo(merge_record=record, by=world.bob, now=record.created_at + timedelta(days=1, seconds=1))
    assert late.value.code == Code.TOO_LATE
    assert Member.all_objects.get(pk=merge.pk).erased_at is not None


def test_undo_after_spending_what_moved_is_refused(world, program, pair):
    keep, merge = pair
    PointsRuleFactory(shop=world.shop)
    services.purchase_record(member=merge, amount=Decimal(100), staff=world.carol, idempotency_key=key())
    theirs = VoucherFactory(shop=world.shop, member=merge)
    record = member_merge(shop=world.shop, keep=keep, merge=merge, by=world.bob)
    services.voucher_redeem(shop=world.shop, voucher_id=theirs.pk, staff=world.carol, idempotency_key=key())
    with pytest.raises(LoyaltyError) as redeemed:
        merge_undo(merge_record=record, by=world.bob)
    assert redeemed.value.code == Code.VOUCHER_USED

    other_keep = MemberFactory(shop=world.shop)
    other = MemberFactory(shop=world.shop)
    services.purchase_record(member=other, amount=Decimal(100), staff=world.carol, idempotency_key=key())
    second = member_merge(shop=world.shop, keep=other_keep, merge=other, by=world.bob)
    # The points that moved are spent on the kept record.
    cookie = CatalogueReward.objects.create(shop=world.shop, name="Cookie", cost_points=10)
    services.reward_redeem(member=other_keep, reward_id=cookie.pk, staff=world.carol, idempotency_key=key())
    with pytest.raises(LoyaltyError) as spent:
        merge_undo(merge_record=second, by=world.bob)
    assert spent.value.code == Code.ALREADY_SPENT
    assert ledger.drift() == []


def test_likely_duplicates_by_phone_e_mail_and_name_with_birthday(world):
    a = MemberFactory(shop=world.shop, name="Lee Wang", phone="+886 912-000-111")
    b = MemberFactory(shop=world.shop, name="Someone Else", phone="+886912000111")
    c = MemberFactory(shop=world.shop, name="王 小明", birthday=date(2000, 1, 2))
    d = MemberFactory(shop=world.shop, name="王小明", birthday=date(2000, 1, 2))
    MemberFactory(shop=world.shop, name="王小明", birthday=date(2001, 1, 2))  # another birthday
    MemberFactory(shop=world.other_shop, name="王小明", birthday=date(2000, 1, 2))  # another shop
    found = {frozenset((p.first.pk, p.second.pk)): p.reasons for p in likely_duplicates(world.shop)}
    assert found == {frozenset((a.pk, b.pk)): ("phone",), frozenset((c.pk, d.pk)): ("person",)}
    mine = likely_duplicates(world.shop, member=c)
    assert [(p.second.pk, p.reasons) for p in mine] == [(d.pk, ("person",))]
    # A pair whose merge was undone is two people: not offered again.
    record = member_merge(shop=world.shop, keep=c, merge=d, by=world.bob)
    assert frozenset((c.pk, d.pk)) not in {frozenset((p.first.pk, p.second.pk)) for p in likely_duplicates(world.shop)}
    merge_undo(merge_record=record, by=world.bob)
    assert {frozenset((p.first.pk, p.second.pk)) for p in likely_duplicates(world.shop)} == {frozenset((a.pk, b.pk))}
    assert likely_duplicates(world.shop, member=c) == []


# Pages


def test_duplicates_page_side_by_side_in_a_fixed_number_of_queries(world, program, django_assert_num_queries):
    for i in range(3):
        MemberFactory(shop=world.shop, name=f"Twin {i}", birthday=date(1990, 1, 1 + i))
        twin = MemberFactory(shop=world.shop, name=f"twin {i}", birthday=date(1990, 1, 1 + i))
        stamps(twin, program, 2, world.bob)
    client = world.client(world.bob)
    url = reverse("rewards:member_duplicates", args=[world.shop.slug])
    client.get(url)
    # the user with their role, the shop switcher, the pairs (one query with its groupings), undone
    # merges, stamps and vouchers of the members shown
    with django_assert_num_queries(6):
        response = client.get(url)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count("Merge…") == 3 and "Same name and birthday" in body


def test_merge_page_says_what_moves_and_merges(world, program, pair):
    keep, merge = pair
    stamps(merge, program, 4, world.bob)
    client = world.client(world.bob)
    url = reverse("rewards:member_merge", args=[world.shop.slug, keep.public_id, merge.public_id])
    body = client.get(url).content.decode()
    assert "4 stamps on the Coffee card." in body
    swap = reverse("rewards:member_merge", args=[world.shop.slug, merge.public_id, keep.public_id])
    assert swap in body
    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("rewards:member_detail", args=[world.shop.slug, keep.public_id])
    assert card_stamps(keep, program) == 4
    page = client.get(response["Location"]).content.decode()
    assert f"Merged from {merge.code}" in page and "Undo merge" in page
    # Merging again: the merged record is gone.
    assert client.post(url).status_code == 404

    undo = reverse("rewards:merge_undo", args=[world.shop.slug, merge.public_id])
    response = client.post(undo)
    assert response.status_code == 302
    assert card_stamps(merge, program) == 4 and card_stamps(keep, program) == 0
    assert client.post(undo).status_code == 404


def test_merge_pages_are_the_shops_and_a_managers(world, pair):
    keep, merge = pair
    outsider = MemberFactory(shop=world.other_shop)
    url = reverse("rewards:member_merge", args=[world.shop.slug, keep.public_id, outsider.public_id])
    assert world.client(world.bob).get(url).status_code == 404
    assert world.client(world.bob).post(url).status_code == 404
    dave = world.client(world.dave)
    mine = reverse("rewards:member_merge", args=[world.shop.slug, keep.public_id, merge.public_id])
    assert dave.get(mine).status_code == 404
    assert dave.get(reverse("rewards:member_duplicates", args=[world.shop.slug])).status_code == 404
    carol = world.client(world.carol)
    assert carol.get(mine).status_code == 403
    assert carol.post(mine).status_code == 403
    assert carol.get(reverse("rewards:member_duplicates", args=[world.shop.slug])).status_code == 403
    assert MemberMerge.objects.count() == 0
    assert world.client(world.bob).get(reverse("rewards:member_duplicates", args=[world.shop.slug])).status_code == 200
    self_merge = reverse("rewards:member_merge", args=[world.shop.slug, keep.public_id, keep.public_id])
    assert world.client(world.bob).get(self_merge).status_code == 404


def test_members_list_counts_likely_duplicates(world, pair, django_assert_num_queries):
    Member.objects.filter(pk=pair[0].pk).update(birthday=date(1990, 5, 1))
    client = world.client(world.bob)
    url = reverse("members:member_list", args=[world.shop.slug])
    # the user with their role, the shop switcher, the members, the pairs (one query), undone merges
    with django_assert_num_queries(5):
        body = client.get(url).content.decode()
    assert "1 likely duplicate" in body
    assert reverse("rewards:member_duplicates", args=[world.shop.slug]) in body
    # The count is kept a few minutes: the list costs what it did.
    with django_assert_num_queries(3):
        client.get(url)
    keep, merge = pair
    member_merge(shop=world.shop, keep=keep, merge=merge, by=world.bob)
    assert "likely duplicate" not in client.get(url).content.decode()


def test_counter_shows_a_likely_duplicate_to_managers_only(world, program, pair, django_assert_num_queries):
    keep, merge = pair
    Member.objects.filter(pk=keep.pk).update(birthday=date(1990, 5, 1))
    url = reverse("rewards:counter", args=[world.shop.slug])
    bob = world.client(world.bob)
    bob.get(url, {"q": keep.code})
    # what staff's look-up costs (tests/members/test_counter.py), and one query for the duplicates
    with django_assert_num_queries(5):
        body = bob.get(url, {"q": keep.code}, headers={"HX-Request": "true"}).content.decode()
    assert f"Possibly the same person as mia  chen ({merge.code})" in body
    assert reverse("rewards:member_merge", args=[world.shop.slug, keep.public_id, merge.public_id]) in body
    assert "Possibly the same person" not in world.client(world.carol).get(url, {"q": keep.code}).content.decode()


def test_a_member_without_a_birthday_costs_a_managers_look_up_no_duplicate_query(
    world, program, pair, django_assert_num_queries
):
    """Only the same name and birthday can make a second record at the counter (phones and e-mail
    addresses are unique in a shop): without a birthday there is nothing to ask."""
    keep, _merge = pair
    url = reverse("rewards:counter", args=[world.shop.slug])
    bob = world.client(world.bob)
    bob.get(url, {"q": keep.code})
    # what staff's look-up costs (tests/members/test_counter.py)
    with django_assert_num_queries(4):
        body = bob.get(url, {"q": keep.code}, headers={"HX-Request": "true"}).content.decode()
    assert "Possibly the same person" not in body


def test_the_audit_trail_offers_undo_for_a_day(world, program, pair):
    keep, merge = pair
    member_merge(shop=world.shop, keep=keep, merge=merge, by=world.alice)
    body = world.client(world.alice).get(reverse("members:audit_list", args=[world.shop.slug])).content.decode()
    assert reverse("rewards:merge_undo", args=[world.shop.slug, merge.public_id]) in body
    MemberMerge.objects.update(created_at=timezone.now() - timedelta(days=2))
    AuditEntry.objects.update(created_at=timezone.now() - timedelta(days=2))
    body = world.client(world.alice).get(reverse("members:audit_list", args=[world.shop.slug])).content.decode()
    assert "Undo merge" not in body


# Races on PostgreSQL


@pytest.fixture
def raced():
    shop = ShopFactory()
    manager = StaffFactory(shop=shop, role="manager").user
    program = StampProgramFactory(shop=shop, stamps_needed=10, max_stamps_per_visit=5, min_minutes_between_visits=0)
    one = MemberFactory(shop=shop, phone="")
    two = MemberFactory(shop=shop, phone="+886912345679")
    for member, count in ((one, 2), (two, 3)):
        services.stamp_add(member=member, program=program, count=count, staff=manager, idempotency_key=key())
    return shop, manager, program, one, two


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_merges_in_opposite_directions_one_wins_no_deadlock(raced):
    shop, manager, _program, one, two = raced
    pairs = [(one, two), (two, one)]
    results = race(2, lambda i: member_merge(shop=shop, keep=pairs[i][0], merge=pairs[i][1], by=manager))
    wins = [r for r in results if isinstance(r, MemberMerge)]
    refusals = [r for r in results if isinstance(r, LoyaltyError)]
    assert len(wins) == 1 and len(refusals) == 1, results
    assert refusals[0].code == Code.NOT_FOUND
    assert MemberMerge.objects.count() == 1
    kept = wins[0].kept
    assert MemberCard.objects.get(member=kept).stamps == 5
    assert ledger.drift() == []


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_stamp_held_mid_transaction_is_not_lost_by_the_merge(raced):
    """A stamp at the counter holds the member's lock; the merge waits for it, then moves its stamp."""
    shop, manager, program, one, two = raced
    stamped, release = threading.Event(), threading.Event()
    outcome = {}

    def slow_stamp():
        try:
            with transaction.atomic():
                services.stamp_add(member=two, program=program, count=4, staff=manager, idempotency_key=key())
                stamped.set()
                release.wait(10)
            outcome["stamp"] = "ok"
        except Exception as error:
            outcome["stamp"] = error
        finally:
            connections.close_all()

    def merging():
        try:
            outcome["merge"] = member_merge(shop=shop, keep=one, merge=two, by=manager)
        except Exception as error:
            outcome["merge"] = error
        finally:
            connections.close_all()

    counter = threading.Thread(target=slow_stamp)
    counter.start()
    assert stamped.wait(10)
    merger = threading.Thread(target=merging)
    merger.start()
    merger.join(1)
    assert merger.is_alive(), "the merge must wait for the stamp's lock"
    release.set()
    counter.join(10)
    merger.join(10)
    assert outcome["stamp"] == "ok" and isinstance(outcome["merge"], MemberMerge), outcome
    # 2 + 3 + 4 = 9: every stamp on the kept card.
    assert MemberCard.objects.get(member=one).stamps == 9
    assert MemberCard.objects.get(member=two).stamps == 0
    assert ledger.drift() == []


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_the_merge_locks_both_rows(raced):
    shop, manager, _program, one, two = raced
    with CaptureQueriesContext(connection) as queries:
        member_merge(shop=shop, keep=two, merge=one, by=manager)
    locks = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"] and "members_member" in q["sql"]]
    assert len(locks) >= 2
    first, second = sorted([one.pk, two.pk])
    assert f'"members_member"."id" = {first}' in locks[0] and f'"members_member"."id" = {second}' in locks[1]


def test_the_merged_records_visits_count_towards_the_kept_ones_tier(world, program, pair):
    """A merge moves balances, not history: the merged record's visits still count for the tier of
    the member it became, in the counter's standing and in the nightly review, and stop counting
    when the merge is undone."""
    keep, merge = pair
    TierPolicyFactory(shop=world.shop, basis="visits", grace_days=0)
    regular = TierFactory(shop=world.shop, name="Regular", threshold=4)
    now = timezone.now()
    for member, days in ((keep, [20, 10]), (merge, [15, 5])):
        for day in days:
            services.stamp_add(member=member, program=program, count=1, staff=world.carol, idempotency_key=key(),
                               at=now - timedelta(days=day))  # fmt: skip
    keep.refresh_from_db()
    assert tiers.standing(keep).value == 2 and keep.tier is None
    record = member_merge(shop=world.shop, keep=keep, merge=merge, by=world.bob)
    keep.refresh_from_db()
    assert tiers.standing(keep).value == 4 and keep.tier == regular  # moved up at the merge
    # The nightly review counts the same rows: nothing moves down.
    services.tiers_review(now=now + timedelta(days=1))
    services.tiers_review(now=now + timedelta(days=2))
    keep.refresh_from_db()
    assert keep.tier == regular
    merge_undo(merge_record=record, by=world.bob)
    keep.refresh_from_db()
    assert tiers.standing(keep).value == 2
