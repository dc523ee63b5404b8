from django.urls import path

from . import views

app_name = "rewards"

# Included under /s/<shop_slug>/ by members.urls.
urlpatterns = [
    path("cards/", views.program_list, name="program_list"),
    path("cards/new/", views.program_edit, name="program_create"),
    path("cards/<uuid:program_id>/", views.program_edit, name="program_edit"),
    path("points/", views.points_settings, name="points_settings"),
    path("tiers/", views.tier_settings, name="tier_settings"),
    path("tiers/<uuid:tier_id>/", views.tier_settings, name="tier_edit"),
    path("rewards/", views.catalogue_list, name="catalogue_list"),
    path("rewards/new/", views.catalogue_edit, name="catalogue_create"),
    path("rewards/<uuid:reward_id>/", views.catalogue_edit, name="catalogue_edit"),
]
