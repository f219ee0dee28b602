"""One-shot mIoU of the SegGPT smoke model on ``../shared/data/seggpt`` (4 classes, 15 episodes).

Run:    python tools/train.py configs/seggpt/seggpt_tiny_smoke.py
        python tools/test.py configs/seggpt/seggpt_tiny_fewshot_eval.py \
            --checkpoint work_dirs/seggpt_tiny_smoke/checkpoints/last
Prints ``miou`` and ``iou/<class>`` in percent. Every pair is the query once, the next pair of its class the prompt
(``shots=2`` for two prompts through the feature ensemble). A 2-minute CPU model only checks the pipeline: expect
numbers near what painting everything or nothing gives, not the paper's.
"""

_base_ = ["./seggpt_tiny_smoke.py"]

_data = "../shared/data"

test_dataloader = dict(
    batch_size=1,  # queries differ in size
    num_workers=0,
    dataset=dict(
        type="seggpt.evaluate.FewShotEpisodes",
        root=f"{_data}/seggpt",
        image_dirs=[f"{_data}/coco/val2017"],
        shots=1,
        image_size=64,
    ),
)
evaluator = dict(type="seggpt.evaluate.FewShotSegEvaluator", seg_type="semantic")  # as the folder data trained it
