"""Studies: the papers' grids run as ordinary jobs (runner.py) and drawn (plots.py); the spec lives in
core/analysis/study.py, the tables in core/analysis/study_tables.py, the store side in store/study*.py and store/merge.py."""
