"""Sweep one knob with the orrery Python module and plot it (runs headless in CI).

From a fresh clone, after ./build.sh build (the module is built when pybind11 is installed):
    PYTHONPATH=build/python /usr/bin/python3 examples/python/sweep_hbm.py [out_dir]

Llama 3 8B, TP 2 / PP 2 / DP 2 on one DGX H100, HBM bandwidth from 2 to 6 TB/s: step time,
energy and cost per million tokens. Also ranks a small plan search and shows the tables as pandas
DataFrames.
"""
import os
import sys

import matplotlib

matplotlib.use("Agg")  # headless
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

import orrery  # noqa: E402

out = sys.argv[1] if len(sys.argv) > 1 else "out/examples"
os.makedirs(out, exist_ok=True)

base = dict(model="llama3-8b", system="dgx-h100", nodes=1, tp=2, pp=2, dp=2, sequence_parallel=True,
            micro_batch=1, global_batch=32, seq=4096, recompute="selective", zero=1)
rows = []
for tbs in [2.0, 2.5, 3.35, 4.0, 4.8, 6.0]:
    r = orrery.train(**base, **{"set.hbm_bandwidth": f"{tbs}TB/s"})
    rows.append(dict(hbm_tbs=tbs, iteration_time_s=r["iteration_time_s"], mfu=r["mfu"],
                     kwh_per_mtok=r["kwh_per_mtok"], cost_usd_per_mtok=r["cost_usd_per_mtok"],
                     avg_power_w_gpu=r["avg_power_w_gpu"]))
df = pd.DataFrame(rows)
print(df.to_string(index=False))

fig, ax = plt.subplots(1, 2, figsize=(10, 4))
ax[0].plot(df.hbm_tbs, df.iteration_time_s, "o-")
ax[0].set_xlabel("HBM bandwidth (TB/s)")
ax[0].set_ylabel("iteration time (s)")
ax[1].plot(df.hbm_tbs, df.kwh_per_mtok, "o-", color="tab:green")
ax[1].set_xlabel("HBM bandwidth (TB/s)")
ax[1].set_ylabel("facility kWh per million tokens")
fig.suptitle("Llama 3 8B on one DGX H100 (orrery train)")
fig.tight_layout()
png = os.path.join(out, "sweep_hbm.png")
fig.savefig(png, dpi=80)
print("wrote", png)

# A table straight into pandas: the best plans for the same job on 16 GPUs.
plans = pd.DataFrame(orrery.plan(model="llama3-8b", system="dgx-h100", gpus=16, global_batch=32, seq=4096,
                                 comm="builtin", top=5)["plans"])
print(plans[["plan", "iteration_time_s", "mfu", "peak_memory_bytes"]].to_string(index=False))
kernels = pd.DataFrame(orrery.train(**base)["layer_kernels"])
print(kernels.groupby("class")["time_s"].sum())
assert df.iteration_time_s.is_monotonic_decreasing or df.iteration_time_s.iloc[0] >= df.iteration_time_s.iloc[-1]
