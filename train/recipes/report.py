"""The recipe's comparison table (markdown) from the per-model results."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def comparison_table(results: dict[str, dict[str, Any]]) -> str:
    """One row per model: clip and stream figures at its chosen operating point."""
    head = ("| model | clip ROC AUC | clip AP | threshold | onset k-of-n | event recall (0-20 dB SNR) "
            "| false alarms / h (negative stream) | false alarms / h (all streams) | median onset latency s |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    rows = []
    for name, r in results.items():
        point, neg, pos = r["operating_point"], r["negative_stream"], r["positive_stream"]
        total_fa = (neg["false_alarms"] + pos["false_alarms"]) / (neg["hours"] + pos["hours"])
        rows.append(f"| {name} | {_fmt(r['clip']['roc_auc'], 4)} | {_fmt(r['clip']['average_precision'], 4)} "
                    f"| {_fmt(point['threshold_on'], 2)} | {point['onset_k']}-of-{point['onset_n']} "
                    f"| {_fmt(pos['recall'])} | {_fmt(neg['false_alarms_per_hour'], 2)} | {_fmt(total_fa, 2)} "
                    f"| {_fmt(pos['median_latency_s'], 2)} |")
    return head + "\n".join(rows) + "\n"


def source_table(result: dict[str, Any]) -> str:
    """Per-dataset clip recall / false-positive rate and stream recall of one model."""
    grouped: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for key, value in result["clip"]["by_source"].items():
        kind, source = key.split(":", 1)
        grouped[f"{kind}:{source.split('/')[0]}"].append((value["n"], value["rate"]))
    lines = ["| class | dataset | clips | clip recall (cough) / false-positive rate (non-cough) | stream event recall |",
             "|---|---|---:|---:|---:|"]
    stream = result.get("recall_by_source", {})
    for key in sorted(grouped):
        kind, dataset = key.split(":")
        n = sum(c for c, _ in grouped[key])
        rate = sum(c * r for c, r in grouped[key]) / n
        lines.append(f"| {kind} | {dataset} | {n} | {rate:.3f} | {_fmt(stream.get(dataset)) if kind == 'cough' else ''} |")
    worst = sorted(((v["rate"], k, v["n"]) for k, v in result["clip"]["by_source"].items()
                    if k.startswith("non_cough") and v["n"] >= 5), reverse=True)[:8]
    lines += ["", "Non-cough categories most often scored as cough (clip level, >= 5 clips):", ""]
    lines += [f"- {k.split(':', 1)[1]}: {r:.2f} of {n}" for r, k, n in worst]
    return "\n".join(lines) + "\n"


def false_alarm_table(result: dict[str, Any], rows: int = 12) -> str:
    """What one model's false alarms were (both streams), at its operating point and at the
    highest threshold that reaches the target recall; empty without traced false alarms."""
    traced = result.get("false_alarms")
    if not traced:
        return ""
    point = result["operating_point"]
    shipped = traced["operating_point"]
    target = traced.get("target_recall")
    columns = [f"at the chosen point (threshold {_fmt(point['threshold_on'], 3)}, "
               f"{point['onset_k']}-of-{point['onset_n']})"]
    if target:
        columns.append(f"at event recall {_fmt(target['recall'])} (threshold {_fmt(target['threshold'], 3)}, "
                       f"{_fmt(target['false_alarms_per_hour'], 1)} / h)")
    names = list((target or {}).get("sources", {})) or list(shipped)
    names += [name for name in shipped if name not in names]
    cells = [shipped, *([target["sources"]] if target else [])]
    lines = ["| sound (dataset/category) | " + " | ".join(columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for name in names[:rows]:
        lines.append(f"| {name} | " + " | ".join(
            _false_alarms(c[name]) if name in c else "0" for c in cells) + " |")
    if len(names) > rows:
        lines.append(f"| {len(names) - rows} more | " + " | ".join(
            str(sum(c[n]["false_alarms"] for n in names[rows:] if n in c)) for c in cells) + " |")
    if not target:
        lines += ["", "No threshold reaches the target recall."]
    return "\n".join(lines) + "\n"


def _false_alarms(traced: dict[str, int]) -> str:
    """``"N (K clips)"``; just N for the noise floor (no clip)."""
    clips = traced["clips"]
    return f"{traced['false_alarms']} ({clips} clip{'' if clips == 1 else 's'})" if clips else str(traced["false_alarms"])


def room_table(results: dict[str, dict[str, Any]]) -> str:
    """One row per model and microphone: room-stream recall and false alarms at the model's
    operating point (chosen on the other streams); empty when no model was judged on rooms."""
    rows = []
    for name, r in results.items():
        for mic, room in r.get("room_streams", {}).items():
            rows.append(f"| {name} | {mic} | {room['coughs']} | {_fmt(room['recall'])} "
                        f"| {_fmt(room.get('recall_at_target_threshold'))} | {room['false_alarms']} "
                        f"| {_fmt(room['false_alarms_per_hour'], 1)} | {_fmt(room['hours'] * 60, 1)} |")
    if not rows:
        return ""
    head = ("| model | microphone | coughs | event recall | recall at the 0.9-recall threshold "
            "| false alarms | false alarms / h | minutes |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
    return head + "\n".join(rows) + "\n"


def room_false_alarm_table(results: dict[str, dict[str, Any]]) -> str:
    """False alarms on the room streams by category (throat clear its own row), per model."""
    names = list(results)
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for name in names:
        for room in results[name].get("room_streams", {}).values():
            for category, traced in room["false_alarms_by_category"].items():
                found[category][name] = found[category].get(name, 0) + traced["false_alarms"]
    if not found:
        return "None: no model raised a false alarm on the room streams at its operating point.\n" if any(
            results[name].get("room_streams") for name in names) else ""
    lines = ["| sound (category) | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for category in sorted(found, key=lambda c: -sum(found[c].values())):
        lines.append(f"| {category} | " + " | ".join(str(found[category].get(n, 0)) for n in names) + " |")
    return "\n".join(lines) + "\n"


def write_reports(out: Path, results: dict[str, dict[str, Any]], summary: dict[str, Any]) -> Path:
    """``report.md`` in ``out``: the comparison table and the default model's per-source table."""
    streams = summary["streams"]
    text = [
        "# Default model: evaluation on held-out validation data\n",
        f"Group-disjoint split of coughset (manifest sha256 `{summary['manifest_sha256'][:16]}`, "
        f"seed {summary['seed']}): {summary['n_train']} training clips (distinct; the default preset "
        "lists them more often per epoch: oversampled coughs, hard negatives and training-stream "
        "files, the model's `train_items_per_epoch`), "
        f"{summary['n_val']} validation clips. "
        f"Streams built from validation clips only: a {streams['negative_h']:.2f} h negative stream "
        f"(speech, environmental and household sounds, breathing, gaps over a noise floor) and a "
        f"{streams['positive_h']:.2f} h positive stream with {streams['coughs']} validation coughs mixed "
        "into such background at 0-20 dB SNR. Each model's threshold and onset rule are chosen for "
        "<= 1 false alarm per hour over both streams; every figure comes from its exported ONNX file.\n",
        comparison_table(results),
    ]
    room = room_table(results)
    if room:
        text += ["\n## Room streams (amicough validation series)\n",
                 "The validation meeting series' clips back to back, one stream per microphone (high-passed "
                 "at 50 Hz), truth = the annotated coughs; every figure at the model's operating point above.\n",
                 room, "\nRoom false alarms by sound (both microphones):\n", room_false_alarm_table(results)]
    if results:  # the first model is the one --install ships
        shipped = next(iter(results))
        text += [f"\n## {shipped} per source\n", source_table(results[shipped])]
        traced = false_alarm_table(results[shipped])
        if traced:
            text += [f"\n## What {shipped}'s false alarms were\n",
                     "False alarms on both streams, each traced to the clip playing under it "
                     "(`(noise floor)`: a gap between clips); every clip plays once per stream pass.\n",
                     traced]
    path = out / "report.md"
    path.write_text("\n".join(text), encoding="utf-8")
    return path
