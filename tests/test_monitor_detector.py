"""The event detector, rule by rule, with injected window scores.

Framing used throughout: 100 Hz sample clock, 100-sample windows, 25-sample
hop, so window ``i`` starts at ``25 i``; an event whose first positive window
is ``i`` (not the stream's first) starts at ``25 i + 75``.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import ConfigError
from monitor.scoring.detector import Bout, CoughDetector, DetectorSettings, Framing, Onset

FRAMING = Framing(sample_rate=100, window_samples=100, hop_samples=25)
HI, MID, LO = 0.9, 0.4, 0.1  # on = 0.5, off = 0.35


def detector(**overrides) -> CoughDetector:
    base = {"threshold_on": 0.5, "threshold_off": 0.35, "onset_k": 2, "onset_n": 3,
            "merge_gap_s": 0.0}  # fmt: skip
    return CoughDetector("cough", DetectorSettings(**{**base, **overrides}), FRAMING)


def drive(det: CoughDetector, scores: list[float]) -> list[tuple[int, Onset | Bout]]:
    """Feed scores as consecutive windows; return (window index, result), flush as index -1."""
    out = [(i, r) for i, s in enumerate(scores) for r in det.update(s, i * FRAMING.hop_samples)]
    return out + [(-1, r) for r in det.flush()]


def test_a_run_of_positive_windows_is_one_event():
    results = drive(detector(), [LO, LO, HI, HI, HI, HI, LO, LO])
    assert results == [
        (3, Onset("cough", 2 * 25 + 75)),  # confirmed by the 2nd positive window
        (6, Bout("cough", 125, 5 * 25 + 25, HI, pytest.approx(HI), 4)),
    ]


def test_the_first_window_of_a_stream_starts_its_event_at_zero():
    results = drive(detector(), [HI, HI, LO])
    assert results[0] == (1, Onset("cough", 0))
    assert isinstance(results[1][1], Bout) and results[1][1].start_sample == 0


def test_k_of_n_ignores_isolated_positives_and_tolerates_a_dip():
    assert drive(detector(), [LO, HI, LO, LO, LO, HI, LO, LO, LO]) == []
    results = drive(detector(merge_gap_s=0.3), [LO, HI, LO, HI, LO, LO])
    assert results[0] == (3, Onset("cough", 25 + 75))
    bout = results[1][1]
    assert isinstance(bout, Bout) and bout.windows == 3  # the dip is inside the event
    assert bout.mean_score == pytest.approx((HI + LO + HI) / 3)


def test_one_of_one_confirms_on_the_first_positive_window():
    assert drive(detector(onset_k=1, onset_n=1), [LO, HI, LO])[0] == (1, Onset("cough", 100))


def test_hysteresis_mid_scores_continue_but_never_start_a_bout():
    assert drive(detector(), [LO, MID, MID, MID, LO]) == []
    results = drive(detector(), [LO, HI, HI, MID, MID, LO])
    bout = results[-1][1]
    assert results[-1][0] == 5 and isinstance(bout, Bout)
    assert bout.end_sample == 4 * 25 + 25 and bout.windows == 4
    assert bout.peak_score == HI


def test_merge_gap_merges_short_dips_and_splits_long_ones():
    scores = [LO, HI, HI, LO, HI, HI, LO, LO, HI, HI, LO, LO, LO]
    bouts = [r for _, r in drive(detector(merge_gap_s=0.3), scores) if isinstance(r, Bout)]
    # one-window dip (0.25 s <= 0.3 s) merged; two-window dip (0.5 s) splits
    assert [(b.start_sample, b.end_sample) for b in bouts] == [(100, 150), (275, 300)]


def test_min_duration_suppresses_short_bouts_without_an_onset():
    short = [LO] + [HI] * 4 + [LO] * 3  # duration estimate: one hop
    assert drive(detector(min_duration_s=0.5), short) == []
    long = [LO] + [HI] * 6 + [LO] * 3
    results = drive(detector(min_duration_s=0.5), long)
    onset_window, onset = results[0]
    assert onset_window == 5  # the first window that makes the bout 0.5 s long
    assert onset == Onset("cough", 100)
    assert results[1][1].end_sample - onset.start_sample >= 50


def test_refractory_period_blocks_a_new_onset():
    scores = [LO, HI, HI, LO] + [LO] * 2 + [HI, HI, LO]
    assert len([r for _, r in drive(detector(), scores) if isinstance(r, Bout)]) == 2
    blocked = drive(detector(refractory_s=1.5), scores)
    assert [type(r) for _, r in blocked] == [Onset, Bout]
    assert blocked[-1][1].start_sample == 100


def test_flush_closes_a_confirmed_bout_and_drops_a_candidate():
    results = drive(detector(), [LO, HI, HI, HI])
    assert results[-1][0] == -1 and isinstance(results[-1][1], Bout)
    assert results[-1][1].end_sample == 125
    assert drive(detector(), [LO, LO, HI]) == []  # unconfirmed: no event, no onset


@pytest.mark.parametrize(
    "overrides",
    [{"threshold_off": 0.6}, {"threshold_on": 1.5}, {"onset_k": 4}, {"merge_gap_s": -1.0}],
)
def test_invalid_settings_are_rejected(overrides):
    with pytest.raises(ConfigError):
        detector(**overrides)


def test_hop_must_fit_in_the_window():
    with pytest.raises(ConfigError):
        Framing(16000, 16000, 16001)


@settings(max_examples=200, deadline=None)
@given(
    scores=st.lists(st.sampled_from([LO, MID, HI, 0.0, 1.0, 0.5, 0.35]), max_size=60),
    k=st.integers(1, 3),
    extra_n=st.integers(0, 2),
    merge_gap_s=st.sampled_from([0.0, 0.25, 0.6]),
    refractory_s=st.sampled_from([0.0, 0.5]),
    min_duration_s=st.sampled_from([0.0, 0.3]),
)
def test_every_onset_is_closed_by_exactly_one_event(
    scores, k, extra_n, merge_gap_s, refractory_s, min_duration_s
):
    det = detector(onset_k=k, onset_n=k + extra_n, merge_gap_s=merge_gap_s,
                   refractory_s=refractory_s, min_duration_s=min_duration_s)  # fmt: skip
    results = [r for _, r in drive(det, scores)]
    assert [type(r) for r in results] == [Onset, Bout] * (len(results) // 2)
    earliest_start = 0
    for onset, bout in zip(results[::2], results[1::2], strict=True):
        assert onset.start_sample == bout.start_sample
        assert bout.end_sample - bout.start_sample >= max(FRAMING.hop_samples, round(min_duration_s * 100))
        assert bout.start_sample >= earliest_start
        assert 1 <= bout.windows and bout.mean_score <= bout.peak_score + 1e-12
        assert bout.peak_score >= 0.5
        earliest_start = bout.end_sample + round(refractory_s * 100)
