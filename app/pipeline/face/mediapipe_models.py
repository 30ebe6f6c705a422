"""The face models inside the mediapipe wheel, run directly with LiteRT.

The wheel is only a carrier here: its calculator graphs cost several times the models' own
inference per call, and importing mediapipe pulls in protobuf and jax for nothing we use, so
the model files are found without importing it.
"""

import importlib.util
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter


def model_path(*parts: str) -> Path:
    """A file under mediapipe/modules/ in the installed wheel."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("mediapipe is not installed: its wheel carries the face models")
    return Path(spec.submodule_search_locations[0], "modules", *parts)


# Raw scores are clipped before the sigmoid, as mediapipe does.
_SCORE_CLIP = 100.0


def probability(scores: np.ndarray) -> np.ndarray:
    """The models' raw scores (logits) as probabilities, in float64 so that no exp overflows."""
    return 1 / (1 + np.exp(-np.clip(scores.astype(np.float64), -_SCORE_CLIP, _SCORE_CLIP)))


class LiteModel:
    """One model file, one input, run on one thread (the pipeline's other stages use the other
    cores). Not thread-safe: one per tracker."""

    def __init__(self, *parts: str) -> None:
        self._interpreter = Interpreter(model_path=str(model_path(*parts)), num_threads=1)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._outputs = [output["index"] for output in self._interpreter.get_output_details()]

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        """The model's outputs, in its order, for one input tensor (batch dimension included)."""
        self._interpreter.set_tensor(self._input, tensor)
        self._interpreter.invoke()
        return [self._interpreter.get_tensor(index) for index in self._outputs]
