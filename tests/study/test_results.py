"""The per-lane summaries and the stopping table."""


def test_stopping_table_columns_stay_apart_when_cells_are_narrower_than_headers():
    from jaxmadrl.study import results

    rows = [
        {"variant": "v", "actor_lr": a, "critic_lr": c, "all_actors_stopped": 212, "diverged": False}
        for a in (1e-4, 1e-1)
        for c in (1e-4, 1e-3)
    ]
    header = results.stopping_table(rows, 2000).splitlines()[0]
    assert header.split()[-2:] == ["0.0001", "0.001"]
