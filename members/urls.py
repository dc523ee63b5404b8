from django.urls import path

from .views import account, home, invitations, line, public, shop, staff, webhooks

app_name = "members"

public_patterns = [
    path("", home.home, name="home"),
    path("shops/new/", home.shop_create, name="shop_create"),
    path("invitations/<str:token>/", invitations.invitation, name="invitation"),
    path("me/", account.account, name="account"),
    path("me/consent/<uuid:member_id>/", account.account_consent, name="account_consent"),
    path("me/leave/<uuid:member_id>/", account.account_leave, name="account_leave"),
    path("me/delete/", account.account_delete, name="account_delete"),
    path("me/data/", account.data_request, name="data_request"),
    path("me/data/<uuid:download_id>/", account.data_download, name="data_download"),
    path("j/<slug:shop_slug>/", public.join, name="join"),
    path("j/<slug:shop_slug>/line/", public.join_line, name="join_line"),
    path("j/<slug:shop_slug>/lost/", public.lost_card, name="lost_card"),
    path("u/<str:token>/", public.unsubscribe, name="unsubscribe"),
]

shop_patterns = [
    path("", shop.shop_home, name="shop_home"),
    path("settings/", shop.shop_settings, name="shop_settings"),
    path("delete/", shop.shop_delete, name="shop_delete"),
    path("line/", line.line_settings, name="line_settings"),
    path("webhooks/", webhooks.webhook_list, name="webhook_list"),
    path("webhooks/new/", webhooks.webhook_add, name="webhook_add"),
    path("webhooks/<uuid:endpoint_id>/", webhooks.webhook_detail, name="webhook_detail"),
    path("webhooks/<uuid:endpoint_id>/delete/", webhooks.webhook_delete, name="webhook_delete"),
    path("webhooks/<uuid:endpoint_id>/secret/", webhooks.webhook_secret_roll, name="webhook_secret_roll"),
    path("webhooks/<uuid:endpoint_id>/ping/", webhooks.webhook_ping, name="webhook_ping"),
    path(
        "webhooks/<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/replay/",
        webhooks.webhook_replay,
        name="webhook_replay",
    ),
    path("members/", shop.member_list, name="member_list"),
    path("audit/", shop.audit_list, name="audit_list"),
    path("staff/", staff.staff_list, name="staff_list"),
    path("staff/invite/", staff.staff_invite, name="staff_invite"),
    path("staff/<uuid:staff_id>/role/", staff.staff_role, name="staff_role"),
    path("staff/<uuid:staff_id>/remove/", staff.staff_remove, name="staff_remove"),
    path("invitations/<uuid:invitation_id>/revoke/", staff.invitation_revoke, name="invitation_revoke"),
    path("invitations/<uuid:invitation_id>/confirm/", staff.invitation_confirm, name="invitation_confirm"),
    path("poster/<slug:layout>.<slug:fmt>", shop.poster, name="poster"),
]
