"""Celery tasks for reporting (queue `reporting`): thin wrappers over the services."""

from celery import shared_task

from . import services


@shared_task
def rollup() -> int:
    """Count the events stored since the last rollup into the hourly and daily rows."""
    return services.rollup()


@shared_task
def close_days() -> int:
    """Close the advertisers' days that have ended in their time zones (reach sketches kept)."""
    return services.close_days()


@shared_task
def run_report_job(job_id: str) -> None:
    """Run one queued report job into its CSV."""
    services.report_job_run(job_id)


@shared_task
def send_scheduled_reports() -> int:
    """E-mail the daily and weekly reports whose period has closed in the advertiser's time zone (hourly)."""
    from . import emails

    return emails.send_scheduled_reports()
