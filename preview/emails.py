"""What the gallery is made of: each email's combination (trigger, segment, language, step, variant)
and the email rendered for it. The gallery renders them, the index page and the browser check read them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Combination:
    trigger: str
    segment: str
    language: str
    step: int | None
    """The cart reminder's place in its series; None for a trigger without a series."""
    variant: str
    """``default``, or ``<experiment_id>.<variant_id>`` (as in utm_term)."""

    def __str__(self) -> str:
        step = f", step {self.step}" if self.step is not None else ""
        return (
            f"trigger {self.trigger}, segment {self.segment}, language {self.language}{step}, "
            f"variant {self.variant}"
        )

    @property
    def path(self) -> str:
        """Where its files go in the gallery, without the suffix."""
        step = f"step-{self.step}_" if self.step is not None else ""
        return f"{self.trigger}/{self.segment}/{self.language}/{step}{self.variant}"


@dataclass(frozen=True)
class PreviewEmail:
    combination: Combination
    subject: str
    preheader: str
    html: str
    text: str
