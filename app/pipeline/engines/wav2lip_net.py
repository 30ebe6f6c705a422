"""The Wav2Lip generator, laid out so the public wav2lip.pth / wav2lip_gan.pth load with strict=True.

Layer layout (module names, order, channel counts, kernels, strides) follows the published
checkpoints of "A Lip Sync Expert Is All You Need" (Prajwal et al. 2020): a face encoder over
a 6-channel 96x96 input (the target crop with its lower half zeroed, then a reference crop, BGR
in [0, 1]), an audio encoder over one 80x16 mel window, and a decoder that upsamples the audio
embedding, concatenating the matching face encoder output after every block (skip connections),
ending in a sigmoid 3x96x96 image.
"""

import torch
from torch import nn

FACE_SIZE = 96


class ConvBlock(nn.Module):
    """Conv + BatchNorm + ReLU, optionally adding its input (same shape) before the ReLU.

    Keys: conv_block.0 (Conv2d), conv_block.1 (BatchNorm2d).
    """

    def __init__(
        self, cin: int, cout: int, kernel: int, stride: int | tuple[int, int], padding: int, residual: bool = False
    ) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding), nn.BatchNorm2d(cout))
        self.act = nn.ReLU()
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        return self.act(out + x if self.residual else out)


class UpBlock(nn.Module):
    """ConvTranspose + BatchNorm + ReLU. Keys: conv_block.0, conv_block.1."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, padding: int, output_padding: int = 0) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ConvTranspose2d(cin, cout, kernel, stride, padding, output_padding), nn.BatchNorm2d(cout)
        )
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv_block(x))


def _residuals(channels: int, count: int) -> list[ConvBlock]:
    return [ConvBlock(channels, channels, 3, 1, 1, residual=True) for _ in range(count)]


def _down(cin: int, cout: int, residuals: int) -> nn.Sequential:
    """Halve the size (stride 2) into `cout` channels, then `residuals` residual blocks."""
    return nn.Sequential(ConvBlock(cin, cout, 3, 2, 1), *_residuals(cout, residuals))


def _up(cin: int, cout: int, residuals: int) -> nn.Sequential:
    """Double the size into `cout` channels, then `residuals` residual blocks."""
    return nn.Sequential(UpBlock(cin, cout, 3, 2, 1, output_padding=1), *_residuals(cout, residuals))


class Wav2LipGenerator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.face_encoder_blocks = nn.ModuleList(
            [
                nn.Sequential(ConvBlock(6, 16, 7, 1, 3)),  # 96x96
                _down(16, 32, 2),  # 48
                _down(32, 64, 3),  # 24
                _down(64, 128, 2),  # 12
                _down(128, 256, 2),  # 6
                _down(256, 512, 1),  # 3
                nn.Sequential(ConvBlock(512, 512, 3, 1, 0), ConvBlock(512, 512, 1, 1, 0)),  # 1
            ]
        )
        self.audio_encoder = nn.Sequential(  # 80x16 mel window -> 512x1x1
            ConvBlock(1, 32, 3, 1, 1),
            *_residuals(32, 2),
            ConvBlock(32, 64, 3, (3, 1), 1),
            *_residuals(64, 2),
            ConvBlock(64, 128, 3, 3, 1),
            *_residuals(128, 2),
            ConvBlock(128, 256, 3, (3, 2), 1),
            *_residuals(256, 1),
            ConvBlock(256, 512, 3, 1, 0),
            ConvBlock(512, 512, 1, 1, 0),
        )
        # Input channels = previous block's output + the matching face encoder output.
        self.face_decoder_blocks = nn.ModuleList(
            [
                nn.Sequential(ConvBlock(512, 512, 1, 1, 0)),  # 1
                nn.Sequential(UpBlock(1024, 512, 3, 1, 0), *_residuals(512, 1)),  # 3
                _up(1024, 512, 2),  # 6
                _up(768, 384, 2),  # 12
                _up(512, 256, 2),  # 24
                _up(320, 128, 2),  # 48
                _up(160, 64, 2),  # 96
            ]
        )
        self.output_block = nn.Sequential(
            ConvBlock(80, 32, 3, 1, 1), nn.Conv2d(32, 3, kernel_size=1, stride=1, padding=0), nn.Sigmoid()
        )

    def forward(self, mel_windows: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """mel_windows (B, 1, 80, 16), faces (B, 6, 96, 96) -> (B, 3, 96, 96) in [0, 1]."""
        skips = []
        x = faces
        for block in self.face_encoder_blocks:
            x = block(x)
            skips.append(x)
        x = self.audio_encoder(mel_windows)
        for block in self.face_decoder_blocks:
            x = torch.cat((block(x), skips.pop()), dim=1)
        return self.output_block(x)
