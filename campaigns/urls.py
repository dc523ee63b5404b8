from django.urls import path

from . import views
from .insights import views as insights

app_name = "campaigns"

public_patterns = []

shop_patterns = [
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/new/<slug:kind>/", views.campaign_create, name="campaign_create"),
    path("campaigns/<uuid:campaign_id>/", views.campaign_edit, name="campaign_edit"),
    path("campaigns/<uuid:campaign_id>/send/", views.campaign_send, name="campaign_send"),
    path("messages/", views.message_list, name="message_list"),
    path("messages/<uuid:message_id>/retry/", views.message_retry, name="message_retry"),
    path("insights/", insights.overview, name="insights"),
    path("insights/customers/", insights.customers, name="insights_customers"),
    path("insights/customers/<slug:segment>/", insights.segment, name="insights_segment"),
    path("insights/programme/", insights.programme, name="insights_programme"),
    path("insights/staff/", insights.staff, name="insights_staff"),
    path("insights/rows/", insights.rows, name="insights_rows"),
]
