"""Text analytics in Chinese and English: language, segmentation, PII redaction, sentiment,
contact reasons (intents) and topics. The pipeline entry is :func:`cxlens.text.stage.run`.

Every submodule imports its heavy dependencies (jieba, sklearn, langid, vaderSentiment) inside
the functions that need them, so importing :mod:`cxlens.text` is cheap.
"""

from __future__ import annotations
