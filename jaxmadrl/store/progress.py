"""Where a running sweep stands, as its ``run_sweep`` reports it after compiling and after
every chunk."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Progress:
    """Where a running sweep stands: reported once after compiling (``episodes_done ==
    first_episode``) and after every chunk. ``environment``: this session's record;
    ``changed``: the numerics in which it differs from the run's previous session ("" if
    none; results from ``first_episode`` on then differ from an uninterrupted run).
    ``lanes``: the lanes this call runs (a shard's share, if ``shard`` "i/n" is given)."""

    name: str
    shard: str
    lanes: int
    variants: int
    calls: int
    lanes_per_call: int
    episodes: int
    first_episode: int
    episodes_done: int
    lanes_all_stopped: int
    compile_s: float
    elapsed_s: float  # since this session's first chunk began
    environment: dict
    changed: str

    @property
    def config_episodes_per_s(self) -> float:
        done = self.episodes_done - self.first_episode
        return done * self.lanes / self.elapsed_s if done and self.elapsed_s > 0 else float("nan")

    @property
    def eta_s(self) -> float:
        return (self.episodes - self.episodes_done) * self.lanes / self.config_episodes_per_s
