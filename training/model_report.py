"""Measure an export and write its model card (the code lives in engine/training/report.py).

    .venv/bin/python -m training.model_report models/default.ts [--music DIR]
"""

from engine.training.report import main

if __name__ == "__main__":
    main()
