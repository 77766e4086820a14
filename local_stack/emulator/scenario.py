"""The sample events in events/ and what each is expected to do (events/expectations.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local_stack.emulator.stack import REPO_ROOT
from nudge.catalog.events import CATALOG_DETAIL_TYPES, ProductUpdatedEvent
from nudge.customers.events import PROFILE_DETAIL_TYPES, CustomerDeletedEvent, CustomerUpdatedEvent
from nudge.triggers import TRIGGERS, Trigger

EVENTS_DIR = REPO_ROOT / "events"
SAMPLE_DATA_DIR = REPO_ROOT / "sample_data"
SAMPLE_DAY_CLOCK = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
"""The moment the demo and the tests replay the sample day at: afternoon in Europe, 20:00 in
Kolkata, morning in Chicago, still night in Los Angeles and Tokyo. Quiet hours read the clock, so a
fixed one makes every run decide the same."""

# Not the sample day's store events, with expectations of their own: what customers do next (put on the
# bus one by one after the others), the schedule's payload, and SES's feedback events; and the events'
# JSON Schemas (no events at all: `make schemas`).
NON_TRIGGER_DIRS = frozenset({"follow_ups", "scheduled", "ses", "customers", "schemas"})
FOLLOW_UPS_DIR = EVENTS_DIR / "follow_ups"
CUSTOMERS_DIR = EVENTS_DIR / "customers"
"""Customer Updated and Customer Deleted samples: expectation ``{"profile": "created" | "updated" |
"not_newer" | "erased"}``, or ``{"rejected": ...}``."""
CATALOG = "catalog"
"""The consumer name of the catalog function (its rule takes Product Updated and Order Placed)."""
ATTRIBUTION = "attribution"
"""The consumer name of the attribution function (its rule takes Order Placed)."""


@dataclass(frozen=True)
class SampleEvent:
    name: str
    event: dict[str, Any]
    expectation: dict[str, Any]

    @property
    def is_invalid(self) -> bool:
        return "rejected" in self.expectation

    @property
    def detail_type(self) -> str:
        return str(self.event["detail-type"])

    @property
    def is_product(self) -> bool:
        """A catalog event (Product Updated): no trigger, no email; its expectation is
        ``{"catalog": "written"}`` (the row is this event's) or ``{"catalog": "not_newer"}``
        (a newer event's row stays)."""
        return self.detail_type == "Product Updated"

    @property
    def is_customer_event(self) -> bool:
        """A store's profile event (Customer Updated, Customer Deleted): no email of its own."""
        return self.detail_type in PROFILE_DETAIL_TYPES

    @property
    def trigger(self) -> Trigger[Any]:
        """The trigger whose rule should route this event."""
        found = next((trigger for trigger in TRIGGERS if trigger.detail_type == self.detail_type), None)
        if found is None:
            raise LookupError(f"{self.name}: {self.detail_type} is no trigger's event")
        return found

    @property
    def event_model(self) -> Any:
        """The EventBridge model that must accept (or, if invalid, reject) this event."""
        if self.is_customer_event:
            return CustomerUpdatedEvent if self.detail_type == "Customer Updated" else CustomerDeletedEvent
        return ProductUpdatedEvent if self.is_product else self.trigger.event_model

    @property
    def consumers(self) -> set[str]:
        """The functions whose rules should route this event: its trigger's, the catalog's, and for an
        order the attribution's."""
        if self.is_customer_event:
            return {self.detail_type.lower().replace(" ", "_")}
        names = set() if self.is_product else {self.trigger.name}
        names |= {CATALOG} if self.detail_type in CATALOG_DETAIL_TYPES else set()
        return names | ({ATTRIBUTION} if self.detail_type == "Order Placed" else set())

    def varied(self, name: str, **detail: Any) -> SampleEvent:
        """The same event with these detail fields changed (a copy), with no expectation of its own."""
        event: dict[str, Any] = json.loads(json.dumps(self.event))
        event["detail"].update(detail)
        return SampleEvent(name=name, event=event, expectation={})

    def sent_at(self, moment: datetime) -> SampleEvent:
        """The same event as a store would put it on the bus at ``moment`` (its envelope ``time``)."""
        event: dict[str, Any] = json.loads(json.dumps(self.event))
        event["time"] = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return SampleEvent(name=self.name, event=event, expectation=self.expectation)

    def put_events_entry(self, bus_name: str) -> dict[str, Any]:
        """The PutEvents entry a store's backend would send for this event."""
        return {
            "Source": self.event["source"],
            "DetailType": self.event["detail-type"],
            "Detail": json.dumps(self.event["detail"]),
            "Time": self.event["time"],
            "Resources": self.event.get("resources", []),
            "EventBusName": bus_name,
        }


def load_sample_events() -> list[SampleEvent]:
    files = [
        path
        for path in EVENTS_DIR.glob("*/*.json")
        if path.parent.name not in NON_TRIGGER_DIRS and path.name != "expectations.json"
    ]
    return _with_expectations(EVENTS_DIR, files)


def load_follow_ups() -> list[SampleEvent]:
    """What sample customers do after the sample day's events, in file order: each is put on the bus
    and handled before the next (a second cart that afternoon, an order placed from the reminder)."""
    return _with_expectations(FOLLOW_UPS_DIR, list(FOLLOW_UPS_DIR.glob("*.json")))


def load_customer_events() -> list[SampleEvent]:
    """The store's profile events (events/customers/), valid and invalid."""
    return _with_expectations(CUSTOMERS_DIR, list(CUSTOMERS_DIR.glob("*.json")))


def _with_expectations(folder: Path, paths: list[Path]) -> list[SampleEvent]:
    """Each event file with its line in the folder's expectations.json; named from events/ on."""
    expectations: dict[str, dict[str, Any]] = json.loads((folder / "expectations.json").read_text())
    files = sorted(p.relative_to(folder).as_posix() for p in paths if p.name != "expectations.json")
    missing = set(files) ^ set(expectations)
    if missing:
        where = (folder / "expectations.json").relative_to(REPO_ROOT)
        raise ValueError(f"{where} and the event files disagree on: {sorted(missing)}")
    return [
        SampleEvent(
            name=(folder / name).relative_to(EVENTS_DIR).as_posix(),
            event=json.loads((folder / name).read_text()),
            expectation=expectations[name],
        )
        for name in files
    ]


def load_sample_rows(kind: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((SAMPLE_DATA_DIR / f"{kind}.json").read_text())
    return rows
