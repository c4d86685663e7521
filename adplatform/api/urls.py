"""Every REST resource under /api/v1/."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from accounts.api import AdvertiserViewSet
from campaigns.api import AdGroupViewSet, AdReviewView, AdViewSet, CampaignViewSet, InterestViewSet, PlacementViewSet

app_name = "api"

router = SimpleRouter()
router.register("advertisers", AdvertiserViewSet, basename="advertiser")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("ad-groups", AdGroupViewSet, basename="ad-group")
router.register("ads", AdViewSet, basename="ad")
router.register("placements", PlacementViewSet, basename="placement")
router.register("interests", InterestViewSet, basename="interest")

urlpatterns = [
    # The issue names it without a trailing slash; every other path has one. Both work.
    re_path(r"^ads/(?P<pk>[^/.]+)/review/?$", AdReviewView.as_view(), name="ad-review"),
    *router.urls,
]
