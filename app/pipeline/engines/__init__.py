"""Engine registry: a new engine is one module plus one line here."""

from app.pipeline.engines.base import Engine, EngineAvailability, EngineSpec
from app.pipeline.engines.latentsync.spec import LatentSyncSpec
from app.pipeline.engines.musetalk.spec import MuseTalkSpec
from app.pipeline.engines.viseme import VisemeSpec
from app.pipeline.engines.wav2lip import Wav2LipSpec

ENGINE_SPECS: dict[str, EngineSpec] = {
    spec.name: spec
    for spec in (
        VisemeSpec(),
        Wav2LipSpec("wav2lip", "wav2lip.pth", "Wav2Lip generator (96x96 lower face), public wav2lip.pth."),
        Wav2LipSpec("wav2lip_gan", "wav2lip_gan.pth", "Wav2Lip trained with a visual-quality GAN, wav2lip_gan.pth."),
        MuseTalkSpec(),
        LatentSyncSpec(),
    )
}

__all__ = ["ENGINE_SPECS", "Engine", "EngineAvailability", "EngineSpec"]
