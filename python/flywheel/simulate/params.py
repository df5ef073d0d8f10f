"""Every knob of the simulated world, in one place.

:class:`WorldParams` groups the parameters of the population (:class:`PopulationParams`), of
sessions and explicit feedback (:class:`SessionParams`), of latent output quality
(:class:`QualityParams`), of the users' reactions to an output (:class:`ReactionParams`), of
the text vocabulary (:class:`TextParams`) and of delivery faults (:class:`FaultParams`).
:data:`DEFAULT_WORLD` is the world :func:`flywheel.simulate.simulate` simulates by default;
:data:`WORLDS` names it ``default`` beside worlds where an assumption of the labeling functions
fails (each a few replaced knobs of :data:`DEFAULT_WORLD`, defined at the end of this module).

Conventions: the dataclasses are frozen and hold tuples (hashable, safe to share). Per-surface
values are in the order of ``SURFACES`` (code, chat, search), per-kind values in the order of
``USER_KINDS`` (power, regular, casual). A :data:`GoodBad` pair is *(if the output is good, if
it is bad)*; the gap between the two is what makes a signal informative. Durations are
:class:`Delay` log-normals in seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from flywheel.errors import FlywheelError

#: a value (a probability, a median, a range, ...) for a good and for a bad output
GoodBad = tuple[float, float]


@dataclass(frozen=True)
class Delay:
    """A log-normal duration: ``exp(log(median) + sigma * N(0, 1))`` seconds, clipped.

    Attributes
    ----------
    median_s : float or GoodBad
        Median in seconds, or a pair (after a good output, after a bad one).
    sigma : float
        Standard deviation of the log duration.
    lo_s, hi_s : float
        Clipping bounds in seconds.
    """

    median_s: float | GoodBad
    sigma: float
    lo_s: float
    hi_s: float


__all__ = [
    "DEFAULT_WORLD",
    "CodeParams",
    "CopyParams",
    "Delay",
    "FaultParams",
    "GoodBad",
    "PopulationParams",
    "QualityParams",
    "ReactionParams",
    "RephraseParams",
    "SearchParams",
    "SessionParams",
    "TextParams",
    "WORLDS",
    "WorldParams",
    "world_params",
]


@dataclass(frozen=True)
class PopulationParams:
    """Who the users are and when they start sessions.

    Attributes
    ----------
    kind_share : tuple of float, default (0.10, 0.50, 0.40)
        Share of power, regular and casual users.
    sessions_per_day : tuple of float, default (2.2, 0.9, 0.3)
        Poisson mean of sessions per day per user kind, multiplied by a per-user
        ``Gamma(activity_shape, activity_scale)`` activity.
    activity_shape, activity_scale : float, default 2.0, 0.5
        Shape and scale of the per-user activity multiplier.
    max_sessions_per_day : int, default 8
        Cap on a user's sessions per day.
    surface_mix : tuple of tuple of float
        Mean share of sessions per surface (columns) for every user kind (rows), default
        ``((0.55, 0.30, 0.15), (0.30, 0.40, 0.30), (0.10, 0.45, 0.45))``.
    surface_mix_concentration : float, default 8.0
        Dirichlet concentration of a user's own mix around their kind's mix.
    tz_hours : tuple of float, default (-8.0, -5.0, 0.0, 1.0, 2.0, 5.5, 8.0)
        UTC offsets of the users' time zones.
    tz_share : tuple of float, default (0.18, 0.22, 0.10, 0.25, 0.08, 0.09, 0.08)
        Share of users per time zone.
    hour_mu, hour_sd, hour_share : tuple of float
        Local session start hour: a mixture of normals with means ``(10.5, 15.0, 21.0)``,
        standard deviations ``(1.5, 1.8, 1.5)`` and weights ``(0.45, 0.35, 0.20)``, clipped to
        ``[first_hour, last_hour]``.
    first_hour, last_hour : float, default 6.0, 23.9
        Earliest and latest local session start hour.
    rollout_start_share, rollout_share_gain : float, default 0.25, 0.65
        Share of users on the newer model version from day ``days // 2`` on: the start share on
        that day, growing linearly by the gain to 90 % on the last day (nobody before).
    """

    kind_share: tuple[float, ...] = (0.10, 0.50, 0.40)
    sessions_per_day: tuple[float, ...] = (2.2, 0.9, 0.3)
    activity_shape: float = 2.0
    activity_scale: float = 0.5
    max_sessions_per_day: int = 8
    surface_mix: tuple[tuple[float, ...], ...] = (
        (0.55, 0.30, 0.15),
        (0.30, 0.40, 0.30),
        (0.10, 0.45, 0.45),
    )
    surface_mix_concentration: float = 8.0
    tz_hours: tuple[float, ...] = (-8.0, -5.0, 0.0, 1.0, 2.0, 5.5, 8.0)
    tz_share: tuple[float, ...] = (0.18, 0.22, 0.10, 0.25, 0.08, 0.09, 0.08)
    hour_mu: tuple[float, ...] = (10.5, 15.0, 21.0)
    hour_sd: tuple[float, ...] = (1.5, 1.8, 1.5)
    hour_share: tuple[float, ...] = (0.45, 0.35, 0.20)
    first_hour: float = 6.0
    last_hour: float = 23.9
    rollout_start_share: float = 0.25
    rollout_share_gain: float = 0.65


@dataclass(frozen=True)
class SessionParams:
    """How sessions continue and end, and how often users rate outputs explicitly.

    Attributes
    ----------
    stop_p : tuple of float, default (0.18, 0.25, 0.35)
        Per user kind: probability that a session ends after a good output (unless the user
        rephrases or modifies the request).
    bad_stop_mult : tuple of float, default (1.6, 1.9, 2.2)
        Per user kind: impatience, the factor on ``stop_p`` after a bad output (capped at
        ``max_stop_p``).
    max_stop_p : float, default 0.9
        Cap on the stop probability.
    max_steps : int, default 40
        Requests per session at most.
    min_gap_minutes : int, default 31
        Sessions of a user are at least this many minutes apart (end to start), plus a uniform
        extra gap of up to ``extra_gap_minutes``.
    extra_gap_minutes : int, default 40
        See ``min_gap_minutes``.
    feedback_p_good : tuple of float, default (0.004, 0.001, 0.0005)
        Per user kind: probability of an explicit rating of a good output.
    feedback_bad_mult : float, default 4.0
        Complaints: a bad output is rated this many times as often.
    rating_noise : float, default 0.10
        Probability that a rating has the wrong sign.
    feedback_delay : Delay, default Delay(20.0, 0.8, 2.0, 600.0)
        From output shown to rating.
    think : Delay, default Delay((70.0, 30.0), 0.9, 4.0, 720.0)
        From output shown to the next unrelated request: a good output is read and used, a bad
        one skimmed and left.
    busy_gap_ms : int, default 2000
        The next unrelated request comes at least this long after the user's last accept,
        reject, copy or return from a click.
    later : GoodBad, default (0.03, 0.10)
        Probability that a chat or search user comes back to the topic in a later session.
    later_abandoned_bonus : float, default 0.10
        Added to ``later`` when the session was abandoned after the output.
    later_window_hours : tuple of int, default (1, 48)
        The re-ask is the first request of the user's next session on the same surface that
        starts within this many hours after the output was shown.
    """

    stop_p: tuple[float, ...] = (0.18, 0.25, 0.35)
    bad_stop_mult: tuple[float, ...] = (1.6, 1.9, 2.2)
    max_stop_p: float = 0.9
    max_steps: int = 40
    min_gap_minutes: int = 31
    extra_gap_minutes: int = 40
    feedback_p_good: tuple[float, ...] = (0.004, 0.001, 0.0005)
    feedback_bad_mult: float = 4.0
    rating_noise: float = 0.10
    feedback_delay: Delay = Delay(20.0, 0.8, 2.0, 600.0)
    think: Delay = Delay((70.0, 30.0), 0.9, 4.0, 720.0)
    busy_gap_ms: int = 2_000
    later: GoodBad = (0.03, 0.10)
    later_abandoned_bonus: float = 0.10
    later_window_hours: tuple[int, int] = (1, 48)


@dataclass(frozen=True)
class QualityParams:
    """The latent quality of outputs: ``z = intercept + kind effect - w * difficulty + N(0, 1)``.

    ``true_quality = sigmoid(z)`` and an output is good iff ``z > 0``.

    Attributes
    ----------
    intercept : tuple of tuple of float
        Logit-scale intercept per surface (rows) and model version (columns: older, newer),
        default ``((0.05, 0.55), (0.30, 0.80), (0.15, 0.62))``.
    kind_effect : tuple of float, default (-0.15, 0.0, 0.10)
        Per user kind: added to ``z`` (power users ask harder questions).
    difficulty_weight : float, default 0.6
        Weight of the request's standard-normal difficulty.
    chain_bonus : float, default 0.25
        Added for a rephrased or modified request (it is a little easier to answer).
    difficulty_memory, difficulty_noise : float, default 0.8, 0.6
        A chained request's difficulty is ``memory * previous + noise * N(0, 1)``.
    latency_median_s : tuple of float, default (0.6, 2.5, 0.5)
        Per surface: median seconds from request to output shown.
    latency_sigma, latency_lo_s, latency_hi_s : float, default 0.5, 0.08, 30.0
        Log-normal sigma and clipping bounds of that latency.
    """

    intercept: tuple[tuple[float, ...], ...] = ((0.05, 0.55), (0.30, 0.80), (0.15, 0.62))
    kind_effect: tuple[float, ...] = (-0.15, 0.0, 0.10)
    difficulty_weight: float = 0.6
    chain_bonus: float = 0.25
    difficulty_memory: float = 0.8
    difficulty_noise: float = 0.6
    latency_median_s: tuple[float, ...] = (0.6, 2.5, 0.5)
    latency_sigma: float = 0.5
    latency_lo_s: float = 0.08
    latency_hi_s: float = 30.0


@dataclass(frozen=True)
class CodeParams:
    """Reactions to code outputs.

    Attributes
    ----------
    accept : GoodBad, default (0.62, 0.25)
        Probability of accepting the code.
    reject : GoodBad, default (0.22, 0.40)
        Probability of explicitly rejecting code that was not accepted.
    accept_delay : Delay, default Delay((1.8, 3.2), 0.6, 0.3, 60.0)
        From output shown to accept.
    reject_delay : Delay, default Delay(2.5, 0.7, 0.3, 60.0)
        From output shown to reject.
    edit : GoodBad, default (0.30, 0.55)
        Probability of editing accepted code.
    edit_share_beta : tuple of GoodBad, default ((1.5, 8.0), (4.0, 3.0))
        ``Beta(a, b)`` of the share rewritten by an edit, for good and for bad code (rounded to
        three decimals).
    edit_delay : Delay, default Delay(20.0, 0.8, 3.0, 300.0)
        From accept to edit.
    revert : GoodBad, default (0.05, 0.33)
        Probability of reverting accepted code.
    revert_delay : Delay, default Delay((240.0, 100.0), 1.1, 5.0, 1500.0)
        From accept to revert.
    revert_share : tuple of GoodBad, default ((0.2, 1.0), (0.6, 1.0))
        Uniform range of the share of characters a revert removes, for good and bad code.
    edit_before_revert : tuple of float, default (0.2, 0.8)
        An edit of code later reverted happens at a uniform fraction in this range of the time
        between accept and revert.
    modified_good : float, default 0.07
        Probability of a modified prompt after good code.
    modified_bad : tuple of float, default (0.22, 0.42)
        The same after bad code: if accepted, if not accepted.
    modified_delay_s : tuple of int, default (5, 60)
        Uniform range of seconds from output shown to the modified prompt.
    modified_min_gap_ms : int, default 800
        The modified prompt comes at least this long after the accept or reject.
    """

    accept: GoodBad = (0.62, 0.25)
    reject: GoodBad = (0.22, 0.40)
    accept_delay: Delay = Delay((1.8, 3.2), 0.6, 0.3, 60.0)
    reject_delay: Delay = Delay(2.5, 0.7, 0.3, 60.0)
    edit: GoodBad = (0.30, 0.55)
    edit_share_beta: tuple[GoodBad, GoodBad] = ((1.5, 8.0), (4.0, 3.0))
    edit_delay: Delay = Delay(20.0, 0.8, 3.0, 300.0)
    revert: GoodBad = (0.05, 0.33)
    revert_delay: Delay = Delay((240.0, 100.0), 1.1, 5.0, 1500.0)
    revert_share: tuple[GoodBad, GoodBad] = ((0.2, 1.0), (0.6, 1.0))
    edit_before_revert: tuple[float, float] = (0.2, 0.8)
    modified_good: float = 0.07
    modified_bad: tuple[float, float] = (0.22, 0.42)
    modified_delay_s: tuple[int, int] = (5, 60)
    modified_min_gap_ms: int = 800


@dataclass(frozen=True)
class CopyParams:
    """Copies of (part of) an output: chat mostly, sometimes code or search.

    Attributes
    ----------
    rate : tuple of GoodBad, default ((0.04, 0.02), (0.35, 0.10), (0.03, 0.01))
        Per surface: probability of a copy.
    code_delay : Delay, default Delay(6.0, 0.7, 1.0, 120.0)
        From output shown to copy, code.
    other_delay : Delay, default Delay(25.0, 0.8, 2.0, 600.0)
        From output shown to copy, chat and search.
    share : tuple of float, default (0.3, 1.0)
        Uniform range of the share of the output's characters copied.
    """

    rate: tuple[GoodBad, GoodBad, GoodBad] = ((0.04, 0.02), (0.35, 0.10), (0.03, 0.01))
    code_delay: Delay = Delay(6.0, 0.7, 1.0, 120.0)
    other_delay: Delay = Delay(25.0, 0.8, 2.0, 600.0)
    share: tuple[float, float] = (0.3, 1.0)


@dataclass(frozen=True)
class SearchParams:
    """Result clicks on search outputs (up to two per output).

    Attributes
    ----------
    n_results : tuple of int, default (5, 10)
        Inclusive range of the number of results shown.
    click : GoodBad, default (0.68, 0.35)
        Probability of a first click.
    position_p : GoodBad, default (0.55, 0.30)
        Geometric parameter of the first click's position (capped at the number of results).
    click_delay : Delay, default Delay(4.0, 0.6, 0.5, 60.0)
        From output shown to the first click.
    dwell : tuple of GoodBad, default ((60.0, 0.9), (7.0, 0.8))
        Log-normal (median seconds, sigma) of the first click's dwell, good and bad output.
    dwell_range_s : tuple of float, default (0.5, 1200.0)
        Clipping bounds of every dwell (rounded to 0.1 s).
    second_click : GoodBad, default (0.08, 0.30)
        Probability of a second click after a first one.
    second_position_p : float, default 0.5
        Geometric parameter of the second click's offset from the first.
    second_click_delay : Delay, default Delay(3.0, 0.5, 0.5, 30.0)
        From the return of the first click to the second.
    second_dwell : tuple of float, default (30.0, 1.0)
        Log-normal (median seconds, sigma) of the second click's dwell.
    click_by_rank : tuple of float or None, default None
        A position-based click model instead: result ``r`` (1-based) is clicked with probability
        ``click_by_rank[r - 1]`` (0 past the end), whatever the output's quality; the first
        two clicked ranks, top down, are the first and second click. ``None`` (today's world):
        ``click``, ``position_p``, ``second_click`` and ``second_position_p`` decide.
    confused_dwell_p : GoodBad, default (0.0, 0.0)
        Probability that a first click's dwell is a confused one (the page left open, the user
        lost in it) drawn from ``confused_dwell`` instead of ``dwell``.
    confused_dwell : tuple of float, default (420.0, 0.5)
        Log-normal (median seconds, sigma) of a confused dwell.
    """

    n_results: tuple[int, int] = (5, 10)
    click: GoodBad = (0.68, 0.35)
    position_p: GoodBad = (0.55, 0.30)
    click_delay: Delay = Delay(4.0, 0.6, 0.5, 60.0)
    dwell: tuple[GoodBad, GoodBad] = ((60.0, 0.9), (7.0, 0.8))
    dwell_range_s: tuple[float, float] = (0.5, 1200.0)
    second_click: GoodBad = (0.08, 0.30)
    second_position_p: float = 0.5
    second_click_delay: Delay = Delay(3.0, 0.5, 0.5, 30.0)
    second_dwell: tuple[float, float] = (30.0, 1.0)
    click_by_rank: tuple[float, ...] | None = None
    confused_dwell_p: GoodBad = (0.0, 0.0)
    confused_dwell: tuple[float, float] = (420.0, 0.5)


@dataclass(frozen=True)
class RephraseParams:
    """Rephrased requests after chat and search outputs.

    Attributes
    ----------
    chat, search : GoodBad, default (0.06, 0.38), (0.08, 0.40)
        Probability of rephrasing the request.
    chat_delay, search_delay : Delay
        From output shown to the rephrase, default ``Delay(30.0, 0.6, 5.0, 240.0)`` and
        ``Delay(12.0, 0.6, 4.0, 180.0)``.
    after_click_ms : int, default 1500
        A rephrase comes at least this long after the user is back from a click.
    """

    chat: GoodBad = (0.06, 0.38)
    search: GoodBad = (0.08, 0.40)
    chat_delay: Delay = Delay(30.0, 0.6, 5.0, 240.0)
    search_delay: Delay = Delay(12.0, 0.6, 4.0, 180.0)
    after_click_ms: int = 1_500


@dataclass(frozen=True)
class ReactionParams:
    """How users react to one output (see the member dataclasses)."""

    code: CodeParams = field(default_factory=CodeParams)
    copy: CopyParams = field(default_factory=CopyParams)
    search: SearchParams = field(default_factory=SearchParams)
    rephrase: RephraseParams = field(default_factory=RephraseParams)


@dataclass(frozen=True)
class TextParams:
    """The vocabulary, topics and lengths of request texts.

    Attributes
    ----------
    n_topics : int, default 300
        Topics per surface; popularity is Zipf-like, ``(rank + offset) ** -exponent``.
    topic_offset, topic_exponent : float, default 4.0, 0.8
        See ``n_topics``.
    topic_words : int, default 24
        Vocabulary size of one topic.
    vocab_size : int, default 5000
        Number of distinct words.
    min_tokens, max_tokens : int, default 5, 12
        Tokens of a new request.
    on_topic : GoodBad, default (0.85, 0.55)
        Share of an output's words drawn from its request's topic.
    """

    n_topics: int = 300
    topic_offset: float = 4.0
    topic_exponent: float = 0.8
    topic_words: int = 24
    vocab_size: int = 5000
    min_tokens: int = 5
    max_tokens: int = 12
    on_topic: GoodBad = (0.85, 0.55)


@dataclass(frozen=True)
class FaultParams:
    """Delivery faults, clock skew and the instrumentation regression.

    Attributes
    ----------
    p_duplicate : float, default 0.02
        Share of events delivered twice.
    p_late : float, default 0.01
        Share of events arriving ``late_hours`` late.
    p_malformed : float, default 0.005
        Share of events replaced by a corrupted copy.
    late_hours : tuple of int, default (1, 30)
        Lateness range in hours (``[lo, hi)``).
    receive_delay : Delay, default Delay(0.25, 0.8, 0.015, 30.0)
        From an event to its receipt by the collector (when not late).
    duplicate_delay_ms : tuple of int, default (50, 5000)
        Range of a duplicate's extra ``received_at`` delay in milliseconds (``[lo, hi)``).
    skew_minutes_share : float, default 0.03
        Share of users whose client clock is off by minutes.
    skew_minutes_s : tuple of float, default (60.0, 600.0)
        Range of such a user's skew in seconds (either sign).
    skew_sd_s, skew_max_s : float, default 0.7, 2.0
        Everyone else's skew: ``N(0, skew_sd_s)`` seconds clipped to ``+-skew_max_s``.
    logging_bug_days : int, default 3
        In the last this many days the chat client drops ``logging_bug_loss`` of its copy events
        (fate ``dropped``: never delivered). The drift mart should flag it; nothing about output
        quality changes.
    logging_bug_loss : float, default 0.7
        See ``logging_bug_days``.
    """

    p_duplicate: float = 0.02
    p_late: float = 0.01
    p_malformed: float = 0.005
    late_hours: tuple[int, int] = (1, 30)
    receive_delay: Delay = Delay(0.25, 0.8, 0.015, 30.0)
    duplicate_delay_ms: tuple[int, int] = (50, 5_000)
    skew_minutes_share: float = 0.03
    skew_minutes_s: tuple[float, float] = (60.0, 600.0)
    skew_sd_s: float = 0.7
    skew_max_s: float = 2.0
    logging_bug_days: int = 3
    logging_bug_loss: float = 0.7


@dataclass(frozen=True)
class WorldParams:
    """All parameters of a simulated world (see the member dataclasses for the defaults)."""

    population: PopulationParams = field(default_factory=PopulationParams)
    sessions: SessionParams = field(default_factory=SessionParams)
    quality: QualityParams = field(default_factory=QualityParams)
    reactions: ReactionParams = field(default_factory=ReactionParams)
    text: TextParams = field(default_factory=TextParams)
    faults: FaultParams = field(default_factory=FaultParams)


#: The world :func:`flywheel.simulate.simulate` simulates.
DEFAULT_WORLD = WorldParams()


# --- named worlds: where the labeling functions' assumptions fail ---------------------------
#
# Each world is DEFAULT_WORLD with a few knobs replaced; its docstring names the LF assumption
# (macros/labeling_functions.sql) it breaks. Pick one with ``simulate(..., world=NAME)`` or
# ``flywheel simulate --world NAME``; the truth file says what really happened either way.

_REACTIONS = DEFAULT_WORLD.reactions
_SEARCH = _REACTIONS.search
_CODE = _REACTIONS.code


def _default() -> WorldParams:
    """Today's world, where the LFs' assumptions roughly hold.

    The same files as a simulation without a ``world``, bit for bit.
    """
    return DEFAULT_WORLD


def _exploratory_search() -> WorldParams:
    """Reformulating is normal: rephrases follow good result lists as often as bad ones (35 %).

    Breaks ``lf_search_rephrased`` (a rephrase means the results missed), and the "not
    rephrased" half of ``lf_search_long_click`` and ``lf_search_top_result_clicked``.
    """
    rephrase = replace(_REACTIONS.rephrase, search=(0.35, 0.35))
    return replace(DEFAULT_WORLD, reactions=replace(_REACTIONS, rephrase=rephrase))


def _position_bias() -> WorldParams:
    """Clicks follow rank, blind to relevance: ~0.25 at ranks 1-2, ~0.06 at ranks 5-10.

    Breaks ``lf_search_top_result_clicked`` and ``lf_search_deep_result_clicked``: where the
    first click lands measures position, not quality (so do ``is_clicked`` and pogo-sticking).
    """
    by_rank = (0.25, 0.25, 0.15, 0.10, 0.075, 0.075, 0.075, 0.075, 0.075, 0.075)
    search = replace(_SEARCH, click_by_rank=by_rank)
    return replace(DEFAULT_WORLD, reactions=replace(_REACTIONS, search=search))


def _non_monotone_dwell() -> WorldParams:
    """Dwell is not monotone in quality: 35 % of first clicks on bad results dwell ~7 min.

    The user is confused or lost on the page. Breaks ``lf_search_long_click`` (a long dwell
    means the page satisfied).
    """
    search = replace(_SEARCH, confused_dwell_p=(0.0, 0.35))
    return replace(DEFAULT_WORLD, reactions=replace(_REACTIONS, search=search))


def _retention_unrelated() -> WorldParams:
    """Accepted code is kept or reverted regardless of its quality (15 %, same delays).

    Breaks ``lf_code_reverted_within_2m``, ``lf_code_reverted_within_10m`` and the retention
    half of ``lf_code_accepted_retained_10m``, ``lf_code_lightly_edited`` and
    ``lf_code_quick_accept``.
    """
    code = replace(
        _CODE,
        revert=(0.15, 0.15),
        revert_delay=Delay(160.0, 1.1, 5.0, 1500.0),
        revert_share=((0.4, 1.0), (0.4, 1.0)),
    )
    return replace(DEFAULT_WORLD, reactions=replace(_REACTIONS, code=code))


def _rare_good() -> WorldParams:
    """Good outputs are rare, ~12.5 % of them: every quality intercept is 1.7 lower.

    Breaks the class balance the good-vote LFs and a majority vote lean on: a good vote with
    a fixed false-positive rate is mostly wrong when almost every output is bad.
    """
    q = DEFAULT_WORLD.quality
    intercept = tuple(tuple(v - 1.7 for v in row) for row in q.intercept)
    return replace(DEFAULT_WORLD, quality=replace(q, intercept=intercept))


_BUILDERS: dict[str, Callable[[], WorldParams]] = {
    "default": _default,
    "exploratory_search": _exploratory_search,
    "position_bias": _position_bias,
    "non_monotone_dwell": _non_monotone_dwell,
    "retention_unrelated": _retention_unrelated,
    "rare_good": _rare_good,
}

#: name -> the world of that name (read-only); ``WORLDS["default"] is DEFAULT_WORLD``
WORLDS: Mapping[str, WorldParams] = MappingProxyType({k: f() for k, f in _BUILDERS.items()})


def world_params(name: str) -> WorldParams:
    """The world called ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`WORLDS`.

    Returns
    -------
    WorldParams
        Its parameters.

    Raises
    ------
    FlywheelError
        If there is no world of that name (the message lists the names).
    """
    if not isinstance(name, str) or name not in WORLDS:
        raise FlywheelError(f"unknown world {name!r}; choose one of: {', '.join(WORLDS)}")
    return WORLDS[name]
