"""IR Studio: restore photos with lightweight transformer networks."""

__version__ = "0.1.0"
