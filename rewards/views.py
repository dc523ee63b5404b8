from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from members.tenancy import shop_view

from . import services
from .forms import StampProgramForm
from .models import StampProgram


@shop_view("programs.edit")
@require_GET
def program_list(request):
    programs = StampProgram.objects.for_shop(request.shop)
    return render(request, "rewards/program_list.html", {"programs": programs})


@shop_view("programs.edit")
@require_http_methods(["GET", "POST"])
def program_edit(request, program_id=None):
    program = None
    if program_id is not None:
        program = StampProgram.objects.for_shop(request.shop).filter(public_id=program_id).first()
        if program is None:
            raise Http404
    form = StampProgramForm(request.POST or None, instance=program or StampProgram(shop=request.shop))
    if request.method == "POST" and form.is_valid():
        services.program_save(program=form.instance)
        messages.success(request, _("Card saved."))
        return redirect("rewards:program_list", shop_slug=request.shop.slug)
    status = 400 if form.errors else 200
    return render(request, "rewards/program_form.html", {"form": form, "program": program}, status=status)
