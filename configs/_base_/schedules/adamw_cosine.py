"""AdamW with linear warm-up and per-step cosine decay (the EVA fine-tuning schedule), layer decay off.

Set ``optimizer.layer_decay`` (e.g. 0.65) to fine-tune a pretrained ViT with layer-wise lr decay.
"""

optimizer = dict(type="adamw", lr=1e-3, weight_decay=0.05, betas=(0.9, 0.999), layer_decay=None)
scheduler = dict(type="cosine", warmup_epochs=1, min_lr=1e-6)
train = dict(max_epochs=30, accum_steps=1, grad_clip=None, amp=None, eval_interval=1)
