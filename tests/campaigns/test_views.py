"""The owner's pages: set up each kind of campaign, preview it, see its results and failed messages."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, Reach
from members.models import Message

from ..factories import MemberFactory, MessageFactory, TierFactory

Kind = Campaign.Kind
COMMON = {"is_active": "on", "audience": "all", "holdout_percent": "0", "voucher_valid_days": "14"}
FORMS = {
    Kind.WELCOME: {"name": "Hello", "gift": "stamps", "gift_stamps": "2"},
    Kind.BIRTHDAY: {"name": "Birthday", "gift": "voucher", "voucher_title": "Cake", "days_before": "7"},
    Kind.BOOST: {"name": "Double Wednesday", "multiplier": "2", "multiplies": "both", "weekdays": ["2"]},
    Kind.WINBACK: {"name": "Miss you", "days_away": "45", "gift": "voucher", "voucher_title": "Coffee on us"},
    Kind.REFERRAL: {"name": "Bring a friend", "gift": "points", "gift_points": "50", "referral_limit": "5"},
    Kind.ANNOUNCEMENT: {"name": "Autumn menu", "subject": "New cakes", "body": "Come and try.", "gift": "none"},
}


def create_url(world, kind):
    return reverse("campaigns:campaign_create", args=[world.shop.slug, kind])


def edit_url(campaign):
    return reverse("campaigns:campaign_edit", args=[campaign.shop.slug, campaign.public_id])


@pytest.mark.parametrize("kind", list(FORMS))
def test_owner_sets_up_each_kind(world, program, kind):
    client = world.client(world.alice)
    assert client.get(create_url(world, kind)).status_code == 200
    response = client.post(create_url(world, kind), {**COMMON, **FORMS[kind]})
    campaign = Campaign.objects.get(shop=world.shop)
    assert response.status_code == 302 and response["Location"] == edit_url(campaign)
    assert (campaign.kind, campaign.name) == (kind, FORMS[kind]["name"])
    page = client.get(edit_url(campaign)).content.decode()
    assert "Who it would reach now" in page and "Results" in page
    if kind == Kind.BOOST:
        assert campaign.weekdays == "2" and campaign.holdout_percent == 0


@pytest.mark.parametrize(
    ("kind", "data", "field"),
    [
        (Kind.WELCOME, {"gift": "stamps", "gift_stamps": ""}, "gift_stamps"),
        (Kind.WELCOME, {"gift": "none"}, "gift"),
        (Kind.BIRTHDAY, {"gift": "voucher", "voucher_title": ""}, "voucher_title"),
        (Kind.BOOST, {"multiplier": "0.5"}, "multiplier"),
        (Kind.BOOST, {"multiplier": "2", "hours_from": "10:00", "hours_to": "10:00"}, "hours_to"),
        (Kind.WINBACK, {"days_away": "", "gift": "points", "gift_points": "5"}, "days_away"),
        (Kind.ANNOUNCEMENT, {"subject": "", "body": "x"}, "subject"),
        (Kind.WELCOME, {"gift": "points", "gift_points": "5", "audience": "tier"}, "audience_tier"),
        (Kind.WELCOME, {"gift": "points", "gift_points": "5", "audience": "joined"}, "audience_from"),
        (
            Kind.WELCOME,
            {
                "gift": "points",
                "gift_points": "5",
                "audience": "seen",
                "audience_from": "2027-02-01",
                "audience_to": "2027-01-01",
            },
            "audience_to",
        ),
        (Kind.WELCOME, {"gift": "points", "gift_points": "5", "holdout_percent": "90"}, "holdout_percent"),
        (
            Kind.WELCOME,
            {"gift": "points", "gift_points": "5", "starts_at": "2027-02-01T10:00", "ends_at": "2027-01-01T10:00"},
            "ends_at",
        ),
    ],
)
def test_bad_input_is_refused_with_a_message_and_saves_nothing(world, program, kind, data, field):
    response = world.client(world.alice).post(create_url(world, kind), {**COMMON, "name": "X", **data})
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Campaign.objects.exists()


def test_another_shops_tier_cannot_be_the_audience(world):
    theirs = TierFactory(shop=world.other_shop, name="Gold", threshold=5)
    data = {**COMMON, "name": "X", "gift": "points", "gift_points": "5", "audience": "tier"}
    response = world.client(world.alice).post(create_url(world, Kind.WELCOME), {**data, "audience_tier": theirs.pk})
    assert response.status_code == 400 and "audience_tier" in response.context["form"].errors


def test_unknown_kind_is_404(world):
    assert world.client(world.alice).get(create_url(world, "lottery")).status_code == 404


def test_preview_follows_the_unsaved_form_as_a_fragment(world, make):
    campaign = make(Kind.ANNOUNCEMENT, subject="Hi", body="News")
    gold = TierFactory(shop=world.shop, name="Gold", threshold=5)
    MemberFactory(shop=world.shop, name="Ann", marketing_consent=True)
    MemberFactory(shop=world.shop, name="Ben", marketing_consent=True, tier=gold)
    MemberFactory(shop=world.shop, name="Cat", marketing_consent=False, tier=gold)
    data = {**COMMON, "name": "News", "subject": "Hi", "body": "News", "gift": "none", "preview": "1"}
    response = world.client(world.alice).post(
        edit_url(campaign), {**data, "audience": "tier", "audience_tier": gold.pk}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<section id="preview"')
    assert "1 member" in body and "Ben" in body and "Ann" not in body and "Cat" not in body
    campaign.refresh_from_db()
    assert campaign.audience == "all"  # a preview saves nothing


def test_send_now_sends_an_announcement_once(world, make, django_capture_on_commit_callbacks):
    campaign = make(Kind.ANNOUNCEMENT, subject="New cakes", body="Come and try.")
    MemberFactory(shop=world.shop, marketing_consent=True)
    url = reverse("campaigns:campaign_send", args=[world.shop.slug, campaign.public_id])
    client = world.client(world.alice)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url)
    assert len(mail.outbox) == 1 and mail.outbox[0].subject == "New cakes"
    assert "Sent on" in client.get(edit_url(campaign)).content.decode()


def test_results_on_the_campaign_page(world, program, make):
    from campaigns import services

    campaign = make(Kind.WINBACK, days_away=30, gift="voucher", voucher_title="Coffee", holdout_percent=20)
    for _ in range(10):
        MemberFactory(shop=world.shop, last_visit_at=timezone.now() - timedelta(days=40), marketing_consent=True)
    now = timezone.localtime(timezone.now(), world.shop.tz).replace(hour=10)
    services.winback_run(now=now)
    reached = Reach.objects.filter(campaign=campaign, held_out=False).count()
    body = world.client(world.bob).get(edit_url(campaign)).content.decode()
    assert f"<dt>Members reached</dt><dd>{reached}</dd>" in body
    assert f"<dt>Vouchers issued</dt><dd>{reached}</dd>" in body


def test_campaign_list_query_count(world, make, django_assert_num_queries):
    for i in range(5):
        make(Kind.WELCOME, name=f"W{i}", gift="points", gift_points=5)
    client = world.client(world.alice)
    client.get(reverse("campaigns:campaign_list", args=[world.shop.slug]))
    # the user with their role, shop switcher, campaigns with their reach counts, failed messages
    with django_assert_num_queries(4):
        response = client.get(reverse("campaigns:campaign_list", args=[world.shop.slug]))
    assert response.content.decode().count('<li class="card">') == 5 + len(Kind)


def failed_message(world, error="SMTP 550 mailbox unavailable"):
    member = MemberFactory(shop=world.shop, email="gone@example.com", marketing_consent=True)
    return MessageFactory(
        shop=world.shop, member=member, campaign="news", occasion="1", kind=Message.Kind.MARKETING,
        template="campaigns/email/campaign", to_email=member.email, status=Message.Status.FAILED, attempts=5,
        last_error=error, context={"kind": "announcement", "subject": "News", "body": "Hello"},
    )  # fmt: skip


def test_owner_sees_failed_messages_with_their_error_and_sends_again(
    world, django_assert_num_queries, django_capture_on_commit_callbacks
):
    message = failed_message(world)
    failed_message_other = MessageFactory(
        shop=world.other_shop, member=MemberFactory(shop=world.other_shop), campaign="news", occasion="1",
        kind=Message.Kind.MARKETING, template="x", to_email="x@example.com", status=Message.Status.FAILED,
        last_error="Dave's secret error",
    )  # fmt: skip
    client = world.client(world.alice)
    url = reverse("campaigns:message_list", args=[world.shop.slug])
    client.get(url)
    # the user with their role, shop switcher, failed, recent
    with django_assert_num_queries(4):
        body = client.get(url).content.decode()
    assert "SMTP 550 mailbox unavailable" in body and "gone@example.com" in body
    assert "Dave's secret error" not in body
    retry = reverse("campaigns:message_retry", args=[world.shop.slug, message.public_id])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(retry).status_code == 302
    message.refresh_from_db()
    assert message.status == Message.Status.SENT and len(mail.outbox) == 1
    # Another shop's message is a 404 here, and a sent one cannot be sent again.
    other = reverse("campaigns:message_retry", args=[world.shop.slug, failed_message_other.public_id])
    assert client.post(other).status_code == 404
    client.post(retry)
    assert len(mail.outbox) == 1


def test_campaign_list_warns_about_failed_messages(world):
    failed_message(world)
    body = world.client(world.alice).get(reverse("campaigns:campaign_list", args=[world.shop.slug])).content.decode()
    assert "1 message could not be sent." in body


def test_preview_of_a_new_winback_before_saving(world):
    MemberFactory(shop=world.shop, name="Away", last_visit_at=timezone.now() - timedelta(days=90))
    MemberFactory(shop=world.shop, name="Regular", last_visit_at=timezone.now() - timedelta(days=2))
    data = {**COMMON, **FORMS[Kind.WINBACK], "preview": "1"}
    response = world.client(world.alice).post(create_url(world, Kind.WINBACK), data, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200 and "Away" in body and "Regular" not in body
    assert not Campaign.objects.exists()


def test_an_interrupted_message_warns_before_sending_again(world):
    from members.models import INTERRUPTED

    failed_message(world, error=INTERRUPTED)
    body = world.client(world.alice).get(reverse("campaigns:message_list", args=[world.shop.slug])).content.decode()
    assert "It may have arrived all the same" in body
