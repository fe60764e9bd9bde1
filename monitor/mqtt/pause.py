"""The pause over MQTT: commands on ``<prefix>/set``, the state on ``<prefix>/monitoring``.

``<prefix>/set`` (subscribed, QoS 1): ``ON`` = monitoring on, ``OFF`` = paused;
publish it retained so the monitor finds it after a restart.
``<prefix>/monitoring`` (retained): the state in force, ``ON`` or ``OFF``,
published on every change and after every (re)connect. The Home Assistant
``switch`` (see :mod:`monitor.mqtt.discovery`) commands the first and shows the second.
"""

from __future__ import annotations

import logging
from typing import Any

from monitor.live.pause import PauseControl
from monitor.mqtt.sink import MqttSink

log = logging.getLogger(__name__)


def attach_pause(sink: MqttSink, control: PauseControl) -> None:
    """Route ``sink``'s command topic to ``control`` and publish its state through ``sink``.

    ``sink`` may be connected already: the subscription and the state go out at once then.
    """
    topics, publisher = sink.topics, sink.publisher

    def publish_state(_paused: bool | None = None) -> None:
        publisher.publish_volatile(topics.monitoring, control.payload.encode(), retain=True)

    def on_command(message: Any) -> None:
        control.command(bytes(message.payload), retained=bool(message.retain))

    publisher.subscribe_message(topics.command, on_command)
    publisher.add_connect_hook(publish_state)
    control.on_change(publish_state)
    if publisher.connected:  # attached after the connection was made (a reconnect repeats it)
        publish_state()
    log.debug("pause: commands on %s, state on %s", topics.command, topics.monitoring)
