"""What every experiment notebook does, in three parts with no hidden state:

- `runs`: the notebook's settings (and what its profile costs), its runs trained once and read back from the cache,
  their scores;
- `verdicts`: claims declared as data (`Row`) and judged on an `Evidence` (runs, test set, seeds, values): the
  comparison's verdict, whether the write-up is reproduced, the budget, and whether the verdict holds at half the images;
- `display`: layer tables, prediction grids, TensorBoard, and `conclude`, which turns the judged rows into the
  claims table and the closing paragraph (and records them for the main job's claims.csv).

    from evalib import experiment as ex
    s = ex.settings(profile, notebook="03_pixelshuffle")
    runs = ex.train({"dnn1": ex.config(s, "03", model="dnn1"), "dnn2": ex.config(s, "03", model="dnn2")})
    judged = ex.Evidence(runs, ex.test_split(s)).judge(ROWS)
    ex.headline("03_pixelshuffle", ex.scores(runs), "dnn2", ex.conclude("03_pixelshuffle", judged))
"""
from .display import (Scale, band, beside_writeup, claims_markdown, conclude, headline, images_at,
                      prediction_figure, show_net, show_runs, tally, tensorboard)
from .runs import (SCORE_COLUMNS, cached_run, config, cost, headless, here_speed, job_plan, lr_steps, maps_model, obtain,
                   planned, range_test, run, run_key, run_seeds, runs_dir, scores, settings, stored_predictions, test_split, train,
                   train_seeds, train_split)
from .speed import Speed, training_speed
from ..claims import AGREES, CANNOT_TELL, DISAGREES, REPRODUCED
from .verdicts import (CHANGES_AT_HALF, FACTORS, NO_FIGURE, NOT_IN_WRITEUP, NOT_RUN, NOT_TESTED, SAME_AT_HALF, Evidence, Row, Verdict, blind_scores, budget_of,
                       half_budget, images_seen, reproduced, under_writeup, unobserved)

__all__ = ["AGREES", "CANNOT_TELL", "CHANGES_AT_HALF", "DISAGREES", "FACTORS", "NO_FIGURE", "NOT_IN_WRITEUP", "NOT_RUN", "REPRODUCED",
           "NOT_TESTED", "SAME_AT_HALF", "SCORE_COLUMNS", "Evidence", "Row", "Scale", "Verdict", "band", "beside_writeup",
           "blind_scores", "budget_of", "cached_run", "claims_markdown", "conclude", "config", "half_budget",
           "headless", "headline", "images_at", "images_seen", "lr_steps", "maps_model", "prediction_figure",
           "planned", "range_test", "reproduced", "run", "run_key", "run_seeds", "runs_dir", "Speed", "cost", "here_speed", "job_plan", "obtain",
           "stored_predictions", "scores", "settings", "show_net",
           "show_runs", "tally", "tensorboard", "test_split", "train", "train_seeds", "train_split", "training_speed",
           "under_writeup", "unobserved"]
