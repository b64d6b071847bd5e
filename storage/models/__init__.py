"""All tables. Import from here so every model is registered on ``Base.metadata``."""

from storage.base import Base
from storage.models.channel_state import WeComApproval, WeComCard, WeComDelivery
from storage.models.customers import STAGES, Customer, KeyPerson, PersonalityTag
from storage.models.media import MediaFile, Photo
from storage.models.orders import Order, RebateResult
from storage.models.org import ROLES, GroupTarget, PendingSender, User, UserRole
from storage.models.quotes import Quote, QuoteAnnotation, QuoteImmutableError
from storage.models.runtime import (
    AlertLog,
    AuditLog,
    ConversationState,
    Deadline,
    InboundEvent,
    JobRun,
    OutboxMessage,
    SchedulerLease,
)
from storage.models.sales import CompetitorAnalysis, Demand, DemandCluster, TrialFeedback
from storage.models.visits import VISIT_STATUSES, ProgressUpdate, Visit

__all__ = [
    "ROLES",
    "STAGES",
    "VISIT_STATUSES",
    "AlertLog",
    "AuditLog",
    "Base",
    "CompetitorAnalysis",
    "ConversationState",
    "Customer",
    "Deadline",
    "Demand",
    "DemandCluster",
    "GroupTarget",
    "InboundEvent",
    "JobRun",
    "KeyPerson",
    "MediaFile",
    "Order",
    "OutboxMessage",
    "PendingSender",
    "PersonalityTag",
    "Photo",
    "ProgressUpdate",
    "Quote",
    "QuoteAnnotation",
    "QuoteImmutableError",
    "RebateResult",
    "SchedulerLease",
    "TrialFeedback",
    "User",
    "UserRole",
    "Visit",
    "WeComApproval",
    "WeComCard",
    "WeComDelivery",
]
