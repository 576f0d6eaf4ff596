#!/usr/bin/env bash
# The reference's update order (sequential) on its world, at the cells where the actors stop:
# the four actor-LR-0.01 cells and the four critic-LR-0.1 cells, 1 seed each, each run for
# as long as its stop needs (2 Intel Xeon cores; actor-0.01 ran beside the test suite).
python -m jaxmadrl.sweep --sweep all16-reference-world --actor_update=sequential \
  --actor_lrs=0.01 --seeds=1 --episodes=400 --chunk=50 --name=reference-sequential-actor-0.01 \
  --out=sweeps/runs/reference-world-sequential-stopping/actor-0.01
python -m jaxmadrl.sweep --sweep all16-reference-world --actor_update=sequential \
  --actor_lrs=0.1 --critic_lrs=0.1 --seeds=1 --episodes=300 --chunk=50 \
  --name=reference-sequential-actor-0.1-critic-0.1 --out=sweeps/runs/reference-world-sequential-stopping/actor-0.1-critic-0.1
python -m jaxmadrl.sweep --sweep all16-reference-world --actor_update=sequential \
  --actor_lrs=0.0001,0.001 --critic_lrs=0.1 --seeds=1 --episodes=1000 --chunk=100 \
  --name=reference-sequential-critic-0.1 --out=sweeps/runs/reference-world-sequential-stopping/critic-0.1
for run in actor-0.01 actor-0.1-critic-0.1 critic-0.1; do
  python -m jaxmadrl.figures --run sweeps/runs/reference-world-sequential-stopping/$run \
    --out figures/reference-world-sequential-stopping/$run
done
