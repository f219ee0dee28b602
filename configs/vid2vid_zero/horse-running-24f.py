"""horse-running at 24 frames (start 0, stride 3 of its 91), beyond the official code's 8-frame limit.

Dense cross-frame layers run 4 query frames at a time (``dense_chunk_frames``), so memory grows linearly with frames.
Run: python tools/edit_video.py configs/vid2vid_zero/horse-running-24f.py --model-path PATH/TO/stable-diffusion-v1-4
"""

_base_ = ["./horse-running.yaml"]

output_dir = "work_dirs/vid2vid_zero/horse-running-24f"
num_frames = 24
stride = 3
dense_chunk_frames = 4
