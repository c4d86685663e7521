"""Every REST resource under /api/v1/."""

from rest_framework.routers import SimpleRouter

from accounts.api import AdvertiserViewSet

app_name = "api"

router = SimpleRouter()
router.register("advertisers", AdvertiserViewSet, basename="advertiser")

urlpatterns = router.urls
