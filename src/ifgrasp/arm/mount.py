"""Placeholder, replaced below."""
import numpy as np
T_FLANGE_HAND = np.eye(4)
