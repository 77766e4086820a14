"""What the scheduler sends the planner, what the planner sends each worker, and what a page yields."""

from dataclasses import dataclass, fields
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, Json

from nudge.envelopes import SqsRecordModel


class RunRequest(BaseModel):
    """The schedule's Input, with EventBridge Scheduler's context attributes filled in."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    scheduled_time: AwareDatetime
    execution_id: str | None = None

    def run_id(self, timezone: str) -> str:
        """The run's date where the store is: every retry and rerun of one day is the same run."""
        return self.scheduled_time.astimezone(ZoneInfo(timezone)).date().isoformat()


class WorkItem(BaseModel):
    """One parallel-scan shard of one run; the checkpoint row says how far it got."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    run_id: Annotated[str, Field(min_length=1, max_length=64)]
    as_of: AwareDatetime
    shard: Annotated[int, Field(ge=0)]
    total_shards: Annotated[int, Field(ge=1, le=1_000_000)]
    continuation: Annotated[int, Field(ge=0)] = 0


class WorkItemRecord(SqsRecordModel):
    body: Json[WorkItem]


@dataclass
class Tally:
    """Counts for one page, and summed over a shard or a run."""

    scanned: int = 0
    resegmented: int = 0
    selected: int = 0
    published: int = 0
    failed: int = 0

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
