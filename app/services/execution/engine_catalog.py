"""Engines by model choice: availability for the API, and loading each engine once per process."""

import threading
from dataclasses import dataclass

import torch

from app.config import Settings
from app.errors import ModelUnavailable
from app.pipeline.device import resolve_device
from app.pipeline.engines import ENGINE_SPECS, Engine
from app.pipeline.engines.base import DiffusionOptions, EngineAvailability, EngineOptions
from app.weights.manifest import install_command


@dataclass(frozen=True)
class ModelDescription:
    model_choice: str
    engine: str
    description: str
    availability: EngineAvailability
    # How an operator installs the missing weights (`python -m app.weights fetch ...`); None when
    # available or when the engine has no weights to download.
    install_command: str | None = None


class EngineCatalog:
    def __init__(self, model_engines: dict[str, str], options: EngineOptions, device: torch.device) -> None:
        self._model_engines = model_engines
        self._options = options
        self.device = device
        self._loaded: dict[str, Engine] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> "EngineCatalog":
        options = EngineOptions(
            weights_dir=settings.weights_dir,
            batch_size=settings.batch_size,
            face_pads=settings.face_pads,
            precision=settings.precision,
            diffusion=DiffusionOptions(
                settings.latentsync_steps, settings.latentsync_guidance, settings.latentsync_seed
            ),
        )
        return cls(settings.model_engines, options, resolve_device(settings.device))

    def preload(self) -> None:
        """Check every engine's weights and load the engines marked for it (blocking). Checking a
        large checkpoint takes seconds (MuseTalk's: about 15): done here, it is the start-up that
        waits, not the first upload, and a wrong file shows in /models before anyone uploads."""
        for name in sorted(set(self._model_engines.values())):
            spec = ENGINE_SPECS.get(name)
            if spec is not None and spec.availability(self._options).available and spec.preload:
                self.load(name)

    def engine_name(self, model_choice: str) -> str:
        return self._model_engines[model_choice]

    def describe(self) -> list[ModelDescription]:
        return [self._describe(choice) for choice in self._model_engines]

    def require_available(self, model_choice: str) -> None:
        availability = self._describe(model_choice).availability
        if not availability.available:
            raise ModelUnavailable(f"{model_choice} is not available on this server: {availability.reason}")

    def load(self, engine_name: str) -> Engine:
        """The shared engine instance, loaded on first use (blocking: call from a worker)."""
        with self._lock:
            if engine_name not in self._loaded:
                self._loaded[engine_name] = ENGINE_SPECS[engine_name].load(self._options, self.device)
            return self._loaded[engine_name]

    def _describe(self, model_choice: str) -> ModelDescription:
        name = self._model_engines[model_choice]
        spec = ENGINE_SPECS.get(name)
        if spec is None:
            return ModelDescription(
                model_choice,
                name,
                "unknown engine",
                EngineAvailability(False, f"MODEL_ENGINES names an unknown engine {name!r}"),
            )
        availability = spec.availability(self._options)
        command = None if availability.available else install_command(model_choice, name)
        return ModelDescription(model_choice, name, spec.description, availability, command)
