"""Dashboard URLs for reports: the overview, its CSV, a campaign's charts panel and e-mailed reports."""

from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("reports/", views.overview, name="overview"),
    path("reports/export.csv", views.export_csv, name="export"),
    path("reports/campaigns/<int:campaign_id>/charts/", views.campaign_charts, name="campaign_charts"),
    path("reports/subscriptions/", views.subscribe, name="subscribe"),
    path("reports/subscriptions/stop/", views.unsubscribe, name="unsubscribe"),
]
