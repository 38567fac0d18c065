from publisher.inputs.spool.runs import MIN_RUN, split_runs


def test_consecutive_ids_make_runs_and_the_rest_stays_a_list() -> None:
    ids = [*range(100, 100 + MIN_RUN), 3, 1, 2, *range(20, 20 + MIN_RUN - 1), 50, 50]
    assert split_runs(ids) == (
        [(100, 100 + MIN_RUN - 1)],
        [1, 2, 3, *range(20, 20 + MIN_RUN - 1), 50],
    )


def test_one_run_repeats_and_nothing() -> None:
    assert split_runs([*range(1, 31), 30, 1]) == ([(1, 30)], [])
    assert split_runs([]) == ([], [])
    assert split_runs([7]) == ([], [7])
