"""MWER over N-best lists and LoRB's correlation regulariser."""

import math

import pytest
import torch

from lorascope.core.training.losses import correlation_penalty, mwer_loss, pad_lists


def test_mwer_value_on_a_hand_computed_example():
    # scores log 1, log 3 -> p = (0.25, 0.75); errors (2, 0), mean 1 -> 0.25 * 1 + 0.75 * (-1) = -0.5
    scores = torch.tensor([[0.0, math.log(3.0)]])
    errors = torch.tensor([[2.0, 0.0]])
    assert mwer_loss(scores, errors).item() == pytest.approx(-0.5)


def test_mwer_three_hypotheses_and_mean_over_utterances():
    # utterance 1: uniform over errors (0, 1, 5): expected 2 minus mean 2 = 0
    # utterance 2: p = softmax(0, log 2, log 7) = (0.1, 0.2, 0.7); errors (3, 0, 0), mean 1 -> 0.3*... :
    #   0.1 * 2 + 0.2 * (-1) + 0.7 * (-1) = -0.7
    scores = torch.tensor([[0.0, 0.0, 0.0], [0.0, math.log(2.0), math.log(7.0)]])
    errors = torch.tensor([[0.0, 1.0, 5.0], [3.0, 0.0, 0.0]])
    assert mwer_loss(scores, errors).item() == pytest.approx((0.0 - 0.7) / 2)


def test_gradient_raises_the_best_hypothesis_and_lowers_the_worst():
    scores = torch.tensor([[0.3, 0.1, -0.2, 0.0]], requires_grad=True)
    errors = torch.tensor([[2.0, 0.0, 1.0, 4.0]])
    loss = mwer_loss(scores, errors)
    loss.backward()
    grad = scores.grad[0]
    assert grad[1] < 0          # descending the loss raises the score of the error-free hypothesis
    assert grad[3] > 0          # and lowers the one with the most errors
    with torch.no_grad():
        stepped = scores - 1.0 * scores.grad
    assert mwer_loss(stepped, errors).item() < loss.item()


def test_ragged_lists_are_masked():
    rows_scores = [[0.5, -0.1, 0.2], [1.0, 0.0], [0.3]]
    rows_errors = [[1, 0, 2], [0, 3], [4]]
    scores, mask = pad_lists(rows_scores, fill=123.0)
    errors, _ = pad_lists(rows_errors, fill=99.0)
    assert mask.tolist() == [[True, True, True], [True, True, False], [True, False, False]]
    scores.requires_grad_(True)
    batched = mwer_loss(scores, errors, mask)
    one_by_one = [mwer_loss(torch.tensor([s]), torch.tensor([e], dtype=torch.float32))
                  for s, e in zip(rows_scores, rows_errors)]
    assert batched.item() == pytest.approx(sum(x.item() for x in one_by_one) / 3)
    batched.backward()
    assert scores.grad[~mask].abs().sum().item() == 0.0      # padding gets no gradient
    assert scores.grad[2, 0].item() == 0.0                   # a one-hypothesis list has nothing to learn


def test_padding_values_do_not_change_the_loss():
    scores, mask = pad_lists([[0.5, -0.1], [2.0]], fill=0.0)
    errors, _ = pad_lists([[1, 0], [0]], fill=0.0)
    other_scores = scores.masked_fill(~mask, 1e6)
    other_errors = errors.masked_fill(~mask, 1e6)
    assert mwer_loss(scores, errors, mask).item() == pytest.approx(mwer_loss(other_scores, other_errors, mask).item())


def test_every_list_needs_a_hypothesis():
    with pytest.raises(ValueError):
        mwer_loss(torch.zeros(2, 2), torch.zeros(2, 2), torch.tensor([[True, False], [False, False]]))


def test_correlation_penalty_is_zero_for_decorrelated_features():
    # columns of a 4x4 Hadamard matrix without the constant one: centred and mutually orthogonal
    hidden = torch.tensor([[1.0, 1.0, 1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]])
    assert correlation_penalty(hidden).item() == pytest.approx(0.0, abs=1e-9)
    # scaling and shifting a dimension does not create correlation
    assert correlation_penalty(hidden * torch.tensor([5.0, 0.1, 2.0]) + 3.0).item() == pytest.approx(0.0, abs=1e-9)


def test_correlation_penalty_is_one_for_identical_dimensions_and_pushes_them_apart():
    base = torch.tensor([[0.5], [-1.0], [2.0], [0.0], [1.5]])
    hidden = base.repeat(1, 4) * torch.tensor([1.0, 2.0, -3.0, 0.5])  # perfectly (anti-)correlated columns
    assert correlation_penalty(hidden).item() == pytest.approx(1.0, abs=1e-4)
    noisy = hidden + 0.5 * torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    noisy.requires_grad_(True)
    value = correlation_penalty(noisy)
    value.backward()
    with torch.no_grad():
        assert correlation_penalty(noisy - 0.5 * noisy.grad).item() < value.item()


def test_consistency_kl_is_zero_for_the_same_ranking_and_only_the_twin_gets_gradient():
    from lorascope.core.training.losses import consistency_kl

    mask = torch.tensor([[True, True, True], [True, True, False]])
    scores = torch.tensor([[1.0, 0.0, -1.0], [0.5, 0.2, 0.0]], requires_grad=True)
    same = consistency_kl(scores, scores.detach().clone() + 3.0, mask)   # a shift changes no softmax
    assert same.item() == pytest.approx(0.0, abs=1e-7)
    twin = torch.tensor([[-1.0, 0.0, 1.0], [0.5, 0.2, 9.0]], requires_grad=True)   # padded entry ignored
    kl = consistency_kl(scores, twin, mask)
    assert kl.item() > 0.1
    kl.backward()
    assert scores.grad is None and twin.grad is not None and twin.grad[1, 2] == 0
