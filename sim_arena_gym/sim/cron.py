"""CronJob schedules: the standard five-field cron syntax the CronJob controller accepts.

Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or ``jan``-``dec``), day of week
(0-7 or ``sun``-``sat``; 0 and 7 are Sunday). Each field is ``*``, ``?``, a number, a range ``a-b``,
a step ``*/n`` or ``a-b/n`` or ``a/n``, or a comma-separated list of those. Macros: ``@yearly``
(``@annually``), ``@monthly``, ``@weekly``, ``@daily`` (``@midnight``), ``@hourly``. A ``TZ=`` or
``CRON_TZ=`` prefix, or ``spec.timeZone``, selects the time zone (UTC by default).

As in robfig/cron (used by the controller), when both day-of-month and day-of-week are restricted a
day matches if **either** matches.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["CronError", "CronSchedule", "parse_schedule"]

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}
_DAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}


class CronError(ValueError):
    """A schedule the CronJob controller would reject."""


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A parsed schedule: the allowed values of each field and the time zone."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    dom_star: bool
    dow_star: bool
    tz: dt.tzinfo

    def _day_matches(self, day: dt.datetime) -> bool:
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow

    def next_after(self, ts: int) -> int | None:
        """The first scheduled time strictly after Unix time ``ts`` (seconds), or ``None`` if there is
        none within eight years (e.g. ``0 0 30 2 *``)."""
        start = dt.datetime.fromtimestamp(ts, self.tz).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        first_day = True
        for _ in range(366 * 8):
            if day.month in self.months and self._day_matches(day):
                for hour in sorted(self.hours):
                    if first_day and hour < start.hour:
                        continue
                    for minute in sorted(self.minutes):
                        if first_day and hour == start.hour and minute < start.minute:
                            continue
                        candidate = day.replace(hour=hour, minute=minute)
                        when = int(candidate.timestamp())
                        if when > ts:
                            return when
            day = (day + dt.timedelta(days=1)).replace(hour=0, minute=0)
            first_day = False
        return None


def _field(text: str, low: int, high: int, names: dict[str, int] | None) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    star = False

    def number(token: str) -> int:
        token = token.lower()
        if names and token in names:
            return names[token]
        if not token.isdigit():
            raise CronError(f"invalid value {token!r}")
        return int(token)

    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"invalid step {step_text!r}")
            step = int(step_text)
        if part in ("*", "?"):
            lo, hi = low, high
            star = star or step == 1
        elif "-" in part:
            a, b = part.split("-", 1)
            lo, hi = number(a), number(b)
        else:
            lo = number(part)
            hi = high if step > 1 else lo
        if lo < low or hi > high or lo > hi:
            raise CronError(f"value out of range in {text!r} ({low}-{high})")
        values.update(range(lo, hi + 1, step))
    return frozenset(values), star


def _zone(name: str | None) -> dt.tzinfo:
    if not name or name in ("UTC", "Etc/UTC"):
        return dt.timezone.utc
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception as exc:  # unknown zone or no tz database
        raise CronError(f"unknown time zone {name!r}") from exc


def parse_schedule(schedule: str, time_zone: str | None = None) -> CronSchedule:
    """Parse a CronJob ``schedule`` (and ``spec.timeZone``); :class:`CronError` if invalid."""
    text = schedule.strip()
    for prefix in ("CRON_TZ=", "TZ="):
        if text.startswith(prefix):
            zone_name, _, text = text[len(prefix):].partition(" ")
            time_zone = zone_name
            text = text.strip()
            break
    text = _MACROS.get(text.lower(), text)
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: {schedule!r}")
    minutes, _ = _field(fields[0], 0, 59, None)
    hours, _ = _field(fields[1], 0, 23, None)
    days, dom_star = _field(fields[2], 1, 31, None)
    months, _ = _field(fields[3], 1, 12, _MONTHS)
    weekdays, dow_star = _field(fields[4], 0, 7, _DAYS)
    if 7 in weekdays:
        weekdays = (weekdays - {7}) | {0}
    return CronSchedule(minutes, hours, days, months, weekdays, dom_star, dow_star, _zone(time_zone))
