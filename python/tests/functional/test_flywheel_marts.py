"""Routing labels back: examples and their split, quality by model version, drift."""

from __future__ import annotations


def test_newer_model_version_shows_as_better(built) -> None:
    # compare versions on the days both served, weighting days by outputs
    rows = built.query(
        """
        with both_days as (
            select surface, shown_date
            from output_quality_daily
            group by surface, shown_date
            having count(distinct model_version) = 2
        )
        select q.surface, q.model_version,
               sum(q.mean_p_good * q.n_outputs * q.coverage) / sum(q.n_outputs * q.coverage)
        from output_quality_daily as q
        inner join both_days using (surface, shown_date)
        group by q.surface, q.model_version
        order by q.surface, q.model_version
        """
    )
    by_surface: dict[str, list[tuple[str, float]]] = {}
    for surface, version, mean_p in rows:
        by_surface.setdefault(surface, []).append((version, mean_p))
    assert set(by_surface) == {"code", "chat", "search"}
    for surface, versions in by_surface.items():
        (old, p_old), (new, p_new) = versions  # '…-2026.10' sorts before '…-2026.11'
        assert p_new > p_old + 0.03, (surface, old, p_old, new, p_new)
    # and the truth agrees that the newer versions are better
    truth = dict(
        built.query(
            f"""
            select model_version, avg(is_good::int)
            from read_parquet('{built.sim.truth_path}') group by 1
            """
        )
    )
    for versions in by_surface.values():
        (old, _), (new, _) = versions
        assert truth[new] > truth[old]


def test_split_is_by_request_and_stable(built) -> None:
    ((n, n_eval, n_requests_in_both),) = built.query(
        """
        select count(*), count(*) filter (where split = 'eval'),
               (select count(*) from (
                    select request_id from labeled_examples
                    group by request_id having count(distinct split) > 1))
        from labeled_examples
        """
    )
    assert n_requests_in_both == 0
    assert 0.17 < n_eval / n < 0.23  # flywheel__eval_percent = 20
    # the bucket is a pure function of the request id: recompute it independently
    rows = built.query(
        "select request_id, split from labeled_examples order by request_id limit 200"
    )
    import hashlib

    for request_id, split in rows:
        bucket = int(hashlib.md5(request_id.encode()).hexdigest()[:8], 16) % 100
        assert split == ("eval" if bucket < 20 else "train"), request_id


def test_training_and_eval_sets(built) -> None:
    ((n_train, min_conf, n_uncovered),) = built.query(
        "select count(*), min(confidence), count(*) filter (where not is_covered) "
        "from training_examples"
    )
    assert n_train > 0 and min_conf >= 0.6 and n_uncovered == 0
    ((n_eval, n_eval_split, n_rated),) = built.query(
        "select (select count(*) from eval_examples), "
        "(select count(*) from labeled_examples where split = 'eval'), "
        "(select count(explicit_label) from eval_examples)"
    )
    assert n_eval == n_eval_split and n_rated > 0


def test_drift_flags_the_chat_copy_logging_regression(built) -> None:
    flagged = built.query(
        """
        select metric_name, shown_date, rate_change
        from drift_daily
        where label_task = 'chat_response' and is_flagged
            and metric_name in ('is_copied', 'lf_chat_copied')
        order by shown_date
        """
    )
    # the simulator's regression covers the last 3 of its 14 days
    ((first_day,),) = built.query("select min(shown_date) from drift_daily")
    flagged_days = {day for _, day, _ in flagged}
    assert flagged_days, "the copy-logging regression was not flagged"
    assert all((day - first_day).days >= 14 - 3 for day in flagged_days), flagged
    assert all(change < 0 for _, _, change in flagged), flagged
    # nothing is flagged before the regression for the copy signal
    ((early,),) = built.query(
        """
        select count(*) from drift_daily
        where metric_name = 'is_copied' and is_flagged
            and shown_date < (select min(shown_date) + 11 from drift_daily)
        """
    )
    assert early == 0
