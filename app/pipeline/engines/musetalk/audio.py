"""MuseTalk's audio prompts: whisper-tiny encoder states, windowed per video frame.

As the reference (`musetalk/utils/audio_processor.py`): the audio is cut into 30 s segments (the
encoder's fixed input), every hidden state of the encoder (the embeddings and each layer's
output) is kept, and each video frame sees 10 encoder frames (200 ms at 50 per second) from two
video frames before its own to three after, as 50 tokens of 384 values plus a sinusoidal
positional encoding. One difference: the reference steps through the encoder frames at
`int(fps)`, so a 29.97 fps video drifts 0.03 s per second against its audio; here frame i starts
at exactly i / fps.
"""

import math
from dataclasses import dataclass

import numpy as np
import torch
from transformers import WhisperFeatureExtractor
from transformers.models.whisper.modeling_whisper import WhisperEncoder

SAMPLE_RATE = 16000
_SEGMENT_SAMPLES = 30 * SAMPLE_RATE
# Encoder frames per second of audio (whisper's 10 ms mel hop, halved by its second convolution).
ENCODER_RATE = 50
# The reference's audio_padding_length_left / _right: video frames of context on either side.
_CONTEXT_BEFORE, _CONTEXT_AFTER = 2, 2
WINDOW = 2 * (_CONTEXT_BEFORE + _CONTEXT_AFTER + 1)


@dataclass(frozen=True)
class AudioWindows:
    """Per video frame, where its window starts in `states`: slicing keeps the shared states, so
    a long clip holds its encoder output once (230 MB for 10 minutes) rather than five times
    over in per-frame copies."""

    states: torch.Tensor  # (padded encoder frames, hidden states, dim) float32, CPU
    starts: np.ndarray  # (video frames,) first encoder frame of each window

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, frames: slice | np.ndarray) -> "AudioWindows":
        return AudioWindows(self.states, self.starts[frames])

    def prompts(self) -> torch.Tensor:
        """(frames, WINDOW * hidden states, dim) float32: the UNet's encoder_hidden_states,
        time-major (token = encoder frame * hidden states + state), positional encoding added."""
        index = torch.from_numpy(self.starts[:, None] + np.arange(WINDOW))
        windows = self.states[index].flatten(1, 2)
        return windows + positional_encoding(windows.shape[1], windows.shape[2])


def encoder_states(
    samples: np.ndarray,
    features: WhisperFeatureExtractor,
    encoder: WhisperEncoder,
    device: torch.device,
    dtype: torch.dtype,
) -> torch.Tensor:
    """(encoder frames, hidden states, dim) float32 on the CPU for 16 kHz mono `samples`: 50
    frames per second of audio, every hidden state of the encoder stacked."""
    segments = []
    for start in range(0, max(len(samples), 1), _SEGMENT_SAMPLES):
        # The extractor pads each segment to 30 s and normalises its log-mel on its own, as the reference.
        mel = features(
            samples[start : start + _SEGMENT_SAMPLES], sampling_rate=SAMPLE_RATE, return_tensors="pt"
        ).input_features
        hidden = encoder(mel.to(device, dtype), output_hidden_states=True).hidden_states
        segments.append(torch.stack(hidden, dim=2)[0].float().cpu())
    heard = math.floor(len(samples) / SAMPLE_RATE * ENCODER_RATE)
    return torch.cat(segments)[:heard]


def frame_windows(states: torch.Tensor, fps: float, frame_count: int) -> AudioWindows:
    """Each video frame's window into `states`, padded with zeros before the audio (the
    reference's two frames of context) and after it (frames past the end hear silence)."""
    step = ENCODER_RATE / fps
    before = math.ceil(step) * _CONTEXT_BEFORE
    # The epsilon keeps a start that is exactly an encoder frame (frame 2997 at 29.97 fps) from
    # rounding down to the one before.
    starts = np.floor(np.arange(frame_count) * step + 1e-6).astype(np.int64)
    needed = int(starts[-1]) + WINDOW if frame_count else before
    after = max(0, needed - before - len(states))
    layers, dim = states.shape[1:]
    padded = torch.cat([states.new_zeros(before, layers, dim), states, states.new_zeros(after, layers, dim)])
    return AudioWindows(padded, starts)


def positional_encoding(length: int, dim: int) -> torch.Tensor:
    """(length, dim) sinusoidal encoding (sin on even channels, cos on odd), as the reference's
    PositionalEncoding."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, dim, 2).float() * (-math.log(10000.0) / dim))
    encoding = torch.zeros(length, dim)
    encoding[:, 0::2] = torch.sin(position * frequency)
    encoding[:, 1::2] = torch.cos(position * frequency)
    return encoding
