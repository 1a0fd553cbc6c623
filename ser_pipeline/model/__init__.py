"""The model layer: the Whisper encoder with its heads, the log-mel front end it owns (window and
mel size), export and load, and running a model over clips and long audio.

Training and evaluation both sit on top of this package; neither imports the other.
"""
