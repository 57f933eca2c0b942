"""The library's sources on arrays built in the test: the UTC timeline, track, scene, model and clock, the shared
calibration rules, and how the chosen answer is picked."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gtloc.errors import GtlocError
from gtloc.geo import haversine_km
from gtloc.library.answers import LocalRate, PlaceAnswers, radius_scale, support_limit, within_budget
from gtloc.library.arrays import LibraryArrays, clock_seconds
from gtloc.library.choose import Chooser, choose_places
from gtloc.library.clock import ClockSource
from gtloc.library.model import ModelSource, check_backbone
from gtloc.library.reach import camera_reach
from gtloc.library.scene import SceneIndex, SceneSource
from gtloc.library.timeline import utc_timeline
from gtloc.library.track import TrackSource, interpolate
from helpers.library import T0, photo

ZURICH = (47.37, 8.54)  # UTC+2 in June
HOUR = 3600.0


def utc_of(when: datetime) -> float:
    return when.replace(tzinfo=timezone.utc).timestamp()


def test_the_timeline_puts_every_camera_on_utc():
    photos = [
        photo("a.jpg", when=T0, camera="A", utc_offset_s=7200),  # its own OffsetTimeOriginal
        photo("b.jpg", *ZURICH, when=T0),  # the time zone at its GPS place
        photo("c.jpg", *ZURICH, when=T0 + timedelta(hours=3), camera="C", clock="wrong", clock_offset_s=5 * HOUR),
        photo("d.jpg", when=T0 + timedelta(hours=4), camera="C"),  # C's judged offset, from c.jpg
        photo("e.jpg", when=T0 + timedelta(hours=1)),  # nothing of its own: the nearest photo's offset
    ]
    utc = utc_timeline(LibraryArrays.of(photos))
    expected = [T0 - timedelta(hours=2), T0 - timedelta(hours=2), T0 - timedelta(hours=2), T0 - timedelta(hours=1),
                T0 - timedelta(hours=1)]  # fmt: skip
    assert utc == pytest.approx([clock_seconds(w) for w in expected])


def test_a_library_with_no_offset_anywhere_keeps_its_clock():
    utc = utc_timeline(LibraryArrays.of([photo("a.jpg", when=T0), photo("b.jpg")]))
    assert utc[0] == clock_seconds(T0) and np.isnan(utc[1])


def test_interpolation_follows_the_great_circle():
    a, b = np.array([[0.0, 0.0]]), np.array([[0.0, 10.0]])
    assert interpolate(a, b, np.array([0.25])) == pytest.approx(np.array([[0.0, 2.5]]), abs=1e-9)
    assert interpolate(a, a, np.array([0.5])) == pytest.approx(a)


def walk(n: int = 40, camera: str = "phone", offset_h: float = 2.0) -> list:
    """A geotagged walk east from Zurich: one photo every 10 min, 1 km apart (clock with an offset tag)."""
    step = 1.0 / (111.2 * np.cos(np.deg2rad(ZURICH[0])))
    return [
        photo(f"{camera}/{i:03d}.jpg", ZURICH[0], ZURICH[1] + i * step, T0 + timedelta(minutes=10 * i), camera,
              utc_offset_s=int(offset_h * HOUR))
        for i in range(n)
    ]  # fmt: skip


def truth_at(minutes: float) -> tuple[float, float]:
    step = 1.0 / (111.2 * np.cos(np.deg2rad(ZURICH[0])))
    return ZURICH[0], ZURICH[1] + minutes / 10.0 * step


def test_track_interpolates_between_photos_taken_before_and_after():
    photos = walk()
    photos.append(photo("dslr/x.jpg", when=T0 + timedelta(minutes=125), camera="dslr", utc_offset_s=7200))
    arrays = LibraryArrays.of(photos)
    utc = utc_timeline(arrays)
    answers = TrackSource().calibrate(arrays, utc).answer(arrays, utc, np.array([len(photos) - 1]))
    assert len(answers) == 1
    error = float(haversine_km(answers.latlon[0], np.array(truth_at(125))))
    assert error < 0.1 and answers.radius_km[0] >= error
    assert [arrays.paths[r] for r in answers.evidence[0]] == ["phone/012.jpg", "phone/013.jpg"]
    assert "before" in answers.notes[0] and "after" in answers.notes[0]


def test_track_abstains_without_a_geotagged_photo_near_in_time():
    photos = walk()
    photos.append(photo("dslr/late.jpg", when=T0 + timedelta(days=3), camera="dslr", utc_offset_s=7200))
    arrays = LibraryArrays.of(photos)
    utc = utc_timeline(arrays)
    assert len(TrackSource(max_gap_h=24).calibrate(arrays, utc).answer(arrays, utc, np.array([40]))) == 0


def test_track_corrects_a_camera_clock_found_wrong():
    """A camera 3 h ahead of local time: with its clock check, its photos land on the walk at the right time."""
    photos = walk()
    ahead = timedelta(hours=3)
    gps_utc = T0 + timedelta(minutes=60) - timedelta(hours=2)
    judged = photo("cam/judged.jpg", *truth_at(60), T0 + timedelta(minutes=60) + ahead, "cam", clock="wrong",
                   clock_offset_s=5 * HOUR, gps_utc=gps_utc.replace(tzinfo=timezone.utc))  # fmt: skip
    target = photo("cam/target.jpg", when=T0 + timedelta(minutes=205) + ahead, camera="cam")
    without = photo("cam/target.jpg", when=T0 + timedelta(minutes=205) + ahead, camera="cam")
    for row, expect_close in (([judged, target], True), ([without], False)):
        arrays = LibraryArrays.of(photos + row)
        utc = utc_timeline(arrays)
        answers = TrackSource().calibrate(arrays, utc).answer(arrays, utc, np.array([len(arrays) - 1]))
        if expect_close:
            assert float(haversine_km(answers.latlon[0], np.array(truth_at(205)))) < 0.1
        else:  # its clock read as local time puts it 3 h later, past the end of the walk: no support
            assert len(answers) == 0 or float(haversine_km(answers.latlon[0], np.array(truth_at(205)))) > 5


PARIS = (48.85, 2.35)


def two_photographers(n: int = 40) -> list:
    """The user's phone walking in Zurich and an unrelated friend's phone in Paris, photos interleaved in time (the
    friend's 3 min after each of the user's)."""
    friend = [
        photo(f"friend/{i:03d}.jpg", *PARIS, T0 + timedelta(minutes=10 * i + 3), "friend", utc_offset_s=7200)
        for i in range(n)
    ]
    return walk(n, camera="user") + friend


def test_track_follows_the_camera_that_was_there_not_the_one_nearest_in_time():
    photos = two_photographers()
    photos.append(photo("user/off.jpg", when=T0 + timedelta(minutes=126), camera="user", utc_offset_s=7200))
    arrays = LibraryArrays.of(photos)
    utc = utc_timeline(arrays)
    answers = TrackSource().calibrate(arrays, utc).answer(arrays, utc, np.array([len(photos) - 1]))
    assert float(haversine_km(answers.latlon[0], np.array(truth_at(126)))) < 0.5  # not Paris, 1 min away
    assert "this camera's" in answers.notes[0] and answers.facts["same_camera"].tolist() == [True]


def test_a_camera_without_gps_learns_whom_it_travels_with_from_photos_the_picture_placed():
    photos = two_photographers()
    dslr = [photo(f"dslr/{i:03d}.jpg", when=T0 + timedelta(minutes=10 * i + 4), camera="dslr", utc_offset_s=7200)
            for i in range(40)]  # fmt: skip
    arrays = LibraryArrays.of(photos + dslr)
    utc = utc_timeline(arrays)
    rows = np.arange(80, 120)
    placed = answers("scene", rows[:30], [truth_at(10 * i + 4) for i in range(30)], [0.5] * 30)
    track = TrackSource().calibrate(arrays, utc, placed=placed)
    got = track.answer(arrays, utc, rows[30:39])  # between the user's photos (the last has only one side)
    assert len(got) == 9 and "camera user's" in got.notes[0]  # the friend's photo, 1 min nearer, is in Paris
    errors = haversine_km(got.latlon, np.array([truth_at(10 * i + 4) for i in range(30, 39)]))
    assert (errors < 1.0).all()


def test_one_camera_is_never_far_from_its_own_photo_seconds_before():
    """A photo 10 s after the last one in Zurich, the next one 9 h later in New York: it is in Zurich."""
    photos = walk()
    last = T0 + timedelta(minutes=390)
    photos += [photo(f"phone/ny{i}.jpg", 40.71, -74.0, last + timedelta(hours=9 + i), "phone", utc_offset_s=7200)
               for i in range(3)]  # fmt: skip
    photos.append(photo("phone/off.jpg", when=last + timedelta(seconds=10), camera="phone", utc_offset_s=7200))
    arrays = LibraryArrays.of(photos)
    utc = utc_timeline(arrays)
    got = TrackSource().calibrate(arrays, utc).answer(arrays, utc, np.array([len(photos) - 1]))
    assert float(haversine_km(got.latlon[0], np.array(truth_at(390)))) < 0.1
    assert got.facts["reach_km"][0] == pytest.approx(1000.0 * 10 / 3600)


def test_the_clock_source_corrects_a_wrong_camera_from_its_gps_time():
    judged_at = T0 + timedelta(hours=3)  # camera clock 3 h ahead of Zurich's local time (12:00 local)
    photos = [
        photo("cam/judged.jpg", *ZURICH, judged_at, "cam", clock="wrong", clock_offset_s=5 * HOUR),
        photo("cam/later.jpg", when=judged_at + timedelta(hours=6), camera="cam"),
        photo("cam/next-week.jpg", when=judged_at + timedelta(days=7), camera="cam"),
        photo("ok/judged.jpg", *ZURICH, T0, "ok", clock="ok", clock_offset_s=2 * HOUR),
        photo("ok/other.jpg", when=T0 + timedelta(hours=1), camera="ok"),
    ]
    arrays = LibraryArrays.of(photos)
    answers = ClockSource().answer(arrays, np.arange(len(photos)))
    got = {arrays.paths[i]: s for i, s in zip(answers.index, answers.local_s, strict=True)}
    assert got == {
        "cam/judged.jpg": clock_seconds(T0),
        "cam/later.jpg": clock_seconds(T0 + timedelta(hours=6)),
    }
    assert "3 h 00 min ahead of local time" in answers.notes[0]
    assert all(r >= 1 / 60 for r in answers.radius_h) and all(e == [0] for e in answers.evidence)


def test_the_clock_source_abstains_without_clock_fields():
    arrays = LibraryArrays.of([photo("a.jpg", *ZURICH, T0, "cam"), photo("b.jpg", when=T0, camera="cam")])
    assert len(ClockSource().answer(arrays, np.arange(2))) == 0


def scene_library(rng, n_per_scene: int = 15):
    """Two scenes, each photographed on many days by a phone (GPS), features near-identical within a scene."""
    bases = rng.normal(0, 1, (2, 32))
    places = [(47.37, 8.54), (48.85, 2.35)]
    photos, features = [], []
    for s in range(2):
        for i in range(n_per_scene):
            photos.append(photo(f"s{s}-{i}.jpg", *places[s], T0 + timedelta(days=10 * i + s), "phone"))
            features.append(bases[s] + rng.normal(0, 0.05, 32))
    for s in range(2):
        photos.append(photo(f"dslr-{s}.jpg", when=T0 + timedelta(days=500 + s), camera="dslr"))
        features.append(bases[s] + rng.normal(0, 0.05, 32))
    return photos, torch.tensor(np.array(features), dtype=torch.float32), places


def test_scene_places_a_photo_of_a_geotagged_scene():
    photos, features, places = scene_library(np.random.default_rng(0))
    arrays = LibraryArrays.of(photos)
    source = SceneSource(SceneIndex.build(features)).calibrate(arrays)
    targets = np.array([len(photos) - 2, len(photos) - 1])
    answers = source.answer(arrays, targets)
    assert list(answers.index) == list(targets)
    assert haversine_km(answers.latlon, np.array(places)) == pytest.approx([0, 0], abs=0.01)
    assert source.threshold < 1 and all(len(e) >= 1 for e in answers.evidence)
    assert (answers.facts["days"] >= 2).all() and "matched on several other days" in answers.notes[0]


def test_scene_abstains_in_a_library_without_repeated_scenes():
    rng = np.random.default_rng(1)
    n = 40
    photos = [photo(f"{i}.jpg", rng.uniform(-60, 60), rng.uniform(-180, 180), T0 + timedelta(days=i), "p")
              for i in range(n)]  # fmt: skip
    photos.append(photo("x.jpg", when=T0, camera="d"))
    features = torch.tensor(rng.normal(0, 1, (n + 1, 32)), dtype=torch.float32)
    arrays = LibraryArrays.of(photos)
    source = SceneSource(SceneIndex.build(features)).calibrate(arrays)
    assert source.threshold == float("inf") and len(source.answer(arrays, np.array([n]))) == 0


class FakePredictor:
    """What the model source uses of a Predictor: ``predict(features, top_k)``, ``domain``, ``model.config``."""

    def __init__(self, places: np.ndarray, in_domain: np.ndarray, backbone: str = "toy", dim: int = 96) -> None:
        self.places, self.in_domain, self.next = places, in_domain, 0
        self.domain = object()
        self.model = SimpleNamespace(config=SimpleNamespace(backbone=backbone, feature_dim=dim))

    def predict(self, features, top_k=1):
        rows = slice(self.next, self.next + len(features))
        self.next += len(features)
        return SimpleNamespace(
            latlon=torch.tensor(self.places[rows]),
            time_topk=None,
            in_domain=torch.tensor(self.in_domain[rows]),
        )


def test_the_model_answers_only_in_its_domain_with_a_calibrated_radius():
    rng = np.random.default_rng(2)
    n = 30
    truth = np.stack([rng.uniform(40, 50, n), rng.uniform(0, 10, n)], axis=1)
    predicted = truth + rng.normal(0, 0.05, truth.shape)
    in_domain = np.ones(n, bool)
    in_domain[-4:] = False
    photos = [photo(f"{i}.jpg", *truth[i], T0) for i in range(n - 6)] + [photo(f"{i}.jpg") for i in range(n - 6, n)]
    arrays = LibraryArrays.of(photos)
    source = ModelSource(FakePredictor(predicted, in_domain), torch.zeros(n, 96), "run").calibrate(arrays)
    answers = source.answer(arrays, np.arange(n - 6, n))
    assert list(answers.index) == [n - 6, n - 5]  # the four out of domain get nothing
    errors = haversine_km(predicted[: n - 6], truth[: n - 6])
    assert source.radius_km >= np.quantile(errors, 0.8)
    far = ModelSource(FakePredictor(predicted + 20, in_domain), torch.zeros(n, 96), "run").calibrate(arrays)
    assert len(far.answer(arrays, np.arange(n - 6, n))) == 0  # a radius of thousands of km: no help here


def test_a_model_of_another_backbone_is_refused():
    predictor = FakePredictor(np.zeros((1, 2)), np.ones(1, bool), backbone="clip-vit-l-14", dim=768)
    with pytest.raises(GtlocError, match="scan it again with --backbone clip-vit-l-14"):
        check_backbone(predictor, {"backbone": "efficientnet-lite0", "feature_dim": 1280})


def answers(source: str, rows, latlon, radius, confidence=0.9, **facts) -> PlaceAnswers:
    m = len(rows)
    out = PlaceAnswers(source, np.array(rows), np.array(latlon, float).reshape(m, 2), np.array(radius, float),
                       np.full(m, confidence), [[] for _ in rows], [source] * m)  # fmt: skip
    out.facts = {name: np.broadcast_to(np.asarray(value), (m,)).copy() for name, value in facts.items()}
    return out


def test_the_chosen_place_takes_the_tighter_of_two_that_agree_and_whichever_answers_alone():
    scene = answers("scene", [0, 1, 2], [(47.0, 8.0), (47.0, 8.0), (10.0, 10.0)], [1.0, 50.0, 1.0])
    track = answers("track", [0, 1, 3], [(47.01, 8.0), (47.01, 8.0), (5.0, 5.0)], [5.0, 5.0, 3.0])
    model = answers("model", [3, 4], [(0.0, 0.0), (1.0, 1.0)], [80.0, 80.0])
    chosen = choose_places([scene, track, model])
    assert dict(zip(chosen.index.tolist(), chosen.origins, strict=True)) == {
        0: "scene", 1: "track", 2: "scene", 3: "track", 4: "model",
    }  # fmt: skip


def disagreement(days: int, neighbour_recurring: bool, track_confidence: float, similarity: float = 0.6,
                 reach_km: float = np.inf):  # fmt: skip
    scene = answers("scene", [0], [(47.0, 8.0)], [1.0], 0.95, days=days, similarity=similarity, far=0.0)
    track = answers("track", [0], [(40.0, 8.0)], [5.0], track_confidence, neighbour_recurring=neighbour_recurring,
                    gap_h=0.5, reach_km=reach_km, far=0.0)  # fmt: skip
    return scene, track


def test_without_calibration_a_sure_track_or_a_one_off_match_keeps_the_time_and_a_recurring_view_the_picture():
    cases = {
        (5, False, 0.6): "scene",  # the picture matches a view photographed on 5 other days
        (0, True, 0.6): "scene",  # the photo nearest in time is of a recurring view (the garden, then the office)
        (1, False, 0.6): "track",  # a one-off match against a one-off neighbour in time: the time rule
        (5, False, 0.95): "track",  # a sure neighbour in time
    }
    for (days, neighbour, confidence), expected in cases.items():
        chosen = choose_places(list(disagreement(days, neighbour, confidence)))
        assert chosen.origins == [expected], (days, neighbour, confidence)
        assert "disagrees by 778 km" in chosen.notes[0] and "the default" in chosen.notes[0]


def test_a_picture_farther_than_the_same_camera_could_travel_loses():
    chosen = choose_places(list(disagreement(5, True, 0.6, reach_km=100.0)))
    assert chosen.origins == ["track"] and "too little time to travel that far" in chosen.notes[0]


def test_a_track_fallback_is_taken_only_where_no_other_source_answers():
    scene = answers("scene", [0], [(47.0, 8.0)], [1.0], 0.95, days=0, similarity=0.6, far=0.0)
    track = answers("track", [0, 1], [(40.0, 8.0), (41.0, 8.0)], [5.0, 5.0], 0.4, neighbour_recurring=False,
                    gap_h=0.5, reach_km=np.inf, far=0.0, fallback=True)  # fmt: skip
    chosen = choose_places([scene, track])
    assert dict(zip(chosen.index.tolist(), chosen.origins, strict=True)) == {0: "scene", 1: "track"}
    track.facts["fallback"][:] = False  # the same answers as a lead: now a disagreement to settle
    assert "disagrees" in choose_places([scene, track]).notes[0]


def test_a_place_the_same_camera_could_not_have_reached_is_left_out():
    photos = walk(10)  # 10 min apart along 1 km steps, in Zurich
    photos[5] = photo("phone/005.jpg", when=photos[5].local_time, camera="phone", utc_offset_s=7200)  # location off
    photos.append(photo("dslr/x.jpg", when=photos[5].local_time, camera="dslr", utc_offset_s=7200))  # no GPS at all
    arrays = LibraryArrays.of(photos)
    utc = utc_timeline(arrays)
    far_away = answers("scene", [5, 5, 10], [(48.86, 2.35), ZURICH, (48.86, 2.35)], [1.0, 1.0, 1.0])
    bound = camera_reach(arrays, utc, np.array([5, 10]), arrays.group)
    assert bound.rows[0].tolist() == [4, 6] and bound.reach_km[0] == pytest.approx([1000 / 6] * 2)
    assert bound.rows[1].tolist() == [-1, -1]  # another camera's photos bound nobody
    kept = bound.keep_possible(far_away, arrays.latlon)  # Paris is 500 km from where the phone was 10 min before
    assert kept.index.tolist() == [5, 10] and kept.latlon[0] == pytest.approx(ZURICH)


def test_the_chooser_settles_each_kind_as_the_library_decided_it():
    truth = np.zeros((40, 2))
    truth[:, 0] = 47.0  # the picture is right for every labelled photo...
    scene = answers("scene", range(40), [(47.0, 8.0)] * 40, [1.0] * 40, days=1,
                    similarity=np.linspace(0.5, 0.9, 40), far=0.0)  # fmt: skip
    track = answers("track", range(40), [(40.0, 8.0)] * 40, [5.0] * 40, 0.6, neighbour_recurring=False,
                    reach_km=np.inf, far=0.0)  # fmt: skip
    truth[:, 1] = 8.0
    truth[:12] = (40.0, 8.0)  # ...but the 12 least similar, where the time was
    chooser = Chooser().calibrate([(scene, track)], truth)
    verdict = chooser.verdicts[(False, False, False)]
    assert (verdict.winner, verdict.scene_wins, verdict.track_wins) == ("scene", 28, 12)
    chosen = chooser.choose(list(disagreement(1, False, 0.6)))
    assert chosen.origins == ["scene"] and "scene won 28 and track 12" in chosen.notes[0]
    truth[:30] = (40.0, 8.0)  # now the time won the 30 least similar: the picture overrides where it won as often
    chooser = Chooser().calibrate([(scene, track)], truth)
    verdict = chooser.verdicts[(False, False, False)]
    assert verdict.winner == "track" and 0.70 < verdict.override < 0.71  # the top 20: 10 wins each
    assert chooser.choose(list(disagreement(1, False, 0.6, similarity=0.65))).origins == ["track"]
    assert chooser.choose(list(disagreement(1, False, 0.6, similarity=0.95))).origins == ["scene"]


def test_the_far_budget_keeps_the_expected_share_of_far_answers():
    track = answers("track", range(10), [(47.0, 8.0)] * 10, [5.0] * 10, 0.8, far=[0.0] * 8 + [0.2, 0.5],
                    reach_km=np.inf)  # fmt: skip
    chosen = Chooser(far_budget=0.05).choose([track])
    assert chosen.index.tolist() == list(range(9))  # 0.2 fits in a mean of 0.05 over nine, 0.5 does not
    assert within_budget(np.array([0.0, 0.3, 0.1]), np.ones(3), 0.1).tolist() == [True, False, True]


def test_two_sources_that_agree_are_budgeted_as_the_surer_of_them():
    scene = answers("scene", [0], [(47.0, 8.0)], [1.0], 0.9, days=0, similarity=0.6, far=0.01)
    track = answers("track", [0], [(47.01, 8.0)], [0.5], 0.8, neighbour_recurring=False, gap_h=2.0,
                    reach_km=np.inf, far=0.3)  # fmt: skip
    chosen = Chooser(far_budget=0.05).choose([scene, track])
    assert chosen.origins == ["track"]  # the smaller radius, kept: its far share is scene's as well as its own
    assert chosen.facts["far"].tolist() == [0.01]
    assert len(Chooser(far_budget=0.05).choose([track])) == 0  # alone, track's 0.3 is over the budget


def test_the_far_budget_can_be_applied_to_answers_gathered_from_several_calls():
    chooser = Chooser(far_budget=0.05)
    calls = [answers("track", [i], [(47.0, 8.0)], [5.0], 0.8, far=[f], reach_km=np.inf) for i, f in
             enumerate([0.0, 0.0, 0.1])]  # fmt: skip
    assert [len(chooser.choose([c])) for c in calls] == [1, 1, 0]  # one photo a call: 0.1 alone is over 0.05
    gathered = [chooser.choose([c], budget=False) for c in calls]
    merged = PlaceAnswers("combined", np.concatenate([g.index for g in gathered]),
                          np.concatenate([g.latlon for g in gathered]), np.concatenate([g.radius_km for g in gathered]),
                          np.concatenate([g.confidence for g in gathered]), [e for g in gathered for e in g.evidence],
                          [n for g in gathered for n in g.notes])  # fmt: skip
    merged.facts = {"far": np.concatenate([g.facts["far"] for g in gathered])}
    assert chooser.keep_within_budget(merged).index.tolist() == [0, 1, 2]  # together: a mean of 0.033


def test_the_radius_scale_holds_the_asked_share():
    errors = np.arange(1, 101, dtype=float)
    scale = radius_scale(errors, np.ones(100), 0.85)
    assert (errors <= scale).mean() >= 0.85
    assert radius_scale(errors[:5], np.ones(5)) == float("inf")


def test_the_support_limit_is_the_weakest_support_that_keeps_the_share():
    similarity = np.linspace(1.0, 0.0, 40)
    good = similarity > 0.3
    limit = support_limit(similarity, good, 0.9)
    kept = similarity >= limit
    assert good[kept].mean() >= 0.9 and limit < 0.3
    assert support_limit(similarity, np.zeros(40, bool), 0.9) == float("inf")
    gaps = np.linspace(0, 10, 40)
    assert support_limit(gaps, gaps < 4, 0.9, descending=False) < 5


def test_local_rate_reads_the_share_near_a_support():
    rate = LocalRate.fit(np.arange(200, dtype=float), np.arange(200) < 100)
    assert rate.at(np.array([10.0, 190.0])) == pytest.approx([1.0, 0.0])
