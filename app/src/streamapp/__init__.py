"""StreamStack app server: accounts, catalog, upload, HLS transcoding and signed playback."""

__version__ = "0.1.0"
