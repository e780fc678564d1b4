"""lorascope: LoRA-adapted N-best rescorers for speech recognition, their training, robustness and inspection."""

__version__ = "0.1.0"
