"""Verify claims about photos: each check on its own, then one verdict (issue 22).

For each photo: its EXIF is read and its pixels decoded once; the claim is made (:mod:`gtloc.data.claims`: EXIF
unless given); then each kind of evidence answers on its own, the clock (:func:`~gtloc.evidence.clock.check_clock`),
the sun (:func:`~gtloc.evidence.sun.check_sun`) and, when a trained model is given, the model
(:func:`~gtloc.evidence.model.check_model`); :func:`~gtloc.evidence.combine.combine` turns them into one verdict.

Many photos go through in one call: the model is loaded once by the caller, each photo's backbone features are
computed as it is read (one decoded picture in memory at a time), and the model's searches run on chunks of
photos. Every photo's EXIF is read first, so that each camera's clock is judged on all of its photos
(:func:`~gtloc.data.clock.clocks_by_camera`: a time-zone-like gap on one photo of a camera whose clock is right on
the others is an old GPS fix; the same gap on two is a wrong clock). With ``fixed_camera`` (the photos of each
folder are frames of one fixed camera, a webcam), every photo's light is read first and each folder's frames of one
size are read together (:func:`~gtloc.evidence.frames.read_frames_together`); a frame is decoded again only for
the model. A photo that cannot be read, or whose claims row is bad, gets the verdict ``error`` with the reason; the
others go on. Without a model nothing here imports torch.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from gtloc.data.claims import Claim, GivenClaim, read_claim_time, read_claims
from gtloc.data.clock import ClockReading, clocks_by_camera
from gtloc.data.exif import PhotoExif, image_exif, read_photo_exif
from gtloc.data.images import load_image
from gtloc.data.ingest import SkippedPhoto, expand_photos
from gtloc.errors import GtlocError, Param, ParameterError
from gtloc.evidence.check import CANNOT_JUDGE, Check
from gtloc.evidence.clock import check_clock
from gtloc.evidence.combine import combine
from gtloc.evidence.frames import read_frames_together
from gtloc.evidence.sun import LightReading, check_sun, read_light

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from gtloc.inference.predictor import Predictor
    from gtloc.inference.verify import ModelView

ERROR = "error"
"""The verdict of a photo that could not be verified at all (unreadable, or a bad claims row)."""
CHUNK = 32
"""Photos whose model searches run together."""


class ClaimSource(Protocol):
    """Where each photo's claim comes from (:class:`~gtloc.data.claims.GivenClaim`,
    :class:`~gtloc.data.claims.ClaimsFile`)."""

    def problem(self, photo: Path) -> str: ...

    def claim(self, photo: Path, exif: PhotoExif | None) -> Claim: ...


@dataclass
class PhotoVerdict:
    """The checks of one photo's claim and their verdict.

    ``path``: the photo as named. ``claim``: what was checked (``None`` when the photo could not be read).
    ``checks``: ``clock``, ``sun`` and, with a model, ``model`` (:class:`~gtloc.evidence.check.Check`).
    ``verdict``: :func:`~gtloc.evidence.combine.combine` of the checks (its reason names the deciding checks).
    ``model``: the model's view (prediction and ranks) when a model was given. ``error``: why the photo could not
    be verified (then :attr:`word` is ``error``).
    """

    path: str
    claim: Claim | None = None
    checks: list[Check] = field(default_factory=list)
    verdict: Check | None = None
    model: ModelView | None = None
    error: str = ""

    @property
    def word(self) -> str:
        """``consistent``, ``inconsistent``, ``cannot judge`` or ``error``."""
        return ERROR if self.error or self.verdict is None else self.verdict.verdict

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)


def clock_check(exif: PhotoExif | None, claim: Claim, reading: ClockReading | None = None) -> Check:
    """The clock check of ``claim``: the camera's own clock when the time is the camera's (EXIF), else the claimed
    instant against the photo's GPS time (:func:`~gtloc.evidence.clock.check_clock`); ``reading``: the photo's
    clock reading made with the other photos of its camera (default: the photo alone)."""
    if exif is None:
        return Check("clock", CANNOT_JUDGE, "the photo's EXIF was not read")
    if not claim.has_time:
        return Check("clock", CANNOT_JUDGE, "no time is claimed")
    if claim.camera_time:
        return check_clock(exif, None, claim.lat, claim.lon, reading)
    if not claim.year_known:
        return Check("clock", CANNOT_JUDGE, "the claimed time has no year to compare with the photo's GPS time")
    if claim.utc is None:
        return Check("clock", CANNOT_JUDGE, "the claimed local time has no place to read its time zone at")
    return check_clock(exif, claim.utc, claim.lat, claim.lon, reading)


def sun_check(
    image: Image.Image | None, exif: PhotoExif | None, claim: Claim, light: LightReading | None = None
) -> Check:
    """The sun check of ``claim`` on the decoded ``image`` (:func:`~gtloc.evidence.sun.check_sun`), or on its
    ``light`` read already; it needs a claimed place and instant."""
    if not claim.has_place or claim.utc is None:
        missing = "place" if not claim.has_place else "time"
        return Check("sun", CANNOT_JUDGE, f"no {missing} is claimed, so the sun's position is unknown")
    return check_sun(image, claim.lat, claim.lon, claim.utc, exif=exif, light=light)


def _verdict(path: str, claim: Claim, checks: list[Check], view: ModelView | None, with_model: bool) -> PhotoVerdict:
    """``checks`` (clock, sun), plus the model check of ``view`` when ``with_model``, and their combination."""
    if with_model:
        from gtloc.evidence.model import check_model

        checks = [*checks, check_model(None if view is None else view.verification, claim.why_empty())]
    return PhotoVerdict(path, claim, checks, combine(checks), view)


@dataclass
class _Read:
    """One photo read for verification: its claim, its model-free checks done, its backbone features if asked."""

    path: str
    claim: Claim
    checks: list[Check]
    features: torch.Tensor | None = None


@dataclass
class _Tags:
    """One photo's EXIF and claim, read before any photo is decoded, and its clock reading."""

    exif: PhotoExif
    claim: Claim
    clock: ClockReading | None = None
    light: LightReading | None = None


def _read_tags(path: Path, claims: ClaimSource) -> _Tags | None:
    """The EXIF and claim of one photo; ``None`` when they cannot be read (:func:`_read` then says why)."""
    if claims.problem(path):
        return None
    try:
        exif = read_photo_exif(path, check_pixels=False)
        return _Tags(exif, claims.claim(path, exif))
    except (GtlocError, OSError, ValueError):
        return None


def _camera_clocks(tags: list[_Tags | None]) -> None:
    """Set each photo's clock reading, judged with the other photos of its camera, at its claimed place."""
    read = [t for t in tags if t is not None]
    places = [(t.claim.lat, t.claim.lon) if t.claim.has_place else None for t in read]
    for t, reading in zip(read, clocks_by_camera([t.exif for t in read], places), strict=True):
        t.clock = reading


def _frames_light(paths: list[Path], tags: list[_Tags | None]) -> None:
    """Set each photo's light, each folder's frames of one size read together as one fixed camera's."""
    cameras: dict[tuple[Path, tuple[int, int]], list[_Tags]] = defaultdict(list)
    for path, tag in zip(paths, tags, strict=True):
        if tag is None:
            continue
        try:
            image = load_image(path)
        except (GtlocError, OSError, ValueError):
            continue  # _read decodes it again and names the error
        tag.light = read_light(image, tag.exif)
        cameras[(path.resolve().parent, image.size)].append(tag)
    for frames in cameras.values():
        for tag, light in zip(frames, read_frames_together([t.light for t in frames]), strict=True):
            tag.light = light


def _read(path: Path, claims: ClaimSource, predictor: Predictor | None, tags: _Tags | None) -> _Read | PhotoVerdict:
    """Read one photo (its ``tags`` read already, if they could be) and run its model-free checks; a
    :class:`PhotoVerdict` with the error when it cannot be."""
    name = str(path)
    problem = claims.problem(path)
    if problem:
        return PhotoVerdict(name, error=problem)
    try:
        if tags is None:  # read again, so that the error is this photo's
            exif = read_photo_exif(path, check_pixels=False)
            claim, clock, light = claims.claim(path, exif), None, None
        else:
            exif, claim, clock, light = tags.exif, tags.claim, tags.clock, tags.light
        # A frame whose light was read already (fixed_camera) decoded then; only the model needs its pixels again.
        image = load_image(path) if light is None or predictor is not None else None
        checks = [clock_check(exif, claim, clock), sun_check(image, exif, claim, light)]
        features = predictor.photo_features([image]) if predictor is not None else None
    except GtlocError as exc:
        return PhotoVerdict(name, error=_without_path(str(exc), name))
    except (OSError, ValueError) as exc:  # a file that breaks a reader in a way it does not foresee: this photo only
        return PhotoVerdict(name, error=f"{type(exc).__name__}: {exc}")
    return _Read(name, claim, checks, features)


def _without_path(message: str, path: str) -> str:
    """An error message without the photo's path in front (the output names the photo already)."""
    for prefix in (f"{path}: ", f"cannot read image {path}: "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def _finish(chunk: list[_Read], predictor: Predictor | None, top_k: int) -> list[PhotoVerdict]:
    """The verdicts of a chunk of read photos: the model's views in one batch, then each photo's combination."""
    views: list[ModelView | None] = [None] * len(chunk)
    if predictor is not None and chunk:
        import torch

        from gtloc.inference.verify import analyze_features

        features = torch.cat([r.features for r in chunk])
        views = list(analyze_features(predictor, features, [r.claim for r in chunk], top_k))
    with_model = predictor is not None
    return [_verdict(r.path, r.claim, r.checks, v, with_model) for r, v in zip(chunk, views, strict=True)]


def verify_photos(
    photos: Iterable[str | os.PathLike[str]],
    claims: ClaimSource | None = None,
    predictor: Predictor | None = None,
    top_k: int = 5,
    chunk: int = CHUNK,
    fixed_camera: bool = False,
) -> Iterator[PhotoVerdict]:
    """Verify each photo's claim (``claims``; default: its own EXIF place and time) with the clock and sun checks,
    and the model check when a ``predictor`` is given; yields one :class:`PhotoVerdict` per photo, in order. A photo
    that cannot be read (or whose claims row is bad) yields a verdict ``error`` with the reason, and the rest go on.
    The photos' EXIF is read first, all of it, so that each camera's clock is judged on all its photos.
    ``top_k``: the model's alternatives kept for each photo's best guess. ``fixed_camera``: the photos of each folder
    are frames of one fixed camera (a webcam), whose light is read together (module docstring): only for frames of
    one view, since photos of different scenes read together borrow each other's light."""
    claims = claims if claims is not None else GivenClaim()
    paths = [Path(p) for p in photos]
    tags = [_read_tags(path, claims) for path in paths]
    _camera_clocks(tags)
    if fixed_camera:
        _frames_light(paths, tags)
    pending: list[_Read | PhotoVerdict] = []

    def flush() -> Iterator[PhotoVerdict]:
        done = iter(_finish([p for p in pending if isinstance(p, _Read)], predictor, top_k))
        for item in pending:
            yield item if isinstance(item, PhotoVerdict) else next(done)
        pending.clear()

    for path, tag in zip(paths, tags, strict=True):
        pending.append(_read(path, claims, predictor, tag))
        if sum(isinstance(p, _Read) for p in pending) >= chunk:
            yield from flush()
    yield from flush()


def verify_image(
    image: Image.Image, claim: Claim, exif: PhotoExif | None = None, model: ModelView | None = None, name: str = ""
) -> PhotoVerdict:
    """Verify ``claim`` for a decoded picture (e.g. an upload): the clock and sun checks from ``exif`` (default: the
    image's own, if any) and its pixels; the model check from ``model`` (the model's view, e.g. from
    :func:`~gtloc.inference.verify.analyze_photo`) when given."""
    exif = exif if exif is not None else image_exif(image)
    checks = [clock_check(exif, claim), sun_check(image, exif, claim)]
    return _verdict(name, claim, checks, model, with_model=model is not None)


def verdict_counts(verdicts: Sequence[PhotoVerdict]) -> dict[str, int]:
    """How many photos got each verdict, ``error`` included."""
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v.word] = counts.get(v.word, 0) + 1
    return counts


def summary_line(verdicts: Sequence[PhotoVerdict]) -> str:
    """``12 photos: 7 consistent, 2 inconsistent, 2 cannot judge, 1 error``."""
    counts = verdict_counts(verdicts)
    parts = [f"{counts[w]} {w}" for w in ("consistent", "inconsistent", "cannot judge", ERROR) if counts.get(w)]
    return f"{len(verdicts)} photo{'' if len(verdicts) == 1 else 's'}: " + ", ".join(parts or ["none"])


@dataclass
class VerifyInputs:
    """What ``gtloc verify`` was asked to check: ``photos`` (named ones in order, each folder's sorted, then the
    claims file's others), folder entries ``skipped`` (camera RAW files, unreadable folders) and ``claims``, where
    each photo's claim comes from."""

    photos: list[Path]
    skipped: list[SkippedPhoto]
    claims: ClaimSource


def verify_inputs(
    photos: Sequence[str | os.PathLike[str]],
    claims_csv: str | os.PathLike[str] | None = None,
    images_root: str | os.PathLike[str] | None = None,
    lat: float | None = None,
    lon: float | None = None,
    time: str | None = None,
) -> VerifyInputs:
    """The photos and claims of one ``verify`` call: files and folders (:func:`~gtloc.data.ingest.expand_photos`),
    a claims CSV (:func:`~gtloc.data.claims.read_claims`, its paths under ``images_root``), or one photo's given
    ``lat``/``lon``/``time`` (EXIF fills the rest). Errors name the parameters that do not go together."""
    if images_root is not None and claims_csv is None:
        raise ParameterError(Param("images_root"), " goes with ", Param("claims"), " (its paths are relative to it)")
    given = time is not None or lat is not None or lon is not None
    if given and claims_csv is not None:
        raise ParameterError(Param("claims"), " gives each photo's claim: leave out ", *_GIVEN)
    if (lat is None) != (lon is None):
        raise ParameterError("give both ", Param("lat"), " and ", Param("lon"), " (or neither)")
    paths, skipped = expand_photos(photos)
    if claims_csv is not None:
        claims: ClaimSource = read_claims(claims_csv, images_root)
        named = {os.path.abspath(p) for p in paths}
        paths += [p for p in claims.photos() if os.path.abspath(p) not in named]
    else:
        when = None if time is None else read_claim_time(time)
        claims = GivenClaim(lat, lon, when)
    if not paths and not skipped:
        raise GtlocError("no photos to verify: name photos or folders of photos, or give a claims CSV (--claims)")
    if given and len(paths) + len(skipped) != 1:
        raise ParameterError(
            *_GIVEN,
            f" claim one photo, not {len(paths) + len(skipped)}: for many, write a claims CSV (",
            Param("claims"),
            ")",
        )
    return VerifyInputs(paths, skipped, claims)


_GIVEN = (Param("lat"), "/", Param("lon"), "/", Param("time"))


def skipped_verdict(skipped: SkippedPhoto) -> PhotoVerdict:
    """The ``error`` verdict of a folder entry that could not be listed or read (a camera RAW file, ...)."""
    return PhotoVerdict(skipped.path, error=f"{skipped.reason}: {skipped.detail}")
