from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.db.models import F, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from .. import onboarding, services, two_factor
from ..duplicates import UNDO_WINDOW, duplicate_count
from ..forms import MemberSearchForm, ShopForm
from ..models import AuditEntry
from ..poster import FORMATS, render_poster
from ..retention import retention_outlook
from ..tenancy import shop_view, staff_may

MEMBER_SORTS = {
    "last_visit": [F("last_visit_at").desc(nulls_last=True), "-joined_at"],
    "joined": ["-joined_at"],
    "name": ["name"],
}


@shop_view("shop.view")
@require_GET
def shop_home(request):
    shop = request.shop
    members, counted_at = member_count(shop)
    context = {
        "member_count": members,
        "counted_at": counted_at,
        "staff_count": shop.staff.count(),
        "join_url": settings.SITE_URL + reverse("members:join", args=[shop.slug]),
        # The first day's checklist, for whoever sets the shop up.
        "checklist": onboarding.checklist(shop) if staff_may(shop, request.user, "shop.edit") else [],
    }
    return render(request, "members/shop_home.html", context)


# Up to this many members are counted on every visit of the shop's home; a bigger shop's count is
# kept for a few minutes (counting a million members takes longer than the page may).
EXACT_UP_TO = 10_000
KEPT_FOR = 10 * 60


def member_count(shop) -> tuple[int, datetime | None]:
    """The shop's members: exact and live for a small shop (the count stops at EXACT_UP_TO + 1);
    a big one's count is kept for KEPT_FOR seconds, with the time it was counted."""
    key = f"shop-member-count:{shop.pk}"
    if (kept := cache.get(key)) is not None:
        return kept
    if (count := shop.members.values("pk")[: EXACT_UP_TO + 1].count()) <= EXACT_UP_TO:
        return count, None
    kept = (shop.members.count(), timezone.now())
    cache.set(key, kept, KEPT_FOR)
    return kept


@shop_view("shop.edit")
@require_http_methods(["GET", "POST"])
def shop_settings(request):
    shop = request.shop
    form = ShopForm(request.POST or None, request.FILES or None, instance=shop, user=request.user)
    if request.method == "POST" and form.is_valid():
        services.shop_update(
            shop=shop, fields={name: form.cleaned_data[name] for name in form.changed_data}, by=request.user
        )
        messages.success(request, _("Settings saved."))
        return redirect("members:shop_settings", shop_slug=shop.slug)
    if request.method == "POST":
        # An invalid form must not leave half-applied values on the shop the
        # layout renders (a bad slug would break every link on the page).
        shop.refresh_from_db()
    context = {
        "form": form,
        "retention": retention_outlook(shop),
        # Whether the owner may require two-factor sign-in: they need it themselves first.
        "has_two_factor": two_factor.has_two_factor(request.user),
    }
    return render(request, "members/shop_settings.html", context)


@shop_view("shop.delete")
@require_http_methods(["GET", "POST"])
def shop_delete(request):
    shop = request.shop
    error = ""
    if request.method == "POST":
        if request.POST.get("confirm", "").strip().lower() == shop.slug:
            name = shop.name
            services.shop_delete(shop=shop)
            messages.success(request, _("The shop %(name)s and all its data were deleted.") % {"name": name})
            return redirect("members:home")
        error = _("Type the shop's web address exactly to confirm.")
    return render(request, "members/shop_delete.html", {"error": error}, status=400 if error else 200)


@shop_view("members.view")
def member_list(request):
    form = MemberSearchForm(request.GET or None)
    sort = request.GET.get("sort") if request.GET.get("sort") in MEMBER_SORTS else "last_visit"
    members = request.shop.members.order_by(*MEMBER_SORTS[sort])
    if form.is_valid() and (q := form.cleaned_data["q"].strip()):
        members = members.filter(
            Q(name__icontains=q) | Q(email__icontains=q) | Q(phone__icontains=q) | Q(code__iexact=q)
        )
    template = "members/member_list.html"
    duplicates = 0
    if request.htmx:
        template += "#results"
    elif staff_may(request.shop, request.user, "members.merge"):
        duplicates = duplicate_count(request.shop)
    context = {"form": form, "members": members[:100], "sort": sort, "duplicates": duplicates}
    return render(request, template, context)


POSTER_LAYOUTS = {"a4", "tent"}


@shop_view("programs.edit")
@require_GET
def poster(request, layout, fmt):
    """The print-ready join poster (A4 or table tent) as PNG or PDF."""
    if layout not in POSTER_LAYOUTS or fmt not in FORMATS:
        raise Http404
    shop = request.shop
    join_url = settings.SITE_URL + reverse("members:join", args=[shop.slug])
    # The page that explains the programme is campaigns' (it reads every app's settings): by its name.
    how_url = settings.SITE_URL + reverse("campaigns:how_it_works", args=[shop.slug])
    data = render_poster(shop=shop, join_url=join_url, layout=layout, fmt=fmt, how_url=how_url)
    onboarding.record(shop, "poster")
    content_type = "application/pdf" if fmt == "pdf" else "image/png"
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{shop.slug}-join-poster-{layout}.{fmt}"'
    return response


@shop_view("audit.view")
@require_GET
def audit_list(request):
    """What owners did that the ledger does not show, latest first."""
    entries = list(request.shop.audit.select_related("actor")[:200])
    # A merge of the last day can be undone from here: its entry and its record share the moment.
    undoable = {}
    if staff_may(request.shop, request.user, "members.merge"):
        recent = request.shop.merges.filter(undone_at__isnull=True, created_at__gt=timezone.now() - UNDO_WINDOW)
        undoable = {(m.created_at, m.merged.code): m.merged.public_id for m in recent.select_related("merged")}
    for entry in entries:
        merged_code = entry.subject.split(" ", 1)[0]
        merged = entry.action == AuditEntry.Action.MEMBERS_MERGED
        entry.undo_member = undoable.get((entry.created_at, merged_code)) if merged else None
    return render(request, "members/audit_list.html", {"entries": entries})
