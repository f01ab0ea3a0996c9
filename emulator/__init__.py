"""dashscope-emulator: a local, offline emulator of the DashScope fine-tuning API."""

__version__ = "0.1.0"
