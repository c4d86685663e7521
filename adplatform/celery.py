"""The Celery app: Redis broker, schedules from django-celery-beat, one queue per workload."""

import os
from enum import StrEnum

from celery import Celery
from kombu import Queue as KombuQueue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adplatform.settings.local")


class Queue(StrEnum):
    """Every queue the platform uses; workers for each run in their own pool."""

    DEFAULT = "default"
    DELIVERY = "delivery"
    REPORTING = "reporting"


app = Celery("adplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [KombuQueue(queue.value, routing_key=queue.value) for queue in Queue]
app.conf.task_default_queue = Queue.DEFAULT.value
# Each app's tasks go to its queue; a task module never names its queue itself.
app.conf.task_routes = {
    "delivery.tasks.*": {"queue": Queue.DELIVERY.value},
    "reporting.tasks.*": {"queue": Queue.REPORTING.value},
}
app.autodiscover_tasks()
