"""EVA-02 detection schedule: AdamW with layer-wise lr decay, 60k iterations, 1k warm-up, steps at 80% and 90%.

Official values (EVA-02/det eva2_mim_to_coco configs): batch 128 (B) / 144 (L), lr 5e-5 (B) / 6e-5 (L), weight
decay 0.1 on every parameter, betas (0.9, 0.999), layer decay 0.7 (B) / 0.8 (L), fp16 mixed precision.
"""

max_iters = 60000
val_interval = 5000

optim_wrapper = dict(
    type="AmpOptimWrapper",
    constructor="LayerDecayOptimWrapperConstructor",
    paramwise_cfg=dict(layer_decay_rate=0.7),
    optimizer=dict(type="AdamW", lr=5e-5, betas=(0.9, 0.999), weight_decay=0.1),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(
        type="MultiStepLR",
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[max_iters * 8 // 10, max_iters * 9 // 10],
        gamma=0.1,
    ),
]
train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
# The paper's total batch: 128 images for B (64 GPUs x 2); mmengine rescales lr when --auto-scale-lr is given.
auto_scale_lr = dict(enable=False, base_batch_size=128)

default_hooks = dict(
    timer=dict(type="IterTimerHook"),
    logger=dict(type="LoggerHook", interval=50),
    param_scheduler=dict(type="ParamSchedulerHook"),
    checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=val_interval, max_keep_ckpts=3, save_last=True),
    sampler_seed=dict(type="DistSamplerSeedHook"),
    visualization=dict(type="DetVisualizationHook"),
)
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method="fork"), dist_cfg=dict(backend="nccl"))
vis_backends = [dict(type="LocalVisBackend")]
visualizer = dict(type="DetLocalVisualizer", vis_backends=vis_backends, name="visualizer")
log_processor = dict(type="LogProcessor", window_size=50, by_epoch=False)
log_level = "INFO"
load_from = None
resume = False
