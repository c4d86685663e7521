"""Serving and tracking endpoints: no sessions, authenticated by keys and signatures."""

from django.urls import path

from . import views

urlpatterns = [
    path("serve/v1/decision", views.decision_view, name="decision"),
    path("t/v1/i", views.impression_view, name="track_impression"),
    path("t/v1/c", views.click_view, name="track_click"),
    path("t/v1/conversions", views.conversion_view, name="track_conversion"),
]
