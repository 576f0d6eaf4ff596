# The single-seed mitigation pilot (run from the repository root, about 90 s each).
common="--actor_lrs=1e-2,1e-1 --critic_lrs=1e-3 --seeds=1 --episodes=2000 --chunk=250"
python -m jaxmadrl.sweep $common --name=mit-baseline --out=sweeps/runs/mit-baseline
python -m jaxmadrl.sweep $common --name=mit-layernorm --layer_norm --out=sweeps/runs/mit-layernorm
python -m jaxmadrl.sweep $common --name=mit-softsign --output_activation=softsign --out=sweeps/runs/mit-softsign
python -m jaxmadrl.sweep $common --name=mit-gradclip --actor_grad_clip=1 --critic_grad_clip=1 --out=sweeps/runs/mit-gradclip
python -m jaxmadrl.sweep $common --name=mit-rewardnorm --reward_normalisation --out=sweeps/runs/mit-rewardnorm
python -m jaxmadrl.sweep $common --name=mit-outlr --output_lr_multiplier=0.1 --out=sweeps/runs/mit-outlr
python -m jaxmadrl.sweep $common --name=mit-hardtanh --output_activation=hardtanh --out=sweeps/runs/mit-hardtanh
