"""Every REST resource under /api/v1/."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from accounts.api import AdvertiserViewSet
from billing.api import BalanceView, BillingProfileView, InvoiceViewSet, RedeemView, TopUpViewSet, TransactionViewSet
from campaigns.api import AdGroupViewSet, AdReviewView, AdViewSet, CampaignViewSet, InterestViewSet, PlacementViewSet
from reporting.api import ReportJobViewSet, ReportView

app_name = "api"

router = SimpleRouter()
router.register("advertisers", AdvertiserViewSet, basename="advertiser")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("ad-groups", AdGroupViewSet, basename="ad-group")
router.register("ads", AdViewSet, basename="ad")
router.register("placements", PlacementViewSet, basename="placement")
router.register("interests", InterestViewSet, basename="interest")
router.register("transactions", TransactionViewSet, basename="transaction")
router.register("top-ups", TopUpViewSet, basename="top-up")
router.register("invoices", InvoiceViewSet, basename="invoice")
router.register("report-jobs", ReportJobViewSet, basename="report-job")

urlpatterns = [
    # The issue names it without a trailing slash; every other path has one. Both work.
    re_path(r"^ads/(?P<pk>[^/.]+)/review/?$", AdReviewView.as_view(), name="ad-review"),
    # An advertiser's money, beside the advertisers resource (which stays campaigns-scoped).
    re_path(r"^advertisers/(?P<pk>[^/.]+)/balance/$", BalanceView.as_view(), name="advertiser-balance"),
    re_path(r"^advertisers/(?P<pk>[^/.]+)/billing-profile/$", BillingProfileView.as_view(), name="advertiser-billing-profile"),
    re_path(r"^credits/redeem/$", RedeemView.as_view(), name="credit-redeem"),
    re_path(r"^reports/$", ReportView.as_view(), name="report"),
    *router.urls,
]
