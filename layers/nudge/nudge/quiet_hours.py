"""Quiet hours: the part of the night, in the customer's own timezone, when no email should land."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict


class QuietHours(BaseModel):
    """From ``start`` to ``end`` local wall-clock time; ``start`` after ``end`` spans midnight.

    Equal times mean there are no quiet hours.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    start: time
    end: time

    def over_at(self, moment: datetime, zone: ZoneInfo) -> datetime | None:
        """When the quiet hours that ``moment`` falls in end (UTC), or None if it is not in them.

        The end is found on the local calendar, so a night across a DST change is an hour longer or
        shorter, as the customer lives it. An end inside a spring-forward gap resolves to the same
        time on the new offset (02:30 becomes 03:30); an end that occurs twice is its first
        occurrence still to come.
        """
        if self.start == self.end:
            return None
        local = moment.astimezone(zone)
        wall = local.time().replace(tzinfo=None)
        if self.start < self.end:
            if not self.start <= wall < self.end:
                return None
            end_day = local.date()
        elif wall >= self.start:
            end_day = local.date() + timedelta(days=1)
        elif wall < self.end:
            end_day = local.date()
        else:
            return None
        return _first_after(moment, end_day, self.end, zone)


def _first_after(moment: datetime, day: date, wall: time, zone: ZoneInfo) -> datetime | None:
    for fold in (0, 1):
        candidate = datetime.combine(day, wall, tzinfo=zone).replace(fold=fold).astimezone(UTC)
        if candidate > moment:
            return candidate
    return None
