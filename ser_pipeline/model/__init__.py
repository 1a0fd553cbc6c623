"""The model layer: the Whisper encoder with its heads, the log-mel front end it owns (window and
mel size), export and load, and running a model over clips and long audio.

Training and evaluation both sit on top of this package; neither imports the other.
"""

from ser_pipeline.model.config import ModelConfig, encoder_frames
from ser_pipeline.model.build import build_model, initial_model, seeded_model
from ser_pipeline.model.emotion_model import EmotionModel, span_mean_logits, valid_frames
from ser_pipeline.model.export import EXPORT_META, export_model, load_model, read_export_meta

__all__ = ["EXPORT_META", "EmotionModel", "ModelConfig", "build_model", "encoder_frames", "export_model",
           "initial_model", "load_model", "read_export_meta", "seeded_model", "span_mean_logits", "valid_frames"]
