"""What the gallery renders from: each trigger function's settings as template.yaml resolves them for
the example shop, and the repository's sample data (segments, customers, events, the catalog,
experiments), read with the marketing tools' helpers (``marketing.samples``).

Nothing here calls AWS. What a send reads from DynamoDB (the profile, the segment, the running
experiment, the recommendation model) comes from the sample files instead, and the one profile write
that happens before an email renders (Order Placed counts the order) is applied to the sample profile.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError

from local_stack.emulator.scenario import SAMPLE_DATA_DIR, SampleEvent, load_sample_events
from marketing.samples import is_reachable, local_environment, sample_products
from nudge.catalog.learning import padded
from nudge.catalog_rows import Bestsellers, Product
from nudge.events import OrderPlaced, TriggerDetail
from nudge.experiments.models import Experiment
from nudge.profiles import Customer, Segment
from nudge.recommendations import RecommendationRequest, Recommender
from nudge.recommendations.co_purchase import choose, rank_candidates
from nudge.settings import Settings
from nudge.triggers import TRIGGER_NAMES, TRIGGERS, Trigger

UNSUBSCRIBE_TOKEN = "PREVIEW"  # noqa: S105 - a placeholder, not a secret
"""Stands in for the customer's signed token (made from a secret in Secrets Manager at send time)."""
LOCALES = {"en": "en-US", "de": "de-DE", "fr": "fr-FR", "es": "es-ES"}
"""The locale a sample customer gets in a language other than their own (a language without an
entry gets the bare language tag)."""
PREVIEWED_STATUSES = ("running", "draft")
"""Experiments whose variants the gallery shows: the running one, and drafts, to look at before they
start; a stopped one sends nothing any more."""


class SampleDataError(ValueError):
    """The sample data cannot be previewed (an invalid experiment row, a segment without a customer)."""


def preview_settings(trigger: Trigger[Any], templates_dir: Path) -> Settings:
    """The trigger function's settings as template.yaml sets them for the example shop (the local
    stack's parameters, else the template's defaults: the real cart series, link tagging, store),
    resolved without creating anything, with the templates of ``templates_dir``."""
    environment = local_environment(trigger.name)
    return Settings.from_environment({**environment, "TEMPLATES_DIR": str(templates_dir)})


def unsubscribe_url(settings: Settings) -> str:
    """The unsubscribe link as the pipeline builds it, with a placeholder where the token goes."""
    return f"{settings.unsubscribe_url}?{urlencode({'token': UNSUBSCRIBE_TOKEN})}"


@dataclass(frozen=True)
class SampleCatalog:
    """The sample catalog (``events/product_updated/``) as a recommender: the best-sellers row as it
    reads before any order is counted (in-stock catalog products), ranked and filtered (in stock,
    priced in the email's currency) as the co-purchase recommender ranks and filters what it reads."""

    products: Mapping[str, Product]

    def recommend(self, request: RecommendationRequest) -> list[Product]:
        bestsellers = Bestsellers(skus=tuple(padded([], self.products.values())))
        candidates = rank_candidates([], bestsellers, request.exclude_skus | set(request.seed_skus))
        return choose(candidates, self.products, request.currency, request.limit)

    def recommender(self, settings: Settings) -> Recommender | None:
        """None when the stack turns recommendations off, as ``nudge.recommendations.recommender_for``."""
        return self if settings.recommendations_per_email > 0 else None


@dataclass(frozen=True)
class Samples:
    """Everything one gallery renders from."""

    templates_dir: Path
    settings: Mapping[str, Settings]
    """Each trigger function's, by trigger name."""
    segments: tuple[Segment, ...]
    customers: tuple[Customer, ...]
    events: tuple[SampleEvent, ...]
    catalog: SampleCatalog
    experiments: tuple[Experiment, ...]
    experiments_file: str

    def settings_for(self, trigger: Trigger[Any]) -> Settings:
        return self.settings[trigger.name]

    def customer(self, segment: Segment, language: str) -> Customer:
        """The segment's first sample customer who may be emailed, else the first one whose segment
        is no longer defined (who reads as ``default``), in ``language``: their own locale if it is
        in that language, else ``LOCALES``'s."""
        known = {s.segment_id for s in self.segments}
        reachable = [c for c in self.customers if is_reachable(c)]
        customer = next((c for c in reachable if c.segment_id == segment.segment_id), None)
        customer = customer or next((c for c in reachable if c.segment_id not in known), None)
        if customer is None:
            raise SampleDataError(f"sample_data/customers.json: no customer to preview {segment.segment_id}")
        own_language = (customer.locale or "").replace("_", "-").split("-")[0]
        locale = customer.locale if own_language == language else LOCALES.get(language, language)
        return customer.model_copy(update={"segment_id": segment.segment_id, "locale": locale})

    def detail(self, trigger: Trigger[Any], customer: Customer) -> TriggerDetail:
        """The customer's own sample event of this trigger that the demo sends, else the first one."""
        sent = [
            sample
            for sample in self.events
            if sample.detail_type == trigger.detail_type and sample.expectation.get("decision") == "sent"
        ]
        if not sent:
            raise SampleDataError(f"events/: no sample {trigger.detail_type} event that is sent")
        own = [s for s in sent if s.event["detail"].get("customer_id") == customer.customer_id]
        detail: TriggerDetail = trigger.parse((own or sent)[0].event)
        return detail

    def experiments_of(self, trigger: Trigger[Any]) -> list[Experiment]:
        """The trigger's experiments whose variants are shown (``PREVIEWED_STATUSES``); two running
        are an error, as they are to the pipeline (neither would run)."""
        shown = [e for e in self.experiments if e.trigger == trigger.name and e.status in PREVIEWED_STATUSES]
        running = [e.experiment_id for e in shown if e.status == "running"]
        if len(running) > 1:
            raise SampleDataError(
                f"{self.experiments_file}: two running experiments on {trigger.name}: {', '.join(running)}"
            )
        return shown


def as_rendered(detail: TriggerDetail, customer: Customer) -> Customer:
    """The profile as the send renders it: Order Placed's own write (``nudge.orders.count_order``)
    has counted the order first, so a first order reads as one."""
    if isinstance(detail, OrderPlaced):
        return customer.model_copy(
            update={"order_count": customer.order_count + 1, "last_order_at": detail.placed_at}
        )
    return customer


def load_samples(templates_dir: Path, sample_data_dir: Path = SAMPLE_DATA_DIR) -> Samples:
    return Samples(
        templates_dir=templates_dir,
        settings={trigger.name: preview_settings(trigger, templates_dir) for trigger in TRIGGERS},
        segments=tuple(Segment.model_validate(row) for row in _rows(sample_data_dir / "segments.json")),
        customers=tuple(Customer.model_validate(row) for row in _rows(sample_data_dir / "customers.json")),
        events=tuple(load_sample_events()),
        catalog=SampleCatalog({product.sku: product for product in sample_products()}),
        experiments=_experiments(sample_data_dir / "experiments.json"),
        experiments_file=f"{sample_data_dir.name}/experiments.json",
    )


def _rows(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return rows


def _experiments(path: Path) -> tuple[Experiment, ...]:
    """Every row, validated as the pipeline validates it; an invalid row fails the preview (the
    pipeline would ignore it, and the gallery would not show what a marketer meant)."""
    if not path.exists():
        return ()
    experiments = []
    for index, row in enumerate(_rows(path)):
        try:
            experiments.append(Experiment.model_validate(row, context={"triggers": TRIGGER_NAMES}))
        except ValidationError as error:
            problem = error.errors(include_url=False)[0]
            field = ".".join(str(part) for part in problem["loc"])
            where = f"{path.parent.name}/{path.name} row {index}" + (f", {field}" if field else "")
            raise SampleDataError(f"{where}: {problem['msg']}") from None
    return tuple(experiments)
