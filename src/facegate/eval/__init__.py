"""facegate.eval: accuracy on standard protocols, reproducible by one command.

- :mod:`~facegate.eval.metrics`: ROC/DET, AUC, EER, TAR/FNMR at FMR, LFW 10-fold accuracy,
  open-set FNIR at FPIR and CMC, FDDB ellipse matching and discrete ROC, per-group error rates.
- :mod:`~facegate.eval.datasets`: LFW and plain pairs files, folder-per-person, FDDB, UTKFace.
- :mod:`~facegate.eval.cache` and :mod:`~facegate.eval.extract`: run the engine over many images
  on worker processes, cached by (pack, set-up, image SHA-256).
- :mod:`~facegate.eval.verify`, :mod:`~facegate.eval.identify`, :mod:`~facegate.eval.detect`,
  :mod:`~facegate.eval.fairness`: the four evaluations; :mod:`~facegate.eval.report` writes
  their JSON and HTML (plots embedded).
"""
