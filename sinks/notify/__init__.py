"""``hallpulse notify``: queue early warnings (排队预警) to WeCom and DingTalk group robots.

One concern per module: ``settings`` (the ``[notify]`` section), ``routing`` (which
channels hear of a hall), ``policy`` (quiet hours and the per-hall interval), ``render``
(the Chinese message), ``channels`` (the two robots' payloads, signing and answers) and
``notifier`` (the thin Kafka consumer loop: retries, dead letters, offsets). All but the
last are plain Python, tested without Kafka or HTTP.
"""
