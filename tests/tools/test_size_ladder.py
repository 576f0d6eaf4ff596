"""A sized sweep as one sweep per size: each variant's sizes flat, the sweep's other settings
kept, and the asymmetric pass's critic."""

import sys

from jaxmadrl.core import paths
from jaxmadrl.study.definition import load_definition

sys.path.insert(0, str(paths.REPOSITORY_DIR / "tools"))
import size_ladder  # noqa: E402


def test_each_variant_is_a_sweep_of_its_own_size():
    sized = load_definition("sizes-pendulum-sac")
    runs = size_ladder.per_size(sized, None)
    assert list(runs) == list(sized.variants)
    for name, definition in runs.items():
        assert not definition.sized and definition.name == f"sizes-pendulum-sac-{name}"
        assert (definition.train.actor_hidden, definition.train.critic_hidden) == tuple(sized.sizes(name).values())
        assert definition.mitigations == sized.mitigations and definition.seeds == sized.seeds
        assert definition.train.learner_name == "sac" and definition.episodes == sized.episodes
    asymmetric = size_ladder.per_size(sized, [16, 16])
    assert list(asymmetric)[1] == "actor-4-4"
    assert {d.train.critic_hidden for d in asymmetric.values()} == {(16, 16)}
    assert [d.train.actor_hidden for d in asymmetric.values()] == [
        tuple(s["actor_hidden"]) for s in sized.variants.values()
    ]
    smaller = size_ladder.per_size(sized, [16, 16], smaller_actors=True)
    assert list(smaller) == ["actor-1-1", "actor-4-4", "actor-8-8"]  # [16, 16] itself is the symmetric pass's
    assert {d.train.critic_hidden for d in smaller.values()} == {(16, 16)}
