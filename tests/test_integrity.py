"""Nothing lorascope reads can run code, and checkpoints survive a torn write (issue 23).

Crafted pickles whose ``__reduce__`` would create a marker file stand for a hostile checkpoint or cache file; the
tests check the refusal (or the rebuild) and that the marker never appears. Training uses the tiny random
backbone (fast) on synthetic lists; the resumed runs are compared with uninterrupted ones bit for bit.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from lorascope.cli import cli
from lorascope.core.training import checkpoint as ck
from lorascope.core import durable
from lorascope.core.perturbation import phonetic_cache
from lorascope.core.errors import InputError
from lorascope.core.training.train import CheckpointLoaded, StepDone, train
from lorascope.store import Store

from .nbest_fixtures import write_set
from .test_train import assert_same_state, make_utts, state_of, tiny_config

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_torch_thread")


class _Armed:
    """Unpickling this calls ``open(marker, "w")``: the file appears if and only if the pickle was executed."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def armed_pickle(marker: Path) -> bytes:
    """A pickle that creates ``marker`` when loaded; checked to be armed by loading it in another process."""
    data = pickle.dumps({"format": 2, "model": _Armed(marker)})
    subprocess.run([sys.executable, "-c", "import pickle, sys; pickle.loads(sys.stdin.buffer.read())"], input=data,
                   check=True)
    assert marker.exists()
    marker.unlink()
    return data


# ------------------------------------------------------------------------------------------------ checkpoints


def test_a_pickled_checkpoint_that_would_run_code_is_refused_and_runs_nothing(tmp_path):
    folder, marker = tmp_path / "checkpoints", tmp_path / "marker"
    folder.mkdir()
    (folder / "checkpoint.pt").write_bytes(armed_pickle(marker))
    with pytest.raises(InputError) as exc:
        ck.read_checkpoint(folder)
    assert "unpickling can run code" in str(exc.value) and "start the run again" in str(exc.value)
    assert "\n" not in str(exc.value)
    with pytest.raises(InputError, match="cannot be converted"):    # the user's conversion loads weights only
        ck.convert_old_checkpoint(folder)
    # A pickle under the new names is not unpickled either: the JSON does not parse, the tensors are checked.
    (folder / "checkpoint-00000004.json").write_bytes(armed_pickle(marker))
    with pytest.raises(InputError, match="does not parse"):
        ck.read_checkpoint(folder)
    assert not marker.exists()


def _interrupted_run(tmp_path, stop_after=7, every=2, strategy="lora"):
    train_utts, dev_utts = make_utts(12, seed=21), make_utts(6, seed=22)
    config = tiny_config(strategy=strategy, steps=12, eval_every=3, checkpoint_every=every)
    events = []
    first = train(config, train_utts, dev_utts, on_event=events.append, checkpoint_dir=tmp_path,
                  should_stop=lambda: len([e for e in events if isinstance(e, StepDone)]) == stop_after)
    assert first.status == "interrupted" and first.steps_done == stop_after
    return config, train_utts, dev_utts


def test_only_the_newest_two_checkpoints_are_kept_each_checked_by_its_sha256(tmp_path):
    _interrupted_run(tmp_path)                       # checkpoints at steps 2, 4, 6 and 7 (stopped)
    assert [s for s, _ in ck.checkpoints(tmp_path)] == [7, 6]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint-00000006.json", "checkpoint-00000006.safetensors",
        "checkpoint-00000007.json", "checkpoint-00000007.safetensors"]
    header = json.loads((tmp_path / "checkpoint-00000007.json").read_text())
    assert header["tensors"]["sha256"] == durable.sha256_file(tmp_path / "checkpoint-00000007.safetensors")
    assert header["step"] == 7 and header["version"] == ck.CHECKPOINT_VERSION


@pytest.mark.parametrize("torn", ["safetensors", "json", "zeroed"])
def test_a_torn_newest_checkpoint_falls_back_to_the_previous_and_ends_as_an_uninterrupted_run(tmp_path, torn):
    config, train_utts, dev_utts = _interrupted_run(tmp_path)
    whole = train(config, train_utts, dev_utts)
    newest = tmp_path / f"checkpoint-00000007.{'json' if torn == 'json' else 'safetensors'}"
    data = newest.read_bytes()
    if torn == "zeroed":                             # the size survived, the blocks did not (zero-filled)
        newest.write_bytes(data[:4096] + bytes(len(data) - 8192) + data[-4096:])
    else:                                            # the rename survived, half of the data did not
        newest.write_bytes(data[: len(data) // 2])
    events = []
    resumed = train(config, train_utts, dev_utts, resume_from=tmp_path, on_event=events.append)
    loaded = [e for e in events if isinstance(e, CheckpointLoaded)]
    assert len(loaded) == 1 and loaded[0].step == 6 and loaded[0].path.endswith("checkpoint-00000006.json")
    assert [name for name, _ in loaded[0].skipped] == ["checkpoint-00000007.json"]
    assert ("does not parse" if torn == "json" else "torn") in loaded[0].skipped[0][1]
    assert resumed.status == "finished" and resumed.steps_done == 12
    assert [r.loss for r in resumed.loss_history] == [r.loss for r in whole.loss_history]
    assert resumed.dev_history == whole.dev_history and resumed.lam == whole.lam
    assert_same_state(state_of(whole), state_of(resumed))


def test_when_no_checkpoint_reads_back_whole_resume_says_so_in_one_line(tmp_path):
    config, train_utts, dev_utts = _interrupted_run(tmp_path)
    for f in tmp_path.glob("*.safetensors"):
        f.write_bytes(f.read_bytes()[:100])
    with pytest.raises(InputError) as exc:
        train(config, train_utts, dev_utts, resume_from=tmp_path)
    message = str(exc.value)
    assert "no checkpoint reads back whole" in message and "checkpoint-00000006.json" in message
    assert "\n" not in message


def test_an_old_pickle_checkpoint_converted_on_request_resumes_to_the_uninterrupted_weights(tmp_path):
    """The old format held only tensors and plain values, so torch's weights-only loader can convert it."""
    config, train_utts, dev_utts = _interrupted_run(tmp_path, strategy="s3")
    whole = train(config, train_utts, dev_utts)
    payload = ck.read_checkpoint(tmp_path).payload
    for f in list(tmp_path.iterdir()):
        f.unlink()
    payload["rng"].pop("numpy")                                       # the old format kept no numpy state
    torch.save({"format": 2, **payload}, tmp_path / "checkpoint.pt")   # what lorascope wrote before
    with pytest.raises(InputError, match="convert-old-checkpoint"):
        train(config, train_utts, dev_utts, resume_from=tmp_path)
    converted = ck.convert_old_checkpoint(tmp_path)
    assert converted.name == "checkpoint-00000007.json" and (tmp_path / "checkpoint.pt.converted").exists()
    resumed = train(config, train_utts, dev_utts, resume_from=tmp_path)
    assert_same_state(state_of(whole), state_of(resumed))


def test_checkpoint_files_are_synced_before_their_rename_and_the_folder_after(tmp_path, monkeypatch):
    """The order of the real system calls, recorded on their way through (each still runs)."""
    calls = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst):
        calls.append(("replace", str(src), str(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    ck.write_checkpoint(tmp_path, {"config": {}, "data": "x", "model": {"w": torch.ones(3)}, "optimizer": {},
                                   "strategy": {}, "state": {"step": 5}, "rng": ck.rng_state()})
    renames = [c for c in calls if c[0] == "replace"]
    assert [Path(c[2]).name for c in renames] == ["checkpoint-00000005.safetensors", "checkpoint-00000005.json"]
    for _, src, dst in renames:
        at = calls.index(("replace", src, dst))
        assert ("fsync", src) in calls[:at]                       # the data before the rename
        assert ("fsync", str(tmp_path)) in calls[at + 1:]         # the rename itself after it


# ------------------------------------------------------------------------------------------------ the command line


@pytest.fixture
def cli_sets(tmp_path):
    return {"train": write_set(tmp_path / "tr.jsonl", 24, seed=1, prefix="tr"),
            "dev": write_set(tmp_path / "dv.jsonl", 8, seed=2, prefix="dv"),
            "test": write_set(tmp_path / "te.jsonl", 8, seed=3, prefix="te")}


def _options(sets):
    from lorascope.jobs import TrainOptions

    return TrainOptions(strategy="lora", data=sets["train"], dev=sets["dev"], test=sets["test"],
                        backbone="tiny-random", steps=12, batch_size=4, seed=3, device="cpu", checkpoint_every=3,
                        dropout=0.0)


def _sigterm_at(step):
    """An event handler that sends this process SIGTERM after ``step``: the job stops there as on preemption."""
    def handler(event):
        if isinstance(event, StepDone) and event.record.step == step:
            os.kill(os.getpid(), signal.SIGTERM)
    return handler


def _metrics(db: Path) -> list:
    with Store(db) as s:
        run = s.run(1)
        return [run.status, run.steps_done, run.lam,
                *sorted((m["split"], m["wer"], m["oracle_wer"]) for m in s.metrics(1))]


def test_resume_over_a_torn_checkpoint_says_which_step_it_took_and_matches_an_uninterrupted_run(tmp_path, cli_sets):
    from lorascope.jobs import train_job

    whole_db, torn_db = tmp_path / "whole" / "store.db", tmp_path / "torn" / "store.db"
    train_job(whole_db, _options(cli_sets))
    job = train_job(torn_db, _options(cli_sets), on_event=_sigterm_at(7))   # checkpoints at 3, 6 and 7
    assert job.status == "interrupted"
    folder = torn_db.parent / "adapters" / "run-1" / "checkpoints"
    tensors = folder / "checkpoint-00000007.safetensors"
    with open(tensors, "r+b") as fh:                                          # truncated after the rename
        fh.truncate(tensors.stat().st_size // 3)
    res = CliRunner().invoke(cli, ["train", "--resume", "1", "--db", str(torn_db)])
    assert res.exit_code == 0, res.output
    assert re.search(r"checkpoint checkpoint-00000007\.json cannot be used: .*torn.*falling back", res.stderr)
    assert "resuming from the checkpoint of step 6" in res.stderr
    assert _metrics(torn_db) == _metrics(whole_db) and _metrics(torn_db)[0] == "done"
    adapter = torn_db.parent / "adapters" / "run-1"
    assert not [p for p in adapter.parent.iterdir() if p.name.startswith(".")]   # no temporary folder left


def test_resume_of_a_run_whose_checkpoint_is_a_crafted_pickle_refuses_in_one_line(tmp_path, cli_sets):
    from lorascope.jobs import train_job

    db, marker = tmp_path / "store.db", tmp_path / "marker"
    assert train_job(db, _options(cli_sets), on_event=_sigterm_at(4)).status == "interrupted"
    folder = db.parent / "adapters" / "run-1" / "checkpoints"
    for f in folder.iterdir():
        f.unlink()
    (folder / "checkpoint.pt").write_bytes(armed_pickle(marker))
    before = (folder / "checkpoint.pt").read_bytes()
    for extra in ([], ["--convert-old-checkpoint"]):
        res = CliRunner().invoke(cli, ["train", "--resume", "1", *extra, "--db", str(db)])
        assert res.exit_code == 1 and len(res.stderr.strip().splitlines()) == 1, res.output
        assert res.stderr.startswith("lorascope: ") and "checkpoint.pt" in res.stderr
        assert not marker.exists()
    assert (folder / "checkpoint.pt").read_bytes() == before


# ------------------------------------------------------------------------------------------------ the phonetic cache


def test_a_cache_file_crafted_to_run_code_is_rebuilt_and_runs_nothing(tmp_path):
    marker = tmp_path / "marker"
    path = phonetic_cache.index_path(tmp_path)
    path.write_bytes(armed_pickle(marker))
    (path.with_suffix(".pickle")).write_bytes(armed_pickle(marker))   # where the pickle used to live
    phonetic_cache.forget_loaded()
    try:
        index = phonetic_cache.load_index(tmp_path, use_g2p=False)
    finally:
        phonetic_cache.forget_loaded()
    assert not marker.exists()
    assert index.candidates("there")
    assert phonetic_cache.read_payload(path) is not None and json.loads(path.read_text())["format"] == \
        phonetic_cache.CACHE_FORMAT


def test_a_cache_file_of_the_right_shape_but_wrong_contents_is_not_trusted(tmp_path):
    phonetic_cache.forget_loaded()
    try:
        phonetic_cache.load_index(tmp_path, use_g2p=False)
    finally:
        phonetic_cache.forget_loaded()
    path = phonetic_cache.index_path(tmp_path)
    good = json.loads(path.read_text())
    assert phonetic_cache.read_payload(path) is not None
    for damage in ({"exact": {"K AE1 T": [10 ** 9]}},           # a word number outside the vocabulary
                   {"prons": good["prons"][:-1]},               # one word short
                   {"vocab": [*good["vocab"][:-1], 7]},        # not text
                   {"format": "something-else"}):
        path.write_text(json.dumps({**good, **damage}))
        assert phonetic_cache.read_payload(path) is None, damage


# ------------------------------------------------------------------------------------------------ adapters, models


@pytest.fixture(scope="module")
def adapter_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("adapter") / "adapter"
    train(tiny_config(strategy="lora", steps=2), make_utts(8, seed=31), make_utts(4, seed=32), adapter_dir=folder)
    return folder


def _copy(folder: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(folder, tmp_path / "copy"))


@pytest.mark.parametrize("damage, problem", [
    (lambda d: (d / "head.safetensors").write_bytes((d / "head.safetensors").read_bytes()[:40]), "safetensors"),
    (lambda d: ((d / "adapter" / "adapter_model.safetensors").unlink(),
                (d / "adapter" / "adapter_model.bin").write_bytes(pickle.dumps({}))), "missing"),
    (lambda d: (d / "backbone" / "config.json").write_text(json.dumps(
        {**json.loads((d / "backbone" / "config.json").read_text()), "auto_map": {"AutoModel": "x.Y"}})),
     "auto_map"),
    (lambda d: (d / "lorascope.json").write_text(json.dumps(
        {**json.loads((d / "lorascope.json").read_text()), "files": {"head": "../../elsewhere.safetensors"}})),
     "not a name inside the folder"),
    (lambda d: (d / "adapter" / "adapter_config.json").write_text("{}"), "peft_type"),
])
def test_an_adapter_folder_is_checked_for_what_it_claims_before_loading(adapter_folder, tmp_path, damage, problem):
    from lorascope.core.scoring.adapter import load_rescorer

    load_rescorer(adapter_folder)                      # the folder as written loads
    copy = _copy(adapter_folder, tmp_path)
    damage(copy)
    with pytest.raises(InputError) as exc:
        load_rescorer(copy)
    assert problem in str(exc.value) and "\n" not in str(exc.value)


def test_saving_an_adapter_over_an_existing_folder_replaces_it_whole(adapter_folder, tmp_path):
    from lorascope.core.scoring.adapter import load_rescorer, save_rescorer

    target = _copy(adapter_folder, tmp_path)
    (target / "stale-file").write_text("from an earlier save")
    save_rescorer(load_rescorer(adapter_folder), target, save_encoder=True)
    assert not (target / "stale-file").exists() and (target / "lorascope.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_backbone_folder_with_pickled_weights_or_code_of_its_own_is_refused_before_loading(adapter_folder, tmp_path):
    from lorascope.core.scoring.backbone import load_backbone

    folder = Path(__import__("shutil").copytree(adapter_folder / "backbone", tmp_path / "model"))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).write_bytes((adapter_folder / "tokenizer" / name).read_bytes())
    model, _ = load_backbone(str(folder))                       # as written: loads
    assert type(model).__name__ == "BertModel"
    marker = tmp_path / "marker"
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(armed_pickle(marker))
    with pytest.raises(InputError, match="model.safetensors: missing"):
        load_backbone(str(folder))
    assert not marker.exists()
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "auto_map": {"AutoModel": "evil.Model"}}))
    with pytest.raises(InputError, match="auto_map"):
        load_backbone(str(folder))


def test_durable_writes_give_files_and_folders_the_permissions_a_plain_write_would(tmp_path):
    """The temporary names are private (mkstemp, mkdtemp); what lands under the real name is not."""
    import stat

    mask = os.umask(0o022)
    os.umask(mask)
    file = durable.write_text(tmp_path / "export.json", "{}")
    assert stat.S_IMODE(file.stat().st_mode) == 0o666 & ~mask
    with durable.folder_durably(tmp_path / "adapter") as tmp:
        (tmp / "x").write_text("1")
    assert stat.S_IMODE((tmp_path / "adapter").stat().st_mode) == 0o777 & ~mask
    os.chmod(file, 0o640)                               # a file replaced keeps the mode it had
    durable.write_text(file, "[]")
    assert stat.S_IMODE(file.stat().st_mode) == 0o640 and file.read_text() == "[]"


def test_nothing_we_ship_unpickles_or_trusts_remote_code():
    """A source scan: no call sets trust_remote_code=True, unpickles, or loads numpy arrays with pickles."""
    bad = re.compile(r"trust_remote_code\s*=\s*True|pickle\.loads?\(|allow_pickle\s*=\s*True|"
                     r"weights_only\s*=\s*False|torch\.load\((?![^)]*weights_only\s*=\s*True)")
    found = []
    for room in ("core", "store", "tui", "lorascope", "benchmarks", "tools"):
        for path in (REPO / room).rglob("*.py"):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if bad.search(line):
                    found.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not found, found
    assert "trust_remote_code=False" in (REPO / "core" / "scoring" / "backbone.py").read_text()
