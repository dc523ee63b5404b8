"""Challenges on the pages: the owner's list and form (bad input changes nothing), the card's
progress, badges and board opt-in, the public board, the counter's line and its note when a visit
completes one, and the member page's completions; each with its refusals and its query counts."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from members.tokens import card_token
from rewards import services
from rewards.models import Challenge, ChallengeCompletion, LeaderboardSeat
from rewards.services import challenges

from ..conftest import key
from ..factories import CatalogueRewardFactory, MemberFactory, StampProgramFactory
from ..images import image_upload

TAIPEI = ZoneInfo("Asia/Taipei")
# Visits here are recorded now: the challenges run from well before, so no week turns over between them.
SINCE = datetime(2026, 1, 1, tzinfo=TAIPEI)


def make(shop, by, **fields) -> Challenge:
    base = {"name": "Three visits", "kind": "visits", "window": "run", "starts_at": SINCE, "target": 3,
            "badge_emoji": "☕"}  # fmt: skip
    return challenges.challenge_save(shop=shop, fields={**base, **fields}, by=by)


def stamp(member, program, staff, **kwargs):
    return services.stamp_add(member=member, program=program, count=1, staff=staff, idempotency_key=key(), **kwargs)


FORM = {
    "name": "Three visits this week", "description": "", "kind": "visits", "window": "week", "target": "3",
    "amount": "", "tag": "", "gift": "points", "gift_points": "50", "voucher_title": "", "voucher_valid_days": "14",
    "badge_emoji": "☕", "badge_name": "Regular", "status": "active",
}  # fmt: skip


# The owner's pages


def test_an_owner_sets_up_a_challenge_with_a_badge_picture(world, alice_client):
    url = reverse("rewards:challenge_create", args=[world.shop.slug])
    response = alice_client.post(url, {**FORM, "badge_picture": image_upload("badge.png", size=(900, 600))})
    assert response.status_code == 302
    challenge = Challenge.objects.get()
    assert (challenge.kind, challenge.target, challenge.gift_points, challenge.leaderboard) == ("visits", 3, 50, False)
    assert challenge.badge_picture.width == 256  # re-encoded, at most 256 a side
    page = alice_client.get(reverse("rewards:challenge_list", args=[world.shop.slug])).content.decode()
    assert "Three visits this week" in page and "50 points" in page
    edit = reverse("rewards:challenge_edit", args=[world.shop.slug, challenge.public_id])
    assert alice_client.post(edit, {**FORM, "status": "paused"}).status_code == 302
    challenge.refresh_from_db()
    assert challenge.status == "paused" and challenge.badge_picture


@pytest.mark.parametrize(
    "bad",
    [
        {"target": "0"},
        {"kind": "weekdays", "target": "8"},
        {"kind": "spend", "amount": ""},
        {"kind": "spend", "amount": "10.5"},  # no cents in NT$
        {"kind": "tag", "tag": "this season"},
        {"kind": "streak", "window": "week"},
        {"gift": "voucher", "voucher_title": ""},
        {"name": ""},
        {"badge_picture": SimpleUploadedFile("badge.png", b"<script>not a picture</script>", content_type="image/png")},
    ],
)
def test_bad_input_changes_nothing(world, alice_client, bad):
    url = reverse("rewards:challenge_create", args=[world.shop.slug])
    response = alice_client.post(url, {**FORM, **bad})
    assert response.status_code == 400
    assert not Challenge.objects.exists()


def test_the_list_counts_completions_this_window_and_in_all(world, alice_client, program, django_assert_num_queries):
    weekly = make(world.shop, world.alice, window="week", target=1, starts_at=None)
    make(world.shop, world.alice, name="Ten visits", target=10)
    mia, leo = MemberFactory(shop=world.shop), MemberFactory(shop=world.shop)
    stamp(mia, program, world.carol, at=timezone.now() - timedelta(days=14))
    stamp(mia, program, world.carol)
    stamp(leo, program, world.carol)
    assert ChallengeCompletion.objects.filter(challenge=weekly).count() == 3
    url = reverse("rewards:challenge_list", args=[world.shop.slug])
    alice_client.get(url)
    with django_assert_num_queries(4):  # the user with their role, the switcher, the challenges, the counts
        page = alice_client.get(url).content.decode()
    assert "<td>2</td>\n          <td>3</td>" in page


def test_the_negative_trio(world, alice_client):
    theirs = make(world.other_shop, world.dave)
    mine = make(world.shop, world.alice)
    list_url = reverse("rewards:challenge_list", args=[world.shop.slug])
    assert alice_client.post(list_url).status_code == 405
    assert world.client(world.carol).get(list_url).status_code == 403
    edit = reverse("rewards:challenge_edit", args=[world.shop.slug, mine.public_id])
    assert world.client(world.carol).post(edit, {**FORM, "name": "Mine now"}).status_code == 403
    other = reverse("rewards:challenge_edit", args=[world.shop.slug, theirs.public_id])
    assert alice_client.get(other).status_code == 404
    assert alice_client.post(other, FORM).status_code == 404
    theirs.refresh_from_db()
    mine.refresh_from_db()
    assert (theirs.name, mine.name) == ("Three visits", "Three visits")


# The card


def test_the_card_shows_progress_badges_and_a_board_to_join(world, program, member, client):
    make(world.shop, world.alice, name="Two visits", target=2, badge_emoji="🏅", gift="points", gift_points=20)
    board = make(world.shop, world.alice, name="Five visits", target=5, leaderboard=True)
    card = reverse("rewards:card", args=[card_token(member)])
    stamp(member, program, world.carol, at=timezone.now() - timedelta(hours=3))
    page = client.get(card).content.decode()
    assert "1 of 2 visits" in page and "1 of 5 visits" in page and "Your badges" not in page
    assert "Join the board with a nickname" in page
    stamp(member, program, world.carol)
    page = client.get(card).content.decode()
    assert "Your badges" in page and "Done!" in page and "Challenge completed" in page  # the reward in the history

    join = reverse("rewards:card_board_join", args=[card_token(member), board.public_id])
    assert client.get(join).status_code == 405
    page = client.post(join, {"nickname": "Latte Queen"}, follow=True).content.decode()
    assert "You are on the board of Five visits as Latte Queen." in page and "On the board as Latte Queen." in page
    assert LeaderboardSeat.objects.get().nickname == "Latte Queen"
    page = client.post(join, {"nickname": "x" * 30}, follow=True).content.decode()
    assert "Choose a nickname of at most 20 characters." in page
    leave = reverse("rewards:card_board_leave", args=[card_token(member), board.public_id])
    client.post(leave)
    assert not LeaderboardSeat.objects.exists()


def test_the_boards_endpoints_refuse_a_bad_token_and_another_shops_challenge(world, member, client):
    theirs = make(world.other_shop, world.dave, leaderboard=True)
    quiet = make(world.shop, world.alice)
    join = reverse("rewards:card_board_join", args=[card_token(member), theirs.public_id])
    assert client.post(join, {"nickname": "Mia"}).status_code == 404
    bad = reverse("rewards:card_board_join", args=["not-a-token", quiet.public_id])
    assert client.post(bad, {"nickname": "Mia"}).status_code == 404
    off = reverse("rewards:card_board_join", args=[card_token(member), quiet.public_id])
    page = client.post(off, {"nickname": "Mia"}, follow=True).content.decode()
    assert "This challenge has no leaderboard now." in page
    assert not LeaderboardSeat.objects.exists()


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return len(queries)  # read at once: the next request clears the connection's log


def test_the_card_without_challenges_costs_nothing_more_and_with_them_a_fixed_few(world, member, client, program):
    other = MemberFactory(shop=world.other_shop)
    stamp(other, StampProgramFactory(shop=world.other_shop), world.dave)
    stamp(member, program, world.carol)
    url_other, url = (reverse("rewards:card", args=[card_token(m)]) for m in (other, member))
    client.get(url_other), client.get(url)
    without = _queries(client, url_other)
    assert _queries(client, url) == without
    for n in range(3):
        make(world.shop, world.alice, name=f"Visits {n}", target=2 + n, leaderboard=n == 0)
    client.get(url)
    # The member's visits, their completions, their seats on the boards, their badges.
    with_three = _queries(client, url)
    assert with_three == without + 4
    make(world.shop, world.alice, name="Visits 9", target=9, leaderboard=True)
    client.get(url)
    assert _queries(client, url) == with_three


# The public board


def test_the_public_board_shows_only_members_who_joined(world, program, client, django_assert_num_queries):
    board = make(world.shop, world.alice, name="Once", target=1, leaderboard=True)
    ada, bo = MemberFactory(shop=world.shop, name="Ada Lin"), MemberFactory(shop=world.shop, name="Bo Wu")
    for member in (ada, bo):
        stamp(member, program, world.carol)
    challenges.seat_take(member=ada, challenge=board, nickname="Early Bird")
    url = reverse("rewards:challenge_board", args=[world.shop.slug, board.public_id])
    with django_assert_num_queries(3):  # the shop, the challenge, the board
        page = client.get(url).content.decode()
    assert "Early Bird" in page and "completed 1 time" in page
    assert "Ada" not in page and "Bo Wu" not in page
    quiet = make(world.shop, world.alice, name="Quiet")
    assert client.get(reverse("rewards:challenge_board", args=[world.shop.slug, quiet.public_id])).status_code == 404
    elsewhere = reverse("rewards:challenge_board", args=[world.other_shop.slug, board.public_id])
    assert client.get(elsewhere).status_code == 404


# The counter and the member page


@pytest.fixture
def carol(world):
    return world.client(world.carol)


def counter_stamp(client, world, member, program, key_):
    url = reverse("rewards:counter_stamp", args=[world.shop.slug, member.public_id])
    return client.post(url, {"program": program.public_id, "count": 1, "key": key_}, headers={"HX-Request": "true"})


def test_the_counter_shows_progress_and_names_a_challenge_the_visit_completes(world, program, member, carol):
    make(world.shop, world.alice, name="Two visits", target=2, badge_emoji="🏅", gift="points", gift_points=20)
    panel = reverse("rewards:counter_member", args=[world.shop.slug, member.public_id])
    stamp(member, program, world.carol, at=timezone.now() - timedelta(hours=3))
    page = carol.get(panel).content.decode()
    assert "Challenges:" in page and "Two visits: 1 of 2 visits" in page
    response = counter_stamp(carol, world, member, program, "c1")
    body = response.content.decode()
    assert "Challenge complete: 🏅 Two visits" in body
    assert 'id="challenges"' in body and "done ✓" in body
    response = counter_stamp(carol, world, member, program, "c2")
    assert "Challenge complete" not in response.content.decode()  # once per window
    # Undone at the counter: the visit the second stamp was part of is gone, and the reward with it.
    group = ChallengeCompletion.objects.get().entry.group
    undo = reverse("rewards:counter_undo", args=[world.shop.slug, member.public_id])
    body = carol.post(undo, {"group": str(group), "key": "u1"}, headers={"HX-Request": "true"}).content.decode()
    assert "Two visits: 1 of 2 visits" in body
    completion = ChallengeCompletion.objects.get()
    assert completion.revoked_at and completion.revoke_note == "taken_back"
    member.refresh_from_db()
    assert member.points == 0


def test_the_counters_stamp_costs_a_fixed_few_queries_with_challenges(world, carol, django_assert_num_queries):
    program = StampProgramFactory(shop=world.shop, stamps_needed=50, min_minutes_between_visits=0)
    make(world.shop, world.alice, name="Visits", target=40)

    def regular():
        """A member whose last visit was hours ago: the counter's stamp begins a new visit."""
        member = MemberFactory(shop=world.shop)
        stamp(member, program, world.carol, at=timezone.now() - timedelta(hours=3))
        carol.get(reverse("rewards:counter_member", args=[world.shop.slug, member.public_id]))
        return member

    first = regular()
    # The pinned nine (tests/members/test_counter.py), the member's visits in the transaction, and
    # the progress line afterwards: their visits and completions.
    with django_assert_num_queries(12):
        counter_stamp(carol, world, first, program, "q1")
    # A second stamp of the same visit moves no challenge: only the line is read again.
    with django_assert_num_queries(11):
        counter_stamp(carol, world, first, program, "q2")
    for n in range(4):
        make(world.shop, world.alice, name=f"More {n}", kind="weekdays", target=7)
    second = regular()
    with django_assert_num_queries(12):
        counter_stamp(carol, world, second, program, "q3")


def test_the_member_page_lists_completions_and_why_one_was_revoked(world, program, member, alice_client):
    make(world.shop, world.alice, name="Two visits", target=2, gift="points", gift_points=50)
    stamp(member, program, world.carol, at=timezone.now() - timedelta(hours=3))
    result = stamp(member, program, world.carol)
    cookie = CatalogueRewardFactory(shop=world.shop, name="Cookie", cost_points=50)
    services.reward_redeem(member=member, reward_id=cookie.pk, staff=world.carol, idempotency_key=key())
    services.action_undo(shop=world.shop, group=result.group, staff=world.carol, idempotency_key=key())
    page = alice_client.get(reverse("rewards:member_detail", args=[world.shop.slug, member.public_id]))
    body = page.content.decode()
    assert "Challenges" in body and "Two visits" in body
    assert "Revoked" in body and "The reward&#x27;s points were already spent" in body
