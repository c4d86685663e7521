"""Dashboard URLs for delivery: conversion tracking."""

from django.urls import path

from . import views_dashboard

app_name = "conversions"

urlpatterns = [
    path("conversions/", views_dashboard.conversions, name="list"),
    path("conversions/pixels/<int:pixel_id>/deactivate/", views_dashboard.pixel_deactivate, name="deactivate"),
]
