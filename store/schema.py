"""Versioned schema: one migration per version, applied in order; ``PRAGMA user_version`` holds the version.

A migration only ever adds. Each runs inside the transaction that also bumps ``user_version``, so a store is
never left half-migrated.
"""

from __future__ import annotations

import sqlite3

V1 = """
CREATE TABLE datasets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    source TEXT,
    format TEXT,
    scores TEXT NOT NULL,              -- 'scored', 'rank-only' or 'mixed'
    utterances INTEGER NOT NULL,
    hypotheses INTEGER NOT NULL,
    reference_words INTEGER,
    one_best_wer REAL,
    oracle_wer REAL,
    created_at TEXT NOT NULL
);
CREATE TABLE utterances (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    utt_id TEXT NOT NULL,
    reference TEXT,
    meta TEXT,
    UNIQUE (dataset_id, utt_id)
);
CREATE TABLE hypotheses (
    id INTEGER PRIMARY KEY,
    utterance_id INTEGER NOT NULL REFERENCES utterances(id) ON DELETE CASCADE,
    rank INTEGER NOT NULL,             -- first-pass rank, 0 = best
    text TEXT NOT NULL,
    score REAL,                        -- first-pass score, higher is better; NULL for rank-only lists
    errors INTEGER,                    -- word errors against the reference (normalised text)
    extra TEXT,
    UNIQUE (utterance_id, rank)
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    strategy TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'interrupted')),
    backbone TEXT,
    seed INTEGER,
    config TEXT NOT NULL,              -- the full configuration, JSON
    versions TEXT,                     -- package versions, JSON
    train_dataset TEXT,
    dev_dataset TEXT,
    test_dataset TEXT,
    lam REAL,                          -- the dev-tuned weight of the LM score
    steps_done INTEGER DEFAULT 0,
    checkpoint_dir TEXT,
    error TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE TABLE adapters (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL UNIQUE REFERENCES runs(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    trainable_params INTEGER NOT NULL,
    total_params INTEGER NOT NULL,
    trainable_share REAL NOT NULL,
    ranks TEXT                         -- final rank of every adapted matrix (S1/S3), JSON
);
CREATE TABLE metrics (
    id INTEGER PRIMARY KEY,
    run_id INTEGER REFERENCES runs(id) ON DELETE CASCADE,
    dataset TEXT NOT NULL,
    split TEXT NOT NULL,
    perturbation TEXT NOT NULL DEFAULT 'clean',   -- 'clean', 'perturb-1', 'perturb-N'
    p REAL,
    seed INTEGER,
    utterances INTEGER,
    one_best_wer REAL,
    wer REAL NOT NULL,
    oracle_wer REAL NOT NULL,
    delta_wer REAL NOT NULL,
    nprr REAL,
    created_at TEXT NOT NULL
);
CREATE INDEX metrics_run ON metrics(run_id);
CREATE TABLE scores (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    hypothesis_id INTEGER NOT NULL REFERENCES hypotheses(id) ON DELETE CASCADE,
    lm_score REAL NOT NULL,
    combined_score REAL NOT NULL,
    rank INTEGER NOT NULL,             -- rank after rescoring, 0 = chosen
    PRIMARY KEY (run_id, hypothesis_id)
);
"""

V2 = """
CREATE TABLE run_events (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    loss REAL,
    rank_budget INTEGER,
    dev_wer REAL,
    PRIMARY KEY (run_id, step)
);
CREATE TABLE rank_changes (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    metric_id INTEGER NOT NULL REFERENCES metrics(id) ON DELETE CASCADE,
    utterance_id INTEGER NOT NULL REFERENCES utterances(id) ON DELETE CASCADE,
    ranks_before TEXT NOT NULL,        -- JSON list: rescored rank of each hypothesis on clean lists
    ranks_after TEXT NOT NULL,         -- JSON list: the same on the perturbed lists
    top_flipped INTEGER NOT NULL,
    delta_errors INTEGER,              -- word errors of the chosen hypothesis, after minus before
    PRIMARY KEY (metric_id, utterance_id)
);
CREATE INDEX hypotheses_utterance ON hypotheses(utterance_id);
CREATE INDEX utterances_dataset ON utterances(dataset_id, position);
"""

V3 = """
-- the first pass a dataset was imported with: the list order as given, or each list sorted by its scores
ALTER TABLE datasets ADD COLUMN first_pass TEXT NOT NULL DEFAULT 'order' CHECK (first_pass IN ('order', 'score'));
ALTER TABLE runs ADD COLUMN owner_host TEXT;       -- who trains the run: host name,
ALTER TABLE runs ADD COLUMN owner_pid INTEGER;     -- process id,
ALTER TABLE runs ADD COLUMN owner_started TEXT;    -- and that process's start (tells a reused pid apart)
ALTER TABLE runs ADD COLUMN heartbeat_at TEXT;     -- last sign of life of the owner, ISO time (UTC)
ALTER TABLE runs ADD COLUMN processes INTEGER NOT NULL DEFAULT 1;   -- training processes (data parallel)
ALTER TABLE metrics ADD COLUMN perturbation_model TEXT;             -- e.g. 'paper', 'mined', 'lexicon'
ALTER TABLE metrics ADD COLUMN settings TEXT;      -- JSON: the perturbation model's settings and provenance
"""

# The inspector's full-text search over references and hypotheses (store/browse.py builds it lazily, one data
# set at a time, on first open; `lorascope import` never pays for it). One row per utterance, rowid =
# utterances.id; its text is the reference and every hypothesis, joined by " § " (a token of its own, so a
# phrase cannot run from one hypothesis into the next). search_index records how far each data set's rows go.
SEARCH = """
CREATE VIRTUAL TABLE utterance_search USING fts5(
    text, tokenize = "unicode61 remove_diacritics 0 tokenchars '§'"
);
CREATE TABLE search_index (
    dataset_id INTEGER PRIMARY KEY REFERENCES datasets(id) ON DELETE CASCADE,
    utterances INTEGER NOT NULL,       -- positions 0 .. utterances-1 are indexed
    built_at TEXT
);
CREATE TRIGGER datasets_forget_search BEFORE DELETE ON datasets BEGIN
    DELETE FROM utterance_search WHERE rowid IN (SELECT id FROM utterances WHERE dataset_id = old.id);
END;
"""

# The learning rate of each logged training step, for the Runs screen's curves (the rank budget and dev WER were
# stored from the start).
RUN_EVENTS_LR = """
ALTER TABLE run_events ADD COLUMN lr REAL;          -- learning rate of the encoder/adapter weights at that step
"""

# Runs the user manages (`lorascope runs rename|note`) and a run's length while it trains (`lorascope runs`).
RUN_LABELS = """
ALTER TABLE runs ADD COLUMN name TEXT;             -- the user's label for a run, unique when given
ALTER TABLE runs ADD COLUMN note TEXT;             -- the user's free-text note
ALTER TABLE runs ADD COLUMN total_steps INTEGER;   -- optimizer steps the run will take, written when training starts
CREATE UNIQUE INDEX runs_name ON runs(name);
"""

# The combination belongs to a (run, data set) pair: the one tuned at training on dev, and any tuned later by
# `eval --tune-on` / `--cross-fit` for another set (store/combinations.py).
COMBINATIONS = """
CREATE TABLE combinations (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    dataset TEXT NOT NULL,             -- the data set it applies to
    tuned_on TEXT NOT NULL,            -- the data set (or part of it) it was tuned on
    how TEXT NOT NULL,                 -- 'training dev', 'tune-on NAME', 'fraction F (seed S)', 'cross-fit K (seed S)'
    combination TEXT NOT NULL,         -- JSON: {"weights": {...}, "lam": x}
    features TEXT,                     -- JSON: the tunable features the tuning set offered
    prior TEXT,                        -- what `prior` meant there: 'score' or 'rank'
    details TEXT,                      -- JSON: gate verdict, out-of-fold WER, held-out sizes
    created_at TEXT NOT NULL
);
CREATE INDEX combinations_run ON combinations(run_id, dataset);
"""

# Every metric row says how it was made (issue 18): the data set's role for the run, the perturbation seeds of
# the measurement it belongs to, and the combination whose choices it scores. Rows stored before are filled where
# the store can tell: the role from the run's data sets, the seeds from the rows written with them (one
# robustness measurement is a clean row followed by its perturbed rows, consecutive ids in one transaction), the
# combination of training's dev and test rows from the run; the rest stay NULL (shown as "?").
PROVENANCE = """
ALTER TABLE metrics ADD COLUMN role TEXT;          -- 'tuning' (the combination was tuned on it), 'test', 'train', 'held-out', 'out-of-fold', ...
ALTER TABLE metrics ADD COLUMN seeds TEXT;         -- JSON list: the perturbation seeds of the measurement this row belongs to
ALTER TABLE metrics ADD COLUMN combination TEXT;   -- JSON {"weights": {...}, "lam": x}: the combination the choices came from
ALTER TABLE metrics ADD COLUMN lam REAL;           -- that combination's LM weight λ (for filters and grouping)
UPDATE metrics SET role = (SELECT CASE
        WHEN metrics.split IN ('dev', 'test', 'train') THEN CASE metrics.split WHEN 'dev' THEN 'tuning' ELSE metrics.split END
        WHEN metrics.dataset = r.dev_dataset THEN 'tuning'
        WHEN metrics.dataset = r.test_dataset THEN 'test'
        WHEN metrics.dataset = r.train_dataset THEN 'train'
        ELSE 'held-out' END FROM runs r WHERE r.id = metrics.run_id)
    WHERE run_id IS NOT NULL;
UPDATE metrics SET
    combination = (SELECT json_extract(r.config, '$.combination') FROM runs r WHERE r.id = metrics.run_id
                   AND json_type(r.config, '$.combination') = 'object'),
    lam = (SELECT r.lam FROM runs r WHERE r.id = metrics.run_id)
    WHERE run_id IS NOT NULL AND split IN ('dev', 'test');
UPDATE metrics SET seeds = (
    SELECT json_group_array(s) FROM (
        SELECT DISTINCT m2.seed AS s FROM metrics m2
        WHERE m2.split = 'robustness' AND m2.seed IS NOT NULL
          AND m2.run_id IS metrics.run_id AND m2.dataset = metrics.dataset
          AND m2.id >= (SELECT MAX(c.id) FROM metrics c WHERE c.split = 'robustness' AND c.perturbation = 'clean'
                        AND c.id <= metrics.id AND c.run_id IS metrics.run_id AND c.dataset = metrics.dataset)
          AND NOT EXISTS (SELECT 1 FROM metrics c2 WHERE c2.split = 'robustness' AND c2.perturbation = 'clean'
                          AND c2.run_id IS metrics.run_id AND c2.dataset = metrics.dataset
                          AND c2.id > (SELECT MAX(c.id) FROM metrics c WHERE c.split = 'robustness'
                                       AND c.perturbation = 'clean' AND c.id <= metrics.id
                                       AND c.run_id IS metrics.run_id AND c.dataset = metrics.dataset)
                          AND c2.id <= m2.id)
        ORDER BY m2.seed))
    WHERE split = 'robustness';
"""

# `lorascope compare RUN_A RUN_B`: two runs' adapters on the same lists (core/analysis/compare.py), one row per comparison,
# with everything it was made under. Differences are A minus B.
COMPARISONS = """
CREATE TABLE comparisons (
    id INTEGER PRIMARY KEY,
    run_a INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    run_b INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    dataset TEXT NOT NULL,
    role_a TEXT,                       -- the data set's role for each run ('test', 'tuning', 'held-out', ...)
    role_b TEXT,
    combination_a TEXT NOT NULL,       -- JSON: the combination each run's choices came from
    combination_b TEXT NOT NULL,
    utterances INTEGER NOT NULL,
    reference_words INTEGER NOT NULL,
    wer_a REAL NOT NULL,
    wer_b REAL NOT NULL,
    wer_diff REAL NOT NULL,            -- WER(A) - WER(B), with its paired-bootstrap interval over lists
    wer_low REAL NOT NULL,
    wer_high REAL NOT NULL,
    p_a_lower REAL,                    -- share of resamples where A's WER is the lower
    a_right_b_wrong INTEGER NOT NULL,
    b_right_a_wrong INTEGER NOT NULL,
    both_right INTEGER NOT NULL,
    both_wrong INTEGER NOT NULL,
    disagreements INTEGER NOT NULL,    -- lists where the two chose different hypotheses
    right_means TEXT NOT NULL,
    perturbation_model TEXT,           -- NULL: no perturbation, no NPRR
    settings TEXT,
    mode TEXT,
    p REAL,
    seeds TEXT,                        -- JSON list
    nprr_a REAL,
    nprr_b REAL,
    nprr_diff REAL,                    -- NPRR(A) - NPRR(B), with its interval over lists and seeds
    nprr_low REAL,
    nprr_high REAL,
    confidence REAL NOT NULL,
    resamples INTEGER NOT NULL,
    bootstrap_seed INTEGER NOT NULL,
    top TEXT NOT NULL,                 -- JSON list: the top disagreements
    created_at TEXT NOT NULL
);
CREATE INDEX comparisons_runs ON comparisons(run_a, run_b);
"""

# Studies (lorascope study): a study's spec and its cells, each cell one training run and what is measured on it.
# A cell is owned like a run (owner host/pid/start, heartbeat) while a `study run` process works on it.
STUDIES = """
CREATE TABLE studies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,                -- the study's spec, JSON (core/analysis/study.py StudySpec.to_dict)
    created_at TEXT NOT NULL
);
CREATE TABLE study_cells (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,         -- the cell's number K (`study run --cell K`)
    key TEXT NOT NULL,                 -- strategy, backbone, seed, size in words
    status TEXT NOT NULL DEFAULT 'todo' CHECK (status IN ('todo', 'running', 'done', 'failed')),
    run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    error TEXT,
    owner_host TEXT,
    owner_pid INTEGER,
    owner_started TEXT,
    heartbeat_at TEXT,
    started_at TEXT,
    finished_at TEXT,
    seconds REAL,                      -- wall time of the cell's last working stretch that finished it
    UNIQUE (study_id, position)
);
"""

MIGRATIONS: list[str] = [V1, V2, V3, SEARCH, RUN_EVENTS_LR, RUN_LABELS, COMBINATIONS, PROVENANCE, COMPARISONS,
                         STUDIES]
SCHEMA_VERSION = len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    """The SQL statements of a migration script, one by one (so they can run inside one explicit transaction)."""
    out, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    return out


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring ``conn``'s database from its ``user_version`` up to ``target``; returns the version reached.

    Each version is applied under the write lock (BEGIN IMMEDIATE) after reading the version again, so two
    processes opening a new or old store at once do not both migrate it.
    """
    reached = conn.execute("PRAGMA user_version").fetchone()[0]
    while reached < target:
        conn.execute("BEGIN IMMEDIATE")
        try:
            reached = conn.execute("PRAGMA user_version").fetchone()[0]
            if reached < target:
                for statement in _statements(MIGRATIONS[reached]):
                    conn.execute(statement)
                reached += 1
                conn.execute(f"PRAGMA user_version = {reached}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return reached
