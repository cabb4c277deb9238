"""The labeling engine. Pure Python + orjson + Pillow (boto3 imported lazily).

Never imports Textual or Rich: every user action is a call here first, testable without a terminal.
"""
