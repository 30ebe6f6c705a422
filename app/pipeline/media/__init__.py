"""Media through ffmpeg: the binary, container sniffing, probing, audio decoding, YUV frames in and out."""
