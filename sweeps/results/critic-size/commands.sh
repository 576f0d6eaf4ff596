# The critic-size study (run from the repository root): the actor at its default (64, 32), one
# compiled program per critic size, each over the lanes of sweeps/critic-size.json.
for size in 32,8 64,16 128,32 256,64 512,128 1024,256; do
  python -m jaxmadrl.sweep --sweep critic-size --critic_hidden=$size --name=critic-size-${size/,/-} \
    --out=sweeps/runs/critic-size-${size/,/-}
done
# The smallest actor that held up (8, 4) with the smallest critic that held up (32, 8).
python -m jaxmadrl.sweep --sweep critic-size --actor_hidden=8,4 --critic_hidden=32,8 --name=sizes-8-4-32-8 \
  --out=sweeps/runs/sizes-8-4-32-8
