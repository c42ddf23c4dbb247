"""roiroa: Regions of Importance and Regions of Attack in adversarial images."""

__version__ = "0.1.0"
