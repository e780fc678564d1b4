"""Adapter B beside adapter A on the inspect screen: ``b`` picks B (A's own adapter again: B off), the N-best
table's B column shows each hypothesis's rank under B (at B's own tuned combination), ``D`` lists the data
set's lists where A and B choose differently. Mixed into :class:`~lorascope.tui.screens.inspect.InspectScreen`."""

from __future__ import annotations

from textual import work
from textual.worker import get_current_worker

from .. import store_reads
from ..adapters import AdapterChoice, Scorer, load_scorer
from ..compare import SecondAdapter, SetDisagreements, find_disagreements, ranks_under
from .disagreements import DisagreementsScreen
from .inspect_work import Progress, _throttled
from .pickers import AdapterPicker

JOB = "A vs B"


class ComparePart:
    """The handlers and actions of adapter B (module docstring)."""

    second: SecondAdapter | None = None
    _b_asked: frozenset[str] = frozenset()

    def action_pick_adapter_b(self) -> None:
        def chosen(choice: AdapterChoice | None) -> None:
            if choice is None:
                return
            if choice.key == self.inspector.adapter.key:
                self.second = None
                self.notify("adapter B off (that is adapter A)", timeout=3)
            else:
                self.second = SecondAdapter(choice, self.scorers.get(choice.key))
                if self.second.scorer is None:
                    self.load_adapter_b(choice)
                self.notify(f"adapter B: {choice.short}; column B: each hypothesis's rank under it; D: the lists "
                            f"where A and B choose differently", timeout=4)
            self._b_asked = frozenset()
            self.render_current()

        self.app.push_screen(AdapterPicker(self.second.choice.key if self.second else None), chosen)

    @work(thread=True, exclusive=True, group="adapter-b", exit_on_error=False)
    def load_adapter_b(self, choice: AdapterChoice) -> None:
        self._run("adapter_b", lambda: load_scorer(choice), choice=choice)

    def _on_adapter_b(self, scorer: Scorer | None, choice: AdapterChoice, stopped: bool = False) -> None:
        if scorer is None or self.second is None or self.second.choice.key != choice.key:
            return
        self.second = SecondAdapter(choice, scorer)
        self.render_current()

    def second_ranks(self, view) -> list[int] | None:
        """B's rank of every hypothesis of the list as shown; None while B's scores are being computed (a worker
        is started for what B lacks)."""
        b = self.second
        if b is None or view is None or b.combination is None:
            return None
        scores = self.inspector.cache.of(b.choice.key)
        ranks = ranks_under(view.utterance, scores, b.combination)
        if ranks is None and b.scorer is not None:
            missing = tuple(t for t in dict.fromkeys(view.utterance.texts) if t not in scores)
            if frozenset(missing) != self._b_asked:
                self._b_asked = frozenset(missing)
                self.score_b(b.scorer, list(missing))
        return ranks

    @work(thread=True, exclusive=True, group="score-b", exit_on_error=False)
    def score_b(self, scorer: Scorer, texts: list[str]) -> None:
        self._run("b_scores", lambda: dict(zip(texts, scorer.score(texts))), key=scorer.choice.key)

    def _on_b_scores(self, scores: dict[str, float] | None, key: str, stopped: bool = False) -> None:
        if scores:
            self.inspector.cache.put(key, scores)
            self.render_current()

    def action_disagreements(self) -> None:
        ins, b = self.inspector, self.second
        if b is None:
            self.notify("pick adapter B first (b)", timeout=3)
            return
        if not ins.ready or b.scorer is None or self.info is None:
            self.notify("the adapters are still loading", timeout=2)
            return
        sides = [(ins.scorer, dict(ins.cache.of(ins.adapter.key)), ins.combination),
                 (b.scorer, dict(ins.cache.of(b.choice.key)), b.combination)]
        self.find_b_disagreements(self.info, sides)

    @work(thread=True, exclusive=True, group="disagreements", exit_on_error=False)
    def find_b_disagreements(self, info, sides) -> None:
        worker = get_current_worker()
        progress = _throttled(lambda done, total: self.post_message(Progress(JOB, done, total)))
        self.post_message(Progress(JOB, 0, info.utterances))
        self._run("disagreements", lambda: find_disagreements(
            info.name, store_reads.read_pages(self.db_path, info.id), sides,
            on_progress=lambda done: progress(done, info.utterances), should_stop=lambda: worker.is_cancelled))

    def _on_disagreements(self, found: SetDisagreements | None, stopped: bool = False) -> None:
        self.jobs.finish(JOB)
        if found is None:
            return
        for key, scores in found.new_scores.items():
            self.inspector.cache.put(key, scores)
        label_a = self.inspector.adapter.short
        label_b = self.second.choice.short if self.second else found.key_b

        def go(position: int | None) -> None:
            if position is not None and position < self.inspector.size:
                self.inspector.move_to(position)
                self.request_current()

        self.app.push_screen(DisagreementsScreen(found, label_a, label_b), go)
