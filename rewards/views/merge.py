"""Duplicate members: the list of likely pairs, the page that merges one pair, and undoing a merge."""

from django.contrib import messages
from django.db.models import Count, Q, Sum
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from members.errors import LoyaltyError
from members.models import Member, MemberMerge
from members.tenancy import shop_member_or_404, shop_view

from ..models import MemberCard, Purchase, TierChange, Voucher
from ..services import merge as merging


def _holdings(members: list[Member]) -> dict[int, dict]:
    """Stamps and vouchers ready to use of each member: two queries, whatever the number of members."""
    ids = [member.pk for member in members]
    stamps = dict(
        MemberCard.objects.filter(member_id__in=ids)
        .order_by()
        .values("member_id")
        .annotate(total=Sum("stamps"))
        .values_list("member_id", "total")
    )
    vouchers = dict(
        Voucher.objects.filter(member_id__in=ids, status=Voucher.Status.ISSUED)
        .order_by()
        .values("member_id")
        .annotate(n=Count("pk"))
        .values_list("member_id", "n")
    )
    return {pk: {"stamps": stamps.get(pk, 0), "vouchers": vouchers.get(pk, 0)} for pk in ids}


@shop_view("members.merge")
@require_GET
def member_duplicates(request):
    pairs = merging.likely_duplicates(request.shop)
    holdings = _holdings([member for pair in pairs for member in (pair.first, pair.second)])
    rows = [
        {"pair": pair, "sides": [(m, holdings[m.pk]) for m in (pair.first, pair.second)]} for pair in pairs
    ]  # fmt: skip
    return render(request, "rewards/member_duplicates.html", {"rows": rows})


def _what_moves(keep: Member, merge: Member) -> dict:
    """What the merge would move, as the confirmation page says it."""
    cards = list(MemberCard.objects.filter(member=merge, stamps__gt=0).select_related("program").order_by("pk"))
    vouchers = Voucher.objects.filter(member=merge).aggregate(
        all=Count("pk"), usable=Count("pk", filter=Q(status=Voucher.Status.ISSUED))
    )
    filled = [
        label
        for name, label in (
            ("email", _("e-mail address")),
            ("phone", _("phone number")),
            ("birthday", _("birthday")),
            ("user_id", _("customer account")),
        )
        if getattr(merge, name) and not getattr(keep, name)
    ]
    return {
        "cards": cards,
        "points": merge.points,
        "vouchers": vouchers["all"],
        "vouchers_usable": vouchers["usable"],
        "purchases": Purchase.objects.filter(member=merge).count(),
        "tier_changes": TierChange.objects.filter(member=merge).count(),
        "referrals": Member.all_objects.filter(referred_by=merge).exclude(pk=keep.pk).count(),
        "filled": filled,
        "tier_up": merge.tier if merge.tier and (not keep.tier or merge.tier.threshold > keep.tier.threshold) else None,
    }


@shop_view("members.merge")
@require_http_methods(["GET", "POST"])
def member_merge(request, keep_id, member_id):
    """Merge the record ``member_id`` into ``keep_id``, after a page that says exactly what moves."""
    keep = shop_member_or_404(request, keep_id)
    merge = shop_member_or_404(request, member_id)
    if keep.pk == merge.pk:
        raise Http404
    status = 200
    if request.method == "POST":
        try:
            merging.member_merge(shop=request.shop, keep=keep, merge=merge, by=request.user)
        except LoyaltyError as error:
            messages.error(request, error.message)
            status = 409
        else:
            messages.success(
                request,
                _("%(merged)s was merged into %(kept)s. You can undo it for a day.")
                % {"merged": merge.code, "kept": keep.code},
            )
            return redirect("rewards:member_detail", shop_slug=request.shop.slug, member_id=keep.public_id)
    sides = _holdings([keep, merge])
    context = {
        "keep": keep,
        "merge": merge,
        "keep_holdings": sides[keep.pk],
        "merge_holdings": sides[merge.pk],
        "moves": _what_moves(keep, merge),
    }
    return render(request, "rewards/member_merge.html", context, status=status)


@shop_view("members.merge")
@require_POST
def merge_undo(request, member_id):
    """Undo the merge that closed the record ``member_id`` (the merged one)."""
    record = (
        MemberMerge.objects.for_shop(request.shop)
        .filter(merged__public_id=member_id, undone_at__isnull=True)
        .select_related("shop", "kept", "merged")
        .first()
    )
    if record is None:
        raise Http404
    try:
        merging.merge_undo(merge_record=record, by=request.user, now=timezone.now())
    except LoyaltyError as error:
        messages.error(request, error.message)
        return redirect("rewards:member_detail", shop_slug=request.shop.slug, member_id=record.kept.public_id)
    messages.success(
        request,
        _("The merge was undone: %(merged)s is a record of its own again.") % {"merged": record.merged.code},
    )
    return redirect("rewards:member_detail", shop_slug=request.shop.slug, member_id=record.merged.public_id)
