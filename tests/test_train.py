"""The training loop: learning, determinism, resuming, adapter folders and input checks.

Most tests use the tiny random BERT (``backbone="tiny-random"``) on synthetic N-best lists in which the wrong
hypotheses carry made-up words, so that even a small model can learn to spot them; one slow test uses the real
pretrained MiniLM-L6.
"""

import random

import pytest
import torch

from lorascope.core.combination.tune import new_ranks
from lorascope.core.errors import InputError
from lorascope.core.data.nbest import Hypothesis, Utterance
from lorascope.core.scoring.adapter import load_rescorer
from lorascope.core.scoring.rescorer import evaluate, rescore_fn
from lorascope.core.training.train import (CheckpointSaved, DevEvaluated, LambdaTuned, StepDone, TrainConfig, TrainFinished,
                                  TrainStarted, train)

WORDS = "the cat sat on a mat dog ran to big red house and saw small green tree by river".split()
BAD = ["qux", "zorp", "blick", "vlem"]


def make_utts(n, seed=0, nbest=4, scored=False, references=True):
    """N-best lists whose correct hypothesis sits at a random first-pass rank; wrong ones hold made-up words."""
    rng = random.Random(seed)
    utts = []
    for k in range(n):
        ref = [rng.choice(WORDS) for _ in range(rng.randint(4, 7))]
        texts = [" ".join(ref)]
        for j in range(nbest - 1):
            words = list(ref)
            words[rng.randrange(len(words))] = rng.choice(BAD)
            if j % 2:
                words.insert(rng.randrange(len(words)), rng.choice(BAD))
            texts.append(" ".join(words))
        rng.shuffle(texts)
        hyps = tuple(Hypothesis(t, score=-0.4 * i - rng.random() * 0.1 if scored else None)
                     for i, t in enumerate(texts))
        utts.append(Utterance(id=f"u{seed}-{k}", hypotheses=hyps, reference=" ".join(ref) if references else None))
    return utts


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_config(**overrides):
    args = dict(strategy="ft", backbone="tiny-random", steps=8, batch_size=4, lr_full=2e-3, lr_adapter=3e-3,
                lr_head=2e-3, eval_every=None, device="cpu", seed=0)
    args.update(overrides)
    return TrainConfig(**args)


def state_of(result):
    return {k: v.detach().clone() for k, v in result.rescorer.model.state_dict().items()}


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def training_set_mwer(utts, lm_scores, prior_weight):
    """MWER of the whole set at the training-time combination ``w·prior + LM``."""
    from lorascope.core.training.losses import mwer_loss, pad_lists
    from lorascope.core.data.metrics import hypothesis_errors

    prior, mask = pad_lists([u.prior_scores() for u in utts])
    lm, _ = pad_lists(lm_scores)
    errors, _ = pad_lists(hypothesis_errors(utts))
    return mwer_loss(prior_weight * prior + lm, errors, mask).item()


def test_loss_goes_down_on_a_learnable_case_tiny_random():
    train_utts, dev_utts = make_utts(32, seed=1), make_utts(16, seed=2)
    events = []
    result = train(tiny_config(steps=24, eval_every=12, lr_full=2e-3, lr_head=2e-3), train_utts, dev_utts,
                   on_event=events.append)
    before = training_set_mwer(train_utts, [[0.0] * len(u.hypotheses) for u in train_utts], result.prior_weight)
    after = training_set_mwer(train_utts, result.rescorer.score_utterances(train_utts), result.prior_weight)
    assert after < before - 0.2
    assert result.dev.rescored_wer < result.dev.one_best_wer
    assert result.lam > 0
    assert result.status == "finished" and result.steps_done == 24
    kinds = [type(e) for e in events]
    assert kinds[0] is TrainStarted and kinds[-1] is TrainFinished
    assert kinds.count(StepDone) == 24 and DevEvaluated in kinds and LambdaTuned in kinds


def test_combination_search_never_makes_dev_worse_than_the_first_pass():
    result = train(tiny_config(steps=2), make_utts(8, seed=3), make_utts(12, seed=4))
    search = result.combination_search
    assert search.steps and search.steps[0].feature == "lm"      # λ's grid (which holds 0) is searched first
    assert search.wer <= search.first_pass_wer == result.dev.one_best_wer
    assert result.dev.rescored_wer == search.wer


def test_same_seed_gives_identical_numbers_and_another_seed_does_not():
    train_utts, dev_utts = make_utts(12, seed=5), make_utts(6, seed=6)
    config = tiny_config(strategy="lora", steps=6)   # LoRA dropout draws random numbers every step
    a = train(config, train_utts, dev_utts)
    b = train(config, train_utts, dev_utts)
    c = train(tiny_config(strategy="lora", steps=6, seed=1), train_utts, dev_utts)
    assert [r.loss for r in a.loss_history] == [r.loss for r in b.loss_history]
    assert a.dev.lm_scores == b.dev.lm_scores
    assert_same_state(state_of(a), state_of(b))
    assert [r.loss for r in a.loss_history] != [r.loss for r in c.loss_history]


@pytest.mark.parametrize("strategy", ["lora", "s3"])
def test_resume_after_should_stop_gives_the_same_final_weights(tmp_path, strategy):
    # s3 crosses its warm-up switch and carries AdaLoRA importance scores across the interruption
    train_utts, dev_utts = make_utts(12, seed=7), make_utts(6, seed=8)
    config = tiny_config(strategy=strategy, steps=12, eval_every=3)
    whole = train(config, train_utts, dev_utts)

    stop_at = {7}
    events = []
    first = train(config, train_utts, dev_utts, on_event=events.append, checkpoint_dir=tmp_path,
                  should_stop=lambda: len([e for e in events if isinstance(e, StepDone)]) in stop_at)
    assert first.status == "interrupted" and first.steps_done == 7 and first.lam is None
    saved = [e for e in events if isinstance(e, CheckpointSaved)]
    assert saved and saved[-1].reason == "stopped" and saved[-1].step == 7

    resumed = train(config, train_utts, dev_utts, resume_from=tmp_path)
    assert resumed.status == "finished" and resumed.steps_done == 12
    assert [r.loss for r in resumed.loss_history] == [r.loss for r in whole.loss_history]
    assert resumed.dev_history == whole.dev_history
    assert_same_state(state_of(whole), state_of(resumed))
    assert resumed.lam == whole.lam and resumed.final_ranks == whole.final_ranks


def test_keyboard_interrupt_saves_a_checkpoint_and_resumes_to_the_same_weights(tmp_path):
    train_utts, dev_utts = make_utts(12, seed=9), make_utts(6, seed=10)
    config = tiny_config(strategy="s2", steps=8)
    whole = train(config, train_utts, dev_utts)

    def interrupt(event):
        if isinstance(event, StepDone) and event.record.step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, train_utts, dev_utts, on_event=interrupt, checkpoint_dir=tmp_path)
    resumed = train(config, train_utts, dev_utts, resume_from=tmp_path)
    assert_same_state(state_of(whole), state_of(resumed))


def test_resume_with_another_config_is_an_input_error(tmp_path):
    train_utts, dev_utts = make_utts(8, seed=11), make_utts(4, seed=12)
    train(tiny_config(steps=4, checkpoint_every=2), train_utts, dev_utts, checkpoint_dir=tmp_path)
    with pytest.raises(InputError, match="different config .steps 4 -> 6"):
        train(tiny_config(steps=6, checkpoint_every=2), train_utts, dev_utts, resume_from=tmp_path)
    with pytest.raises(InputError, match="different training data"):
        train(tiny_config(steps=4, checkpoint_every=2), make_utts(8, seed=13), dev_utts, resume_from=tmp_path)


@pytest.mark.parametrize("strategy", ["ft", "lora", "s1", "s2", "s3"])
def test_adapter_round_trip_gives_the_same_scores(tmp_path, strategy):
    train_utts, dev_utts, test_utts = make_utts(8, seed=14), make_utts(4, seed=15), make_utts(5, seed=16, scored=True)
    result = train(tiny_config(strategy=strategy, steps=6), train_utts, dev_utts, adapter_dir=tmp_path / "adapter",
                   eval_sets={"test": test_utts})
    loaded = load_rescorer(result.adapter_dir, device="cpu")
    before = result.rescorer.score_utterances(test_utts)
    after = loaded.score_utterances(test_utts)
    for x, y in zip(before, after):
        assert x == pytest.approx(y, rel=1e-6, abs=1e-5)
    assert loaded.lam == result.lam
    assert loaded.info["strategy"] == strategy
    assert loaded.info["scaled_steps"] == result.scaled_steps
    assert loaded.info["final_ranks"] == result.final_ranks
    flat = [s for row in result.evals["test"].lm_scores for s in row]
    assert flat == pytest.approx([s for row in before for s in row])
    if strategy in ("s1", "s3"):
        assert set(result.final_ranks) and all(0 <= r <= 12 for r in result.final_ranks.values())


def test_evaluate_reports_scores_ranks_and_wers_consistently():
    train_utts, dev_utts, test_utts = make_utts(8, seed=17), make_utts(4, seed=18), make_utts(6, seed=19)
    model = train(tiny_config(steps=4), train_utts, dev_utts).rescorer
    result = evaluate(model, test_utts, lam=2.0)
    combined = rescore_fn(model, 2.0)(test_utts)
    assert result.combined == combined
    for u, lm, comb, ranks, choice in zip(test_utts, result.lm_scores, result.combined, result.ranks, result.choices):
        assert comb == pytest.approx([p + 2.0 * s for p, s in zip(u.prior_scores(), lm)])
        assert ranks == new_ranks(comb) and ranks[choice] == 0 and sorted(ranks) == list(range(len(ranks)))
    errors = [row[c] for row, c in zip(result.errors, result.choices)]
    assert result.rescored_wer == pytest.approx(sum(errors) / result.reference_words)
    assert result.oracle_wer <= result.rescored_wer
    unlabelled = evaluate(model, make_utts(3, seed=20, references=False), lam=1.0)
    assert unlabelled.rescored_wer is None and len(unlabelled.ranks) == 3


def test_dataset_without_references_is_an_input_error():
    with pytest.raises(InputError, match="training set, utterance u21-0: has no reference"):
        train(tiny_config(), make_utts(4, seed=21, references=False), make_utts(4, seed=22))
    with pytest.raises(InputError, match="dev set, utterance u24-0: has no reference"):
        train(tiny_config(), make_utts(4, seed=23), make_utts(4, seed=24, references=False))


def test_lists_without_any_difference_in_errors_are_an_input_error():
    same = [Utterance("s1", (Hypothesis("a b"), Hypothesis("a b")), reference="a b")]
    with pytest.raises(InputError, match="nothing to learn"):
        train(tiny_config(), same, make_utts(2, seed=25))


def test_unknown_strategy_in_the_config_is_an_input_error():
    with pytest.raises(InputError, match="known: ft, lora, s1, s2, s3"):
        tiny_config(strategy="qlora")


@pytest.mark.slow
def test_real_minilm_lora_trains_saves_only_the_adapter_and_reloads(tmp_path):
    train_utts, dev_utts = make_utts(8, seed=26), make_utts(4, seed=27)
    config = TrainConfig(strategy="lora", steps=4, batch_size=2, eval_every=None, device="cpu")
    result = train(config, train_utts, dev_utts, adapter_dir=tmp_path / "adapter")
    assert result.rescorer.model.hidden_size == 384
    assert 0 < result.trainable.share < 0.05
    files = {p.name for p in (tmp_path / "adapter").iterdir()}
    assert {"lorascope.json", "head.safetensors", "adapter", "tokenizer"} <= files
    assert "backbone" not in files          # the frozen pretrained encoder is loaded by name
    loaded = load_rescorer(tmp_path / "adapter", device="cpu")
    for x, y in zip(result.rescorer.score_utterances(dev_utts), loaded.score_utterances(dev_utts)):
        assert x == pytest.approx(y, abs=1e-4)


def test_perturbed_twins_train_beside_their_lists_with_the_consistency_term_tiny_random():
    from dataclasses import replace

    train_utts, dev_utts = make_utts(16, seed=11), make_utts(8, seed=12)
    twins = [replace(u, hypotheses=tuple(replace(h, text=h.text.replace("the", "a")) for h in u.hypotheses))
             for u in train_utts]
    result = train(tiny_config(strategy="lora", steps=6, consistency_weight=1.0), train_utts, dev_utts, twins=twins)
    assert result.status == "finished"
    assert any(r.consistency > 0 for r in result.loss_history)     # the twins' distributions differ, then align
    assert all(r.loss == pytest.approx(r.mwer + r.consistency, abs=1e-5) for r in result.loss_history)
    with pytest.raises(InputError, match="needs perturbed twins"):
        train(tiny_config(strategy="lora", steps=2, consistency_weight=1.0), train_utts, dev_utts)
    with pytest.raises(InputError, match="number of hypotheses"):
        train(tiny_config(strategy="lora", steps=2), train_utts, dev_utts, twins=twins[:-1] + [make_utts(1, 99, 2)[0]])
