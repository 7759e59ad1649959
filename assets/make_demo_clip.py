"""Encodes the held-out CVC-ClinicDB cases seq25-seq29 as the demo clip (H.264 MP4).

Writes `assets/demo_clip.mp4` (frames in case order, 15 fps) and `assets/demo_clip_gt/` (the
expert masks as `<frame index>.png`, frame index = position in the clip) so tests can score the
demo pipeline in a clone without the data set. Run: python assets/make_demo_clip.py [DATA_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import av
import cv2
import numpy as np

CASES = ("seq25", "seq26", "seq27", "seq28", "seq29")
FPS = 15
ASSETS = Path(__file__).resolve().parent


def main(data_dir: Path) -> None:
    frames_out = ASSETS / "demo_clip.mp4"
    gt_out = ASSETS / "demo_clip_gt"
    gt_out.mkdir(exist_ok=True)
    index = 0
    with av.open(str(frames_out), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "slow"}
        for case in CASES:
            names = sorted((data_dir / "Frame" / case).glob("*.jpg"), key=lambda p: int(p.stem))
            for frame_path in names:
                frame = cv2.imread(str(frame_path), cv2.IMREAD_COLOR)
                mask = cv2.imread(str(data_dir / "GT" / case / f"{frame_path.stem}.png"), 0)
                if index == 0:
                    stream.height, stream.width = frame.shape[:2]
                video_frame = av.VideoFrame.from_ndarray(frame, format="bgr24")
                container.mux(stream.encode(video_frame))
                cv2.imwrite(
                    str(gt_out / f"{index:04d}.png"), np.where(mask > 127, 255, 0).astype(np.uint8)
                )
                index += 1
        container.mux(stream.encode(None))
    print(f"wrote {frames_out} ({index} frames at {FPS} fps) and {gt_out}/")


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "cvc-clinicdb"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
