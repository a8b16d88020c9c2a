"""Makes the tactile test recordings in this folder (run from the repository root:
``.venv/bin/python tests/data/tactile/generate.py``). Deterministic (fixed seeds).

IMU files are 100 Hz, accelerometer in m/s² (specific force: +9.81 on z for a phone lying
flat, screen up), gyroscope in rad/s, with Gaussian sensor noise of σ = 0.2 m/s² and
0.02 rad/s per axis — about ten times a phone MEMS IMU's own noise at rest (BMI160:
180 µg/√Hz, 0.007 °/s/√Hz), standing in for a hand's tremor.

``shake.jsonl``   1 s lying still, 2 s shaken side to side along x at 4 Hz with ±15 m/s²
                  (a vigorous hand shake: 4–5 Hz, 1–2 g, as in shake-detection studies of
                  phone users), then 1 s still. The wrist's rotation shows on the gyroscope
                  (±2 rad/s about y). Expect one shake: ~15 reversals, peak ~15 m/s².
``still.jsonl``   3 s lying still. Expect nothing.
``walk.jsonl``    4 s carried while walking: 2 Hz vertical bounce of ±3 m/s² and a 1 Hz
                  sway of ±1.5 m/s² along x. Expect nothing.
``tilt.jsonl``    1 s flat, then the top edge tipped down by 45° (about x) over 0.5 s with a
                  smooth (raised-cosine) motion, then held 1.5 s. Expect one tilt forward
                  of about 45°.
``touches.jsonl`` a tap, a long press, a swipe left, a swipe up, a 0.35 s press (no
                  gesture) and a 2 s slow drag (no gesture).
``malformed.jsonl`` one good tap among seven bad lines (see the file).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RATE_HZ = 100.0
G = 9.81


def _write(name: str, rows: list[dict]) -> None:
    with (HERE / name).open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, separators=(",", ":")) + "\n")


def _imu(t: np.ndarray, accel: np.ndarray, gyro: np.ndarray, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    accel = accel + rng.normal(0.0, 0.2, accel.shape)
    gyro = gyro + rng.normal(0.0, 0.02, gyro.shape)
    return [
        {
            "type": "imu",
            "t_s": round(float(ti), 4),
            "accel_ms2": [round(float(v), 4) for v in a],
            "gyro_rads": [round(float(v), 4) for v in w],
        }
        for ti, a, w in zip(t, accel, gyro, strict=True)
    ]


def _times(seconds: float) -> np.ndarray:
    return np.arange(round(seconds * RATE_HZ)) / RATE_HZ


def shake() -> list[dict]:
    t = _times(4.0)
    accel = np.zeros((t.size, 3))
    gyro = np.zeros((t.size, 3))
    accel[:, 2] = G
    moving = (t >= 1.0) & (t < 3.0)
    phase = 2 * math.pi * 4.0 * (t[moving] - 1.0)
    accel[moving, 0] = 15.0 * np.sin(phase)
    gyro[moving, 1] = 2.0 * np.cos(phase)
    return _imu(t, accel, gyro, seed=11)


def still() -> list[dict]:
    t = _times(3.0)
    accel = np.zeros((t.size, 3))
    accel[:, 2] = G
    return _imu(t, accel, np.zeros((t.size, 3)), seed=12)


def walk() -> list[dict]:
    t = _times(4.0)
    accel = np.zeros((t.size, 3))
    accel[:, 2] = G + 3.0 * np.sin(2 * math.pi * 2.0 * t)
    accel[:, 0] = 1.5 * np.sin(2 * math.pi * 1.0 * t)
    return _imu(t, accel, np.zeros((t.size, 3)), seed=13)


def tilt() -> list[dict]:
    t = _times(3.0)
    ramp = np.clip((t - 1.0) / 0.5, 0.0, 1.0)
    theta = math.radians(45.0) * (1 - np.cos(math.pi * ramp)) / 2
    rate = np.where((t >= 1.0) & (t <= 1.5), math.radians(45.0) * math.pi / 2 / 0.5 * np.sin(math.pi * ramp), 0.0)
    accel = np.stack([np.zeros_like(t), -G * np.sin(theta), G * np.cos(theta)], axis=1)
    gyro = np.stack([-rate, np.zeros_like(t), np.zeros_like(t)], axis=1)
    return _imu(t, accel, gyro, seed=14)


def _touch(phase: str, t: float, x: float, y: float) -> dict:
    return {"type": "touch", "phase": phase, "t_s": t, "x_px": x, "y_px": y, "pointer": 0}


def touches() -> list[dict]:
    rows = [_touch("down", 0.0, 100, 200), _touch("up", 0.12, 103, 201)]  # tap
    rows += [_touch("down", 1.0, 300, 300), _touch("move", 1.3, 302, 301), _touch("up", 1.8, 302, 301)]  # long press
    rows += [_touch("down", 3.0, 500, 400)]  # swipe left, 0.25 s
    rows += [_touch("move", 3.0 + 0.05 * i, 500 - 44 * i, 400 + 2 * i) for i in range(1, 5)]
    rows += [_touch("up", 3.25, 280, 410)]
    rows += [_touch("down", 4.0, 200, 600), _touch("move", 4.15, 203, 510), _touch("up", 4.3, 205, 420)]  # up
    rows += [_touch("down", 5.0, 50, 50), _touch("up", 5.35, 52, 51)]  # a press: no gesture
    rows += [_touch("down", 6.0, 100, 100)]  # slow drag: no gesture
    rows += [_touch("move", 6.0 + 0.5 * i, 100 + 50 * i, 100) for i in range(1, 4)]
    rows += [_touch("up", 8.0, 300, 100)]
    return rows


def malformed() -> list[str]:
    return [
        json.dumps(_touch("down", 0.0, 10, 10)),
        "{not json",
        '{"type": "imu", "t_s": 0.01, "accel_ms2": [NaN, 0.0, 9.81]}',
        '{"type": "imu", "t_s": 0.02, "accel_ms2": [500.0, 0.0, 9.81]}',
        '{"type": "smell", "t_s": 0.03}',
        '{"type": "touch", "phase": "up", "t_s": 0.04, "x_px": 10}',
        '{"type": "touch", "phase": "up", "t_s": 0.05, "x_px": 10, "y_px": 10, "pointer": 3}',
        "[1, 2, 3]",
        json.dumps(_touch("up", 0.1, 12, 11)),
    ]


if __name__ == "__main__":
    _write("shake.jsonl", shake())
    _write("still.jsonl", still())
    _write("walk.jsonl", walk())
    _write("tilt.jsonl", tilt())
    _write("touches.jsonl", touches())
    (HERE / "malformed.jsonl").write_text("\n".join(malformed()) + "\n", encoding="utf-8")
