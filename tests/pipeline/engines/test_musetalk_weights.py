"""MuseTalk's weights: the full-size networks' structure (on the meta device, nothing allocated)
and the loader's handling of the published files' naming."""

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import WhisperConfig, WhisperForConditionalGeneration
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from app.pipeline.engines.musetalk.weights import whisper_encoder_part
from app.pipeline.engines.sd_vae import rename_old_attention
from tests.musetalk_weights import PUBLISHED_UNET, PUBLISHED_VAE, PUBLISHED_WHISPER, old_attention_names


def parameter_count(module: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def test_the_published_unet_config_builds_musetalks_849_9m_parameter_unet():
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(PUBLISHED_UNET)
    state = unet.state_dict()
    # Stable Diffusion 1.5's UNet (859,520,964) with 8 input channels (+11,520) and 384-wide
    # whisper tokens instead of 768-wide CLIP ones in its 16 cross-attentions (-9,584,640):
    # 3.40 GB in fp32, the size of the published unet.pth.
    assert parameter_count(unet) == 859_520_964 + 11_520 - 9_584_640 == 849_947_844
    assert len(state) == 686
    assert state["conv_in.weight"].shape == (320, 8, 3, 3)
    assert state["conv_out.weight"].shape == (4, 320, 3, 3)
    cross_attention = {
        key: tensor.shape for key, tensor in state.items() if ".attn2.to_k." in key or ".attn2.to_v." in key
    }
    assert len(cross_attention) == 32 and all(shape[1] == 384 for shape in cross_attention.values())


def test_the_published_vae_config_builds_sd_vae_ft_mse_and_its_old_key_names_map_onto_it():
    with torch.device("meta"):
        vae = AutoencoderKL.from_config(PUBLISHED_VAE)
    state = vae.state_dict()
    assert parameter_count(vae) == 83_653_863 and len(state) == 248
    published = old_attention_names(state)
    assert "encoder.mid_block.attentions.0.query.weight" in published
    assert "decoder.mid_block.attentions.0.proj_attn.bias" in published
    renamed = rename_old_attention(published)
    assert {key: tensor.shape for key, tensor in renamed.items()} == {
        key: tensor.shape for key, tensor in state.items()
    }


def test_whisper_tiny_gives_the_encoder_five_hidden_states_of_384():
    config = WhisperConfig(**PUBLISHED_WHISPER)
    with torch.device("meta"):
        whole = WhisperForConditionalGeneration(config)
        encoder = WhisperEncoder(config)
    assert parameter_count(whole) == 37_760_640  # whisper-tiny
    encoder_state = whisper_encoder_part(whole.state_dict())
    assert {key: tensor.shape for key, tensor in encoder_state.items()} == {
        key: tensor.shape for key, tensor in encoder.state_dict().items()
    }
    assert encoder_state["embed_positions.weight"].shape == (1500, 384)
    assert config.encoder_layers + 1 == 5  # the embeddings and each layer's output
