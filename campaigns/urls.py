from django.urls import path

from . import views
from .events import views as events
from .feedback import views as feedback
from .insights import views as insights

app_name = "campaigns"

public_patterns = [
    # Beside the join page (members:join at /j/<slug>/): what the shop's programme gives, for anyone.
    path("j/<slug:shop_slug>/how/", views.how_it_works_page, name="how_it_works"),
    path("c/<str:token>/feedback/", feedback.feedback_give, name="feedback_give"),
    path("c/<str:token>/events/<uuid:event_id>/rsvp/", events.event_rsvp, name="event_rsvp"),
]

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
    path("feedback/", feedback.feedback_page, name="feedback"),
    path("feedback/<uuid:feedback_id>/reply/", feedback.feedback_reply, name="feedback_reply"),
    path("feedback/settings/", feedback.feedback_settings, name="feedback_settings"),
    path("events/", events.event_list, name="event_list"),
    path("events/new/", events.event_create, name="event_create"),
    path("events/<uuid:event_id>/", events.event_detail, name="event_detail"),
    path("events/<uuid:event_id>/edit/", events.event_edit, name="event_edit"),
    path("events/<uuid:event_id>/invite/", events.event_invite, name="event_invite"),
    path("events/<uuid:event_id>/cancel/", events.event_cancel, name="event_cancel"),
    path("events/<uuid:event_id>/repeat/", events.event_repeat, name="event_repeat"),
    path("events/<uuid:event_id>/check-in/", events.event_check_in, name="event_check_in"),
]
