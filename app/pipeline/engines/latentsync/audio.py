"""LatentSync 1.6's audio conditioning: whisper encoder states, windowed per video frame.

As the reference (`latentsync/whisper/audio2feature.py` over its copy of openai-whisper):

- the log-mel of the whole clip (`log_mel`) is normalised once, against the clip's loudest
  value, then cut into 30 s segments (3000 mel frames), the last padded with zeros;
- each segment is encoded alone and every hidden state is kept (the embeddings and each block's
  output, before `ln_post`): 50 encoder frames per second, each `hidden_states` x 384;
- video frame i centres on encoder frame floor(i * 50 / fps) and takes it with 4 frames before
  and 5 after (`audio_feat_length` [2, 2] of `configs/unet/stage2_512.yaml`), indices clamped to
  the clip (the first and last frames repeat, no zeros), flattened time-major:
  (10 * hidden_states, 384) tokens per frame, 50 with whisper-tiny.

The UNet cross-attends to these as `encoder_hidden_states`: the reference stacks 16 frames, so
(16, tokens, 384), and with classifier-free guidance puts an all-zero copy first (unconditional
batch, then conditional). The reference resamples the video to 25 fps; other rates follow the
same formula. A clip shorter than one encoder frame (20 ms), on which the reference fails, is
padded with silence to one.
"""

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from app.pipeline.engines.latentsync.whisper_encoder import WhisperEncoder
from app.pipeline.speech.mel import slaney_filterbank

SAMPLE_RATE = 16000
# Whisper's fixed audio front end (`whisper/audio.py`): 25 ms windows every 10 ms, 80 mels.
N_FFT, HOP, N_MELS = 400, 160, 80
# The encoder's input: 30 s of mel frames; its second convolution halves them to 50 per second.
SEGMENT_FRAMES = 30 * SAMPLE_RATE // HOP
ENCODER_RATE = 50
# `audio_feat_length`: video frames of context before and after, 2 encoder frames each.
CONTEXT_BEFORE, CONTEXT_AFTER = 2, 2
WINDOW = 2 * (CONTEXT_BEFORE + CONTEXT_AFTER + 1)
# Segments encoded in one forward: bounds the activations (about 100 MB each for tiny in float32).
_SEGMENTS_PER_BATCH = 4


@dataclass(frozen=True)
class AudioWindows:
    """Per video frame, the encoder frames its window takes from `features`. Slicing keeps the
    shared features, so a long clip holds them once rather than ten times over (whisper-tiny's
    embeddings are 77 kB a frame: 1.2 GB for 10 minutes at 25 fps)."""

    features: torch.Tensor  # (encoder frames, hidden states, width) float32, CPU
    indices: np.ndarray  # (video frames, WINDOW) encoder frame of each token group

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, frames: slice | np.ndarray) -> "AudioWindows":
        return AudioWindows(self.features, self.indices[frames])

    def embeds(self) -> torch.Tensor:
        """(frames, WINDOW * hidden states, width) float32: the UNet's encoder_hidden_states,
        time-major (token = window position * hidden states + state)."""
        return self.features[torch.from_numpy(self.indices)].flatten(1, 2)


def audio_windows(
    samples: np.ndarray, encoder: WhisperEncoder, device: torch.device, dtype: torch.dtype, fps: float, frame_count: int
) -> AudioWindows:
    """Each of `frame_count` video frames' window into the clip's encoder states."""
    return frame_windows(whisper_features(samples, encoder, device, dtype), fps, frame_count)


def whisper_features(
    samples: np.ndarray, encoder: WhisperEncoder, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """(encoder frames, hidden states, width) float32 on the CPU: the reference's `audio2feat`.
    `encoder` is on `device`; `dtype` is the arithmetic (float16 as the reference on a GPU)."""
    samples = np.asarray(samples, dtype=np.float32)
    if len(samples) < 2 * HOP:
        samples = np.pad(samples, (0, 2 * HOP - len(samples)))
    mel = log_mel(samples)
    frames = mel.shape[1]
    starts = range(0, frames, SEGMENT_FRAMES)
    # Each segment keeps the encoder frames its mel frames make (half), as the reference.
    kept = [min(SEGMENT_FRAMES, frames - start) // 2 for start in starts]
    segments = []
    with torch.no_grad():
        for first in range(0, len(starts), _SEGMENTS_PER_BATCH):
            batch = [_segment(mel, start) for start in starts[first : first + _SEGMENTS_PER_BATCH]]
            states = encoder(torch.stack(batch).to(device, dtype)).float().cpu()
            segments += [state[:keep] for state, keep in zip(states, kept[first : first + _SEGMENTS_PER_BATCH])]
    return torch.cat(segments)


def frame_windows(features: torch.Tensor, fps: float, frame_count: int) -> AudioWindows:
    """The reference's `get_sliced_feature` for frames 0 .. frame_count - 1: frames past the
    audio's end repeat its last encoder frame."""
    centres = (np.arange(frame_count, dtype=np.float64) * ENCODER_RATE / fps).astype(np.int64)
    offsets = np.arange(-2 * CONTEXT_BEFORE, 2 * (CONTEXT_AFTER + 1))
    indices = np.clip(centres[:, None] + offsets, 0, len(features) - 1)
    return AudioWindows(features, indices)


def log_mel(samples: np.ndarray) -> torch.Tensor:
    """(N_MELS, len(samples) // HOP) float32: whisper's log-mel, normalised over the whole clip
    (floor 8 below its maximum, then (log10 + 4) / 4)."""
    audio = torch.from_numpy(np.array(samples, dtype=np.float32))
    # Centred frames with reflect padding (torch.stft's default); the last frame is dropped.
    stft = torch.stft(audio, N_FFT, HOP, window=torch.hann_window(N_FFT), return_complex=True)
    power = stft[:, :-1].abs() ** 2
    log = torch.clamp(mel_filters() @ power, min=1e-10).log10()
    log = torch.maximum(log, log.max() - 8.0)
    return (log + 4.0) / 4.0


@lru_cache(maxsize=1)
def mel_filters() -> torch.Tensor:
    """(N_MELS, N_FFT // 2 + 1) float32: the filterbank whisper ships as `mel_filters.npz`, which
    is librosa.filters.mel(sr=16000, n_fft=400, n_mels=80), made with librosa's arithmetic so
    that librosa (a development dependency only) is not needed at run time."""
    return torch.from_numpy(slaney_filterbank(SAMPLE_RATE, N_FFT, N_MELS, 0.0, SAMPLE_RATE / 2))


def _segment(mel: torch.Tensor, start: int) -> torch.Tensor:
    """30 s of mel frames from `start`, zero-padded (zeros of the normalised log-mel, as the
    reference's `pad_or_trim`)."""
    segment = mel[:, start : start + SEGMENT_FRAMES]
    return torch.nn.functional.pad(segment, (0, SEGMENT_FRAMES - segment.shape[1]))
