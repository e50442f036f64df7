"""Demo data of the scoring area: scores computed once, and a few example segments."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from crm.customers.scoring.store.models import ScoringRun
from crm.demo.registry import DemoContext, generator

# Bigger demo datasets (benchmarks) leave the first full run to `crm scores recompute --full`.
MAX_CUSTOMERS_TO_SCORE = 200_000


@generator(90, "scores and example segments")
def create_scores_and_segments(ctx: DemoContext) -> None:
    from crm.customers.models import CustomerScore, Segment
    from crm.customers.scoring import compute
    from crm.identity.models import User

    if ctx.customers <= MAX_CUSTOMERS_TO_SCORE:
        # Measured at the next UTC midnight, and without step timings, so the same seed gives the
        # same database (the demo's repeatability contract); the nightly run takes over later.
        now = timezone.now().astimezone(dt.UTC)
        as_of = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        run = compute.recompute_full(as_of=as_of)
        ScoringRun.objects.filter(pk=run.pk).update(timings={})
        ctx.add_rows("customer scores", CustomerScore.objects.count())
        ctx.stdout.write(f"scored {run.customers} customers\n")
    else:
        ctx.stdout.write("skipped scoring (large dataset): run `crm scores recompute --full`\n")
    owner = User.objects.filter(is_superuser=True).order_by("id").first()
    examples = [
        (
            "重要价值客户 · Champions",
            {
                "match": "all",
                "conditions": [{"field": "score.rfm_segment", "op": "in", "value": ["champions", "loyal"]}],
            },
        ),
        (
            "需要挽回 · Win back",
            {
                "match": "all",
                "conditions": [{"field": "score.rfm_segment", "op": "in", "value": ["at_risk", "cant_lose"]}],
            },
        ),
        (
            "A 级客户 · Tier A",
            {"match": "all", "conditions": [{"field": "score.value_tier", "op": "eq", "value": "A"}]},
        ),
    ]
    for name, definition in examples:
        Segment.objects.get_or_create(name=name, defaults={"definition": definition, "owner": owner})
    ctx.add_rows("segments", len(examples))
