"""An independent, scalar float64 reading of the environment step of docs/SPEC.md §1.

Written with plain Python loops straight from the specification's wording, to check the
vectorised, lax-based environment against numbers computed another way.
"""

import math


def oracle_step(
    power_dbm,
    gain_db,
    compute_ghz,
    battery,
    size_mb,
    cycles,
    deadline,
    action,
    mode="H2",
    scaling="updated",
    n_units=8,
    n_channels=10,
):
    n = len(power_dbm)
    bits_per_mb = 8 * 1024 * 1024 if scaling == "updated" else 8 * 1024
    t_off, t_proc, t_local, e_local, e_off = [], [], [], [], []
    for i in range(n):
        x, alpha, rho = action[i]
        f_alloc = compute_ghz[i] * 1e9 * alpha
        p_watt = 10 ** ((power_dbm[i] - 30) / 10) * rho
        rate = 40 * 1e6 * math.log2(1 + p_watt * 10 ** (gain_db[i] / 10)) / n_channels
        b = size_mb[i] * bits_per_mb
        t_proc.append(b * cycles[i] / 4e9)
        t_local.append(b * cycles[i] / f_alloc)
        t_off.append(b / rate)
        e_local.append(5e-27 * b * cycles[i] * (f_alloc**2 if scaling == "updated" else f_alloc))
        e_off.append(p_watt * t_off[-1])
    finish = [0.0] * n
    if mode == "H2":
        visit = sorted((i for i in range(n) if action[i][0] == 1), key=lambda i: (t_off[i], i))
        units = [0.0] * n_units
        argmin = lambda: min(range(n_units), key=lambda u: (units[u], u))
        for k, i in enumerate(visit):
            if k >= n_units:
                for j in visit[:k]:
                    units[argmin()] += t_proc[j]
            finish[i] = max(t_off[i], min(units)) + t_proc[i]
            units[argmin()] = finish[i]
    else:
        finish = [t_off[i] + t_proc[i] for i in range(n)]
    reward, n_energy_violations, n_time_violations, next_battery = 0.0, 0, 0, []
    for i in range(n):
        x = action[i][0]
        t = (1 - x) * t_local[i] + x * finish[i]
        t = min(t, 1.0) / 1.0
        e = (1 - x) * e_local[i] + x * e_off[i]
        bat = min(max(battery[i] - e * 1e-6 + 0.001 * 1e-6, 0.0), 3.2)
        if bat <= 0:
            t = 1.0
        pt = max(t - deadline[i] / 1.0, 0.0)
        pe = max(0.5 - bat, 0.0) * 1e6
        reward += -(0.5 * e + 0.5 * t) - (0.5 * pe + 0.5 * pt)
        n_energy_violations += pe > 0
        n_time_violations += pt > 0
        next_battery.append(bat)
    return reward, next_battery, n_energy_violations / n, n_time_violations / n
