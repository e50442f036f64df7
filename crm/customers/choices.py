"""Enumerations of the customers app."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class CustomerKind(models.TextChoices):
    PERSON = "person", _("person")
    ORGANISATION = "organisation", _("organisation")


class Gender(models.TextChoices):
    UNKNOWN = "", _("unknown")
    FEMALE = "female", _("female")
    MALE = "male", _("male")
    OTHER = "other", _("other")


class LifecycleStage(models.TextChoices):
    PROSPECT = "prospect", _("prospect")
    LEAD = "lead", _("lead")
    CUSTOMER = "customer", _("customer")
    VIP = "vip", _("VIP")
    CHURNED = "churned", _("churned")


class NeedLevel(models.TextChoices):
    LOW = "low", _("low")
    NORMAL = "normal", _("normal")
    HIGH = "high", _("high")
    URGENT = "urgent", _("urgent")


class NeedStatus(models.TextChoices):
    OPEN = "open", _("open")
    IN_PROGRESS = "in_progress", _("in progress")
    CONVERTED = "converted", _("converted")
    DONE = "done", _("done")
    CLOSED = "closed", _("closed")


class OrderStatus(models.TextChoices):
    PAID = "paid", _("paid")
    PARTIALLY_REFUNDED = "partially_refunded", _("partially refunded")
    REFUNDED = "refunded", _("refunded")
    CANCELLED = "cancelled", _("cancelled")


class OrderChannel(models.TextChoices):
    ONLINE = "online", _("online store")
    STORE = "store", _("retail store")
    SALES = "sales", _("sales team")
    PHONE = "phone", _("phone")
    PARTNER = "partner", _("partner")
    OTHER = "other", _("other")


class ChannelKind(models.TextChoices):
    EMAIL = "email", _("e-mail")
    PHONE = "phone", _("phone")
    ADDRESS = "address", _("address")
    WECHAT = "wechat", _("WeChat")


class RfmSegment(models.TextChoices):
    CHAMPIONS = "champions", _("champions")
    LOYAL = "loyal", _("loyal")
    POTENTIAL_LOYALISTS = "potential_loyalists", _("potential loyalists")
    NEW = "new", _("new customers")
    PROMISING = "promising", _("promising")
    NEED_ATTENTION = "need_attention", _("need attention")
    ABOUT_TO_SLEEP = "about_to_sleep", _("about to sleep")
    AT_RISK = "at_risk", _("at risk")
    CANT_LOSE = "cant_lose", _("can't lose them")
    HIBERNATING = "hibernating", _("hibernating")
    LOST = "lost", _("lost")


class ValueTier(models.TextChoices):
    A = "A", _("A — top value")
    B = "B", _("B — middle value")
    C = "C", _("C — low value")


class JobStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    RUNNING = "running", _("running")
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("cancelled")


class ImportKind(models.TextChoices):
    CUSTOMERS = "customers", _("customers")
    CONTACTS = "contacts", _("contacts")
    ORDERS = "orders", _("orders")


class ImportMode(models.TextChoices):
    ALL_OR_NOTHING = "all_or_nothing", _("all or nothing")
    VALID_ROWS = "valid_rows", _("import valid rows, report the rest")


class DuplicateStatus(models.TextChoices):
    OPEN = "open", _("to review")
    MERGED = "merged", _("merged")
    DISMISSED = "dismissed", _("not a duplicate")


class SegmentKind(models.TextChoices):
    DYNAMIC = "dynamic", _("dynamic (saved filter)")
    STATIC = "static", _("static list")
