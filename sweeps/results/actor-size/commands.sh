# The actor-size study (run from the repository root): the critic fixed at (512, 128), one
# compiled program per actor size, each over the lanes of sweeps/actor-size.json (3 seeds).
for size in 8,4 16,8 32,16 64,32 512,128; do
  python -m jaxmadrl.sweep --sweep actor-size --actor_hidden=$size --name=actor-size-${size/,/-} \
    --out=sweeps/runs/actor-size-${size/,/-}
done
