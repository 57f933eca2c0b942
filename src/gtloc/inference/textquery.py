"""Reading text queries offline: "snowy street at dusk in January in Oslo" -> a place, a month and an hour.

Place names are looked up in GeoNames (:mod:`gtloc.places`), time phrases are read (months, seasons with the
place's hemisphere, dawn/sunrise/noon/sunset/dusk/night, "3pm", "15:30"). :func:`gtloc.inference.retrieve.search`
turns the reading into a composed ``(location + time)`` request, or answers the text with a CLIP text tower when
the model has one.

Dawn, sunrise, sunset and dusk are computed for the place and month (``astral``) when both are known.
Homonyms ("Paris" FR / US) are resolved by :func:`gtloc.places.choose_place`. Scene words ("beach", "street",
"lake", ...: :data:`SCENE_WORDS`) describe the picture and are read as a town only when the query says so
("in Beach").
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from gtloc.errors import GtlocError
from gtloc.places import Place, choose_place, fold, places_named

PLACE_PREPOSITIONS = frozenset({"in", "near", "at", "from", "around", "outside", "of", "over", "by"})
MAX_NGRAM = 4
MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name and name != "May"}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name and name.lower() != "may"})
MONTHS["sept"] = 9
SEASON_MONTH_NORTH = {"winter": 1, "spring": 4, "summer": 7, "autumn": 10, "fall": 10}
SNOW_WORDS = frozenset({"snow", "snowy", "snowing", "snowfall", "frozen", "icy"})
# What a picture shows, not where it is: a span made only of these words is a town ("Beach", North Dakota) only
# when the query says so: capitalised after a place preposition ("in Beach") or followed by the town's region or
# country ("Beach, North Dakota"). Names that merely contain one ("Lake Placid", "Salt Lake City") are unaffected.
SCENE_WORDS = SNOW_WORDS | frozenset(
    {
        "beach",
        "beaches",
        "street",
        "streets",
        "road",
        "mountain",
        "mountains",
        "hill",
        "hills",
        "lake",
        "lakes",
        "forest",
        "forests",
        "woods",
        "park",
        "river",
        "bridge",
        "city",
        "town",
        "village",
        "downtown",
        "square",
        "market",
        "harbor",
        "harbour",
        "port",
        "coast",
        "shore",
        "sea",
        "ocean",
        "bay",
        "island",
        "desert",
        "field",
        "fields",
        "garden",
        "farm",
        "valley",
        "canyon",
        "cliff",
        "waterfall",
        "sky",
        "clouds",
        "cloudy",
        "sunny",
        "rain",
        "rainy",
        "fog",
        "foggy",
        "storm",
        "skyline",
        "building",
        "buildings",
        "tower",
        "church",
        "castle",
        "station",
        "airport",
        "snowman",
        "landscape",
        "view",
    }
)
FIXED_HOURS = {
    "morning": 9.0,
    "noon": 12.0,
    "midday": 12.0,
    "afternoon": 15.0,
    "evening": 19.0,
    "night": 23.0,
    "nighttime": 23.0,
    "midnight": 0.0,
}
SUN_EVENTS = {"dawn": "dawn", "daybreak": "dawn", "sunrise": "sunrise", "sunset": "sunset", "dusk": "dusk"}
SUN_FALLBACK_HOURS = {"dawn": 6.0, "sunrise": 6.5, "sunset": 18.0, "dusk": 18.5}
CLOCK_AMPM = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)(?!\w)", re.IGNORECASE)
CLOCK_24H = re.compile(r"\b([01]?\d|2[0-3])[:h]([0-5]\d)\b")
WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|[.'-])*")  # letters of any alphabet ("Köln" is one word, not "K ln")


@dataclass
class ParsedQuery:
    """What the parser read from a text: the place, the month and hour (``None`` = not said), and ``notes`` that
    explain each decision (which homonym, which hemisphere, which sun event)."""

    text: str
    place: Place | None = None
    month: int | None = None
    hour: float | None = None
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = []
        if self.place:
            parts.append(f"place {self.place.label} ({self.place.lat:.4f}, {self.place.lon:.4f})")
        if self.month:
            parts.append(f"month {calendar.month_name[self.month]}")
        if self.hour is not None:
            parts.append(f"hour {int(self.hour):02d}:{round(60 * (self.hour % 1)) % 60:02d}")
        return ", ".join(parts) or "nothing recognised"


def _tokens(text: str) -> list[tuple[str, str]]:
    """Words as ``(original, folded)`` pairs."""
    return [(m.group(0).strip(".'-"), fold(m.group(0).strip(".'-"))) for m in WORD.finditer(text)]


def _time_words(tokens: list[tuple[str, str]]) -> set[int]:
    """Positions of words that are time phrases (so they are never read as place names)."""
    words = set(MONTHS) | set(SEASON_MONTH_NORTH) | set(FIXED_HOURS) | set(SUN_EVENTS) | {"may", "am", "pm"}
    return {i for i, (_, w) in enumerate(tokens) if w in words}


def _find_place_in(tokens: list[tuple[str, str]], notes: list[str]) -> Place | None:
    """The best place n-gram: after a place preposition ("in Oslo"), else capitalised mid-sentence, else the
    text's first words; longer names win ties."""
    blocked = _time_words(tokens)
    best: tuple[tuple[int, ...], int, int, list[Place]] | None = None
    for start in range(len(tokens)):
        for size in range(min(MAX_NGRAM, len(tokens) - start), 0, -1):
            span = range(start, start + size)
            if blocked & set(span):
                continue
            after_preposition = start > 0 and tokens[start - 1][1] in PLACE_PREPOSITIONS
            capitalised = start > 0 and all(tokens[i][0][:1].isupper() for i in span)
            if not (after_preposition or capitalised or start == 0):
                continue
            # A sentence's first words count only when nothing better names a place ("Paris at night").
            score = (int(after_preposition), int(capitalised), int(start == 0 and tokens[0][0][:1].isupper()), size)
            if best is not None and score <= best[0]:
                continue
            # A short name ("Frankfurt" for "Frankfurt am Main") only where the query says it is a place: a
            # capitalised region word ("Beach, North Dakota") is not "Dakota City".
            candidates = places_named(" ".join(tokens[i][1] for i in span), short_names=after_preposition)
            scene = all(tokens[i][1] in SCENE_WORDS for i in span)
            if scene and not (after_preposition and capitalised):
                candidates = _qualified(candidates, [w for _, w in tokens[start + size : start + size + 3]])
            if candidates:
                best = (score, start, size, candidates)
    if best is None:
        return None
    _, start, size, candidates = best
    context = [w for _, w in tokens[start + size : start + size + 3]]
    return choose_place(candidates, context, notes)


def _qualified(candidates: list[Place], following: list[str]) -> list[Place]:
    """The candidates whose region or country the next words name ("Beach, North Dakota", "Beach ND")."""
    phrases = {" ".join(following[:k]) for k in range(1, len(following) + 1)}
    return [p for p in candidates if fold(p.admin1) in phrases or p.cc.lower() in phrases]


def _sun_hour(event: str, place: Place | None, month: int | None, notes: list[str]) -> float:
    """Local clock hour of a sun event at ``place`` in mid-``month``; a typical hour when unknown or polar."""
    if place is None or month is None:
        notes.append(f"{event}: about {SUN_FALLBACK_HOURS[event]:g} h (name a place and month for the sun's time)")
        return SUN_FALLBACK_HOURS[event]
    from zoneinfo import ZoneInfo

    from astral import Observer
    from astral.sun import sun

    from gtloc.timecode import timezone_at

    zone = ZoneInfo(timezone_at(place.lat, place.lon))
    try:
        times = sun(Observer(place.lat, place.lon), date(2023, month, 15), tzinfo=zone)
    except ValueError:
        notes.append(
            f"{event}: the sun does not rise or set there in {calendar.month_name[month]}; using a typical hour"
        )
        return SUN_FALLBACK_HOURS[event]
    # "dawn"/"dusk" as seen in pictures: halfway between civil twilight and sunrise/sunset.
    moments = {
        "dawn": times["dawn"] + (times["sunrise"] - times["dawn"]) / 2,
        "sunrise": times["sunrise"],
        "sunset": times["sunset"],
        "dusk": times["sunset"] + (times["dusk"] - times["sunset"]) / 2,
    }
    when: datetime = moments[event]
    hour = when.hour + when.minute / 60
    notes.append(f"{event} in {place.name} in mid-{calendar.month_name[month]}: {when:%H:%M} local time")
    return hour


def _read_hour(text: str, tokens: list[tuple[str, str]]) -> tuple[float | None, str | None]:
    """A clock time ("3pm", "15:30") as an hour, or a named part of the day (returned as a word to resolve)."""
    match = CLOCK_AMPM.search(text)
    if match:
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
        if not 1 <= hour <= 12 or minute > 59:
            raise GtlocError(f"not a clock time: {match.group(0)!r}")
        hour = hour % 12 + (12 if match.group(3).lower().startswith("p") else 0)
        return hour + minute / 60, None
    match = CLOCK_24H.search(text)
    if match:
        return int(match.group(1)) + int(match.group(2)) / 60, None
    for _, word in tokens:
        if word in FIXED_HOURS or word in SUN_EVENTS:
            return None, word
    return None, None


def _read_month(tokens: list[tuple[str, str]]) -> tuple[int | None, str | None]:
    """A month name ("January", "Jan", "May" capitalised or after "in") or a season word."""
    for i, (original, word) in enumerate(tokens):
        if word in MONTHS:
            return MONTHS[word], None
        if word == "may" and (original == "May" or (i > 0 and tokens[i - 1][1] in ("in", "of", "early", "late"))):
            return 5, None
    for _, word in tokens:
        if word in SEASON_MONTH_NORTH:
            return None, word
    return None, None


def parse_query(text: str) -> ParsedQuery:
    """Read a place, a month and an hour from ``text`` (see the module docstring for what is understood)."""
    tokens = _tokens(text)
    parsed = ParsedQuery(text=text)
    parsed.place = _find_place_in(tokens, parsed.notes)
    parsed.month, season = _read_month(tokens)
    if season is None and parsed.month is None and any(w in SNOW_WORDS for _, w in tokens):
        season = "winter"
        parsed.notes.append("snow: read as winter")
    if season is not None:
        southern = parsed.place is not None and parsed.place.lat < 0
        month = SEASON_MONTH_NORTH[season]
        parsed.month = (month + 5) % 12 + 1 if southern else month
        hemisphere = "southern" if southern else "northern"
        assumed = "" if parsed.place is not None else " (no place named: northern hemisphere assumed)"
        parsed.notes.append(f"{season}: {calendar.month_name[parsed.month]} in the {hemisphere} hemisphere{assumed}")
    parsed.hour, part_of_day = _read_hour(text, tokens)
    if part_of_day in SUN_EVENTS:
        parsed.hour = _sun_hour(SUN_EVENTS[part_of_day], parsed.place, parsed.month, parsed.notes)
    elif part_of_day is not None:
        parsed.hour = FIXED_HOURS[part_of_day]
        parsed.notes.append(f"{part_of_day}: {parsed.hour:g} h")
    return parsed
