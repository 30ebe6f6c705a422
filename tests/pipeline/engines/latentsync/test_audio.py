"""LatentSync's audio conditioning: our whisper encoder and windows against the unmodified reference.

The fixtures (`tests/fixtures/latentsync`, see `make_audio_fixtures.py`) hold the reference's
log-mel, whisper features and per-frame embeddings for `speech.wav`, computed with the checkpoint
`tests.latentsync_weights.whisper` writes (seed 0, small dims). Here the same file is written
again, loaded by our code, and every stage must match on CPU float32 (max abs differences seen:
0 for the log-mel on the AVX2 machine that made the fixtures, 1.7e-5 on an AVX-512 one, whose
float32 FFT and matrix products sum in another order, the log of quiet bins magnifying it; about
2e-6 for features and embeddings of values up to about 6).
"""

from pathlib import Path

import librosa
import numpy as np
import pytest
import torch

from app.pipeline.engines.latentsync.audio import (
    ENCODER_RATE,
    WINDOW,
    audio_windows,
    frame_windows,
    log_mel,
    mel_filters,
    whisper_features,
)
from app.pipeline.engines.latentsync.whisper_encoder import WhisperEncoder, load_whisper_encoder
from app.pipeline.engines.weights_cache import WeightsError
from app.pipeline.media.audio import decode_audio
from tests.latentsync_weights.whisper import SMALL_WHISPER_DIMS, write_whisper

FIXTURES = Path(__file__).parents[3] / "fixtures" / "latentsync"
TOLERANCE = {"atol": 1e-5, "rtol": 1e-5}
# The log-mel (values about -1 to 1.5) within float32 summation order; a real difference is far
# larger (a symmetric Hann window instead of whisper's periodic one moves it by 0.07).
MEL_TOLERANCE = {"atol": 1e-4, "rtol": 0}
CPU = torch.device("cpu")
# Hidden states (embeddings + each block) times the 10 encoder frames of a window.
TOKENS = WINDOW * (SMALL_WHISPER_DIMS["n_audio_layer"] + 1)


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "audio_reference.npz") as saved:
        return dict(saved)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("whisper") / "tiny.pt"
    write_whisper(path)
    return path


@pytest.fixture(scope="module")
def encoder(checkpoint) -> WhisperEncoder:
    return load_whisper_encoder(checkpoint)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return decode_audio(FIXTURES / "speech.wav", max_seconds=10)


@pytest.fixture(scope="module")
def features(speech, encoder) -> torch.Tensor:
    return whisper_features(speech, encoder, CPU, torch.float32)


def test_mel_filters_are_whispers_librosa_filterbank():
    expected = librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)
    np.testing.assert_array_equal(mel_filters().numpy(), expected)


def test_log_mel_matches_the_reference(speech, reference):
    torch.testing.assert_close(log_mel(speech), torch.from_numpy(reference["mel"]), **MEL_TOLERANCE)


def test_whisper_features_match_the_reference(features, reference):
    assert features.shape == (50, 3, 384)
    torch.testing.assert_close(features, torch.from_numpy(reference["features"]), **TOLERANCE)


@pytest.mark.parametrize("fps", [25, 30])
def test_frame_embeds_match_the_reference(features, reference, fps):
    count = reference_frame_count(len(features), fps)
    assert count == reference[f"frame_count_{fps}_fps"]
    embeds = frame_windows(features, fps, count)[reference[f"frames_{fps}_fps"]].embeds()
    assert embeds.shape == (3, TOKENS, 384)
    torch.testing.assert_close(embeds, torch.from_numpy(reference[f"embeds_{fps}_fps"]), **TOLERANCE)


def test_frame_audio_embeds_gives_every_frame_and_the_unets_batches(speech, encoder, features, reference):
    embeds = frame_audio_embeds(speech, encoder, CPU, torch.float32, 25.0, 27)
    assert embeds.shape == (27, TOKENS, 384) and embeds.dtype == torch.float32
    torch.testing.assert_close(embeds[[0, 13, 26]], torch.from_numpy(reference["embeds_25_fps"]), **TOLERANCE)
    # The reference stacks 16 frames per UNet call; a batch of the windows is the same slice.
    windows = audio_windows(speech, encoder, CPU, torch.float32, 25.0, 27)
    torch.testing.assert_close(windows[16:32].embeds(), embeds[16:])


def test_windows_repeat_the_first_and_last_encoder_frames_at_the_clips_edges(features):
    windows = frame_windows(features, 25, 40)
    # Frame 0 centres on encoder frame 0: 4 frames before it (all frame 0), itself and 5 after.
    np.testing.assert_array_equal(windows.indices[0], [0, 0, 0, 0, 0, 1, 2, 3, 4, 5])
    first = windows[:1].embeds()[0].view(WINDOW, -1, 384)
    torch.testing.assert_close(first[:5], features[0].expand(5, -1, -1))
    # Frames past the audio (50 encoder frames: 1 s) hear its last encoder frame only.
    np.testing.assert_array_equal(windows.indices[24], [44, 45, 46, 47, 48, 49, 49, 49, 49, 49])
    assert (windows.indices[27:] == 49).all()
    torch.testing.assert_close(windows[39:].embeds()[0].view(WINDOW, -1, 384), features[-1].expand(WINDOW, -1, -1))


def test_windows_follow_the_frame_rate(features):
    assert frame_windows(features, 30, 7).indices[6, 4] == 10
    assert frame_windows(features, 29.97, 3).indices[2, 4] == 3
    assert frame_windows(features, 25, 0).embeds().shape == (0, TOKENS, 384)


def test_features_past_whispers_30_s_segment_match_the_reference(speech, encoder, reference):
    long = np.tile(speech, int(reference["long_repeats"]))
    assert len(long) > 30 * 16000
    features = whisper_features(long, encoder, CPU, torch.float32)
    assert len(features) == reference["long_feature_count"]
    start = int(reference["long_features_from"])
    torch.testing.assert_close(
        features[start : start + len(reference["long_features"])],
        torch.from_numpy(reference["long_features"]),
        **TOLERANCE,
    )
    count = reference_frame_count(len(features), 25)
    assert count == reference["long_frame_count"]
    embeds = frame_windows(features, 25, count)[reference["long_frames"]].embeds()
    torch.testing.assert_close(embeds, torch.from_numpy(reference["long_embeds"]), **TOLERANCE)


def test_a_clip_shorter_than_one_encoder_frame_is_heard_as_one(encoder):
    features = whisper_features(np.zeros(100, dtype=np.float32), encoder, CPU, torch.float32)
    assert features.shape == (1, 3, 384)
    assert frame_windows(features, 25, 2).embeds().shape == (2, TOKENS, 384)


def test_the_encoder_loads_as_float32_from_the_published_float16_file(checkpoint, encoder):
    saved = torch.load(checkpoint, weights_only=True)["model_state_dict"]
    assert saved["encoder.conv1.weight"].dtype == torch.float16
    state = encoder.state_dict()
    assert set(state) == {key.removeprefix("encoder.") for key in saved if key.startswith("encoder.")}
    assert all(tensor.dtype == torch.float32 for tensor in state.values())
    assert encoder.hidden_states == 3 and encoder.width == 384


def _rewrite(source: Path, target: Path, change) -> Path:
    checkpoint = torch.load(source, weights_only=True)
    change(checkpoint)
    torch.save(checkpoint, target)
    return target


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c["model_state_dict"].pop("encoder.blocks.1.mlp.2.bias"),
        lambda c: c["model_state_dict"].update({"encoder.ln_post.weight": torch.ones(383)}),
        lambda c: c["model_state_dict"].update({"encoder.blocks.2.attn_ln.weight": torch.ones(384)}),
        lambda c: c["dims"].update({"n_audio_layer": 3}),
        lambda c: c["dims"].pop("n_audio_head"),
        lambda c: c.pop("model_state_dict"),
    ],
    ids=["missing key", "misshapen", "unexpected key", "dims not the tensors'", "dims incomplete", "no state"],
)
def test_a_checkpoint_that_does_not_match_is_refused_naming_the_file(checkpoint, tmp_path, change):
    path = _rewrite(checkpoint, tmp_path / "tiny.pt", change)
    with pytest.raises(WeightsError, match="tiny.pt"):
        load_whisper_encoder(path)


def test_the_decoders_tensors_are_not_needed(checkpoint, tmp_path):
    def drop_decoder(checkpoint: dict) -> None:
        state = checkpoint["model_state_dict"]
        checkpoint["model_state_dict"] = {key: value for key, value in state.items() if key.startswith("encoder.")}

    load_whisper_encoder(_rewrite(checkpoint, tmp_path / "tiny.pt", drop_decoder))


@pytest.mark.parametrize("mmap", [False, True])
def test_a_truncated_or_foreign_file_is_refused_naming_it(checkpoint, tmp_path, mmap):
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(checkpoint.read_bytes()[:100_000])
    foreign = tmp_path / "foreign.pt"
    foreign.write_text("not a checkpoint")
    for path in (truncated, foreign, tmp_path / "missing.pt"):
        with pytest.raises(WeightsError, match=path.name):
            load_whisper_encoder(path, mmap=mmap)


def frame_audio_embeds(
    samples: np.ndarray, encoder: WhisperEncoder, device: torch.device, dtype: torch.dtype, fps: float, frame_count: int
) -> torch.Tensor:
    """(frame_count, WINDOW * hidden states, width) float32 on the CPU: each video frame's audio
    embedding for 16 kHz mono `samples`. For a long clip, take `audio_windows` and call
    `embeds()` per batch of frames instead."""
    return audio_windows(samples, encoder, device, dtype, fps, frame_count).embeds()


def reference_frame_count(feature_count: int, fps: float) -> int:
    """How many video frames the reference makes for `feature_count` encoder frames
    (`feature2chunks`, to whose length it loops or cuts the video): frames up to and including
    the first that starts past the end, by its own float formula."""
    step = ENCODER_RATE / fps
    frame = 0
    while int(frame * step) <= feature_count:
        frame += 1
    return frame + 1
