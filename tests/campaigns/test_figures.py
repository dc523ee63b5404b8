"""What a campaign did is counted by the worker and kept: the owner's pages read the kept figures
(with when they were counted), the first view counts them if none are kept yet, and the beat task
counts again those that can still change, every 15 minutes."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from campaigns import services, tasks
from campaigns.models import Campaign, CampaignFigures, Reach

from ..factories import MemberFactory

Kind = Campaign.Kind


def page(world, campaign) -> str:
    url = reverse("campaigns:campaign_edit", args=[world.shop.slug, campaign.public_id])
    return world.client(world.bob).get(url).content.decode()


def lapse(world, campaign, count):
    for _ in range(count):
        MemberFactory(shop=world.shop, last_visit_at=timezone.now() - timedelta(days=40), marketing_consent=True)
    services.winback_run(now=timezone.localtime(timezone.now(), world.shop.tz).replace(hour=10))
    return Reach.objects.filter(campaign=campaign, held_out=False).count()


def test_the_page_shows_kept_figures_until_the_worker_counts_again(world, program, make):
    campaign = make(Kind.WINBACK, days_away=30, gift="voucher", voucher_title="Coffee")
    first = lapse(world, campaign, 3)
    assert f"<dt>Members reached</dt><dd>{first}</dd>" in page(world, campaign)  # counted at the first view
    assert CampaignFigures.objects.filter(campaign=campaign).count() == 1

    more = lapse(world, campaign, 4)
    assert more == first + 4
    body = page(world, campaign)
    assert f"<dt>Members reached</dt><dd>{first}</dd>" in body and "Counted at" in body

    CampaignFigures.objects.filter(campaign=campaign).update(computed_at=timezone.now() - timedelta(minutes=16))
    assert tasks.refresh_figures() >= 1
    assert f"<dt>Members reached</dt><dd>{more}</dd>" in page(world, campaign)
    assert tasks.refresh_figures() == 0  # nothing is due again so soon


def test_the_list_shows_what_each_campaign_reached_once_counted(world, program, make):
    campaign = make(Kind.WINBACK, days_away=30, gift="voucher", voucher_title="Coffee")
    reached = lapse(world, campaign, 2)
    url = reverse("campaigns:campaign_list", args=[world.shop.slug])
    assert f"reached {reached} members" not in world.client(world.bob).get(url).content.decode()  # not counted yet
    services.figures_refresh(campaign=campaign)
    assert f"reached {reached} members" in world.client(world.bob).get(url).content.decode()


def test_ended_campaigns_are_no_longer_counted(world, make):
    old = make(Kind.WINBACK, days_away=30, ends_at=timezone.now() - timedelta(days=60))
    assert tasks.refresh_figures() == 0
    assert not CampaignFigures.objects.filter(campaign=old).exists()
