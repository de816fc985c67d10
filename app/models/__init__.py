"""Every ORM model, so ``Base.metadata`` is complete wherever ``app.models`` is imported."""

from app.models.access_log import AccessLogCase, AccessLogEntry
from app.models.base import Base
from app.models.case import Case, Member, ReferenceCounter
from app.models.departure import DepartureRequirement, InformationRequest
from app.models.event import CaseEvent
from app.models.funnel import FunnelDelta, FunnelRollup
from app.models.idempotency import IdempotencyKey
from app.models.member_key import MemberKey
from app.models.seal import Seal
from app.models.sign_in import SignInFailure
from app.models.submission import Submission
from app.models.transit_stay import TransitStay
from app.models.user import User
from app.models.webhook import WebhookEndpoint, WebhookMessage

__all__ = [
    "AccessLogCase",
    "AccessLogEntry",
    "Base",
    "Case",
    "CaseEvent",
    "DepartureRequirement",
    "FunnelDelta",
    "FunnelRollup",
    "IdempotencyKey",
    "InformationRequest",
    "Member",
    "MemberKey",
    "ReferenceCounter",
    "Seal",
    "SignInFailure",
    "Submission",
    "TransitStay",
    "User",
    "WebhookEndpoint",
    "WebhookMessage",
]
