"""dashscope-emulator: a local, offline emulator of Alibaba Cloud Model Studio (DashScope)."""

__version__ = "0.1.0"
