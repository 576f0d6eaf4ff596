# Seed 004's size study (run from the repository root), one program per size (tools/size_ladder.py):
# the symmetric pass over each ladder, then the asymmetric pass at the smallest solving symmetric
# critic over the actors below it. Ran on 2 Intel Xeon cores, 2026-12-06/07 (jax 0.10.2); beside it
# for parts of the time: four 4-episode Brax smoke runs, the family speed check (paused the ladders
# while it ran), and the test suite (pendulum-sac, -ppo and acrobot-ppo).
for pair in pendulum-ddpg:32,32 pendulum-td3:32,32 pendulum-sac:32,32 pendulum-ppo: acrobot-ppo:4,4; do
  name=${pair%%:*} critic=${pair##*:}
  python tools/size_ladder.py --sweep sizes-$name --out sweeps/runs/seed004-sizes/$name/symmetric
  # the critic: the smallest symmetric size that solves (figures/actor-critic-sizes/table1.md); PPO on Pendulum: none
  [ -n "$critic" ] && python tools/size_ladder.py --sweep sizes-$name --critic $critic --smaller_actors \
    --out sweeps/runs/seed004-sizes/$name/asymmetric
done
# Brax Reacher at the reduced budget (20,000 steps: 400 episodes of 50 steps; PPO 50 iterations
# × 8 environments × 50 steps), 2026-12-07 on 2 Intel Xeon cores, commit dd74296 (DDPG's
# symmetric pass started at dba1b41: the two differ only in PPO's minibatch check and
# sizes-reacher-ppo.json); two ladders at a time, beside the test suite for part of it; the
# critic read off the symmetric pass as above (PPO: none solves).
for pair in reacher-ppo: reacher-ddpg:64,64 reacher-td3:32,32 reacher-sac:64,64; do
  name=${pair%%:*} critic=${pair##*:}
  python tools/size_ladder.py --sweep sizes-$name --out sweeps/runs/seed004-sizes/$name/symmetric
  [ -n "$critic" ] && python tools/size_ladder.py --sweep sizes-$name --critic $critic --smaller_actors \
    --out sweeps/runs/seed004-sizes/$name/asymmetric
done
python -m jaxmadrl.figures --size_study $(find sweeps/runs/seed004-sizes -name summary.json -printf '%h\n' | sort | paste -sd,) \
  --out figures/actor-critic-sizes
