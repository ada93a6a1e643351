"""What every experiment notebook does, in three parts with no hidden state:

- `runs`: the notebook's settings (and what its profile costs), its runs trained once and read back from the cache,
  their scores;
- `verdicts`: claims declared as data (`Row`) and judged on an `Evidence` (runs, test set, seeds, values): the
  comparison's verdict, whether the write-up is reproduced, the budget, and whether the verdict holds at half the images;
- `display`: layer tables, prediction grids, TensorBoard, and `conclude`, which turns the judged rows into the
  claims table and the closing paragraph (and records them for the main job's claims.csv).

This package exports what the notebooks use; the rest is in its modules.

    from evalib import experiment as ex
    s = ex.settings(profile, notebook="03_pixelshuffle")
    runs = ex.train({"dnn1": ex.config(s, "03", model="dnn1"), "dnn2": ex.config(s, "03", model="dnn2")})
    judged = ex.Evidence(runs, ex.test_split(s)).judge(ROWS)
    ex.headline("03_pixelshuffle", ex.scores(runs), "dnn2", ex.conclude("03_pixelshuffle", judged))
"""
from .display import (Scale, beside_writeup, conclude, headline, images_at, prediction_figure, read_scores, show_net,
                      show_runs, show_scores, tensorboard)
from .runs import (config, maps_model, planned, range_test, run, run_seeds, scores, settings, test_split,
                   train, train_split)
from .verdicts import (NO_FIGURE, NOT_IN_WRITEUP, NOT_RUN, Evidence, Fixed, Row, blind_scores, images_seen,
                       under_writeup)

__all__ = ["NO_FIGURE", "NOT_IN_WRITEUP", "NOT_RUN", "Evidence", "Fixed", "Row", "Scale", "beside_writeup",
           "blind_scores", "conclude", "config", "headline", "images_at", "images_seen", "maps_model", "planned",
           "prediction_figure", "range_test", "read_scores", "run", "run_seeds", "scores", "settings", "show_net",
           "show_runs", "show_scores", "tensorboard", "test_split", "train", "train_split", "under_writeup"]
