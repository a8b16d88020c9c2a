"""The pairing of what the microphone heard with what the speaker played, when capture and
playback are two streams (``modules/voice/io/stream_pair.py``)."""

from __future__ import annotations

import numpy as np

from modules.voice.io.stream_pair import MAX_AHEAD_BLOCKS, PlayedQueue

BLOCK = 320


def test_played_samples_are_taken_in_order_whatever_the_callbacks_sizes() -> None:
    queue = PlayedQueue(BLOCK)
    played = np.arange(10 * BLOCK, dtype=np.float32)
    for part in np.split(played, [100, 700, 1500, 2300, 3200]):  # playback blocks of odd sizes
        queue.put(part)
    taken, slips = [], 0
    for n in (BLOCK, 130, BLOCK, 190):  # capture blocks of other sizes, all that is held
        out, slipped = queue.take(n)
        assert len(out) == n
        taken.append(out)
        slips += slipped
    got = np.concatenate(taken)
    # Playback ran ahead: the oldest samples beyond MAX_AHEAD_BLOCKS were dropped once, and
    # from there on the samples come in order, none twice, none skipped.
    assert slips == 1
    first = int(got[0])
    assert first == 10 * BLOCK - BLOCK - MAX_AHEAD_BLOCKS * BLOCK
    assert np.array_equal(got, np.arange(first, first + len(got), dtype=np.float32))


def test_a_queue_short_of_played_samples_pads_silence_and_says_it_slipped() -> None:
    queue = PlayedQueue(BLOCK)
    queue.put(np.ones(100, np.float32))
    out, slipped = queue.take(BLOCK)
    assert slipped and len(out) == BLOCK
    assert np.all(out[:100] == 1.0) and np.all(out[100:] == 0.0)
    out, slipped = queue.take(BLOCK)
    assert slipped and not out.any()


def test_steady_streams_keep_one_distance_and_never_slip() -> None:
    """Playback and capture at the same rate, their callbacks interleaved in any phase:
    each heard block is paired with the played samples one fixed distance back."""
    queue = PlayedQueue(BLOCK)
    counter, slips, starts = 0, 0, []
    for step in range(200):
        queue.put(np.arange(counter, counter + BLOCK, dtype=np.float32))
        counter += BLOCK
        if step % 7 == 3:  # now and then playback runs one block ahead of capture
            queue.put(np.arange(counter, counter + BLOCK, dtype=np.float32))
            counter += BLOCK
            out, slipped = queue.take(BLOCK)
            slips += slipped
            starts.append(int(out[0]))
        out, slipped = queue.take(BLOCK)
        slips += slipped
        starts.append(int(out[0]))
    assert slips == 0
    assert np.all(np.diff(starts) == BLOCK)
