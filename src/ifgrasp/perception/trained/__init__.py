"""Self-trained perception: a point network labelling each depth instance's category and each
point's part, trained on simulated cluttered views (``ifgrasp.sim.clutter``).

    backend = make_backend("trained")                  # models/perception/trained.pt
    result = backend.segment(frame, parse_instruction("the mug by its handle"))
"""

from ifgrasp.perception.trained.backend import STAGES, TrainedBackend, TrainedConfig, load_model
from ifgrasp.perception.trained.network import PartNet
from ifgrasp.perception.trained.vocab import PART_ALLOWED, PART_VOCAB, normalise

__all__ = ["PART_ALLOWED", "PART_VOCAB", "STAGES", "PartNet", "TrainedBackend", "TrainedConfig", "load_model",
           "normalise"]
