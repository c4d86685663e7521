"""Dashboard URLs for billing: the overview with its forms, transactions (and their CSV), top-ups, invoices."""

from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("billing/", views.overview, name="overview"),
    path("billing/top-up/", views.top_up, name="top_up"),
    path("billing/promo-code/", views.promo_redeem, name="promo_redeem"),
    path("billing/alert/", views.alert_update, name="alert_update"),
    path("billing/transactions/", views.transactions, name="transactions"),
    path("billing/transactions.csv", views.transactions_csv, name="transactions_csv"),
    path("billing/top-ups/", views.top_ups, name="top_ups"),
    path("billing/invoices/", views.invoices, name="invoices"),
    path("billing/invoices/<int:invoice_id>/pdf/", views.invoice_download, name="invoice_pdf"),
]
