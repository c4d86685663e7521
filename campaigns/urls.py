"""Dashboard URLs for campaigns, ad groups and ads."""

from django.urls import path

from . import views

app_name = "campaigns"

urlpatterns = [
    path("campaigns/", views.campaign_list, name="list"),
    path("campaigns/new/", views.campaign_create, name="create"),
    path("campaigns/bulk-status/", views.campaign_bulk_status, name="bulk_status"),
    path("campaigns/<int:campaign_id>/", views.campaign_detail, name="detail"),
    path("campaigns/<int:campaign_id>/edit/", views.campaign_edit, name="edit"),
    path("campaigns/<int:campaign_id>/status/", views.campaign_status_change, name="status"),
    path("campaigns/<int:campaign_id>/archive/", views.campaign_archive, name="archive"),
    path("campaigns/<int:campaign_id>/duplicate/", views.campaign_duplicate, name="duplicate"),
    path("campaigns/<int:campaign_id>/ad-groups/new/", views.ad_group_create, name="ad_group_create"),
    path("ad-groups/<int:ad_group_id>/edit/", views.ad_group_edit, name="ad_group_edit"),
    path("ad-groups/<int:ad_group_id>/status/", views.ad_group_status_change, name="ad_group_status"),
    path("ad-groups/<int:ad_group_id>/ads/new/", views.ad_create, name="ad_create"),
    path("ads/<int:ad_id>/edit/", views.ad_edit, name="ad_edit"),
    path("ads/<int:ad_id>/status/", views.ad_status_change, name="ad_status"),
]
