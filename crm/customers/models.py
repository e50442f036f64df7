"""Customers (people and organisations), contacts, needs, products, orders, segments and scores."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.core.crypto import EncryptedTextField
from crm.customers.choices import (
    ChannelKind,
    CustomerKind,
    DuplicateStatus,
    Gender,
    ImportKind,
    ImportMode,
    JobStatus,
    LifecycleStage,
    NeedLevel,
    NeedStatus,
    OrderChannel,
    OrderStatus,
    RfmSegment,
    SegmentKind,
    ValueTier,
)


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)
    color = models.CharField(_("colour"), max_length=7, blank=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    """A person (B2C) or an organisation (B2B). Contact channels are encrypted, found by blind index."""

    kind = models.CharField(_("kind"), max_length=12, choices=CustomerKind.choices, default=CustomerKind.PERSON)
    name = models.CharField(_("name"), max_length=200)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices, blank=True, default="")
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    company_name = models.CharField(_("company"), max_length=200, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    source = models.CharField(_("source"), max_length=100, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True, help_text=_("Province / state"))
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True, default="CN")
    lifecycle_stage = models.CharField(
        _("lifecycle stage"), max_length=16, choices=LifecycleStage.choices, default=LifecycleStage.PROSPECT
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_customers",
        verbose_name=_("owner"),
        db_index=False,  # customer_owner_updated_idx starts with owner_id
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="customers", verbose_name=_("tags"))

    # Personal data: encrypted at rest; *_bidx are keyed blind indexes for exact lookup.
    email = EncryptedTextField(_("e-mail"), blank=True, default="")
    email_bidx = models.CharField(max_length=40, blank=True, default="")
    phone = EncryptedTextField(_("phone"), blank=True, default="")
    phone_bidx = models.CharField(max_length=40, blank=True, default="")
    address = EncryptedTextField(_("address"), blank=True, default="")
    id_number = EncryptedTextField(_("ID number"), blank=True, default="")
    id_number_bidx = models.CharField(max_length=40, blank=True, default="")

    email_opt_in = models.BooleanField(_("e-mail consent"), default=False)
    sms_opt_in = models.BooleanField(_("SMS consent"), default=False)
    phone_opt_in = models.BooleanField(_("phone-call consent"), default=False)
    consent_updated_at = models.DateTimeField(_("consent updated at"), null=True, blank=True)

    custom = models.JSONField(_("custom fields"), default=dict, blank=True)
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True)  # noqa: DJ001 — unique: NULL marks "none"
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_from", db_index=False
    )
    is_active = models.BooleanField(default=True, help_text=_("False once merged into another customer"))
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [
            # List filters walk these in the list's default order (newest change first, id as tie-break).
            models.Index(fields=["owner", "-updated_at", "-id"], name="customer_owner_updated_idx"),
            models.Index(fields=["lifecycle_stage", "-updated_at", "-id"], name="customer_stage_updated_idx"),
            # Stage + place is the common combination; place alone walks customer_updated_idx densely enough.
            models.Index(fields=["lifecycle_stage", "city", "-updated_at", "-id"], name="customer_stage_city_idx"),
            models.Index(fields=["lifecycle_stage", "region", "-updated_at", "-id"], name="customer_stage_region_idx"),
            models.Index(fields=["-updated_at", "-id"], name="customer_updated_idx"),
            models.Index(fields=["name"], name="customer_name_idx"),
            models.Index(fields=["company_name"], name="customer_company_idx"),
            # Blind indexes and external ids are only ever compared for equality: plain b-trees, declared
            # here rather than with db_index/unique, which on PostgreSQL add a second `varchar_pattern_ops`
            # index per column that no query uses and every insert pays for (docs/import-export.md).
            models.Index(fields=["email_bidx"], name="customer_email_bidx_idx"),
            models.Index(fields=["phone_bidx"], name="customer_phone_bidx_idx"),
            # Most customers have no ID number / were never merged: index only the rows that do.
            models.Index(
                fields=["id_number_bidx"], condition=~Q(id_number_bidx=""), name="customer_id_number_bidx_idx"
            ),
            models.Index(
                fields=["merged_into"], condition=Q(merged_into__isnull=False), name="customer_merged_into_idx"
            ),
            # Merged customers are few: a full score run leaves them out by this index, not a table scan.
            models.Index(fields=["id"], condition=Q(is_active=False), name="customer_inactive_idx"),
        ]
        constraints = [models.UniqueConstraint(fields=["external_id"], name="customer_external_id_uniq")]

    def __str__(self) -> str:
        return self.name


class CustomerSearchTerm(models.Model):
    """One distinct 2-character piece of a customer's name + company, keyed newest first (PostgreSQL search).

    Written only by database triggers (migration 0007_ordered_search_terms), never by Django: every
    write path — services, imports, merges, COPY — keeps it in sync. Unmanaged: SQLite has no such
    table (it searches with FTS5). Searches join it on (customer, updated_at) so the planner walks its
    primary key in the list's `-updated_at, -id` order and stops after one page.
    """

    pk = models.CompositePrimaryKey("bigram", "updated_at", "customer")
    bigram = models.CharField(max_length=2)
    updated_at = models.DateTimeField()
    customer = models.ForeignKey(
        Customer, on_delete=models.DO_NOTHING, db_constraint=False, related_name="search_terms"
    )

    class Meta:
        managed = False
        db_table = "customers_customersearchterm"

    def __str__(self) -> str:
        return f"{self.bigram} → {self.customer_id}"


class CustomerChannel(models.Model):
    """Further phones, e-mails, addresses and social accounts of a customer beyond the primary ones."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="channels")
    kind = models.CharField(max_length=10, choices=ChannelKind.choices)
    label = models.CharField(_("label"), max_length=50, blank=True)
    value = EncryptedTextField(_("value"))
    value_bidx = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["value_bidx"], name="channel_value_bidx_idx")]

    def __str__(self) -> str:
        return f"{self.kind} of {self.customer_id}"


class Contact(models.Model):
    """A person at an organisation customer."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=200)
    title = models.CharField(_("job title"), max_length=100, blank=True)
    email = EncryptedTextField(_("e-mail"), blank=True, default="")
    email_bidx = models.CharField(max_length=40, blank=True, default="")
    phone = EncryptedTextField(_("phone"), blank=True, default="")
    phone_bidx = models.CharField(max_length=40, blank=True, default="")
    is_primary = models.BooleanField(_("primary contact"), default=False)
    custom = models.JSONField(default=dict, blank=True)
    external_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001 — unique: NULL marks "none"
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [
            models.Index(fields=["email_bidx"], name="contact_email_bidx_idx"),
            models.Index(fields=["phone_bidx"], name="contact_phone_bidx_idx"),
        ]
        constraints = [models.UniqueConstraint(fields=["external_id"], name="contact_external_id_uniq")]

    def __str__(self) -> str:
        return self.name


class NeedType(models.Model):
    """Configurable list of need types (product inquiry, after-sales, custom development…)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Need(models.Model):
    """What a customer asked for or requires: can become a deal (sales) or a ticket (service)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="needs")
    need_type = models.ForeignKey(NeedType, on_delete=models.PROTECT, related_name="needs", verbose_name=_("type"))
    level = models.CharField(_("level"), max_length=8, choices=NeedLevel.choices, default=NeedLevel.NORMAL)
    status = models.CharField(_("status"), max_length=12, choices=NeedStatus.choices, default=NeedStatus.OPEN)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    raised_at = models.DateTimeField(_("raised at"), default=timezone.now)
    needed_by = models.DateField(_("needed by"), null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("owner"),
    )
    converted_object_type = models.CharField(max_length=100, blank=True)
    converted_object_id = models.CharField(max_length=64, blank=True)
    custom = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("need")
        verbose_name_plural = _("needs")
        indexes = [
            models.Index(fields=["customer", "status"], name="need_customer_status_idx"),
            models.Index(fields=["status", "level", "needed_by"], name="need_status_level_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=100, blank=True, db_index=True)
    list_price = models.DecimalField(
        _("list price"), max_digits=14, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    is_active = models.BooleanField(_("active"), default=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["sku"]
        constraints = [models.CheckConstraint(condition=Q(list_price__gte=0), name="product_price_not_negative")]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class Order(models.Model):
    """A transaction: what a customer bought, when, through which channel, for how much."""

    # order_customer_time_idx starts with customer_id: a second index on it alone costs every insert.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders", db_index=False)
    number = models.CharField(_("order number"), max_length=64)
    ordered_at = models.DateTimeField(_("ordered at"))
    channel = models.CharField(_("channel"), max_length=10, choices=OrderChannel.choices, default=OrderChannel.ONLINE)
    status = models.CharField(_("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.PAID)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    total_amount = models.DecimalField(_("total"), max_digits=14, decimal_places=2)
    refunded_amount = models.DecimalField(_("refunded"), max_digits=14, decimal_places=2, default=Decimal("0"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    external_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001 — unique: NULL marks "none"
    # The database default ('{}') keeps raw inserts that name no custom column working (demo data,
    # benches) and lets migration 0008 add the column to a 10M-row table without rewriting it.
    custom = models.JSONField(_("custom fields"), default=dict, db_default={}, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [
            models.Index(fields=["customer", "-ordered_at"], name="order_customer_time_idx"),
            models.Index(fields=["-ordered_at"], name="order_time_idx"),
        ]
        constraints = [
            # Unique constraints rather than unique=True: no extra `varchar_pattern_ops` index on PostgreSQL.
            models.UniqueConstraint(fields=["number"], name="order_number_uniq"),
            models.UniqueConstraint(fields=["external_id"], name="order_external_id_uniq"),
            models.CheckConstraint(condition=Q(total_amount__gte=0), name="order_total_not_negative"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=models.F("total_amount")),
                name="order_refund_within_total",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=100, blank=True)
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    unit_price = models.DecimalField(max_digits=14, decimal_places=2)
    amount = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="order_line_price_not_negative"),
        ]
        indexes = [models.Index(fields=["category", "order"], name="order_line_category_idx")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.name}"


class Refund(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    refunded_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive")]

    def __str__(self) -> str:
        return f"refund {self.amount} of {self.order_id}"


class CustomerScore(models.Model):
    """Stored, explainable analysis of one customer: RFM, predicted value, tier and priority."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, primary_key=True, related_name="score")
    first_order_at = models.DateTimeField(null=True)
    last_order_at = models.DateTimeField(null=True)
    recency_days = models.IntegerField(null=True)
    frequency = models.IntegerField(default=0)
    monetary = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    average_order_value = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    r_score = models.PositiveSmallIntegerField(null=True)
    f_score = models.PositiveSmallIntegerField(null=True)
    m_score = models.PositiveSmallIntegerField(null=True)
    rfm_segment = models.CharField(max_length=24, choices=RfmSegment.choices, blank=True)
    p_alive = models.FloatField(null=True)
    expected_purchases_12m = models.FloatField(null=True)
    expected_value_12m = models.DecimalField(max_digits=14, decimal_places=2, null=True)
    value_tier = models.CharField(max_length=1, choices=ValueTier.choices, blank=True)
    open_needs = models.IntegerField(default=0)
    urgent_needs = models.IntegerField(default=0)
    open_tickets = models.IntegerField(default=0)
    priority_score = models.FloatField(default=0)
    priority_reasons = models.JSONField(default=list, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # Segment and tier are compared for equality only (no varchar_pattern_ops twins); the one
        # priority index serves both directions. Every index is rebuilt by each full recomputation.
        indexes = [
            models.Index(fields=["-priority_score"], name="score_priority_idx"),
            models.Index(fields=["rfm_segment"], name="score_segment_idx"),
            models.Index(fields=["value_tier"], name="score_tier_idx"),
        ]

    def __str__(self) -> str:
        return f"score of {self.customer_id}"


class Segment(models.Model):
    """A saved dynamic filter or a static list of customers; marketing targets these."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=SegmentKind.choices, default=SegmentKind.DYNAMIC)
    definition = models.JSONField(_("filter"), default=dict, blank=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    members = models.ManyToManyField(Customer, blank=True, related_name="static_segments", through="SegmentMember")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")

    def __str__(self) -> str:
        return self.name


class SegmentMember(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "customer"], name="segment_member_uniq")]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.segment_id}"


class SavedView(models.Model):
    """A user's saved list filters and sort (e.g. "my VIPs in Shanghai by priority")."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    object_type = models.CharField(max_length=100, default="customers.customer")
    query = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class ImportJob(models.Model):
    """One upload being checked or imported in the background; progress is polled by the page and CLI."""

    kind = models.CharField(max_length=12, choices=ImportKind.choices)
    mode = models.CharField(max_length=16, choices=ImportMode.choices, default=ImportMode.ALL_OR_NOTHING)
    dry_run = models.BooleanField(default=True)
    upsert_by = models.CharField(max_length=20, blank=True, help_text="external_id | email | phone | ''")
    file_name = models.CharField(max_length=255)
    file_path = models.CharField(max_length=500)
    encoding = models.CharField(max_length=20, blank=True)
    mapping = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    cancel_requested = models.BooleanField(default=False)
    total_rows = models.IntegerField(null=True)
    processed_rows = models.IntegerField(default=0)
    created_count = models.IntegerField(default=0)
    updated_count = models.IntegerField(default=0)
    error_count = models.IntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="first errors: [{row, field, message}]")
    message = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"import {self.kind} {self.file_name}"


class ExportJob(models.Model):
    kind = models.CharField(max_length=12, choices=ImportKind.choices)
    file_format = models.CharField(max_length=4, default="csv")
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    row_count = models.IntegerField(default=0)
    file_path = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"export {self.kind}"


class DuplicateCandidate(models.Model):
    """A pair that may be the same customer, waiting for a person to merge or dismiss it."""

    customer_a = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    customer_b = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    reasons = models.JSONField(default=list)
    score = models.FloatField()
    status = models.CharField(max_length=10, choices=DuplicateStatus.choices, default=DuplicateStatus.OPEN)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer_a", "customer_b"], name="duplicate_pair_uniq"),
            models.CheckConstraint(condition=Q(customer_a__lt=models.F("customer_b")), name="duplicate_pair_ordered"),
        ]
        indexes = [models.Index(fields=["status", "-score"], name="duplicate_status_score_idx")]

    def __str__(self) -> str:
        return f"{self.customer_a_id}~{self.customer_b_id}"
