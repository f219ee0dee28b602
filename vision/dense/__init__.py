"""Dense prediction on the EVA-02 backbone: the ViTDet backbone and pyramid, checkpoint conversion, COCO evaluation,
and the mmdet glue (``mmdet_registration``, ``mmcv_compat``), which is imported only when asked for.

mmdet / mmcv are the optional ``det`` extra: nothing imported by ``import vision.dense`` needs them.
"""
