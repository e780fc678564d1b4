"""The inspect screen's perturbation side: the perturbation model (paper / mined / lexicon, M), the mode, p and
seed, and hand-made word swaps. Mixed into :class:`~lorascope.tui.screens.inspect.InspectScreen`; runs on the
main thread, mining in a worker (:mod:`.inspect_work`).

``mined`` draws from the recogniser's confusions in the current adapter's training set (its run's
``train_dataset`` in the store), never the data set under inspection unless that is the training set; each
data set is mined once per session (:class:`~lorascope.tui.perturbation.MinedModels`). Where there is no
training set (the bare backbone, a run without one) the bar says so and the model stays as it was; picking
another adapter while ``mined`` is on mines that adapter's training set, or falls back to the model before.
"""

from __future__ import annotations

from dataclasses import replace

from ..adapters import AdapterChoice
from ..inspector import ManualEdit
from ..perturbation import MODELS, PERTURB_MODES, PerturbSettings, index_loader, model_name
from .dialogs import InputScreen, WordSwapScreen

MINING = "mining confusions"


class PerturbPart:
    """The handlers and actions of the perturb bar and the word swap (module docstring)."""

    # -- the model -------------------------------------------------------------------------------

    def perturbation_model(self):
        """The current model as core's functions take it: a mined config with its confusions, else the spec."""
        return self.mined.config(self.inspector.settings.model)

    def action_cycle_model(self) -> None:
        self.select_model(MODELS[(MODELS.index(self.model_asked) + 1) % len(MODELS)])

    def select_model(self, name: str) -> None:
        """Use model ``name`` (``paper``, ``mined`` or ``lexicon``); mined once its confusions are there."""
        self.model_asked = name
        self.perturb_note = ""
        if name == "mined":
            self.use_mined()
            return
        if self.mining is not None:   # another model is wanted now
            self._forget_mining()
        self._set_model(name)

    def _set_model(self, spec: str) -> None:
        ins = self.inspector
        if model_name(spec) != "mined":
            self.before_mined = spec
        self._settings_changed(ins.set_settings(replace(ins.settings, model=spec)))

    def mined_problem(self, choice: AdapterChoice) -> str | None:
        """Why ``choice`` has no training set to mine, or None."""
        if choice.is_bare:
            return "the bare backbone has no training set"
        if not choice.train_dataset:
            return f"run {choice.run_id} has no training set"
        if choice.train_dataset not in self.datasets:
            return f"run {choice.run_id}'s training set {choice.train_dataset} is not in the store"
        return None

    def use_mined(self) -> None:
        """The mined model of the current adapter's training set: at once when it was mined before, else once
        a worker has mined it; when there is none, say so in the bar and keep the model."""
        choice = self.inspector.adapter
        problem = self.mined_problem(choice)
        if problem is not None:
            self._refuse_mined(problem)
            return
        dataset = choice.train_dataset
        found = self.mined.of(dataset)
        if found is not None:
            self._set_model(found.spec())
            return
        if self.mining != dataset:
            self.mining = dataset
            self.mining_token += 1
            self.jobs.update_job(MINING, 0, None, stoppable=True)
            self.mine_confusions(dataset, self.mining_token)
        self.render_current()

    def _refuse_mined(self, problem: str) -> None:
        self.perturb_note = f"mined: {problem}"
        self.notify(f"{problem}, so there are no confusions to mine; the perturbation model stays "
                    f"{model_name(self.inspector.settings.model)}", title="mined", severity="warning", timeout=4)
        self.render_current()

    def follow_adapter(self) -> None:
        """After an adapter change: a mined model (or one being mined) follows the new adapter's training set,
        or falls back to the model before it."""
        pending = self.mining is not None and self.model_asked == "mined"
        if model_name(self.inspector.settings.model) != "mined" and not pending:
            return
        problem = self.mined_problem(self.inspector.adapter)
        if problem is None:
            self.use_mined()
            return
        self._forget_mining()
        self.model_asked = model_name(self.before_mined)
        if model_name(self.inspector.settings.model) == "mined":
            self._set_model(self.before_mined)
        self.perturb_note = f"mined: {problem}; back to {self.model_asked}"
        self.render_current()

    def _forget_mining(self) -> None:
        """No mining is wanted any more: stop the worker; whatever it still answers is stale."""
        self.workers.cancel_group(self, "mining")
        self.mining = None
        self.mining_token += 1
        self.jobs.finish(MINING)

    def stop_mining(self) -> None:
        """esc: stop mining (here, not when the worker answers: a worker stopped before it started never does)."""
        if self.mining is None:
            return
        self.perturb_note = f"mining {self.mining} stopped"
        self._forget_mining()
        self.model_asked = model_name(self.inspector.settings.model)
        self.render_current()

    def _on_mined(self, config, dataset: str, token: int, stopped: bool = False) -> None:
        current = token == self.mining_token
        if current:
            self.mining = None
            self.jobs.finish(MINING)
        self.refresh_bindings()
        if config is None:
            self.render_current()
            return
        self.mined.add(config)   # kept even when stale: the next mined model of that set needs no mining
        if current and self.model_asked == "mined" and self.inspector.adapter.train_dataset == dataset:
            pairs = len(config.confusions.pairs)
            self.notify(f"{pairs} confusions mined from {dataset}, the training set of "
                        f"{self.inspector.adapter.short}", title="mined", timeout=4)
            self._set_model(config.spec())
        else:
            self.render_current()

    def _mining_failed(self, error: str, dataset: str, token: int) -> None:
        """Mining ``dataset`` failed: say so; M goes on to the next model."""
        if token != self.mining_token:
            return
        self.mining = None
        self.jobs.finish(MINING)
        self._refuse_mined(error if error.startswith(f"data set {dataset}") else f"cannot mine {dataset}: {error}")

    # -- mode, p, seed ---------------------------------------------------------------------------

    def _settings_changed(self, dropped: bool) -> None:
        if dropped:
            self.notify("hand-made swaps dropped (new perturbation)", timeout=2)
        self.expect_perturbation()
        self.request_current()

    def action_cycle_mode(self) -> None:
        modes = PERTURB_MODES
        self.action_set_mode(modes[(modes.index(self.inspector.settings.mode) + 1) % len(modes)])

    def action_set_mode(self, mode: str) -> None:
        self.perturb_note = ""
        self._settings_changed(self.inspector.set_mode(mode))

    def action_p_down(self) -> None:
        self.perturb_note = ""
        self._settings_changed(self.inspector.step_p(-0.05))

    def action_p_up(self) -> None:
        self.perturb_note = ""
        self._settings_changed(self.inspector.step_p(0.05))

    def action_reroll(self) -> None:
        if self.inspector.settings.mode == "off":
            self.notify("perturbation is off: m turns it on", timeout=2)
            return
        self.perturb_note = ""
        self._settings_changed(self.inspector.reroll())

    def action_edit_settings(self) -> None:
        ins = self.inspector

        def done(value: str | None) -> None:
            if value is None:
                return
            try:
                p_text, seed_text = value.split()
                p, seed = float(p_text), int(seed_text)
                if not 0 <= p <= 1:
                    raise ValueError
            except ValueError:
                self.notify(f"expected 'p seed' with p from 0 to 1, got {value!r}", severity="error")
                return
            mode = ins.settings.mode if ins.settings.mode != "off" else "N"
            self.perturb_note = ""
            self._settings_changed(ins.set_settings(PerturbSettings(mode, p, seed, ins.settings.model)))

        self.app.push_screen(InputScreen("perturbation: p and seed", f"{ins.settings.p:g} {ins.settings.seed}",
                                         note="e.g. 0.5 3 (turns perturb-N on when perturbation is off)"), done)

    # -- hand-made swaps -------------------------------------------------------------------------

    def action_swap_word(self) -> None:
        ins = self.inspector
        view = ins.view()
        row = self.nbest.highlighted_row()
        if view is None or row is None:
            return
        if view.pending:
            self.notify("the perturbation is still being computed", timeout=2)
            return
        hypothesis = row.index

        def done(result) -> None:
            if result is None:
                return
            position, candidate = result
            ins.manual.append(ManualEdit(hypothesis, position, candidate))
            self.request_current()

        self.app.push_screen(WordSwapScreen(view.utterance, hypothesis, index_loader, self.perturbation_model(),
                                            model_name(ins.settings.model)), done)

    def action_clear_swaps(self) -> None:
        if self.inspector.manual:
            self.inspector.manual = []
            self.request_current()
