"""EVA-02-B UperNet on ADE20K (semantic segmentation; kept beside the detection configs as issue 7's dense suite).

Settings (official EVA-02/seg ``upernet_eva02_base_12_512_slide_60k``): init ``eva02_B_pt_in21k_p14to16``, 512 x 512
crops, read-out blocks 3/5/7/11, drop path 0.15, AdamW lr 6e-5, wd 0.05, layer decay 0.85, batch 32, 60k iterations,
slide test (512, stride 341). Expected ADE20K val mIoU: 55.3 single-scale (``eva02_B_ade_seg_upernet_sz512``).

ADE20K is read from ``data/ade/ADEChallengeData2016``. Train:
``python -m vision.dense.runner train configs/det/upernet_eva02_b_ade20k_512.py
--cfg-options model.backbone.pretrained=/path/to/eva02_B_pt_in21k_p14to16.pt``
"""

_base_ = ["./_base_/upernet_eva02.py", "./_base_/ade20k_512.py"]
