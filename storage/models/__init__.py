"""All tables. Import from here so every model is registered on ``Base.metadata``."""

from storage.base import Base
from storage.models.board import BoardLink, MetricSnapshot
from storage.models.channel_state import WeComApproval, WeComCard, WeComDelivery
from storage.models.customers import STAGES, Customer, CustomerAlias, KeyPerson, PersonalityTag
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
from storage.models.status import (
    CustomerStatus,
    DeadlineStatus,
    DemandStatus,
    FormStatus,
    InboxStatus,
    JobRunStatus,
    KeyPersonStatus,
    OutboxStatus,
    PendingStatus,
    ReviewStatus,
    UserStatus,
    VisitStatus,
)
from storage.models.visits import VISIT_STATUSES, ProgressUpdate, Visit

__all__ = [
    "ROLES",
    "STAGES",
    "VISIT_STATUSES",
    "AlertLog",
    "AuditLog",
    "Base",
    "BoardLink",
    "CompetitorAnalysis",
    "ConversationState",
    "Customer",
    "CustomerAlias",
    "CustomerStatus",
    "Deadline",
    "DeadlineStatus",
    "Demand",
    "DemandCluster",
    "DemandStatus",
    "FormStatus",
    "GroupTarget",
    "InboundEvent",
    "InboxStatus",
    "JobRun",
    "JobRunStatus",
    "KeyPerson",
    "KeyPersonStatus",
    "MediaFile",
    "MetricSnapshot",
    "Order",
    "OutboxMessage",
    "OutboxStatus",
    "PendingSender",
    "PendingStatus",
    "PersonalityTag",
    "Photo",
    "ProgressUpdate",
    "Quote",
    "QuoteAnnotation",
    "QuoteImmutableError",
    "RebateResult",
    "ReviewStatus",
    "SchedulerLease",
    "TrialFeedback",
    "User",
    "UserRole",
    "UserStatus",
    "Visit",
    "VisitStatus",
    "WeComApproval",
    "WeComCard",
    "WeComDelivery",
]
