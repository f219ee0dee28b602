"""A minimal training loop on a config's model and data, for smoke configs' "the loss falls" tests."""

from __future__ import annotations

import numpy as np
import torch


def fixed_batch_losses(config: str, steps: int = 8, batch_size: int = 2, lr: float = 2e-3) -> list[float]:
    """Losses of ``steps`` AdamW updates of the config's model on one fixed batch of its training data (seeded)."""
    from torch.utils.data import default_collate

    from vision.config import instantiate, load_config

    cfg = load_config(config)
    torch.manual_seed(0)
    model = instantiate(cfg.model.to_dict())
    dataset = instantiate(cfg.train_dataloader.dataset.to_dict())
    np.random.seed(0)
    batch = default_collate([dataset[i] for i in range(batch_size)])
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = model(**batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
