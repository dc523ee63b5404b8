"""An owner imports members from a spreadsheet: upload, map the columns, preview, run in the worker
with its progress on the page, then the summary and the rejected rows (rewards/imports.py)."""

from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from members.models import MemberImport
from members.tenancy import shop_view, uuid_or_none

from .. import imports, tasks
from ..forms import ImportMappingForm, ImportUploadForm


def _import_or_404(request, import_id) -> MemberImport:
    found = MemberImport.objects.filter(shop=request.shop, public_id=uuid_or_none(str(import_id))).first()
    if found is None:
        raise Http404
    return found


@shop_view("members.import")
@require_http_methods(["GET", "POST"])
def import_start(request):
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > imports.MAX_BYTES:
            form.add_error("file", _("This file is larger than %(mb)s MB. Split it into several files.")
                           % {"mb": imports.MAX_BYTES // 2**20})  # fmt: skip
        else:
            try:
                imp = imports.upload(
                    shop=request.shop, user=request.user, data=upload.read(), filename=upload.name,
                    encoding=form.cleaned_data["encoding"],
                )  # fmt: skip
            except imports.ImportFileError as error:
                form.add_error("file", str(error))
            else:
                return redirect("rewards:import_detail", shop_slug=request.shop.slug, import_id=imp.public_id)
    context = {"form": form, "imports": MemberImport.objects.filter(shop=request.shop)[:20]}
    return render(request, "rewards/import_start.html", context, status=400 if form.errors else 200)


@shop_view("members.import")
@require_http_methods(["GET", "POST"])
def import_detail(request, import_id):
    imp = _import_or_404(request, import_id)
    counts = {key: imp.counts.get(key, 0) for key in (*imports.OUTCOMES, "vouchers")}
    context = {"imp": imp, "form": None, "preview": None, "problems": [], "counts": counts,
               "encoding": imports.ENCODINGS.get(imp.encoding, imp.encoding)}  # fmt: skip
    waiting = imp.status in (MemberImport.Status.UPLOADED, MemberImport.Status.FAILED)
    context["gone"] = waiting and not (imp.file and default_storage.exists(imp.file))
    if waiting and not context["gone"]:
        fields = imports.fields_for(request.shop)
        initial = {key: str(column) for key, column in imp.mapping.items()}
        form = ImportMappingForm(
            request.POST or None, fields=fields, header=imp.header, samples=imp.sample, initial=initial
        )
        context["form"] = form
        if request.method == "POST" and form.is_valid():
            mapping = form.mapping()
            context["problems"] = imports.mapping_problems(mapping)
            if not context["problems"]:
                if request.POST.get("action") == "run":
                    if imports.queue(imp, mapping):
                        tasks.run_member_import.delay(imp.pk)
                    return redirect("rewards:import_detail", shop_slug=request.shop.slug, import_id=imp.public_id)
                imp.mapping = mapping
                imp.save(update_fields=["mapping"])
                context["preview"] = imports.preview(imp, imports.file_of(imp))
        elif request.method == "POST":
            context["problems"] = [str(error) for error in form.non_field_errors()]
    elif request.method == "POST":
        messages.info(request, _("This import already ran."))
        return redirect("rewards:import_detail", shop_slug=request.shop.slug, import_id=imp.public_id)
    template = "rewards/import_detail.html"
    if request.htmx and request.method == "GET":
        template += "#progress"
    invalid = context["problems"] or (context["form"] is not None and context["form"].errors)
    return render(request, template, context, status=400 if invalid else 200)


@shop_view("members.import")
@require_GET
def import_rejected(request, import_id):
    imp = _import_or_404(request, import_id)
    if not imp.rejected:
        raise Http404
    name = f"{request.shop.slug}-rejected-rows-{imp.created_at:%Y-%m-%d}.csv"
    response = HttpResponse(imp.rejected.encode(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
