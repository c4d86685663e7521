"""The fixed vocabularies of campaigns: objectives, formats, targeting values, statuses."""

from django.db import models


class Objective(models.TextChoices):
    REACH = "reach", "Reach"
    TRAFFIC = "traffic", "Traffic"
    VIDEO_VIEWS = "video_views", "Video views"
    ENGAGEMENT = "engagement", "Engagement"
    LEAD_GENERATION = "lead_generation", "Lead generation"
    APP_PROMOTION = "app_promotion", "App promotion"
    WEB_CONVERSIONS = "web_conversions", "Website conversions"


class BudgetMode(models.TextChoices):
    DAILY = "daily", "Daily"
    LIFETIME = "lifetime", "Lifetime"
    UNLIMITED = "unlimited", "No limit"


class Status(models.TextChoices):
    """What the advertiser wants: run it, hold it, or put it away for good."""

    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    ARCHIVED = "archived", "Archived"


class Pacing(models.TextChoices):
    STANDARD = "standard", "Standard (spread over the day)"
    ACCELERATED = "accelerated", "Accelerated (as fast as possible)"


class BidStrategy(models.TextChoices):
    CPM = "cpm", "CPM (per 1,000 impressions)"
    CPC = "cpc", "CPC (per click)"
    OCPM = "ocpm", "oCPM (target cost per conversion)"


class AdFormat(models.TextChoices):
    IMAGE = "image", "Image"
    VIDEO = "video", "Video"
    TEXT = "text", "Text"


class CallToAction(models.TextChoices):
    LEARN_MORE = "learn_more", "Learn more"
    SHOP_NOW = "shop_now", "Shop now"
    SIGN_UP = "sign_up", "Sign up"
    DOWNLOAD = "download", "Download"
    CONTACT_US = "contact_us", "Contact us"
    WATCH_MORE = "watch_more", "Watch more"


class ReviewStatus(models.TextChoices):
    PENDING = "pending", "In review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class AgeRange(models.TextChoices):
    AGE_13_17 = "13-17", "13-17"
    AGE_18_24 = "18-24", "18-24"
    AGE_25_34 = "25-34", "25-34"
    AGE_35_44 = "35-44", "35-44"
    AGE_45_54 = "45-54", "45-54"
    AGE_55_PLUS = "55+", "55+"


class Gender(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"


class DeviceType(models.TextChoices):
    MOBILE = "mobile", "Mobile"
    TABLET = "tablet", "Tablet"
    DESKTOP = "desktop", "Desktop"
    CONNECTED_TV = "connected_tv", "Connected TV"


class OperatingSystem(models.TextChoices):
    ANDROID = "android", "Android"
    IOS = "ios", "iOS"
    WINDOWS = "windows", "Windows"
    MACOS = "macos", "macOS"
    LINUX = "linux", "Linux"


# Bid strategies that make sense for each objective: paying per click needs a click to want,
# optimising for conversions needs a conversion to count.
BID_STRATEGIES_FOR_OBJECTIVE = {
    Objective.REACH: {BidStrategy.CPM},
    Objective.VIDEO_VIEWS: {BidStrategy.CPM},
    Objective.TRAFFIC: {BidStrategy.CPM, BidStrategy.CPC},
    Objective.ENGAGEMENT: {BidStrategy.CPM, BidStrategy.CPC},
    Objective.LEAD_GENERATION: {BidStrategy.CPM, BidStrategy.CPC, BidStrategy.OCPM},
    Objective.APP_PROMOTION: {BidStrategy.CPM, BidStrategy.CPC, BidStrategy.OCPM},
    Objective.WEB_CONVERSIONS: {BidStrategy.CPM, BidStrategy.CPC, BidStrategy.OCPM},
}

SLOTS_PER_DAY = 48  # half hours
SLOTS_PER_WEEK = 7 * SLOTS_PER_DAY  # 336; slot = weekday (Monday 0) * 48 + half hour of the day
VIDEO_MAX_SECONDS = 60
FREQUENCY_CAP_MAX_DAYS = 30
BULK_LIMIT = 100
