from django.urls import include, path

from .views import counter, home, invitations, public, shop, staff

app_name = "members"

# Everything a shop owns lives under /s/<shop_slug>/ and is resolved by
# members.tenancy.shop_view; tests/members/test_tenancy.py walks these.
shop_patterns = [
    path("", shop.shop_home, name="shop_home"),
    path("settings/", shop.shop_settings, name="shop_settings"),
    path("delete/", shop.shop_delete, name="shop_delete"),
    path("members/", shop.member_list, name="member_list"),
    path("counter/", counter.counter, name="counter"),
    path("counter/m/<uuid:member_id>/", counter.counter_member, name="counter_member"),
    path("counter/m/<uuid:member_id>/stamp/", counter.counter_stamp, name="counter_stamp"),
    path("counter/m/<uuid:member_id>/redeem/", counter.counter_redeem, name="counter_redeem"),
    path("counter/m/<uuid:member_id>/undo/", counter.counter_undo, name="counter_undo"),
    path("counter/m/<uuid:member_id>/purchase/", counter.counter_purchase, name="counter_purchase"),
    path("counter/m/<uuid:member_id>/reward/", counter.counter_reward, name="counter_reward"),
    path("staff/", staff.staff_list, name="staff_list"),
    path("staff/invite/", staff.staff_invite, name="staff_invite"),
    path("staff/<uuid:staff_id>/role/", staff.staff_role, name="staff_role"),
    path("staff/<uuid:staff_id>/remove/", staff.staff_remove, name="staff_remove"),
    path("invitations/<uuid:invitation_id>/revoke/", staff.invitation_revoke, name="invitation_revoke"),
    path("invitations/<uuid:invitation_id>/confirm/", staff.invitation_confirm, name="invitation_confirm"),
    path("members/<uuid:member_id>/", shop.member_detail, name="member_detail"),
    path("members/<uuid:member_id>/adjust/", shop.member_adjust, name="member_adjust"),
    path("members/<uuid:member_id>/trial/", shop.member_tier_trial, name="member_tier_trial"),
    path("members/<uuid:member_id>/refund/<uuid:purchase_id>/", shop.purchase_refund, name="purchase_refund"),
    path("poster/<slug:layout>.<slug:fmt>", shop.poster, name="poster"),
]

urlpatterns = [
    path("", home.home, name="home"),
    path("shops/new/", home.shop_create, name="shop_create"),
    path("invitations/<str:token>/", invitations.invitation, name="invitation"),
    path("j/<slug:shop_slug>/", public.join, name="join"),
    path("c/<str:token>/", public.card, name="card"),
    path("s/<slug:shop_slug>/", include(shop_patterns)),
]
