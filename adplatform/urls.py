"""URL map: dashboard, API, OAuth2, admin and the health check."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from adplatform import views
from billing.webhooks import stripe_webhook

urlpatterns = [
    path("", include("delivery.urls")),  # the serving and tracking paths first: they take most requests
    path("", include("accounts.urls")),
    path("", include("campaigns.urls")),
    path("", include("billing.urls")),
    path("", include("delivery.urls_dashboard")),
    path("", include("reporting.urls")),
    path("api/v1/", include("adplatform.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("healthz/lite", views.healthz_lite, name="healthz_lite"),
    path("billing/webhooks/stripe/", stripe_webhook, name="stripe_webhook"),
]

handler404 = "adplatform.views.page_not_found"
handler500 = "adplatform.views.server_error"

admin.site.site_header = "Adplatform staff"
admin.site.site_title = "Adplatform staff"
admin.site.index_title = "Accounts, review and money"
