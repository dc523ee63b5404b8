from django.urls import path

from .views import card, counter, exports, imports, members, merge, plans, setup

app_name = "rewards"

public_patterns = [
    path("me/cards/", card.my_cards, name="my_cards"),
    path("c/sw.js", card.card_service_worker, name="card_service_worker"),
    path("c/<str:token>/", card.card, name="card"),
    path("c/<str:token>/manifest.webmanifest", card.card_manifest, name="card_manifest"),
]

shop_patterns = [
    path("counter/", counter.counter, name="counter"),
    path("counter/enrol/", counter.counter_enrol, name="counter_enrol"),
    path("counter/m/<uuid:member_id>/", counter.counter_member, name="counter_member"),
    path("counter/m/<uuid:member_id>/card-qr/", counter.counter_card_qr, name="counter_card_qr"),
    path("counter/m/<uuid:member_id>/history/", counter.counter_history, name="counter_history"),
    path("counter/m/<uuid:member_id>/stamp/", counter.counter_stamp, name="counter_stamp"),
    path("counter/m/<uuid:member_id>/redeem/", counter.counter_redeem, name="counter_redeem"),
    path("counter/m/<uuid:member_id>/undo/", counter.counter_undo, name="counter_undo"),
    path("counter/m/<uuid:member_id>/purchase/", counter.counter_purchase, name="counter_purchase"),
    path("counter/m/<uuid:member_id>/reward/", counter.counter_reward, name="counter_reward"),
    path("counter/m/<uuid:member_id>/plan/sell/", counter.counter_plan_sell, name="counter_plan_sell"),
    path(
        "counter/m/<uuid:member_id>/plan/<uuid:membership_id>/use/", counter.counter_plan_use, name="counter_plan_use"
    ),
    path("members/<uuid:member_id>/", members.member_detail, name="member_detail"),
    path("members/<uuid:member_id>/adjust/", members.member_adjust, name="member_adjust"),
    path("members/<uuid:member_id>/erase/", members.member_erase_confirm, name="member_erase"),
    path("members/duplicates/", merge.member_duplicates, name="member_duplicates"),
    path("members/merge/<uuid:keep_id>/<uuid:member_id>/", merge.member_merge, name="member_merge"),
    path("members/<uuid:member_id>/unmerge/", merge.merge_undo, name="merge_undo"),
    path("members/import/", imports.import_start, name="import_start"),
    path("members/import/<uuid:import_id>/", imports.import_detail, name="import_detail"),
    path("members/import/<uuid:import_id>/rejected.csv", imports.import_rejected, name="import_rejected"),
    path("members/<uuid:member_id>/trial/", members.member_tier_trial, name="member_tier_trial"),
    path("members/<uuid:member_id>/refund/<uuid:purchase_id>/", members.purchase_refund, name="purchase_refund"),
    path(
        "members/<uuid:member_id>/memberships/<uuid:membership_id>/refund/",
        members.membership_refund,
        name="membership_refund",
    ),
    path("exports/", exports.export_list, name="export_list"),
    path("exports/<uuid:export_id>/", exports.export_download, name="export_download"),
    path("cards/", setup.program_list, name="program_list"),
    path("cards/new/", setup.program_edit, name="program_create"),
    path("cards/<uuid:program_id>/", setup.program_edit, name="program_edit"),
    path("points/", setup.points_settings, name="points_settings"),
    path("tiers/", setup.tier_settings, name="tier_settings"),
    path("tiers/<uuid:tier_id>/", setup.tier_settings, name="tier_edit"),
    path("rewards/", setup.catalogue_list, name="catalogue_list"),
    path("rewards/new/", setup.catalogue_edit, name="catalogue_create"),
    path("rewards/<uuid:reward_id>/", setup.catalogue_edit, name="catalogue_edit"),
    path("plans/", plans.plan_list, name="plan_list"),
    path("plans/new/", plans.plan_edit, name="plan_create"),
    path("plans/<uuid:plan_id>/", plans.plan_edit, name="plan_edit"),
    path("plans/<uuid:plan_id>/status/", plans.plan_status, name="plan_status"),
    path("plans/<uuid:plan_id>/price/", plans.plan_price, name="plan_price"),
    path("plans/<uuid:plan_id>/price/<uuid:change_id>/", plans.plan_price_change, name="plan_price_change"),
    path("plans/<uuid:plan_id>/price/<uuid:change_id>/cancel/", plans.plan_price_cancel, name="plan_price_cancel"),
]
