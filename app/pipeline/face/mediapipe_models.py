"""MediaPipe's face models, shipped in `models/` (Apache-2.0, see its NOTICE), run with LiteRT.

The models come without mediapipe itself: its calculator graphs cost several times the models'
own inference per call, and the wheel drags in jax, protobuf and a second OpenCV. Each file's
checksum is checked before it is loaded, so a damaged or swapped model fails loudly.
"""

import hashlib
from functools import cache
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

MODELS_DIR = Path(__file__).with_name("models")


@cache
def _checksums() -> dict[str, str]:
    """File name -> SHA-256 hex digest, from models/SHA256SUMS."""
    lines = (MODELS_DIR / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split() for line in lines if line.strip())}


def model_path(name: str) -> Path:
    """A model file of models/, after checking its checksum."""
    path = MODELS_DIR / name
    expected = _checksums().get(name)
    if expected is None or not path.is_file():
        raise RuntimeError(f"face model {name} is missing from {MODELS_DIR}")
    if hashlib.sha256(path.read_bytes()).hexdigest() != expected:
        raise RuntimeError(f"face model {name} does not match its checksum in {MODELS_DIR / 'SHA256SUMS'}")
    return path


# Raw scores are clipped before the sigmoid, as mediapipe does.
_SCORE_CLIP = 100.0


def probability(scores: np.ndarray) -> np.ndarray:
    """The models' raw scores (logits) as probabilities, in float64 so that no exp overflows."""
    return 1 / (1 + np.exp(-np.clip(scores.astype(np.float64), -_SCORE_CLIP, _SCORE_CLIP)))


class LiteModel:
    """One model file, one input, run on one thread (the pipeline's other stages use the other
    cores). Not thread-safe: one per tracker."""

    def __init__(self, name: str) -> None:
        self._interpreter = Interpreter(model_path=str(model_path(name)), num_threads=1)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._outputs = [output["index"] for output in self._interpreter.get_output_details()]

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        """The model's outputs, in its order, for one input tensor (batch dimension included)."""
        self._interpreter.set_tensor(self._input, tensor)
        self._interpreter.invoke()
        return [self._interpreter.get_tensor(index) for index in self._outputs]
