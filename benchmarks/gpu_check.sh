#!/usr/bin/env bash
# The whole GPU check in one call: environment, the test suite on the GPU backend, the paper's
# grid (--all-16, 2000 episodes), the 5-seed grid and as much of the mitigation study × 5
# seeds as fits. The runs are written under a work folder and packed into OUT, one .tar.gz
# each (at most 8 files of 16 MiB come back from a call): OUT holds gpu_check.log,
# gpu_memory.csv, tests.txt, all16.tar.gz (with metrics.npz, for the comparison with the
# CPU), seeds5.tar.gz and mitigations.tar.gz (without metrics.npz, too large to come back).
#
#   benchmarks/gpu_check.sh OUT [--tiny] [--budget=SECONDS] [--steps=env,all16,seeds5,mitigations,tests]
#
# --tiny: the same steps at tiny sizes (3 agents, 3 steps, 4 episodes, 2 seeds, 2 variants,
# tests/core only) on whatever backend there is, so that a typo fails here on the CPU and
# not in the GPU call. --budget: seconds for all steps together (default 540, under the
# 600 s limit of one call); each step gets at most its cap below and what is left.
#
# Expected on the H200 (none measured yet; estimates from the CPU's numbers in
# benchmarks/RESULTS.md: a train step of 16 lanes is 24 GFLOP, 20,000 steps per 2000-episode
# run, and at this size a step is bound by kernel launches, ~1-3 ms, more than by FLOPs):
#   env          ~10 s
#   all16        ~1-3 min (16 lanes in one call, compile ~30-60 s)        cap 240 s
#   seeds5       ~1-3 min (80 lanes in one call)                          cap 180 s
#   mitigations  9 variants × 16 × 5 = 720 lanes: ~10 TFLOP per episode,
#                at f32 'highest' precision it cannot finish in the time
#                left; it is stopped by SIGTERM (resumable: its checkpoint
#                every 100 episodes) and the episodes reached are reported cap: the rest
#   tests        -m "not slow" on 8 workers sharing the GPU                cap 150 s
set -u
out=${1:?usage: benchmarks/gpu_check.sh OUT [--tiny] [--budget=SECONDS] [--steps=...]}
shift
tiny=0 budget=540 steps=env,all16,seeds5,mitigations,tests
for arg in "$@"; do
  case $arg in
    --tiny) tiny=1 ;;
    --budget=*) budget=${arg#--budget=} ;;
    --steps=*) steps=${arg#--steps=} ;;
    *) echo "error: unknown argument $arg" >&2; exit 2 ;;
  esac
done
[[ -e $out && -n $(ls -A "$out" 2>/dev/null) ]] && { echo "error: $out exists and is not empty" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX") && mkdir -p "$out" || { echo "error: cannot make $out" >&2; exit 1; }
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
log=$out/gpu_check.log
start=$(date +%s)
say() { echo "[$(date -u +%H:%M:%S) +$(($(date +%s) - start))s] $*" | tee -a "$log"; }
left() { echo $((budget - ($(date +%s) - start))); }
# A step's time limit: its cap, or what is left of the budget less 20 s for packing, if less.
limit() { local rest=$(($(left) - 20)); ((rest < $1)) && echo "$rest" || echo "$1"; }

export PYTHONUNBUFFERED=1
export PYTHONPATH=$repo${PYTHONPATH:+:$PYTHONPATH}  # the checkout as it is: no pip install needed
# Memory as used, not JAX's default 75 % preallocation, so that the samples below mean something.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
export JAX_COMPILATION_CACHE_DIR=$work/xla-cache  # shared by the steps
python=$(command -v python3)

if ((tiny)); then
  size=(--n_agents=3 --steps_per_episode=3 --episodes=4 --chunk=2)
  seeds=2 variants=(--variants=baseline,softsign) tests=(tests/core)
else
  size=() seeds=5 variants=() tests=(-m "not slow")
fi

# timed NAME SECONDS CMD...: runs CMD under `timeout` (SIGTERM, then SIGKILL 30 s later),
# logs its output, wall time, exit code and peak resident memory of its processes.
timed() {
  local name=$1 seconds=$2
  shift 2
  if ((seconds < 10)); then say "step $name: skipped, ${seconds}s left of the budget"; return; fi
  say "step $name: limit ${seconds}s: $*"
  local t0=$(date +%s)
  "$python" - "$seconds" "$@" >>"$log" 2>&1 <<'EOF'
import resource, subprocess, sys
seconds, command = sys.argv[1], sys.argv[2:]
code = subprocess.call(["timeout", "-s", "TERM", "-k", "30", seconds, *command])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"exit code {code}{' (stopped at its time limit)' if code in (124, 137, 143) else ''}; "
      f"peak resident memory of one process {peak:.0f} MB")
EOF
  say "step $name: done in $(($(date +%s) - t0))s"
}

# GPU memory used, sampled every 0.5 s while the steps run (gpu_memory.csv).
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=timestamp,memory.used,utilization.gpu --format=csv -lms 500 >"$out/gpu_memory.csv" 2>&1 &
  sampler=$!
  trap 'kill $sampler 2>/dev/null' EXIT
fi

pack() {  # pack NAME [EXCLUDED...]: the run folder as NAME.tar.gz, without its checkpoint
  local name=$1
  shift
  [[ -d $work/$name ]] && tar -czf "$out/$name.tar.gz" -C "$work" --exclude=checkpoint "${@/#/--exclude=}" "$name" &&
    say "packed $name.tar.gz ($(du -h "$out/$name.tar.gz" | cut -f1))"
}

for step in ${steps//,/ }; do
  case $step in
    env)
      say "step env"
      {
        date -u +%FT%TZ; uname -a; nproc; free -g | head -2
        command -v nvidia-smi >/dev/null && nvidia-smi
        "$python" --version
        "$python" -m pip list 2>/dev/null | grep -iE '^(jax|jaxlib|jax-cuda[0-9]*-(plugin|pjrt)|flax|optax|chex|numpy|matplotlib|absl-py|pandas|pytest|pytest-xdist|gymnax|jaxmarl) '
        echo "constraints.txt pins: $(grep -E '^(jax|jaxlib|flax|optax|chex|numpy)==' constraints.txt | tr '\n' ' ')"
        "$python" -c "import jax; print('backend', jax.default_backend(), jax.devices())"
        # The image's JAX is used as it is: the CUDA build of constraints.txt's jaxlib cannot
        # travel (jax-cuda13-pjrt 0.10.2 is a 124 MB wheel; a call carries 64 MiB) and the
        # machine has no network. Every run records the versions it ran with (environment.json).
        "$python" -c "import re, jax
pinned = re.search(r'^jax==(\S+)', open('constraints.txt').read(), re.M).group(1)
if jax.__version__ != pinned:
    print(f'note: jax {jax.__version__} here, constraints.txt pins {pinned}; the results say which ran')"
      } >>"$log" 2>&1
      if ((!tiny)) && ! "$python" -c "import jax, sys; sys.exit(jax.default_backend() != 'gpu')"; then
        say "error: JAX has no GPU backend here; the sweeps would run on the CPU"
        exit 1
      fi ;;
    all16)
      timed all16 "$(limit 240)" "$python" -m jaxmadrl.sweep --all-16 "${size[@]}" --out="$work/all16"
      pack all16 ;;
    seeds5)
      timed seeds5 "$(limit 180)" "$python" -m jaxmadrl.sweep --sweep=all16-5seeds --seeds=$seeds "${size[@]}" \
        --out="$work/seeds5"
      pack seeds5 metrics.npz ;;
    mitigations)
      # --chunk=100: a checkpoint every 100 episodes, so that a stop keeps most of what ran
      # (chunks with padding equal one run: tests/agents/ccm/test_training.py).
      chunk=(--chunk=100)
      ((tiny)) && chunk=()
      timed mitigations "$(limit 100000)" "$python" -m jaxmadrl.sweep --sweep=mitigations --seeds=$seeds \
        "${variants[@]}" "${size[@]}" "${chunk[@]}" --out="$work/mitigations"
      [[ -f $work/mitigations/summary.json ]] ||
        say "mitigations: stopped before the end, at: $(grep -E '^\[[0-9]+/[0-9]+\]' "$log" | tail -n 1)"
      pack mitigations metrics.npz ;;
    tests)
      # Tests of other domains need gymnax and JaxMARL, which the GPU image lacks: they fail
      # to collect and the rest runs. SIGINT at the limit, so that pytest prints its summary.
      t=$(limit 150)
      say "step tests: limit ${t}s"
      timeout -s INT -k 30 "$t" "$python" -m pytest -q -p no:cacheprovider -n 8 --continue-on-collection-errors \
        -rfE "${tests[@]}" >"$out/tests.txt" 2>&1
      say "step tests: exit code $?; $(tail -n 1 "$out/tests.txt")" ;;
    *) say "error: unknown step $step"; exit 2 ;;
  esac
done
rm -rf "$work"
say "all steps done; $(left)s of the budget left"
