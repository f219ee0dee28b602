"""Dense prediction on the EVA-02 backbone.

``vitdet`` (ViTDet backbone + simple feature pyramid), ``segmentation`` (UperNet backbone), ``convert`` (official
p14to16 conversion, checkpoint filter), ``coco_eval`` (pycocotools AP), ``layer_decay``, ``runner`` (train / test
configs/det), ``benchmark`` (suite 'det'); the mmdet / mmseg glue (``mmdet_registration``, ``mmseg_registration``,
``registry``, ``mmcv_compat``) is imported only by configs that need it. mmdet, mmseg and mmcv are the optional
``det`` extra.
"""
