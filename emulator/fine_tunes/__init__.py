"""Fine-tunes: create, list, get, cancel, delete, ``/logs`` and ``/stream`` under ``/api/v1/fine-tunes``.

Deviations from the real service: training is synthetic (plan, logs and metrics derived from the real rows
and hyper-parameters, see ``training.py``); FAILED jobs carry ``code``/``message``, CANCELED ones do not
(reference §12.4); ``/logs`` reads ``offset`` 0 and 1 both as the first line.
"""
