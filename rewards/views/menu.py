"""The shop's short menu (optional): items staff may tag a visit or a purchase with, so the counter
knows a member's usual order."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from members.tenancy import shop_view

from ..forms import MenuItemForm
from ..models import MenuItem
from ..services import menu


@shop_view("programs.edit")
@require_http_methods(["GET", "POST"])
def menu_list(request, item_id=None):
    """The menu, and one item to add or change (below the list)."""
    shop = request.shop
    item = MenuItem(shop=shop)
    if item_id is not None:
        item = MenuItem.objects.for_shop(shop).filter(public_id=item_id).first()
        if item is None:
            raise Http404
    form = MenuItemForm(request.POST or None, instance=item)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            menu.menu_item_save(shop=shop, item=item if item_id else None, fields=fields, by=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Menu saved."))
            return redirect("rewards:menu_list", shop_slug=shop.slug)
    items = MenuItem.objects.for_shop(shop)
    context = {"items": items, "form": form, "item": item if item_id else None}
    return render(request, "rewards/menu_list.html", context, status=400 if form.errors else 200)
