"""Every table of the registry's database, imported in one place for Alembic."""

from registry_api.approvals.models import PeriodApproval
from registry_api.auth.models import ApiKey, DashboardSession, Enrolment, PrincipalRecord
from registry_api.changes.models import ChangeLog, ChangeLogHorizon, OutboxEvent
from registry_api.classifications.models import Classification, ClassificationSnapshot
from registry_api.db import Base
from registry_api.imports.models import ImportChunk, ImportJob
from registry_api.kampung.models import Kampung
from registry_api.quality.models import KkbpkUsers, QualityCursor, QualityFlag
from registry_api.reports.models import ReportAggregate, ReportPeriod, Target
from registry_api.submissions.models import Kegiatan, Submission, SubmissionRevision
from registry_api.webhooks.models import WebhookDelivery, WebhookSubscription
from registry_api.wilayah.models import Wilayah

__all__ = [
    "ApiKey",
    "Base",
    "ChangeLog",
    "ChangeLogHorizon",
    "Classification",
    "ClassificationSnapshot",
    "DashboardSession",
    "Enrolment",
    "ImportChunk",
    "ImportJob",
    "Kampung",
    "Kegiatan",
    "KkbpkUsers",
    "OutboxEvent",
    "PeriodApproval",
    "PrincipalRecord",
    "QualityCursor",
    "QualityFlag",
    "ReportAggregate",
    "ReportPeriod",
    "Submission",
    "SubmissionRevision",
    "Target",
    "WebhookDelivery",
    "WebhookSubscription",
    "Wilayah",
]
