"""Journey: on her phone Emma, a Gold regular of the demo café, reads her challenges, joins the
weekly board under a nickname and finds it on the public board among the other opted-in members;
she says yes to the full monthly cupping and goes on the waiting list, and moves up as two seat
holders cancel on their own cards; she rates today's visit. At the door staff scan her card's QR
code and check her in, and a second scan is refused. The owner answers the low rating waiting on
the feedback page, and the reply goes out in the member's own language. Screenshots and axe at
each stop."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.events.services import MOVED_UP
from campaigns.feedback import services as feedback_services
from campaigns.models import Event, Feedback, Rsvp
from loyalty_site.demo import persona_member
from members.models import Message, Shop
from members.tokens import card_token, member_qr_payload
from rewards import ledger
from rewards.services import challenges

from .test_insights_journey import log_in
from .test_prepaid_journey import tap


def scan(page, payload):
    """The scanner types the card's QR code into the scan field; wait for the door's answer."""
    page.locator("#counter-q").fill(payload)
    with page.expect_response(lambda response: response.request.method == "POST"):
        page.locator("#counter-q").press("Enter")


@pytest.mark.django_db(transaction=True)
def test_challenges_the_cupping_and_feedback(live_server, page, phone_page, screenshot, assert_accessible):
    call_command("demo")
    shop = Shop.objects.get(slug="demo-cafe")
    emma = persona_member(shop, "regular")
    cupping = Event.objects.get(shop=shop, invited_at__isnull=False, starts_at__gt=timezone.now())
    assert not Rsvp.objects.filter(event=cupping, member=emma).exists(), "Emma has not answered yet"
    assert cupping.rsvps.filter(status="waiting").count() == 1, "the demo's cupping is full, one waiting"
    seat_holders = [rsvp.member for rsvp in cupping.rsvps.filter(status="yes").order_by("responded_at")[:2]]
    card_url = f"{live_server.url}/c/{card_token(emma)}/"

    # Her challenges, as far as she has come; she joins the weekly board with a nickname.
    phone_page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    phone_page.goto(card_url)
    panel = phone_page.locator(".card-challenges")
    for item in challenges.progress_for(emma):
        expect(panel.locator(".challenge", has_text=item.challenge.name)).to_contain_text(item.text)
    weekly = panel.locator(".challenge", has_text="Three visits this week")
    expect(panel.locator(".challenge", has_text="This season's drink").get_by_role("button")).to_have_count(0)
    weekly.get_by_label("Join the board with a nickname").fill("Flat White Fox")
    weekly.get_by_role("button", name="Join").click()
    expect(phone_page.get_by_text("You are on the board of Three visits this week as Flat White Fox.")).to_be_visible()
    expect(weekly).to_contain_text("On the board as Flat White Fox.")
    screenshot(phone_page, "community-card-challenges")
    assert_accessible(phone_page, "card with challenges")
    weekly.get_by_role("link", name="See the board").click()
    expect(phone_page.get_by_role("heading", name="Three visits this week")).to_be_visible()
    board = phone_page.locator("ol.leaderboard li")
    expect(board).to_have_count(3)  # the two the demo seated, and Emma: nobody who did not join
    for nickname in ("Oolong Owl", "Morning Latte", "Flat White Fox"):
        expect(board.filter(has_text=nickname)).to_have_count(1)
    expect(phone_page.locator("main")).not_to_contain_text(emma.name)
    screenshot(phone_page, "community-board")
    assert_accessible(phone_page, "challenge board")

    # The cupping is full: her yes puts her on the waiting list, behind the one already waiting.
    phone_page.goto(card_url)
    invitation = phone_page.locator(f"#event-{cupping.public_id}")
    expect(invitation).to_contain_text("Every seat is taken: say yes to go on the waiting list.")
    tap(phone_page, invitation.get_by_role("button", name="I'm coming"))
    expect(invitation).to_contain_text("You are number 2 on the waiting list")
    expect(invitation.get_by_role("button", name="I'm coming")).to_have_count(0)
    screenshot(phone_page, "community-card-waiting")
    assert_accessible(phone_page, "card on the waiting list")

    # Two who had a seat cannot come after all, each on their own card: the list moves up twice.
    others = page.context.browser.new_context(locale="en-US", viewport={"width": 390, "height": 844}, is_mobile=True)
    others.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    other_page = others.new_page()
    for seat_holder, emma_sees in zip(
        seat_holders, ("You are number 1 on the waiting list", "You are coming. See you there!"), strict=True
    ):
        other_page.goto(f"{live_server.url}/c/{card_token(seat_holder)}/")
        theirs = other_page.locator(f"#event-{cupping.public_id}")
        tap(other_page, theirs.get_by_role("button", name="I can't come after all"))
        expect(theirs).to_contain_text("You are not coming.")
        phone_page.reload()
        expect(invitation).to_contain_text(emma_sees)
    others.close()
    expect(invitation.get_by_role("button", name="I can't come after all")).to_be_visible()
    screenshot(phone_page, "community-card-coming")

    # She was served today: the card asks about the visit; a comment and a tap on the rating.
    feedback = phone_page.locator("#feedback")
    expect(feedback.get_by_role("heading", name="How was your visit today?")).to_be_visible()
    feedback.get_by_label("Anything to add? (optional)").fill("The oat latte was perfect.")
    tap(phone_page, feedback.get_by_role("button", name="5 of 5"))
    expect(feedback.get_by_role("status")).to_have_text("Thank you for telling us about your visit.")
    screenshot(phone_page, "community-card-feedback")
    assert_accessible(phone_page, "card after feedback")
    phone_page.reload()
    expect(phone_page.get_by_role("heading", name="How was your visit today?")).to_have_count(0)

    # At the door. Test-only: the cupping is days away and check-in opens two hours before the
    # start, so the event is moved to start in half an hour (as if its evening had come).
    now = timezone.now()
    Event.objects.filter(pk=cupping.pk).update(starts_at=now + timedelta(minutes=30), ends_at=now + timedelta(hours=2))
    log_in(page, live_server, "staff@demo.example")
    page.goto(f"{live_server.url}/s/{shop.slug}/events/{cupping.public_id}/check-in/")
    expect(page.get_by_role("heading", name="Check-in: Monthly cupping")).to_be_visible()
    expect(page.locator("#attendance-title")).to_have_text(f"0 of {cupping.capacity} checked in")
    scan(page, member_qr_payload(emma))
    expect(page.locator("#result .celebrate")).to_contain_text(f"{emma.name} {emma.code} — checked in")
    expect(page.locator("#result")).to_contain_text("Reward given: 30 points")
    expect(page.locator("#attendance-title")).to_have_text(f"1 of {cupping.capacity} checked in")
    screenshot(page, "community-check-in")
    assert_accessible(page, "event check-in")
    scan(page, member_qr_payload(emma))
    refusal = page.locator("#result").get_by_role("alert")
    expect(refusal).to_contain_text(re.compile(rf"Already done: {emma.name} checked in at \d\d:\d\d\."))
    expect(page.locator("#attendance-title")).to_have_text(f"1 of {cupping.capacity} checked in")
    screenshot(page, "community-check-in-twice")
    assert Rsvp.objects.get(event=cupping, member=emma).checked_in_at is not None

    # The owner answers the low rating waiting on the feedback page; Emma's comment is among the latest.
    cold = Feedback.objects.get(shop=shop, flagged=True, replied_at__isnull=True)
    owner = page.context.browser.new_context(locale="en-US", viewport={"width": 1100, "height": 900})
    owner_page = owner.new_page()
    log_in(owner_page, live_server, "owner@demo.example")
    owner_page.goto(f"{live_server.url}/s/{shop.slug}/feedback/")
    flag = owner_page.locator("ul.flags > li").first
    expect(flag).to_contain_text(f"{cold.rating} of 5")
    expect(flag).to_contain_text(cold.comment)
    expect(owner_page.locator("section", has_text="Latest comments")).to_contain_text("The oat latte was perfect.")
    screenshot(owner_page, "community-feedback-page")
    assert_accessible(owner_page, "feedback page")
    flag.get_by_label("Your reply (sent by e-mail)").fill("So sorry about the wait: your next coffee is on us.")
    tap(owner_page, flag.get_by_role("button", name="Send the reply"))
    expect(flag.get_by_role("status")).to_contain_text("So sorry about the wait: your next coffee is on us.")
    expect(flag.get_by_role("status")).to_contain_text("Replied on")
    owner_page.reload()
    expect(owner_page.get_by_text("No low rating is waiting for a reply.")).to_be_visible()
    screenshot(owner_page, "community-feedback-replied")
    owner.close()

    # The reply is in the outbox and was sent, in the member's language (the demo's is Traditional Chinese).
    reply = Message.objects.get(member=cold.member, campaign=feedback_services.REPLY, occasion=str(cold.public_id))
    assert reply.status == Message.Status.SENT and reply.context["reply"].startswith("So sorry")
    assert cold.member.language == "zh-hant"
    sent = [email for email in mail.outbox if email.to == [cold.member.email]]
    assert [email.subject for email in sent] == [f"{shop.name} 回覆了您的意見回饋"]
    assert Message.objects.filter(member=emma, campaign=MOVED_UP, occasion=str(cupping.public_id)).exists()
    assert ledger.drift() == []
