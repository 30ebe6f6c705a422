"""Speech: audio features, the Wav2Lip mel spectrogram, and recognised phones turned into mouth shapes."""
