"""Audio: decode + resample to 16 kHz mono, Whisper log-mel features, augmentation."""

SAMPLE_RATE = 16000  # Hz, Whisper's input rate
HOP = 160  # samples per mel frame (100 Hz)
SAMPLES_PER_FRAME = 320  # samples per encoder frame (50 Hz) after the stride-2 conv
FRAME_RATE = 50  # encoder frames per second
