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

# Studies (lorascope study): a study's spec and its cells, each cell one training run and what is measured on it.
# A cell is owned like a run (owner host/pid/start, heartbeat) while a `study run` process works on it.
STUDIES = """
CREATE TABLE studies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,                -- the study's spec, JSON (core/study.py StudySpec.to_dict)
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

MIGRATIONS: list[str] = [V1, V2, V3, SEARCH, STUDIES]
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
