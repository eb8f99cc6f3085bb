"""The ``[notify]`` section: channels, routes, quiet hours, interval, retries.

``hallpulse.config.Settings`` composes it with the other sections; the notifier is handed
that object and relies only on the shape :class:`NotifyConfig`. Webhook URLs carry their
key or token, and DingTalk's signing secret is a secret too: both can (and in production
should) be named by an environment variable (``url_env``, ``secret_env``) instead of
written in the file.
"""

from __future__ import annotations

import os
from datetime import time
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field, model_validator

from streams.settings import KafkaSettings, TopicSettings


class ChannelSettings(BaseModel):
    """One group robot. ``url`` or the variable named by ``url_env`` gives the webhook."""

    name: str = Field(min_length=1)
    kind: Literal["wecom", "dingtalk"]
    url: str | None = None
    url_env: str | None = None
    # DingTalk 加签: the SEC… secret, read from this environment variable (never the file)
    secret_env: str | None = None

    @model_validator(mode="after")
    def _one_url(self) -> "ChannelSettings":
        if not self.url and not self.url_env:
            raise ValueError(f"channel {self.name!r} needs url or url_env")
        if self.secret_env and self.kind != "dingtalk":
            raise ValueError(f"channel {self.name!r}: only DingTalk robots sign requests (secret_env)")
        return self

    def webhook_url(self) -> str:
        url = os.environ.get(self.url_env, "") if self.url_env else ""
        url = url or self.url or ""
        if not url:
            raise ValueError(f"channel {self.name!r}: environment variable {self.url_env} is not set")
        return url

    def secret(self) -> str | None:
        if not self.secret_env:
            return None
        return os.environ.get(self.secret_env) or None


class RouteSettings(BaseModel):
    """Alerts of these halls or cities go to these channels. A route naming the hall wins
    over one naming its city, which wins over ``default_channels``."""

    halls: list[str] = Field(default_factory=list)
    cities: list[str] = Field(default_factory=list)
    channels: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _matches_something(self) -> "RouteSettings":
        if not self.halls and not self.cities:
            raise ValueError("a route names halls or cities (use default_channels for the rest)")
        return self


class NotifySettings(BaseModel):
    group_id: str = "hallpulse-notify"
    web_host: str = "127.0.0.1"
    web_port: int = 6068
    channels: list[ChannelSettings] = Field(default_factory=list)
    routes: list[RouteSettings] = Field(default_factory=list)
    default_channels: list[str] = Field(default_factory=list)
    # Asia/Shanghai local times; start after end means the quiet hours span midnight.
    # During them only critical alerts (opened or escalated to 严重) are sent.
    quiet_start: time | None = time(21, 0)
    quiet_end: time | None = time(8, 30)
    # after a message about a hall, further ones within this many minutes are held back
    # (counted into the next message), except a critical one, which always goes
    min_interval_minutes: float = Field(default=10.0, ge=0)
    notify_closed: bool = True          # a short 已恢复 when an alert that was announced closes
    max_age_minutes: float = Field(default=120.0, gt=0)  # older alerts are not news any more
    retries: int = Field(default=5, ge=0)                # attempts after the first
    backoff_base_seconds: float = Field(default=1.0, gt=0)
    backoff_max_seconds: float = Field(default=60.0, gt=0)
    timeout_seconds: float = Field(default=10.0, gt=0)
    lobby_url: str | None = None  # e.g. "http://hall-screen:6066/lobby/?hall={hall_id}"

    @model_validator(mode="after")
    def _known_channels(self) -> "NotifySettings":
        names = [c.name for c in self.channels]
        if len(names) != len(set(names)):
            raise ValueError(f"channel names repeat: {names}")
        for wanted in [*self.default_channels, *(n for r in self.routes for n in r.channels)]:
            if wanted not in names:
                raise ValueError(f"route names channel {wanted!r}, which is not among [[notify.channels]]")
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValueError("quiet_start and quiet_end are set together (or both left out: no quiet hours)")
        return self

    def channel(self, name: str) -> ChannelSettings:
        for c in self.channels:
            if c.name == name:
                return c
        raise KeyError(name)


@runtime_checkable
class NotifyConfig(Protocol):
    """What ``hallpulse notify`` reads of the configuration (``hallpulse.config.Settings`` fits)."""

    catalogue_file: Path
    kafka: KafkaSettings
    topics: TopicSettings
    notify: NotifySettings
