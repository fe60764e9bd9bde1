"""The MQTT sink against a real mosquitto, with mosquitto_sub as the subscriber."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import jsonschema
import pytest
from fx_mosquitto import event_ids, make_event

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "monitor/schemas/event.schema.json").read_text())
PREFIX = "coughwatch/dev1"
EVENT, STATE, STATUS, STATS = (f"{PREFIX}/{t}" for t in ("event", "state", "status", "stats"))


def wait_until(predicate, what: str, timeout_s: float = 5.0) -> None:
    """Poll ``predicate`` (publisher internals have no event to wait on) until true."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def emit(sink, index: int) -> None:
    """One bout as the pipeline reports it: onset, then the finished event."""
    event = make_event(index)
    sink.bout_started(event.label, event.event_id, event.start_s)
    sink.bout_ended(event)


def test_event_arrives_valid_with_state_around_it(mosquitto, subscriber_factory, sink_factory):
    sub = subscriber_factory(mosquitto, [f"{PREFIX}/#"])
    sink = sink_factory(mosquitto)
    assert sub.wait_count(STATE, 1)[0].payload == "OFF"  # the current state, sent on connect
    sent_s = []
    for i in range(5):
        sent_s.append(time.monotonic())
        emit(sink, i)
        sub.wait_count(EVENT, i + 1)
    events = sub.on(EVENT)
    for message in events:
        jsonschema.validate(json.loads(message.payload), SCHEMA)
        assert message.qos == 1 and not message.retained
    assert event_ids(events) == [make_event(i).event_id for i in range(5)]
    sub.wait_count(STATE, 11)
    flow = [m.payload if m.topic == STATE else "event" for m in sub.messages
            if m.topic in (STATE, EVENT)]
    assert flow[1:] == ["ON", "event", "OFF"] * 5
    latency_ms = [1000 * (m.arrived_s - t) for m, t in zip(events, sent_s, strict=True)]
    print(f"publish -> mosquitto_sub latency median {statistics.median(latency_ms):.1f} ms")
    assert statistics.median(latency_ms) < 500  # generous: shared CI; ~2 ms when idle


def test_online_is_retained_and_offline_follows_a_clean_close(
        mosquitto, subscriber_factory, sink_factory):
    sink = sink_factory(mosquitto)
    assert sink.publisher.wait_connected(5)
    late = subscriber_factory(mosquitto, [STATUS], client_id="late")
    status = late.wait_count(STATUS, 1)[0]
    assert (status.payload, status.retained) == ("online", True)
    sink.close()
    assert late.wait_count(STATUS, 2)[-1].payload == "offline"
    after = subscriber_factory(mosquitto, [STATUS], client_id="after")
    status = after.wait_count(STATUS, 1)[0]
    assert (status.payload, status.retained) == ("offline", True)
    assert sink.undelivered == 0


def test_stats_add_outbox_depth_and_are_valid_json(mosquitto, subscriber_factory, sink_factory):
    sub = subscriber_factory(mosquitto, [STATS])
    sink = sink_factory(mosquitto)
    assert sink.publisher.wait_connected(5)
    sink.stats({"coughs_last_hour": 2, "coughs_today": 5, "input_level_dbfs": float("-inf"),
                "windows_scored": 40, "overflows": 0, "realtime_factor": 1.0, "uptime_s": 9.5})
    stats = json.loads(sub.wait_count(STATS, 1)[0].payload)
    assert stats["coughs_today"] == 5 and stats["input_level_dbfs"] is None
    assert stats["outbox_depth"] == 0 and stats["outbox_dropped"] == 0


@pytest.mark.slow
def test_broker_outage_every_event_arrives_in_order(mosquitto, subscriber_factory, sink_factory):
    sub = subscriber_factory(mosquitto, [EVENT])
    sink = sink_factory(mosquitto)
    assert sink.publisher.wait_connected(5)
    for i in range(3):
        emit(sink, i)
    sub.wait_count(EVENT, 3)
    mosquitto.stop()
    outage_start = time.monotonic()
    for i in range(3, 13):  # produced while the broker is away
        emit(sink, i)
        time.sleep(0.3)
    assert not sink.publisher.connected
    assert sink.publisher.pending() == 10
    mosquitto.start()
    back = time.monotonic()
    sub.wait_for(lambda ms: len(event_ids([m for m in ms if m.topic == EVENT])) == 13, 15,
                 "all 13 events")
    print(f"outage {back - outage_start:.1f} s: 10 events waited, all arrived "
          f"{time.monotonic() - back:.1f} s after the broker came back")
    assert event_ids(sub.on(EVENT)) == [make_event(i).event_id for i in range(13)]
    sink.close()
    assert sink.undelivered == 0


def test_mqtt5_end_to_end(mosquitto, subscriber_factory, sink_factory):
    sub = subscriber_factory(mosquitto, [EVENT], extra=["-V", "5"])
    sink = sink_factory(mosquitto, protocol="5")
    emit(sink, 0)
    assert event_ids(sub.wait_count(EVENT, 1)) == [make_event(0).event_id]


def test_close_while_broker_is_down_keeps_events_for_the_next_run(
        mosquitto, subscriber_factory, sink_factory, tmp_path):
    sub = subscriber_factory(mosquitto, [EVENT])
    mosquitto.stop()
    first = sink_factory(mosquitto, state_dir=tmp_path / "s", flush_timeout_s=0.3)
    for i in range(4):
        emit(first, i)
    first.close()
    assert first.undelivered == 4
    assert not first.publisher.connected
    mosquitto.start()
    second = sink_factory(mosquitto, state_dir=tmp_path / "s")
    emit(second, 4)
    second.close()
    assert second.undelivered == 0
    sub.wait_for(lambda ms: len(event_ids([m for m in ms if m.topic == EVENT])) == 5, 10)
    assert event_ids(sub.on(EVENT)) == [make_event(i).event_id for i in range(5)]


def test_full_outbox_drops_the_oldest_and_says_so(mosquitto, subscriber_factory, sink_factory):
    sub = subscriber_factory(mosquitto, [EVENT, STATS])
    mosquitto.stop()
    sink = sink_factory(mosquitto, outbox_max_events=3)
    for i in range(5):
        emit(sink, i)
    assert sink.publisher.pending() == 3 and sink.publisher.dropped() == 2
    mosquitto.start()
    assert sink.publisher.wait_connected(10)
    sink.stats({"coughs_today": 5})
    sub.wait_for(lambda ms: len(event_ids([m for m in ms if m.topic == EVENT])) == 3, 10)
    assert event_ids(sub.on(EVENT)) == [make_event(i).event_id for i in (2, 3, 4)]
    assert json.loads(sub.wait_count(STATS, 1)[0].payload)["outbox_dropped"] == 2


def test_link_lost_with_events_in_flight_keeps_order(mosquitto, subscriber_factory, sink_factory):
    """Events sent but not acknowledged when the link dies are re-sent before newer ones."""
    from fx_mosquitto import TcpProxy

    sub = subscriber_factory(mosquitto, [EVENT])
    proxy = TcpProxy(mosquitto.port)
    try:
        sink = sink_factory(mosquitto, port=proxy.port)
        assert sink.publisher.wait_connected(5)
        for i in range(3):
            emit(sink, i)
        sub.wait_count(EVENT, 3)
        wait_until(lambda: sink.publisher.in_flight() == 0, "PUBACKs of the first events")
        proxy.hold()
        for i in range(3, 6):  # handed to the network, never acknowledged
            emit(sink, i)
        wait_until(lambda: sink.publisher.in_flight() == 3, "3 events in flight")
        proxy.cut()
        for i in range(6, 9):  # produced while the link is down
            emit(sink, i)
        sub.wait_for(lambda ms: len(event_ids([m for m in ms if m.topic == EVENT])) == 9, 15,
                     "all 9 events")
        assert event_ids(sub.on(EVENT)) == [make_event(i).event_id for i in range(9)]
        sink.close()
        assert sink.undelivered == 0
    finally:
        proxy.close()
