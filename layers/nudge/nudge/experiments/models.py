"""An Experiments row: a marketer edits it without a deploy, so it is validated on every read.

``{"experiment_id": "cart-subject-nov", "trigger": "cart_abandoned", "status": "running",
"holdout_percent": 10, "variants": [{"variant_id": "a", "weight": 50, "subject": "..."}, ...]}``

Weights are whole percents of the recipients outside the holdout and add up to 100. A variant's
optional ``subject`` is a Jinja template rendered with the context of ``subject.txt.j2``; templates
branch on ``variant.variant_id`` for content. ``holdout`` is reserved: it names the control group that
is sent nothing.
"""

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

HOLDOUT = "holdout"
"""The ``variant_id`` recorded for the holdout: the customers of an experiment sent nothing."""

# Experiment and variant ids travel in SES tags and in utm_term (``<experiment>.<variant>``).
ArmId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


# Built on first use (defer_build): a store without a running experiment never validates one.
class Variant(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    variant_id: ArmId
    weight: Annotated[int, Field(ge=0, le=100)]
    subject: Annotated[str, Field(min_length=1, max_length=500)] | None = None

    @field_validator("variant_id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == HOLDOUT:
            raise ValueError(f"{HOLDOUT!r} is reserved for the control group")
        return value


class Experiment(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    experiment_id: ArmId
    trigger: str
    status: Literal["draft", "running", "stopped"]
    holdout_percent: Annotated[int, Field(ge=0, le=99)] = 0
    variants: Annotated[tuple[Variant, ...], Field(min_length=1, max_length=20)]

    @field_validator("trigger")
    @classmethod
    def _known_trigger(cls, value: str, info: ValidationInfo) -> str:
        known = (info.context or {}).get("triggers")
        if known is not None and value not in known:
            raise ValueError(f"not a trigger: one of {', '.join(sorted(known))}")
        return value

    @model_validator(mode="after")
    def _weights_add_up(self) -> Self:
        ids = [variant.variant_id for variant in self.variants]
        if len(set(ids)) != len(ids):
            raise ValueError("variants: two variants share a variant_id")
        total = sum(variant.weight for variant in self.variants)
        if total != 100:
            raise ValueError(f"variants: the weights add up to {total}, not 100")
        return self


class Arm(BaseModel):
    """Where one customer falls in one experiment: a variant, or the holdout (``variant`` None)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    experiment: Experiment
    variant: Variant | None
    subject: str | None = None
    """The variant's subject as rendered for this email when it was checked (``arm_for``): the email
    is sent with this text, never a second render that could come out otherwise."""

    @property
    def variant_id(self) -> str:
        return self.variant.variant_id if self.variant is not None else HOLDOUT

    @property
    def is_holdout(self) -> bool:
        return self.variant is None

    @property
    def utm_term(self) -> str:
        return f"{self.experiment.experiment_id}.{self.variant_id}"
