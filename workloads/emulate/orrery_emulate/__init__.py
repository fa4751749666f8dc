"""orrery emulate: run a user's PyTorch training script with fake tensors and a fake process group,
record every aten op, collective, stream and sync of one training step per distinct rank, and
write the ranks as a capture bundle (et.<rank>.json + kineto.<rank>.json) that `orrery replay`
reads.  Entry point: `python -m orrery_emulate` (driver.py); one rank runs in worker.py.
"""
