"""Runtime defaults every training config inherits: seeding, logging, checkpoints, distributed set-up.

Nothing to run on its own; see vision/engine/README.md for every key and its range.
"""

seed = 0
deterministic = False
log = dict(interval=10, progress_bar=True, tensorboard=True, plot=True)
checkpoint = dict(interval_epochs=1, interval_steps=None, keep_last=2, save_best=None, rule="greater")
dist = dict(strategy="ddp", backend=None, find_unused_parameters=False, timeout_s=600)
