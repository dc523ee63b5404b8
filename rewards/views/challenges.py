"""Challenges: the owner's list (with how many completed this window and in all) and form; a
challenge's public leaderboard; a member joining or leaving a board from their card."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from members.errors import LoyaltyError
from members.i18n import activate_customer_language
from members.models import Shop
from members.tenancy import shop_view
from members.tokens import member_from_card_token

from ..forms import ChallengeForm, NicknameForm
from ..models import Challenge
from ..services import challenges


def _challenge_or_404(shop: Shop, challenge_id) -> Challenge:
    return get_object_or_404(Challenge.objects.for_shop(shop), public_id=challenge_id)


@shop_view("programs.edit")
@require_GET
def challenge_list(request):
    items = list(Challenge.objects.for_shop(request.shop))
    counts = challenges.figures(request.shop, items, timezone.now())
    rows = [(challenge, *counts.get(challenge.pk, (0, 0))) for challenge in items]
    return render(request, "rewards/challenge_list.html", {"rows": rows})


@shop_view("programs.edit")
@require_http_methods(["GET", "POST"])
def challenge_edit(request, challenge_id=None):
    challenge = _challenge_or_404(request.shop, challenge_id) if challenge_id is not None else None
    title = challenge.name if challenge else ""  # as saved: the form writes what was typed onto it
    instance = challenge or Challenge(shop=request.shop)
    form = ChallengeForm(request.POST or None, request.FILES or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        if fields["badge_picture"] is None or fields["badge_picture"] is False:
            fields["badge_picture"] = ""  # cleared, or none uploaded to a new challenge
        try:
            challenges.challenge_save(shop=request.shop, challenge=challenge, fields=fields, by=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Challenge saved."))
            return redirect("rewards:challenge_list", shop_slug=request.shop.slug)
    status = 400 if form.errors else 200
    context = {"form": form, "challenge": challenge, "title": title}
    return render(request, "rewards/challenge_form.html", context, status=status)


@require_GET
def challenge_board(request, shop_slug, challenge_id):
    """A challenge's public board: the nicknames of the members who chose to be on it."""
    shop = get_object_or_404(Shop, slug=shop_slug)
    challenge = get_object_or_404(Challenge.objects.for_shop(shop), public_id=challenge_id, leaderboard=True)
    activate_customer_language(request, shop)
    context = {"public_shop": shop, "challenge": challenge, "places": challenges.leaderboard(challenge)}
    return render(request, "rewards/challenge_board.html", context)


def _card_member_and_challenge(request, token, challenge_id):
    member = member_from_card_token(token)
    if member is None:
        raise Http404
    challenge = _challenge_or_404(member.shop, challenge_id)
    activate_customer_language(request, member.shop, member)
    return member, challenge


@require_POST
def card_board_join(request, token, challenge_id):
    """A member joins a challenge's board from their card, under a nickname of their choice."""
    member, challenge = _card_member_and_challenge(request, token, challenge_id)
    form = NicknameForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a nickname of at most 20 characters."))
    else:
        try:
            seat = challenges.seat_take(member=member, challenge=challenge, nickname=form.cleaned_data["nickname"])
        except LoyaltyError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, _("You are on the board of %(challenge)s as %(nickname)s.")
                % {"challenge": challenge.name, "nickname": seat.nickname},
            )  # fmt: skip
    return redirect("rewards:card", token=token)


@require_POST
def card_board_leave(request, token, challenge_id):
    member, challenge = _card_member_and_challenge(request, token, challenge_id)
    if challenges.seat_leave(member=member, challenge=challenge):
        messages.success(request, _("You left the board of %(challenge)s.") % {"challenge": challenge.name})
    return redirect("rewards:card", token=token)
