"""MQTT output: durable outbox, paho-mqtt publisher, Home Assistant discovery.

Entry points: :func:`monitor.mqtt.sink.make_mqtt_sink` (an ``EventSink``) and
the ``--mqtt-*`` flags in :mod:`monitor.mqtt.cli`.
"""
