"""Vision analysis per 640×480 frame, against a baseline in the same process.

Usage: ``.venv/bin/python bench/vision_frame.py [--repeat N]``

Each of scikit-image's colour photographs (astronaut, coffee, chelsea, rocket) is resized to
640×480 and analysed ``N`` times with the default options (faces on, people off), then with
people on; the baseline is a plain ``cv2.cvtColor(BGR→GRAY)`` plus mean of the same frame,
so a slower or busier machine shows up in both. Prints median milliseconds per frame.
Target (issue 11): ≤ 50 ms per frame.
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import skimage.data

from modules.vision.frame import analyse_frame
from modules.vision.options import VisionOptions

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def median_ms(work, repeat: int) -> float:
    work()  # warm: detectors loaded, caches filled
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        work()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    frames = [
        cv2.resize(
            cv2.cvtColor(getattr(skimage.data, n)(), cv2.COLOR_RGB2BGR), (640, 480), interpolation=cv2.INTER_AREA
        )
        for n in PHOTOS
    ]
    cases = {
        "baseline cvtColor+mean": lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).mean(),
        "analyse (no detectors)": lambda f: analyse_frame(f, VisionOptions(faces=False)),
        "analyse (default: faces)": lambda f: analyse_frame(f, VisionOptions()),
        "analyse (faces + people)": lambda f: analyse_frame(f, VisionOptions(people=True)),
    }
    print(f"640x480 frames, median of {args.repeat} runs, OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads")
    print(f"{'case':28s} " + " ".join(f"{n:>10s}" for n in PHOTOS) + "   mean ms")
    for label, work in cases.items():
        ms = [median_ms(lambda f=f, w=work: w(f), args.repeat) for f in frames]
        print(f"{label:28s} " + " ".join(f"{m:10.2f}" for m in ms) + f"   {statistics.fmean(ms):7.2f}")


if __name__ == "__main__":
    main()
