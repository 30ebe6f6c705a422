"""Media through ffmpeg: the binary, container sniffing, probing, audio decoding, chunked YUV frame decoding and encoding."""
