"""The owner's exports of members, the ledger and the memberships sold: ask for one, watch it being
prepared, download it while its days last (rewards/export.py writes them)."""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from members.errors import LoyaltyError
from members.models import ShopExport
from members.tenancy import shop_view

from .. import export
from ..forms import ExportForm

# The latest exports the page lists; older ones are removed after their days anyway.
LISTED = 20


@shop_view("members.export")
@require_http_methods(["GET", "POST"])
def export_list(request):
    shop = request.shop
    # A link may choose what to export ("Download memberships" on the plans page); anything else is ignored.
    choices = {"kind": ShopExport.Kind.values, "format": ShopExport.Format.values}
    initial = {name: request.GET[name] for name, values in choices.items() if request.GET.get(name) in values}
    form = ExportForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            export.export_request(shop=shop, user=request.user, **form.cleaned_data)
        except LoyaltyError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("The export is being prepared. It is listed below as soon as it is ready."))
            return redirect("rewards:export_list", shop_slug=shop.slug)
    exports = list(ShopExport.objects.for_shop(shop).select_related("requested_by")[:LISTED])
    context = {
        "form": form,
        "exports": exports,
        # While one is being prepared, the list asks again every few seconds.
        "preparing": any(item.ready_at is None for item in exports),
        "days": settings.DATA_DOWNLOAD_DAYS,
    }
    template = "rewards/export_list.html"
    if request.htmx and request.method == "GET":
        template += "#exports"
    return render(request, template, context, status=400 if form.errors else 200)


@shop_view("members.export")
@require_GET
def export_download(request, export_id):
    """A ready file of this shop while its days last; anything else is a 404."""
    cutoff = timezone.now() - timedelta(days=settings.DATA_DOWNLOAD_DAYS)
    found = (
        ShopExport.objects.for_shop(request.shop)
        .filter(public_id=export_id, ready_at__gte=cutoff)
        .exclude(file="")
        .first()
    )
    if found is None:
        raise Http404
    try:
        stream = default_storage.open(found.file, "rb")
    except FileNotFoundError:
        raise Http404 from None
    found.shop = request.shop
    response = FileResponse(
        stream,
        as_attachment=True,
        filename=export.download_name(found),
        content_type=export.CONTENT_TYPES[found.format],
    )
    # It names the shop's members: no cache on the way keeps a copy.
    response["Cache-Control"] = "private, no-store"
    return response
